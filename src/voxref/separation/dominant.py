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

Calibration (quality benchmark corpus, GE2E, 0.8 s windows): :data:`DISTINCT_BELOW` sits between
the cosines of the two Ward centroids of one-voice references (clean, reverberant and
babble-noisy clips) and of references where another speaker takes a 20-45 % turn
(docs/decisions.md, "Voice split").

Examples
--------
>>> import numpy as np
>>> from voxref.encoding import WindowEmbeddings, l2_normalize
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

from dataclasses import dataclass, field

import numpy as np

from ..audio.timeline import concatenated_to_source, span_samples
from ..encoding import WindowEmbeddings, l2_normalize
from .clustering import cluster_centroids, ward_clusters

__all__ = [
    "FINE_WINDOW_S",
    "FINE_HOP_S",
    "DISTINCT_BELOW",
    "DominantVoice",
    "dominant_voice",
    "window_purity",
    "VoiceSplit",
    "two_voices",
    "split_voices",
    "LoneTarget",
    "lone_reference_target",
    "guided_voice",
    "worth_splitting",
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

MIN_SOLO_S = 1.6
"""Fewest seconds of a voice alone worth embedding (one encoder window)."""

SPLIT_BELOW = 0.8
"""In a set of references, a reference is searched for a second voice (the short windows add to
its embedding time: BENCHMARKS.md, "Speed") only when the guided activity found another voice
in it or one of its windows has a cosine to the target under this. Most references with another
speaker's turn qualify and few clean ones do (docs/decisions.md, "Voice split")."""

GUIDED_MARGIN = 0.05
"""With a target direction, a voice is the target when its centroid is this much closer."""

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


@dataclass
class VoiceSplit:
    """Two voices found among the short windows of one recording.

    Attributes
    ----------
    labels
        ``(N,)`` voice of each short window: 0 = the dominant voice (more windows), 1 = the other.
    spans
        Per voice, ``(M, 2)`` start/end seconds where that voice's windows are found and the
        other's are not (the other's widened by the margin).
    centroids
        ``(2, D)`` unit-norm centroid of each voice's short windows.
    shares
        ``(2,)`` share of the short windows of each voice.
    centroid_cosine
        Cosine between the two centroids.
    solo
        Per voice, the encoder windows of its solo spans concatenated (``None`` when shorter than
        :data:`MIN_SOLO_S` or not computed: :func:`split_voices` fills them).
    """

    labels: np.ndarray
    spans: tuple[np.ndarray, np.ndarray]
    centroids: np.ndarray
    shares: np.ndarray
    centroid_cosine: float
    solo: list[WindowEmbeddings | None] = field(default_factory=lambda: [None, None])

    def seconds(self, voice: int) -> float:
        """Seconds in ``spans[voice]``."""
        s = self.spans[voice]
        return float(np.sum(s[:, 1] - s[:, 0])) if len(s) else 0.0


def two_voices(
    fine: WindowEmbeddings,
    *,
    distinct_below: float = DISTINCT_BELOW,
    min_other_windows: int = MIN_OTHER_WINDOWS,
    min_windows: int = MIN_WINDOWS,
    margin: float = MARGIN_S,
) -> VoiceSplit | None:
    """Split short windows into two voices; ``None`` when the recording holds one voice.

    Parameters
    ----------
    fine
        Short-window embeddings of one recording (e.g. :data:`FINE_WINDOW_S` every
        :data:`FINE_HOP_S`).
    distinct_below
        Centroid cosine under which the two clusters are two voices.
    min_other_windows, min_windows
        Fewest windows of the smaller voice, and of the recording, to split at all.
    margin
        Seconds by which each voice's windows are widened when they mask the other voice.
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
    if counts.min() < min_other_windows:
        return None
    if counts[1] > counts[0]:  # voice 0 = the dominant one
        labels, cents, counts = 1 - labels, cents[::-1], counts[::-1]
    step = float(np.median(np.diff(fine.starts))) if len(fine) > 1 else FINE_HOP_S
    step = max(step / 4.0, 1e-3)
    grid = np.arange(float(fine.starts.min()), float(fine.ends.max()), step)
    covered = np.zeros((2, grid.size), dtype=bool)
    widened = np.zeros((2, grid.size), dtype=bool)
    for s, t, v in zip(fine.starts, fine.ends, labels):
        covered[v] |= (grid >= s) & (grid < t)
        widened[v] |= (grid >= s - margin) & (grid < t + margin)
    spans = (
        _intervals(covered[0] & ~widened[1], grid, step),
        _intervals(covered[1] & ~widened[0], grid, step),
    )
    return VoiceSplit(
        labels=labels,
        spans=spans,
        centroids=l2_normalize(cents),
        shares=counts / counts.sum(),
        centroid_cosine=cos,
    )


def dominant_voice(
    fine: WindowEmbeddings, *, max_other_share: float = MAX_OTHER_SHARE, **options: float
) -> DominantVoice | None:
    """The dominant voice among short windows; ``None`` for one voice or no clear dominance.

    Parameters
    ----------
    fine
        Short-window embeddings of one recording.
    max_other_share
        Largest share of windows the other voice may hold (beyond it, no voice dominates).
    options
        Passed to :func:`two_voices`.

    Returns
    -------
    DominantVoice or None
        The dominant voice (most windows) and the spans where it speaks alone.
    """
    split = two_voices(fine, **options)
    if split is None or split.shares[1] > max_other_share:
        return None
    return DominantVoice(
        labels=split.labels == 0,
        spans=split.spans[0],
        other_share=float(split.shares[1]),
        centroid_cosine=split.centroid_cosine,
    )


def window_purity(voice: DominantVoice, windows: WindowEmbeddings) -> np.ndarray:
    """Share of each window's span that lies where the dominant voice speaks alone, ``(N,)``."""
    starts = np.asarray(windows.starts, dtype=np.float64)
    ends = np.asarray(windows.ends, dtype=np.float64)
    out = np.zeros(starts.size)
    for a, b in voice.spans:
        out += np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0.0, None)
    return np.clip(out / np.maximum(ends - starts, 1e-9), 0.0, 1.0)


