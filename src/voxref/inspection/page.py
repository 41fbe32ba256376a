"""The HTML of ``voxref inspect``: :func:`render_page` and its pieces (tables, figures, players).

Every text from the data is escaped with :func:`html.escape`; images and audio come in as
``data:`` URIs (:mod:`voxref.inspection.media`), so the page needs no other file.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import __version__
from .template import CSP, CSS, IMAGES_LOADED_SCRIPT, PAGE
from .views import Inspection, ReferenceView, SpeakerView

__all__ = ["DEFAULT_MAX_AUDIO_SECONDS", "render_page"]

#: Each reference's audio player holds at most this many seconds (16 kHz 16-bit: 32 kB/s).
DEFAULT_MAX_AUDIO_SECONDS = 30.0


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: Any, spec: str, scale: float = 1.0) -> str:
    if v is None:
        return "–"
    try:
        f = float(v) * scale
    except (TypeError, ValueError):
        return "–"
    return format(f, spec) if math.isfinite(f) else "–"


def _css_color(c: Sequence[float]) -> str:
    r, g, b = (int(round(255 * v)) for v in c[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _img(pngs: dict[str, bytes], name: str, alt: str, caption: str = "") -> str:
    from .media import png_data_uri

    if name not in pngs:
        return ""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return (
        f'<figure><img src="{png_data_uri(pngs[name])}" alt="{_e(alt)}" '
        f'data-figure="{_e(name)}">{cap}</figure>'
    )


def _pill(text: str) -> str:
    cls = (
        text
        if text in {"ok", "weak", "reject", "used", "down-weighted", "rejected", "failed"}
        else "unknown"
    )
    return f'<span class="pill {cls}">{_e(text)}</span>'


def _table(refs: Sequence[ReferenceView], colors: Sequence[Any]) -> str:
    head = (
        "<tr><th>#</th><th>file</th><th>verdict</th><th>pooling</th><th>weight</th>"
        "<th>speech s</th><th>length s</th><th>SNR dB</th><th>clipping %</th>"
        "<th>bandwidth kHz</th><th>overlap %</th><th>level dBFS</th><th>quality prior</th>"
        "<th>reasons</th></tr>"
    )
    rows = []
    for r in refs:
        q = r.report
        reasons = list(getattr(q, "reasons", []) or [])
        if r.reason and r.reason not in reasons:
            reasons.append(r.reason)
        items = "".join(f"<li>{_e(x)}</li>" for x in reasons)
        overlap = getattr(q, "overlap_ratio", None)
        overlap_cell = _num(overlap, ".0f", 100) if overlap is not None else "not measured"
        verdict = getattr(q, "verdict", "unknown")
        rows.append(
            f'<tr class="reference-row" data-index="{r.index + 1}" data-verdict="{_e(verdict)}" '
            f'data-status="{_e(r.status)}">'
            f'<td class="num"><a href="#ref-{r.index + 1}">{r.index + 1}</a></td>'
            f'<td class="file"><span class="swatch" style="background:{_css_color(colors[r.index])}">'
            f'</span><span title="{_e(r.source)}">{_e(r.name)}</span></td>'
            f"<td>{_pill(verdict)}</td><td>{_pill(r.status)}</td>"
            f'<td class="num">{r.weight:.2f}</td>'
            f'<td class="num">{_num(getattr(q, "speech_s", None), ".1f")}</td>'
            f'<td class="num">{_num(getattr(q, "duration_s", None) or r.duration or None, ".1f")}</td>'
            f'<td class="num">{_num(getattr(q, "snr_db", None), ".1f")}</td>'
            f'<td class="num">{_num(getattr(q, "clipping_ratio", None), ".2f", 100)}</td>'
            f'<td class="num">{_num(getattr(q, "bandwidth_hz", None), ".1f", 1e-3)}</td>'
            f'<td class="num">{overlap_cell}</td>'
            f'<td class="num">{_num(getattr(q, "level_dbfs", None), ".1f")}</td>'
            f'<td class="num">{_num(getattr(q, "weight_hint", None), ".2f")}</td>'
            f'<td class="reasons">{"<ul>" + items + "</ul>" if items else ""}</td></tr>'
        )
    return (
        f'<div class="scroll"><table id="quality-table"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _sec(v: float) -> str:
    return f"{v:.3f}"


def _prompt_timeline(r: ReferenceView, prompt: Any) -> str:
    """The prompt's pieces cut from ``r`` as spans on a bar of the recording's length."""
    spans = prompt.spans_of(r.index)
    if not spans:
        return (
            f'<div class="prompt-timeline empty" data-reference="{r.index + 1}">'
            '<p class="note">No piece of the prompt comes from this reference.</p></div>'
        )
    dur = max(r.duration, max(s.end for s in spans), 1e-3)
    bars = []
    for s in spans:
        left, width = 100.0 * s.start / dur, max(100.0 * s.duration / dur, 0.3)
        bars.append(
            f'<span class="prompt-span" data-piece="{s.order + 1}" '
            f'data-reference="{r.index + 1}" data-start="{_sec(s.start)}" '
            f'data-end="{_sec(s.end)}" style="left:{left:.3f}%;width:{width:.3f}%" '
            f'title="P{s.order + 1}: {s.start:.2f}–{s.end:.2f} s">P{s.order + 1}</span>'
        )
    total = sum(s.duration for s in spans)
    return (
        f'<div class="prompt-timeline" data-reference="{r.index + 1}">'
        f"<p>Prompt pieces from this reference (orange, hatched in the figure): {len(spans)}, "
        f"{total:.1f} s of {r.duration:.1f} s.</p>"
        f'<div class="timeline-bar">{"".join(bars)}</div></div>'
    )


def _prompt_section(prompt: Any, refs: Sequence[ReferenceView], colors: Sequence[Any]) -> str:
    """The prompt's player and the table of its pieces (source, span, SNR, similarity, actions)."""
    from .media import PLAYER_SAMPLE_RATE, wav_data_uri

    by_index = {r.index: r for r in refs}
    rows = []
    for s in prompt.spans:
        r = by_index.get(s.reference)
        name = r.name if r is not None else os.path.basename(s.source)
        swatch = (
            f'<span class="swatch" style="background:{_css_color(colors[r.index])}"></span>'
            if r is not None
            else ""
        )
        link = f'<a href="#ref-{s.reference + 1}">{s.reference + 1}</a>' if r is not None else "–"
        actions = "".join(f"<li>{_e(a)}</li>" for a in s.actions)
        rows.append(
            f'<tr class="prompt-piece-row" data-piece="{s.order + 1}" '
            f'data-reference="{s.reference + 1}" data-source="{_e(s.source)}" '
            f'data-start="{_sec(s.start)}" data-end="{_sec(s.end)}">'
            f'<td class="num">P{s.order + 1}</td><td class="num">{link}</td>'
            f'<td class="file">{swatch}<span title="{_e(s.source)}">{_e(name)}</span></td>'
            f'<td class="num">{s.start:.2f}–{s.end:.2f}</td><td class="num">{s.duration:.2f}</td>'
            f'<td class="num">{_num(s.snr_db, ".1f")}</td>'
            f'<td class="num">{_num(s.similarity, ".2f")}</td>'
            f'<td class="reasons">{"<ul>" + actions + "</ul>" if actions else ""}</td></tr>'
        )
    head = (
        "<tr><th>piece</th><th>#</th><th>source</th><th>start–end s</th><th>length s</th>"
        "<th>SNR dB</th><th>similarity</th><th>what was done</th></tr>"
    )
    notes = "".join(f"<li>{_e(w)}</li>" for w in [*prompt.actions, *prompt.warnings])
    preset = f" (preset <code>{_e(prompt.preset)}</code>)" if prompt.preset else ""
    return (
        '<section id="prompt"><h2>Prompt</h2>'
        f'<p class="note">{len(prompt.spans)} piece(s), {prompt.duration:.1f} s at '
        f"{prompt.sample_rate} Hz{preset}; {_e(prompt.origin)}. Each piece is drawn on its "
        "reference's timeline below. The player plays it at "
        f"{PLAYER_SAMPLE_RATE // 1000} kHz.</p>"
        f'<p><audio id="prompt-player" controls preload="metadata" '
        f'src="{wav_data_uri(prompt.audio, prompt.sample_rate)}"></audio></p>'
        f'<div class="scroll"><table id="prompt-table"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        + (f'<ul class="note">{notes}</ul>' if notes else "")
        + "</section>"
    )


