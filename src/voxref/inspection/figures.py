"""The figures of a ``voxref inspect`` report, drawn with matplotlib from plain arrays.

Every function builds a :class:`matplotlib.figure.Figure` attached to an Agg canvas of its own:
pyplot and the process-wide backend are never touched, so drawing a report inside a notebook or a
GUI application leaves its plotting state alone. :func:`to_png` renders a figure to PNG bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .views import ReferenceView, SpeakerView

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "new_figure",
    "to_png",
    "reference_colors",
    "reference_figure",
    "similarity_figure",
    "weights_figure",
    "embedding_map_figure",
    "speakers_map_figure",
    "speaker_similarity_figure",
    "project_2d",
    "cosine_matrix",
    "DPI",
    "MAX_SPECTROGRAM_FRAMES",
    "WAVEFORM_BINS",
]

#: Resolution of the PNGs.
DPI = 100
#: Spectrograms of long recordings use a larger hop so they stay under this many frames.
MAX_SPECTROGRAM_FRAMES = 3000
#: The waveform is drawn as a min/max envelope over this many bins.
WAVEFORM_BINS = 2400
_VAD_COLOR = "#2ca02c"
_MASK_COLOR = "#1f77b4"
_OVERLAP_COLOR = "#d62728"
_PROMPT_COLOR = "#ff7f0e"


def new_figure(width: float, height: float) -> Figure:
    """A figure with its own Agg canvas (no pyplot, no global backend change).

    Examples
    --------
    >>> fig = new_figure(2, 1)
    >>> type(fig.canvas).__name__
    'FigureCanvasAgg'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig``.

    Examples
    --------
    >>> to_png(new_figure(1, 1))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def reference_colors(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours, one per reference (tab10, then tab20, then a hue wheel).

    Examples
    --------
    >>> len(reference_colors(3)), len(set(reference_colors(25)))
    (3, 25)
    """
    from matplotlib import colormaps

    if n <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    if n <= 20:
        cmap = colormaps["tab20"]
        return [cmap(i) for i in range(n)]
    cmap = colormaps["hsv"]
    return [cmap(i / n) for i in range(n)]


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------- per reference
def _envelope(x: np.ndarray, sample_rate: int, bins: int) -> tuple[np.ndarray, ...]:
    n = len(x)
    per = max(1, math.ceil(n / bins))
    m = n // per
    if m == 0:
        t = np.arange(n) / sample_rate
        return t, x, x
    body = x[: m * per].reshape(m, per)
    t = (np.arange(m) * per + per / 2) / sample_rate
    return t, body.min(axis=1), body.max(axis=1)


def _spectrogram(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    from scipy.signal import spectrogram

    hop = max(sample_rate // 100, math.ceil(len(x) / MAX_SPECTROGRAM_FRAMES))
    nper = max(512 * sample_rate // 16000, hop)
    nper = min(nper, max(16, len(x)))
    _, _, sxx = spectrogram(
        x.astype(np.float64),
        fs=sample_rate,
        nperseg=nper,
        noverlap=max(0, nper - hop),
        window="hann",
        mode="psd",
    )
    db = 10.0 * np.log10(sxx + 1e-12)
    return db, float(db.max()) if db.size else 0.0


def reference_figure(
    view: ReferenceView,
    color: Any = _MASK_COLOR,
    prompt_spans: Sequence[tuple[float, float, int]] | None = None,
) -> Figure:
    """Waveform, spectrogram, speech regions, diarization turns and target mask of one reference.

    Rows, sharing the recording's time axis: the waveform with the VAD's speech regions shaded
    and, when ``prompt_spans`` (``(start, end, n)``: seconds on the recording's timeline and the
    piece's number in the prompt) are given, the prompt's pieces cut from it hatched in orange
    (patch ``gid`` ``prompt-piece-<n>``) and labelled ``P<n>``;
    the spectrogram; one lane per diarization speaker (or a note saying why there are none); the
    target mask: the pooling's window weights over their maximum (filled), the target activity
    and the overlap probability (lines) when known.
    """
    width, dur = 11.0, max(view.duration, 1e-3)
    labels = sorted({lab for _, _, lab in view.turns or []})
    lanes = 1 + max(1, len(labels))
    fig = new_figure(width, 5.2 + 0.18 * lanes)
    gs = fig.add_gridspec(4, 1, height_ratios=[1.0, 1.6, 0.28 * lanes + 0.2, 0.8])
    ax_w = fig.add_subplot(gs[0])
    ax_s = fig.add_subplot(gs[1], sharex=ax_w)
    ax_l = fig.add_subplot(gs[2], sharex=ax_w)
    ax_m = fig.add_subplot(gs[3], sharex=ax_w)
    weight = f"pooling weight {view.weight:.2f}"
    fig.suptitle(f"{view.index + 1}. {view.name}  —  {view.status}, {weight}", fontsize=11)

    if view.samples is None or not len(view.samples):
        for ax in (ax_w, ax_s, ax_l, ax_m):
            _no_data(ax, "audio could not be read")
        return fig
    x, sr = view.samples, view.sample_rate

    # waveform + VAD
    t, lo, hi = _envelope(x, sr, WAVEFORM_BINS)
    ax_w.fill_between(t, lo, hi, color="0.25", linewidth=0.3)
    for s, e in view.regions or []:
        ax_w.axvspan(s, e, color=_VAD_COLOR, alpha=0.18, linewidth=0)
    peak = float(np.max(np.abs(x))) or 1.0
    for s, e, n in prompt_spans or []:
        ax_w.axvspan(
            s,
            e,
            facecolor=_PROMPT_COLOR,
            edgecolor=_PROMPT_COLOR,
            alpha=0.35,
            hatch="//",
            linewidth=1.0,
            gid=f"prompt-piece-{n}",
        )
        ax_w.text((s + e) / 2, 0.95 * peak, f"P{n}", ha="center", va="top", fontsize=8)
    ax_w.set_ylim(-1.05 * peak, 1.05 * peak)
    ax_w.set_ylabel("waveform")
    ax_w.set_xlim(0, dur)
    ax_w.tick_params(labelbottom=False)
    if view.regions is not None or prompt_spans:
        from matplotlib.patches import Patch

        handles = [Patch(color=_VAD_COLOR, alpha=0.3, label="speech (VAD)")]
        if prompt_spans:
            handles.append(Patch(color=_PROMPT_COLOR, alpha=0.5, label="prompt piece"))
        ax_w.legend(
            handles=handles,
            loc="upper right",
            fontsize=8,
            framealpha=0.8,
        )

    # spectrogram
    db, top = _spectrogram(x, sr)
    ax_s.imshow(
        db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=top - 80,
        vmax=top,
        extent=(0, len(x) / sr, 0, sr / 2000.0),
        interpolation="nearest",
    )
    ax_s.set_ylabel("kHz")
    ax_s.tick_params(labelbottom=False)

    # lanes: VAD + diarization speakers
    names = ["speech (VAD)", *labels] if labels else ["speech (VAD)", "diarization"]
    for s, e in view.regions or []:
        ax_l.broken_barh([(s, e - s)], (0.15, 0.7), color=_VAD_COLOR, alpha=0.7)
    if labels:
        from matplotlib import colormaps

        cmap = colormaps["Set2"]
        for s, e, lab in view.turns or []:
            k = labels.index(lab) + 1
            ax_l.broken_barh([(s, e - s)], (k + 0.15, 0.7), color=cmap(k % 8), alpha=0.9)
    else:
        note = view.diarization_note or "no speaker turns"
        ax_l.text(0.01 * dur, 1.5, f"diarization: {note}", va="center", fontsize=8, color="0.35")
    ax_l.set_ylim(0, len(names))
    ax_l.set_yticks(np.arange(len(names)) + 0.5, names, fontsize=8)
    ax_l.invert_yaxis()
    ax_l.tick_params(labelbottom=False)
    ax_l.grid(axis="x", alpha=0.3)

    # target mask: pooling weights (fill), target activity and overlap (lines)
    mt, mask = view.weight_mask()
    drawn = False
    if np.isfinite(mask).any():
        ax_m.fill_between(
            mt,
            0,
            np.nan_to_num(mask),
            where=np.isfinite(mask),
            step="mid",
            color=color,
            alpha=0.35,
            linewidth=0,
            label="pooling weight / max",
        )
        drawn = True
    act = view.activity_mask()
    if act is not None:
        label = "target activity"
        if view.activity_source == "inspect":
            label += " (separation stage; not used by this pooling)"
        ax_m.plot(act[0], act[1], color="black", linewidth=1.2, label=label)
        drawn = True
    ov = view.overlap_mask()
    if ov is not None:
        ax_m.plot(ov[0], ov[1], color=_OVERLAP_COLOR, linewidth=1.0, label="overlap probability")
    if not drawn:
        ax_m.text(
            0.01 * dur,
            0.5,
            "no embedding windows (reference rejected)",
            fontsize=8,
            va="center",
            color="0.35",
        )
    ax_m.set_ylim(0, 1.12)
    ax_m.set_ylabel("mask")
    ax_m.set_xlabel("time in the recording (s)")
    if drawn:
        ax_m.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.45), fontsize=8, ncol=3, frameon=False
        )
    return fig


# ----------------------------------------------------------------------------- references
def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows of ``vectors``.

    Examples
    --------
    >>> cosine_matrix(np.array([[1.0, 0.0], [1.0, 1.0]])).round(3).tolist()
    [[1.0, 0.707], [0.707, 1.0]]
    """
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.clip(v @ v.T, -1.0, 1.0)


def _heatmap(ax: Any, matrix: np.ndarray, labels: Sequence[str], title: str) -> None:
    n = len(labels)
    lo = min(0.0, float(matrix.min())) if matrix.size else 0.0
    im = ax.imshow(matrix, cmap="viridis", vmin=lo, vmax=1.0)
    ax.set_xticks(range(n), [_short(s, 18) for s in labels], rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(n), [_short(s, 24) for s in labels], fontsize=8)
    ax.set_title(title, fontsize=10)
    if n <= 14:
        for i in range(n):
            for j in range(n):
                v = matrix[i, j]
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if v > lo + 0.6 * (1 - lo) else "white",
                )
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="cosine similarity")


