"""``report.html`` of an audit: a self-contained page, outliers first.

The page holds the counts per reason, the speaker map (every clip's embedding on a PCA map,
coloured by speaker, flagged clips circled in red, each speaker's centroid a star), and one row
per clip sorted by score, worst first, with its reasons and measurements. Flagged clips get an
audio player (up to :data:`MAX_PLAYERS`), and so do the first :data:`KEPT_PLAYERS` kept clips of
each speaker, to hear what the speaker's clean clips sound like. Audio and images are embedded
(data URIs), so the file can be moved or mailed.
"""

from __future__ import annotations

import html as _html
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from .dataset import Dataset
from .flags import REASONS, ClipFlags

__all__ = ["write_report", "speaker_map_png", "MAX_PLAYERS", "KEPT_PLAYERS"]

log = logging.getLogger(__name__)

#: Flagged clips that get an audio player (the highest scores).
MAX_PLAYERS = 300
#: Kept clips per speaker that get an audio player.
KEPT_PLAYERS = 3

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f2f2f2}
tr.flagged td{background:#fff3f0}
.reason{display:inline-block;background:#c0392b;color:#fff;border-radius:3px;padding:0 4px;
margin:1px;font-size:12px}
.small{color:#666;font-size:12px}
audio{height:28px;width:220px}
"""


def _e(x: object) -> str:
    return _html.escape(str(x))


def speaker_map_png(
    flags: Sequence[ClipFlags], centroids: Mapping[str, np.ndarray] | None = None
) -> bytes | None:
    """PNG of the clip embeddings on a PCA map (``None`` with fewer than 3 embedded clips).

    Stars are the speakers' ``centroids`` (the kept clips' mean when a speaker has none).
    """
    from ..inspection.figures import new_figure, project_2d, reference_colors, to_png

    rows = [f for f in flags if f.measures is not None and f.measures.embedding is not None]
    if len(rows) < 3:
        return None
    speakers = list(dict.fromkeys(f.speaker for f in rows))
    emb = np.stack([f.measures.embedding for f in rows])  # type: ignore[union-attr]
    cents = []
    for spk in speakers:
        c = (centroids or {}).get(spk)
        if c is None:
            own = [f.measures.embedding for f in rows if f.speaker == spk]  # type: ignore[union-attr]
            kept = [e for e, f in zip(own, (g for g in rows if g.speaker == spk)) if not f.flagged]
            c = np.mean(kept or own, axis=0)
        cents.append(np.asarray(c) / max(float(np.linalg.norm(c)), 1e-12))
    xy = project_2d(np.concatenate([emb, np.stack(cents)]), "pca", fit_rows=len(rows))
    fig = new_figure(7.5, 6.0)
    ax = fig.add_subplot()
    colors = reference_colors(len(speakers))
    for i, spk in enumerate(speakers):
        idx = [k for k, f in enumerate(rows) if f.speaker == spk]
        ax.scatter(xy[idx, 0], xy[idx, 1], s=18, color=colors[i], alpha=0.75, label=spk[:30])
        ax.scatter(
            xy[len(rows) + i, 0],
            xy[len(rows) + i, 1],
            s=260,
            marker="*",
            color=colors[i],
            edgecolors="black",
            zorder=4,
        )
    bad = [k for k, f in enumerate(rows) if f.flagged]
    if bad:
        ax.scatter(
            xy[bad, 0],
            xy[bad, 1],
            s=90,
            facecolors="none",
            edgecolors="red",
            linewidths=1.2,
            label="flagged",
            zorder=3,
        )
    ax.set_title(
        "clip embeddings (PCA), flagged clips circled; stars: speaker centroids", fontsize=10
    )
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    ax.grid(alpha=0.3)
    return to_png(fig)


def _player(path: str) -> str:
    from ..inspection.media import wav_data_uri

    try:
        import soundfile as sf

        x, sr = sf.read(path, dtype="float32", always_2d=True)
        if not len(x):
            return '<span class="small">empty file</span>'
        return (
            f'<audio controls preload="none" src="{wav_data_uri(x.mean(axis=1), int(sr))}"></audio>'
        )
    except Exception as exc:  # an unreadable clip is already flagged; say why no player
        return f'<span class="small">cannot play ({_e(type(exc).__name__)})</span>'


def _num(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def write_report(
    dataset: Dataset,
    flags: Sequence[ClipFlags],
    path: str | Path,
    centroids: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write the audit page for ``flags`` of ``dataset`` to ``path`` (``centroids``: the
    speakers' pooled embeddings, starred on the speaker map)."""
    from ..inspection.media import png_data_uri

    ordered = sorted(flags, key=lambda f: (-int(f.flagged), -f.score, f.clip_id))
    n_flag = sum(f.flagged for f in flags)
    counts = {r: sum(r in f.reasons for f in flags) for r in REASONS}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>voxref audit</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>voxref audit: {_e(dataset.root.name)}</h1>",
        f"<p>{len(flags)} clips, {len(dataset.speakers)} speaker(s), layout "
        f"<b>{_e(dataset.layout)}</b>; <b>{n_flag}</b> flagged, {len(flags) - n_flag} kept.</p>",
        "<table><tr><th>reason</th><th>clips</th></tr>",
        *[f"<tr><td>{_e(r)}</td><td>{counts[r]}</td></tr>" for r in REASONS if counts[r]],
        "</table>",
    ]
    png = speaker_map_png(flags, centroids)
    if png is not None:
        parts += ["<h2>Speaker map</h2>", f"<img alt='speaker map' src='{png_data_uri(png)}'>"]
    parts += [
        "<h2>Clips, worst first</h2>",
        "<table><tr><th>#</th><th>clip</th><th>speaker</th><th>score</th><th>reasons</th>"
        "<th>speech s</th><th>SNR dB</th><th>clip %</th><th>level dBFS</th><th>bw kHz</th>"
        "<th>2+ voices %</th><th>cosine</th><th>listen</th></tr>",
    ]
    players = 0
    kept_players: dict[str, int] = {}
    for i, f in enumerate(ordered, 1):
        m = f.measures
        listen = ""
        if m is not None:
            if f.flagged and players < MAX_PLAYERS:
                players += 1
                listen = _player(m.path)
            elif not f.flagged and kept_players.get(f.speaker, 0) < KEPT_PLAYERS:
                kept_players[f.speaker] = kept_players.get(f.speaker, 0) + 1
                listen = _player(m.path)
        reasons = "".join(f"<span class='reason'>{_e(r)}</span>" for r in f.reasons)
        details = "<br>".join(_e(d) for d in f.details)
        bw = None if m is None or m.bandwidth_hz is None else m.bandwidth_hz / 1000
        ov = None if m is None or m.overlap_ratio is None else 100 * m.overlap_ratio
        cl = None if m is None or m.clipping_ratio is None else 100 * m.clipping_ratio
        parts.append(
            f"<tr class='{'flagged' if f.flagged else ''}'><td>{i}</td><td>{_e(f.clip_id)}</td>"
            f"<td>{_e(f.speaker)}</td><td>{f.score:.2f}</td>"
            f"<td>{reasons}<div class='small'>{details}</div></td>"
            f"<td>{_num(m and m.speech_s, '.2f')}</td><td>{_num(m and m.snr_db, '.1f')}</td>"
            f"<td>{_num(cl, '.2f')}</td><td>{_num(m and m.level_dbfs, '.1f')}</td>"
            f"<td>{_num(bw, '.1f')}</td><td>{_num(ov, '.0f')}</td>"
            f"<td>{_num(m and m.cosine, '.3f')}</td><td>{listen}</td></tr>"
        )
    parts += ["</table>", "</body></html>"]
    atomic_write_text(path, "\n".join(parts))
    return Path(path)
