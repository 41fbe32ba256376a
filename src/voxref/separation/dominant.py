"""The dominant voice of a single recording, from short windows (a reference with two talkers).

A user with one reference clip of an interview or a call has no other reference to say which
voice is the target. The target is then taken to be the *dominant* voice (most speech), and the
other voice's turns are removed before embedding. The guided activity of
:func:`voxref.separation.guide.target_activity` works on the encoder's 1.6 s windows; in a 5 s
clip a 1.5 s turn of another speaker touches almost every such window, so it cannot tell the
voices apart there. :func:`dominant_voice` does the same job on short windows (0.8 s every 0.2 s,
:data:`FINE_WINDOW_S`, :data:`FINE_HOP_S`): two-way Ward clustering of their embeddings, a second
voice only when the two centroids are clearly different (:data:`DISTINCT_BELOW`) and the minority
has enough windows, then the time spans where the dominant voice speaks alone.
:func:`lone_reference_target` concatenates those spans and embeds them with the encoder's own
windows; :func:`window_purity` says how much of each long window lies in them.

Calibration (quality benchmark corpus, GE2E, 0.8 s windows): the cosine between the two Ward
centroids of one-voice references is 0.80 / 0.88 (5th percentile / median) for clean, reverberant
and babble-noisy clips, and 0.63 / 0.72 / 0.82 (5th / median / 95th) for references where
another speaker takes a 20-45 % turn.

Examples
--------
>>> import numpy as np
>>> from voxref.embedder.base import WindowEmbeddings, l2_normalize
>>> rng = np.random.default_rng(0)
>>> a, b = l2_normalize(rng.standard_normal((2, 32)))
>>> voices = [a] * 14 + [b] * 8 + [a] * 10          # a turn of voice b in the middle
>>> e = l2_normalize(np.array(voices) + 0.15 * rng.standard_normal((32, 32)))
>>> t = np.arange(32) * 0.2
>>> d = dominant_voice(WindowEmbeddings(e, t, t + 0.8))
>>> d is not None and round(d.other_share, 2)
0.25
>>> s = np.array([0.0, 3.0, 5.4])
>>> long = WindowEmbeddings(e[:3], s, s + 1.6)
>>> window_purity(d, long).round(2).tolist()    # the middle window holds the other voice
[1.0, 0.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..embedder.base import WindowEmbeddings
from .clustering import cluster_centroids, ward_clusters

__all__ = [
    "FINE_WINDOW_S",
    "FINE_HOP_S",
    "DISTINCT_BELOW",
    "DominantVoice",
    "dominant_voice",
    "window_purity",
    "LoneTarget",
    "lone_reference_target",
]

FINE_WINDOW_S = 0.8
"""Short window length (seconds) for finding the voices of one recording."""

FINE_HOP_S = 0.2
"""Step of the short windows (seconds)."""

DISTINCT_BELOW = 0.78
"""Two clusters of short windows are two voices only when their centroids' cosine is below this."""

MIN_OTHER_WINDOWS = 4
"""Fewest short windows (0.8 s of new speech at a 0.2 s step) that make another voice."""

MIN_WINDOWS = 8
"""Shorter recordings (in short windows) are not split."""

MARGIN_S = 0.3
"""The other voice's spans are widened by this much on each side (a short window is labelled by
the voice that holds most of it, so the first and last tenths of a turn can hide in a window of
the dominant voice)."""

MAX_OTHER_SHARE = 0.45
"""The other voice may hold at most this share of the short windows: closer to half, which voice
dominates is a coin toss, and the recording is left whole."""


@dataclass
class DominantVoice:
    """The dominant voice of one recording and where it speaks alone.

    Attributes
    ----------
    labels
        ``(N,)`` per short window: ``True`` = the dominant voice.
    spans
        ``(M, 2)`` start/end seconds (on the windows' timeline) where only the dominant voice's
        windows are found.
    other_share
        Share of the short windows that belong to the other voice.
    centroid_cosine
        Cosine between the two voices' centroids (lower = more clearly two people).
    """

    labels: np.ndarray
    spans: np.ndarray
    other_share: float
    centroid_cosine: float

    @property
    def target_seconds(self) -> float:
        """Seconds in :attr:`spans`."""
        return float(np.sum(self.spans[:, 1] - self.spans[:, 0])) if len(self.spans) else 0.0


def _intervals(mask: np.ndarray, grid: np.ndarray, step: float) -> np.ndarray:
    """Runs of ``True`` in ``mask`` over time points ``grid`` as (start, end) spans."""
    spans = []
    start = None
    for t, on in zip(grid, mask):
        if on and start is None:
            start = t
        if not on and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, grid[-1] + step))
    return np.asarray(spans, dtype=np.float64).reshape(-1, 2)