def similarity_figure(references: Sequence[ReferenceView]) -> Figure:
    """Heatmap of cosine similarity between the embeddings of the used references."""
    used = [r for r in references if r.embedding is not None]
    side = min(9.0, 2.6 + 0.5 * len(used))
    fig = new_figure(side + 1.4, side)
    ax = fig.add_subplot()
    if len(used) < 1:
        _no_data(ax, "no usable reference")
        return fig
    m = cosine_matrix(np.stack([r.embedding for r in used]))
    _heatmap(ax, m, [f"{r.index + 1}. {r.name}" for r in used], "similarity between references")
    return fig


def weights_figure(references: Sequence[ReferenceView]) -> Figure:
    """Horizontal bars: each reference's weight in the pooled embedding (rejected ones at 0)."""
    n = len(references)
    fig = new_figure(6.4, 1.2 + 0.42 * max(n, 1))
    ax = fig.add_subplot()
    if not n:
        _no_data(ax, "no reference")
        return fig
    colors = reference_colors(n)
    y = np.arange(n)
    w = np.array([r.weight for r in references])
    bars = ax.barh(y, w, color=colors, edgecolor="0.2", linewidth=0.5)
    for bar, r in zip(bars, references):
        if r.embedding is None:
            bar.set_hatch("//")
        ax.text(
            bar.get_width() + 0.01,
            bar.get_y() + bar.get_height() / 2,
            f"{r.weight:.2f}  {r.status}",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, [_short(f"{r.index + 1}. {r.name}", 30) for r in references], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(1.0, float(w.max()) * 1.35) if w.size else 1.0)
    ax.set_xlabel("weight in the pooled embedding")
    ax.set_title("pooling weights", fontsize=10)
    return fig