@dataclass
class LoneTarget:
    """The target of a lone reference: its dominant voice, re-embedded where it speaks alone.

    Attributes
    ----------
    windows
        Encoder windows of the dominant voice's solo speech, then the other voice's (each voice's
        solo spans embedded on their own; times on the recording's speech timeline).
    voice
        The :class:`DominantVoice` found.
    activity
        A :class:`~voxref.separation.guide.TargetActivity`: 1 on the dominant voice's windows,
        0 on the other voice's (pooling ignores them; a report shows where that voice spoke);
        the reason says what was removed.
    """

    windows: WindowEmbeddings
    voice: DominantVoice
    activity: object


def split_voices(
    speech: np.ndarray, sample_rate: int, encoder: object, **options: float
) -> VoiceSplit | None:
    """Two voices of one recording, each re-embedded from the spans where it speaks alone.

    Short windows (:data:`FINE_WINDOW_S` every :data:`FINE_HOP_S`) find the voices
    (:func:`two_voices`); each voice's solo spans are concatenated and embedded with the
    encoder's own windows (a short window's embedding is noisier and differs from the encoder's
    usual one, so short windows are not pooled directly).

    Parameters
    ----------
    speech
        Mono samples at ``sample_rate`` (e.g. the cleaned speech of a prepared reference).
    sample_rate
        Must be the encoder's rate.
    encoder
        A :class:`voxref.encoding.Encoder`.
    options
        Passed to :func:`two_voices`.
    """
    from ..errors import VoxrefError

    x = np.asarray(speech, dtype=np.float32)
    try:
        fine = encoder.embed_windows(x, FINE_WINDOW_S, FINE_HOP_S)  # type: ignore[attr-defined]
    except VoxrefError:  # too short for even one short window
        return None
    split = two_voices(fine, **options)
    if split is None:
        return None
    for v in (0, 1):
        parts = [x[a:b] for a, b in span_samples(split.spans[v], sample_rate)]
        solo = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        if solo.size >= MIN_SOLO_S * sample_rate:
            w = encoder.embed_windows(solo)  # type: ignore[attr-defined]
            # window times back on the recording's (speech) timeline, as for its other windows
            starts = concatenated_to_source(w.starts, split.spans[v], sample_rate=sample_rate)
            ends = concatenated_to_source(
                w.ends, split.spans[v], sample_rate=sample_rate, at_end=True
            )
            split.solo[v] = WindowEmbeddings(w.embeddings, starts, ends)
    return split