def dominant_voice(
    fine: WindowEmbeddings,
    *,
    distinct_below: float = DISTINCT_BELOW,
    min_other_windows: int = MIN_OTHER_WINDOWS,
    min_windows: int = MIN_WINDOWS,
    margin: float = MARGIN_S,
    max_other_share: float = MAX_OTHER_SHARE,
) -> DominantVoice | None:
    """Find a second voice among short windows; ``None`` when the recording holds one voice.

    Parameters
    ----------
    fine
        Short-window embeddings of one recording (e.g. :data:`FINE_WINDOW_S` every
        :data:`FINE_HOP_S`).
    distinct_below
        Centroid cosine under which the two clusters are two voices.
    min_other_windows, min_windows
        Fewest windows of the other voice, and of the recording, to split at all.
    margin
        Seconds by which the other voice's windows are widened on each side.
    max_other_share
        Largest share of windows the other voice may hold (beyond it, no voice dominates).

    Returns
    -------
    DominantVoice or None
        The dominant voice (most windows) and the spans where it speaks alone.
    """
    e = np.asarray(fine.embeddings, dtype=np.float64)
    if len(e) < max(min_windows, 2 * min_other_windows):
        return None
    labels, _ = ward_clusters(e, num_speakers=2)
    cents = cluster_centroids(e, labels)
    cos = float(cents[0] @ cents[1])
    if cos >= distinct_below:
        return None
    # nearest centroid (Ward's tree can leave a few windows on the wrong side)
    labels = np.argmax(e @ cents.T, axis=1)
    counts = np.bincount(labels, minlength=2)
    if counts.min() < min_other_windows or counts.min() > max_other_share * counts.sum():
        return None
    dom = int(np.argmax(counts))
    is_dom = labels == dom
    # a time point is the dominant voice's alone when no window covering it is the other voice
    step = float(np.median(np.diff(fine.starts))) if len(fine) > 1 else FINE_HOP_S
    step = max(step / 4.0, 1e-3)
    grid = np.arange(float(fine.starts.min()), float(fine.ends.max()), step)
    covered_other = np.zeros(grid.size, dtype=bool)
    covered_dom = np.zeros(grid.size, dtype=bool)
    for s, t, d in zip(fine.starts, fine.ends, is_dom):
        inside = (grid >= s) & (grid < t)
        if d:
            covered_dom |= inside
        else:
            covered_other |= (grid >= s - margin) & (grid < t + margin)
    spans = _intervals(covered_dom & ~covered_other, grid, step)
    return DominantVoice(
        labels=is_dom,
        spans=spans,
        other_share=float(1.0 - is_dom.mean()),
        centroid_cosine=cos,
    )


def window_purity(voice: DominantVoice, windows: WindowEmbeddings) -> np.ndarray:
    """Share of each window's span that lies where the dominant voice speaks alone, ``(N,)``."""
    starts = np.asarray(windows.starts, dtype=np.float64)
    ends = np.asarray(windows.ends, dtype=np.float64)
    out = np.zeros(starts.size)
    for a, b in voice.spans:
        out += np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0.0, None)
    return np.clip(out / np.maximum(ends - starts, 1e-9), 0.0, 1.0)


MIN_SOLO_S = 1.6
"""Fewest seconds of the dominant voice alone worth embedding (one encoder window)."""


@dataclass
class LoneTarget:
    """The target of a lone reference: its dominant voice, re-embedded where it speaks alone.

    Attributes
    ----------
    windows
        Encoder windows of the dominant voice's solo speech (spans concatenated; times on that
        concatenation).
    voice
        The :class:`DominantVoice` found.
    activity
        A :class:`~voxref.separation.guide.TargetActivity` for the report (all of ``windows``
        active; the reason says what was removed).
    """

    windows: WindowEmbeddings
    voice: DominantVoice
    activity: object


def lone_reference_target(
    speech: np.ndarray, sample_rate: int, encoder: object, **options: float
) -> LoneTarget | None:
    """Find another speaker's turns in a lone reference and embed the dominant voice without them.

    Short windows (:data:`FINE_WINDOW_S` every :data:`FINE_HOP_S`) find the voices
    (:func:`dominant_voice`); the spans where the dominant voice speaks alone are concatenated
    and embedded with the encoder's own windows (a short window's embedding is noisier and
    differs from the encoder's usual one, so they are not pooled directly).

    Parameters
    ----------
    speech
        Mono samples at ``sample_rate`` (e.g. the cleaned speech of a prepared reference).
    sample_rate
        Must be the encoder's rate.
    encoder
        A :class:`voxref.embedder.base.Encoder`.
    options
        Passed to :func:`dominant_voice`.

    Returns
    -------
    LoneTarget or None
        ``None`` when one voice is found, when no voice clearly dominates, or when the dominant
        voice has less than :data:`MIN_SOLO_S` seconds alone.
    """
    from ..errors import VoxrefError
    from .guide import TargetActivity

    x = np.asarray(speech, dtype=np.float32)
    try:
        fine = encoder.embed_windows(x, FINE_WINDOW_S, FINE_HOP_S)  # type: ignore[attr-defined]
    except VoxrefError:  # too short for even one short window
        return None
    d = dominant_voice(fine, **options)
    if d is None or d.target_seconds < MIN_SOLO_S:
        return None
    parts = [x[int(a * sample_rate) : int(b * sample_rate)] for a, b in d.spans]
    solo = np.concatenate(parts)
    if solo.size < MIN_SOLO_S * sample_rate:
        return None
    windows = encoder.embed_windows(solo)  # type: ignore[attr-defined]
    ones = np.ones(len(windows))
    activity = TargetActivity(
        weights=ones,
        overlap=np.zeros_like(ones),
        other_speakers=1,
        confidence=float(np.clip(1.0 - 2.0 * d.other_share, 0.0, 1.0)),
        overlap_ratio=d.other_share,
        reason=(
            f"a second voice holds {d.other_share:.0%} of the speech (voice cosine "
            f"{d.centroid_cosine:.2f}); the dominant voice is taken as the target and embedded "
            f"from the {d.target_seconds:.1f} s where it speaks alone"
        ),
    )
    return LoneTarget(windows, d, activity)