def project_2d(
    points: np.ndarray, method: str = "pca", *, fit_rows: int | None = None, seed: int = 0
) -> np.ndarray:
    """2-D coordinates of ``points`` by PCA (fitted on the first ``fit_rows`` rows) or t-SNE.

    PCA is deterministic; t-SNE (``method="tsne"``) embeds all rows together, seeded by ``seed``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xy = project_2d(rng.standard_normal((20, 8)), "pca")
    >>> xy.shape
    (20, 2)
    """
    from ..errors import ConfigError

    x = np.asarray(points, dtype=np.float64)
    n = len(x)
    if method == "pca":
        from sklearn.decomposition import PCA

        fit = x[: fit_rows or n]
        k = min(2, len(fit), x.shape[1])
        pca = PCA(n_components=k, svd_solver="full").fit(fit)
        out = pca.transform(x)
        if k < 2:
            out = np.concatenate([out, np.zeros((n, 2 - k))], axis=1)
        return out
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
        return TSNE(
            n_components=2,
            perplexity=perplexity,
            init="pca",
            random_state=seed,
            metric="cosine",
        ).fit_transform(x)
    raise ConfigError(f"unknown projection {method!r}; use 'pca' or 'tsne'.")


def embedding_map_figure(
    references: Sequence[ReferenceView],
    pooled: np.ndarray | None,
    *,
    method: str = "pca",
    seed: int = 0,
) -> Figure:
    """Window embeddings of every used reference on a 2-D map, with the pooled embedding marked.

    Dots are windows (coloured by reference, the reference's colour in every figure), crosses the
    reference embeddings, the black star the pooled speaker embedding.
    """
    fig = new_figure(7.5, 6.0)
    ax = fig.add_subplot()
    colors = reference_colors(len(references))
    used = [r for r in references if r.window_embeddings is not None and r.num_windows]
    n_win = sum(r.num_windows for r in used)
    if n_win < 3 if method == "tsne" else n_win < 2:
        _no_data(ax, "too few embedding windows to draw a map")
        return fig
    rows = [r.window_embeddings for r in used]
    refs = [r for r in used if r.embedding is not None]
    rows += [np.stack([r.embedding for r in refs])] if refs else []
    rows += [pooled[None, :]] if pooled is not None else []
    xy = project_2d(np.concatenate(rows), method, fit_rows=n_win, seed=seed)
    k = 0
    for r in used:
        pts = xy[k : k + r.num_windows]
        k += r.num_windows
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=16,
            color=colors[r.index],
            alpha=0.7,
            label=_short(f"{r.index + 1}. {r.name}", 34),
            edgecolors="none",
        )
    for r in refs:
        ax.scatter(
            xy[k, 0],
            xy[k, 1],
            s=110,
            marker="X",
            color=colors[r.index],
            edgecolors="black",
            linewidths=0.8,
            zorder=3,
        )
        k += 1
    if pooled is not None:
        ax.scatter(
            xy[k, 0], xy[k, 1], s=320, marker="*", color="black", zorder=4, label="pooled embedding"
        )
    ax.scatter(
        [], [], s=80, marker="X", color="0.7", edgecolors="black", label="reference embedding"
    )
    name = "PCA" if method == "pca" else "t-SNE"
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
    ax.set_title(f"window embeddings ({name}), coloured by reference", fontsize=10)
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    ax.grid(alpha=0.3)
    return fig