def _voice_windows(split: VoiceSplit, voice: int) -> tuple[WindowEmbeddings, np.ndarray]:
    """``voice``'s solo windows and the other voice's, in time order, with their activity.

    The other voice's windows carry activity 0: pooling gives them no weight (the embedding is
    that of ``voice`` alone), and a report can show where on the recording the other voice spoke.
    """
    parts = [(split.solo[voice], 1.0), (split.solo[1 - voice], 0.0)]
    parts = [(w, z) for w, z in parts if w is not None and len(w)]
    emb = np.concatenate([np.asarray(w.embeddings) for w, _ in parts])
    starts = np.concatenate([np.asarray(w.starts, dtype=np.float64) for w, _ in parts])
    ends = np.concatenate([np.asarray(w.ends, dtype=np.float64) for w, _ in parts])
    z = np.concatenate([np.full(len(w), v) for w, v in parts])
    order = np.argsort(starts, kind="stable")
    return WindowEmbeddings(emb[order], starts[order], ends[order]), z[order]


def _activity(split: VoiceSplit, voice: int, why: str) -> tuple[WindowEmbeddings, object]:
    from .guide import TargetActivity

    windows, z = _voice_windows(split, voice)
    other = float(split.shares[1 - voice])
    act = TargetActivity(
        weights=z,
        overlap=np.zeros_like(z),
        other_speakers=1,
        confidence=float(np.clip(1.0 - 2.0 * other, 0.0, 1.0)) if voice == 0 else 0.5,
        overlap_ratio=other,
        reason=(
            f"a second voice holds {other:.0%} of the speech (voice cosine "
            f"{split.centroid_cosine:.2f}); {why}, embedded from the {split.seconds(voice):.1f} s "
            "where it speaks alone"
        ),
    )
    return windows, act


def lone_reference_target(
    split: VoiceSplit | None, *, max_other_share: float = MAX_OTHER_SHARE
) -> LoneTarget | None:
    """The target of a reference used alone: its dominant voice, from :func:`split_voices`.

    Returns ``None`` when there is one voice, when no voice clearly dominates (the other holds
    more than ``max_other_share``), or when the dominant voice has under :data:`MIN_SOLO_S`
    seconds alone.
    """
    if split is None or split.shares[1] > max_other_share or split.solo[0] is None:
        return None
    windows, act = _activity(split, 0, "the dominant voice is taken as the target")
    d = DominantVoice(
        split.labels == 0, split.spans[0], float(split.shares[1]), split.centroid_cosine
    )
    return LoneTarget(windows, d, act)


def guided_voice(
    split: VoiceSplit | None, target: np.ndarray, *, min_margin: float = GUIDED_MARGIN
) -> tuple[WindowEmbeddings, object] | None:
    """The voice of a two-voice reference that is the target, by a target direction.

    Parameters
    ----------
    split
        From :func:`split_voices`.
    target
        Unit-norm target direction (an enrollment embedding, or the centroid the other
        references agree on).
    min_margin
        The chosen voice's centroid must be this much closer (cosine) to ``target`` than the
        other voice's.

    Returns
    -------
    (windows, activity) or None
        The chosen voice's solo windows (activity 1) and the other voice's (activity 0), in
        time order; ``None`` when no voice is clearly the target or it has too little solo
        speech.
    """
    if split is None:
        return None
    sims = split.centroids @ np.asarray(target, dtype=np.float64)
    v = int(np.argmax(sims))
    if sims[v] - sims[1 - v] < min_margin or split.solo[v] is None:
        return None
    return _activity(split, v, "the voice closest to the target is kept")


def worth_splitting(activity: object) -> bool:
    """Should a reference of a set be searched for a second voice (see :data:`SPLIT_BELOW`)?"""
    sim = np.asarray(getattr(activity, "similarity", np.zeros(0)))
    return bool(
        getattr(activity, "other_speakers", 0) > 0 or (sim.size and sim.min() < SPLIT_BELOW)
    )