def _reference_article(
    r: ReferenceView, pngs: dict[str, bytes], max_audio_seconds: float, prompt: Any = None
) -> str:
    from .media import wav_data_uri

    parts = [
        f'<article class="reference" id="ref-{r.index + 1}">',
        f"<h3>{r.index + 1}. {_e(r.name)} {_pill(r.status)}</h3>",
        f'<p class="muted">{_e(r.source)}</p>',
    ]
    turns = (
        f"{len(r.turns)} diarization turns of {len({t[2] for t in r.turns})} speaker(s)"
        if r.turns is not None
        else f"diarization {r.diarization_note}"
    )
    if r.activity is None:
        act = "target activity not available"
    elif r.activity_source == "inspect":
        act = (
            "black: target activity from the separation stage, computed for this report "
            "(the pooling did not use it)"
        )
    else:
        act = "black: the target activity the pooling used"
    if r.overlap is not None:
        act += "; red: probability that a window mixes voices"
    caption = (
        f"{r.num_windows} embedding windows; green: speech found by the VAD; lanes: {_e(turns)}; "
        "bottom, on the recording's timeline: filled, each window's pooling weight over the "
        f"largest; {_e(act)}."
    )
    if r.activity_note:
        caption += f" Separation: {_e(r.activity_note)}."
    parts.append(_img(pngs, f"reference-{r.index + 1:02d}", f"analysis of {r.name}", caption))
    if prompt is not None:
        parts.append(_prompt_timeline(r, prompt))
    audio = r.target_audio(max_seconds=max_audio_seconds)
    if r.activity is not None and audio is not None and len(audio):
        what = "Cleaned, target-only audio (windows with target activity ≥ 0.5)"
    elif r.activity is not None and r.speech is not None:
        what = "No window was judged target; all the cleaned speech the encoder used"
        audio = r.speech[: int(round(max_audio_seconds * r.speech_sample_rate))]
    else:
        what = "Cleaned speech the encoder used (target activity not available)"
    if audio is not None and len(audio):
        secs = len(audio) / r.speech_sample_rate
        capped = secs >= max_audio_seconds - 1e-6
        parts.append(
            f"<p>{what}: {secs:.1f} s{' (capped)' if capped else ''}<br>"
            f'<audio controls preload="metadata" src="{wav_data_uri(audio, r.speech_sample_rate)}">'
            "</audio></p>"
        )
    else:
        parts.append('<p class="note">No cleaned audio: the reference was not used.</p>')
    parts.append("</article>")
    return "\n".join(parts)