# ----------------------------------------------------------------------------- speakers
def speakers_map_figure(
    speakers: Sequence[SpeakerView], *, method: str = "pca", seed: int = 0
) -> Figure:
    """Pooled embedding of each speaker (stars, named) and their references' (dots) on one map."""
    fig = new_figure(7.5, 6.0)
    ax = fig.add_subplot()
    ok = [s for s in speakers if s.embedding is not None]
    if len(ok) < 2:
        _no_data(ax, "fewer than two speakers with a usable reference")
        return fig
    colors = reference_colors(len(ok))
    rows = [s.reference_embeddings for s in ok] + [np.stack([s.embedding for s in ok])]
    xy = project_2d(np.concatenate(rows), method, seed=seed)
    k = 0
    for s, c in zip(ok, colors):
        pts = xy[k : k + len(s.reference_embeddings)]
        k += len(s.reference_embeddings)
        ax.scatter(pts[:, 0], pts[:, 1], s=30, color=c, alpha=0.6, edgecolors="none")
    for i, (s, c) in enumerate(zip(ok, colors)):
        ax.scatter(
            xy[k + i, 0],
            xy[k + i, 1],
            s=300,
            marker="*",
            color=c,
            edgecolors="black",
            linewidths=0.8,
            zorder=3,
            label=_short(s.name, 30),
        )
        ax.annotate(
            _short(s.name, 20),
            (xy[k + i, 0], xy[k + i, 1]),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
        )
    name = "PCA" if method == "pca" else "t-SNE"
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
    ax.set_title("speakers: pooled embeddings (stars) and their references (dots)", fontsize=10)
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    ax.grid(alpha=0.3)
    return fig


def speaker_similarity_figure(speakers: Sequence[SpeakerView]) -> Figure:
    """Heatmap of cosine similarity between the speakers' pooled embeddings."""
    ok = [s for s in speakers if s.embedding is not None]
    side = min(9.0, 2.6 + 0.5 * len(ok))
    fig = new_figure(side + 1.4, side)
    ax = fig.add_subplot()
    if not ok:
        _no_data(ax, "no speaker with a usable reference")
        return fig
    m = cosine_matrix(np.stack([s.embedding for s in ok]))
    _heatmap(ax, m, [s.name for s in ok], "similarity between speakers")
    return fig
