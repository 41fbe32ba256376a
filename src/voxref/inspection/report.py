"""``voxref.inspect``: one self-contained HTML page that shows what voxref saw in the references.

Choosing references is otherwise done by ear. The report shows, for one speaker's references:

* a table of quality reports (speech seconds, SNR, clipping, bandwidth, overlap, verdict and
  reasons) with each reference's weight in the pooled embedding;
* per reference: waveform and spectrogram with the speech regions, the diarization turns (who
  speaks where) and the target mask (where the embedding was taken from), and a player for the
  cleaned, target-only audio;
* the similarity between references and their pooling weights;
* a 2-D map (PCA, or t-SNE) of the window embeddings coloured by reference, the pooled embedding
  marked;
* with a speakers folder (one sub-folder per speaker): the speakers' pooled embeddings on one map
  and their similarity matrix;
* with a reference prompt (:func:`voxref.prompt`, or the sidecar ``voxref prompt`` wrote): its
  pieces on each reference's timeline, a table of them and a player of the prompt
  (:mod:`.prompt_view`).

Images and audio are embedded as ``data:`` URIs (the page needs no network and no other file);
the PNGs are also written beside the page, in ``<name>_figures/``.
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .collect import Inspection, ReferenceView, SpeakerView, collect
from .template import CSP, CSS, IMAGES_LOADED_SCRIPT, PAGE

__all__ = ["inspect", "write_report", "render_page", "InspectReport", "DEFAULT_MAX_AUDIO_SECONDS"]

log = logging.getLogger(__name__)

#: Each reference's audio player holds at most this many seconds (16 kHz 16-bit: 32 kB/s).
DEFAULT_MAX_AUDIO_SECONDS = 30.0


@dataclass
class InspectReport:
    """Where a report was written and what it holds.

    Attributes
    ----------
    path
        The HTML file.
    figures
        Figure name -> PNG file written beside the page.
    num_references, num_speakers
        How many references (table rows) and speakers it shows.
    inspection
        The data the report was drawn from.
    """

    path: Path
    figures: dict[str, Path] = field(default_factory=dict)
    num_references: int = 0
    num_speakers: int = 0
    inspection: Inspection | None = None

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def inspect(
    files: Sequence[Any] | None,
    output: str | os.PathLike,
    *,
    embedder: Any = None,
    speakers_dir: str | os.PathLike | None = None,
    diarize: bool | Any = True,
    projection: str = "pca",
    max_audio_seconds: float = DEFAULT_MAX_AUDIO_SECONDS,
    seed: int = 0,
    prompt: Any = None,
    prompt_preset: str | None = None,
) -> InspectReport:
    """Write an HTML report of what voxref makes of one speaker's references (and of speakers).

    Parameters
    ----------
    files
        One speaker's reference recordings (paths, arrays... anything :func:`voxref.embed` takes).
        May be empty when ``speakers_dir`` is given.
    output
        The HTML file to write. The PNGs go to ``<output stem>_figures/`` beside it.
    embedder
        The :class:`voxref.Embedder` to use (default: ``Embedder()``).
    speakers_dir
        A folder with one sub-folder of recordings per speaker: adds the speakers' map and
        similarity matrix.
    diarize
        Draw diarization turns (:func:`voxref.diarize`, when installed); ``False`` skips it, a
        callable ``audio -> Annotation`` replaces it.
    projection
        ``"pca"`` (default, deterministic) or ``"tsne"`` for the embedding maps.
    max_audio_seconds
        Length cap of each embedded audio player.
    seed
        Seed of the t-SNE projection.
    prompt
        Show a reference prompt (:func:`voxref.prompt`) on the references' timelines, in a table
        of its pieces and in a player: a :class:`~voxref.prompting.result.PromptResult`, the path
        of the JSON sidecar ``voxref prompt`` wrote (its audio beside it), or ``True`` to make one
        from ``files`` (slow: it diarizes every reference, once for the prompt and the turns drawn
        when ``diarize`` is ``True``; prefer passing the prompt already made).
    prompt_preset
        With ``prompt=True``: the preset of the prompt made (default ``"generic"``).

    Returns
    -------
    InspectReport

    Raises
    ------
    voxref.errors.ConfigError
        The prompt's pieces come from files that are not among ``files`` (or lie past their
        end), the sidecar or its audio is missing, or ``prompt_preset`` is given without
        ``prompt=True``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from voxref.sample_data import pyannote_sample
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> rep = inspect([pyannote_sample()[0]], out, diarize=False)  # doctest: +SKIP
    >>> rep.num_references, rep.path.exists()  # doctest: +SKIP
    (1, True)
    """
    diarizer = None
    if prompt is True and diarize is True:
        # one diarization per reference: the prompt's diarizer keeps its results, the turns
        # drawn are the same diarizer's (what voxref.diarize gives with its defaults)
        from ..prompting.diarizations import RememberingDiarizer

        diarizer = RememberingDiarizer()
        diarize = diarizer.annotation
    view = _prompt_of(prompt, prompt_preset, files, embedder, diarizer)
    data = collect(files, embedder, speakers_dir=speakers_dir, diarize=diarize)
    if view is not None:
        from .prompt_view import attach_prompt

        refs = data.references
        data.prompt = attach_prompt(view, [r.source for r in refs], [r.duration for r in refs])
    return write_report(
        data, output, projection=projection, max_audio_seconds=max_audio_seconds, seed=seed
    )


def _prompt_of(
    prompt: Any, preset: str | None, files: Any, embedder: Any, diarizer: Any = None
) -> Any:
    """The :class:`~.prompt_view.PromptView` that ``inspect(prompt=..., prompt_preset=...)`` asks
    for (``None``: none), its pieces checked against ``files`` before any model runs."""
    from ..errors import ConfigError
    from .prompt_view import attach_prompt, load_prompt_sidecar, prompt_view

    if preset is not None and prompt is not True:
        raise ConfigError(
            "prompt_preset only applies when the report makes the prompt (prompt=True); a prompt "
            "passed in or read from its sidecar already has its preset."
        )
    if prompt is None or prompt is False:
        return None
    files = list(files or [])
    if prompt is True:
        if not files:
            raise ConfigError("prompt=True needs reference files to make the prompt from.")
        from ..prompting import prompt as make_prompt

        log.info(
            "inspect: making a %s prompt from %d reference(s)", preset or "generic", len(files)
        )
        extra = {} if diarizer is None else {"diarizer": diarizer}
        res = make_prompt(files, preset=preset or "generic", embedder=embedder, **extra)
        return prompt_view(res, origin="made for this report")
    if isinstance(prompt, (str, os.PathLike)):
        view = load_prompt_sidecar(prompt)
    elif hasattr(prompt, "pieces") and hasattr(prompt, "audio"):
        view = prompt_view(prompt)
    else:
        raise ConfigError(
            f"prompt must be a PromptResult, the path of a prompt sidecar (.json) or True; got "
            f"{type(prompt).__name__}."
        )
    if all(isinstance(f, (str, os.PathLike)) for f in files):
        attach_prompt(view, [str(f) for f in files])  # fail before the models run
    return view


def write_report(
    inspection: Inspection,
    output: str | os.PathLike,
    *,
    projection: str = "pca",
    max_audio_seconds: float = DEFAULT_MAX_AUDIO_SECONDS,
    seed: int = 0,
) -> InspectReport:
    """Draw the figures of ``inspection``, save them as PNGs and write the self-contained page."""
    from .figures import (
        embedding_map_figure,
        reference_colors,
        reference_figure,
        similarity_figure,
        speaker_similarity_figure,
        speakers_map_figure,
        to_png,
        weights_figure,
    )

    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = out.parent / f"{out.stem}_figures"
    fig_dir.mkdir(exist_ok=True)
    refs = inspection.references
    colors = reference_colors(len(refs))
    pngs: dict[str, bytes] = {}
    pv = inspection.prompt
    for r in refs:
        spans = (
            None if pv is None else [(p.start, p.end, p.order + 1) for p in pv.spans_of(r.index)]
        )
        pngs[f"reference-{r.index + 1:02d}"] = to_png(reference_figure(r, colors[r.index], spans))
    if refs:
        pngs["weights"] = to_png(weights_figure(refs))
        pngs["similarity"] = to_png(similarity_figure(refs))
        pngs["embedding-map"] = to_png(
            embedding_map_figure(refs, inspection.embedding, method=projection, seed=seed)
        )
    if inspection.speakers:
        pngs["speakers-map"] = to_png(
            speakers_map_figure(inspection.speakers, method=projection, seed=seed)
        )
        pngs["speakers-similarity"] = to_png(speaker_similarity_figure(inspection.speakers))
    paths = {}
    for name, data in pngs.items():
        paths[name] = fig_dir / f"{name}.png"
        paths[name].write_bytes(data)
    page = render_page(
        inspection, pngs, colors=colors, projection=projection, max_audio_seconds=max_audio_seconds
    )
    out.write_text(page, encoding="utf-8")
    log.info("wrote %s (%.1f MB) and %d figures in %s", out, len(page) / 1e6, len(paths), fig_dir)
    return InspectReport(out, paths, len(refs), len(inspection.speakers), inspection)


# ----------------------------------------------------------------------------- HTML pieces
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