def _speakers_section(
    speakers: Sequence[SpeakerView], pngs: dict[str, bytes], folder: str | None
) -> str:
    from .figures import cosine_matrix

    ok = [s for s in speakers if s.embedding is not None]
    nearest: dict[str, tuple[str, float]] = {}
    if len(ok) >= 2:
        m = cosine_matrix(np.stack([s.embedding for s in ok]))
        np.fill_diagonal(m, -np.inf)
        for i, s in enumerate(ok):
            j = int(np.argmax(m[i]))
            nearest[s.name] = (ok[j].name, float(m[i, j]))
    rows = []
    for s in speakers:
        near = nearest.get(s.name)
        rows.append(
            f'<tr class="speaker-row"><td>{_e(s.name)}</td><td class="num">{s.num_files}</td>'
            f'<td class="num">{len(s.reference_sources)}</td><td class="num">{s.speech_seconds:.1f}</td>'
            f"<td>{_e(near[0]) if near else '–'}</td>"
            f'<td class="num">{f"{near[1]:.2f}" if near else "–"}</td><td>{_e(s.note)}</td></tr>'
        )
    table = (
        '<table id="speakers-table"><thead><tr><th>speaker</th><th>files</th><th>used</th>'
        "<th>speech s</th><th>closest speaker</th><th>cosine</th><th>note</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    where = f" in <code>{_e(folder)}</code>" if folder else ""
    return (
        '<section id="speakers"><h2>Speakers</h2>'
        f'<p class="note">{len(speakers)} speaker folder(s){where}, each pooled from its own references.</p>'
        f'{table}<div class="row">'
        + _img(
            pngs,
            "speakers-map",
            "speakers map",
            "Stars: each speaker's pooled embedding; dots: its reference embeddings. "
            "Speakers close together are easy to confuse.",
        )
        + _img(
            pngs,
            "speakers-similarity",
            "speaker similarity matrix",
            "Cosine similarity between the pooled embeddings of the speakers.",
        )
        + "</div></section>"
    )


def render_page(
    inspection: Inspection,
    pngs: dict[str, bytes],
    *,
    colors: Sequence[Any],
    projection: str = "pca",
    max_audio_seconds: float = DEFAULT_MAX_AUDIO_SECONDS,
) -> str:
    """The HTML of the report (every text from the data is escaped with :func:`html.escape`)."""
    refs = inspection.references
    enc = inspection.encoder or {}
    enc_name = enc.get("name", "?")
    dim = enc.get("dimension")
    counts: dict[str, int] = {}
    for r in refs:
        counts[r.status] = counts.get(r.status, 0) + 1
    count_text = ", ".join(f"{v} {k}" for k, v in counts.items())
    what = []
    if refs:
        what.append(f"{len(refs)} reference(s)" + (f" ({_e(count_text)})" if count_text else ""))
    if inspection.speakers:
        what.append(f"{len(inspection.speakers)} speaker(s)")
    if refs:
        pooled = "yes" if inspection.embedding is not None else "none"
        what.append(f"pooled embedding: {pooled}")
    what.append(f"encoder <code>{_e(enc_name)}</code>{f' ({dim}-d)' if dim else ''}")
    what.append(f"pooling <code>{_e(inspection.pooling or '?')}</code>")
    summary = [f'<p class="meta">{" · ".join(what)}</p>']
    if inspection.note:
        summary.append(f'<p class="note">{_e(inspection.note)}</p>')
    nav, sections = [], []
    if refs:
        nav += [
            '<a href="#references">references</a>',
            '<a href="#pooling">pooling</a>',
            '<a href="#map">embedding map</a>',
            '<a href="#details">per reference</a>',
        ]
        sections.append(
            '<section id="references"><h2>References</h2>'
            '<p class="note">Verdicts and measurements of the cleaning stage; "pooling" says how each '
            'reference entered the speaker embedding and "weight" its share. "quality prior" is the '
            "weight the quality report alone suggests.</p>" + _table(refs, colors) + "</section>"
        )
        sections.append(
            '<section id="pooling"><h2>Pooling</h2><div class="row">'
            + _img(
                pngs,
                "weights",
                "pooling weights",
                "Weight of each reference in the pooled speaker embedding (hatched: not used).",
            )
            + _img(
                pngs,
                "similarity",
                "similarity between references",
                "Cosine similarity between the references' embeddings; a row much lower than "
                "the others is a reference that does not sound like the rest.",
            )
            + "</div></section>"
        )
        method = "PCA" if projection == "pca" else "t-SNE"
        sections.append(
            '<section id="map"><h2>Embedding map</h2>'
            + _img(
                pngs,
                "embedding-map",
                "map of window embeddings",
                f"{method} of the window embeddings of all references (dots), the reference "
                "embeddings (crosses) and the pooled embedding (star). Windows far from their "
                "reference's cloud hold something else: another voice, noise, silence.",
            )
            + "</section>"
        )
        if inspection.prompt is not None:
            nav.append('<a href="#prompt">prompt</a>')
            sections.append(_prompt_section(inspection.prompt, refs, colors))
        sections.append(
            '<section id="details"><h2>Per reference</h2>'
            + "\n".join(
                _reference_article(r, pngs, max_audio_seconds, inspection.prompt) for r in refs
            )
            + "</section>"
        )
    if inspection.speakers:
        nav.append('<a href="#speakers">speakers</a>')
        sections.append(_speakers_section(inspection.speakers, pngs, inspection.speakers_dir))
    title = "voxref inspect"
    return PAGE.substitute(
        title=_e(title),
        csp=_e(CSP),
        css=CSS,
        generator=_e(f"voxref {__version__}"),
        summary="\n".join(summary),
        nav=" ".join(nav),
        sections="\n".join(sections),
        script=IMAGES_LOADED_SCRIPT,
    )
