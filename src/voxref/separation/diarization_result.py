"""What the offline diarizer returns: speaker turns and the frame-level evidence behind them.

:class:`DiarizationResult` holds the ``pyannote.core.Annotation`` (``pyannote.core`` is light;
``pyannote.audio`` is never imported here) with the centroids, window labels and per-frame scores
it was made from; :func:`to_annotation` turns frame-level speaker indices into one.
:class:`RecordingWindows` is the speaker-count-independent half of a run
(:meth:`.diarization.Diarizer.analyse`), reusable with other speaker counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..encoding import WindowEmbeddings
from .resegment import runs

if TYPE_CHECKING:  # pragma: no cover
    from pyannote.core import Annotation

__all__ = ["DiarizationResult", "RecordingWindows", "to_annotation", "speaker_label"]


def speaker_label(index: int) -> str:
    """pyannote-style label of speaker ``index``.

    Examples
    --------
    >>> speaker_label(3)
    'SPEAKER_03'
    """
    return f"SPEAKER_{index:02d}"


@dataclass
class DiarizationResult:
    """Everything the offline diarizer found in one recording.

    Attributes
    ----------
    annotation
        ``pyannote.core.Annotation``: speaker turns (overlapping where overlap was detected).
    num_speakers
        Number of speakers.
    centroids
        ``(K, D)`` unit-norm speaker centroids in the encoder's (uncentred) space.
    windows
        The window embeddings used (inside speech).
    window_labels
        ``(N,)`` cluster of each window.
    frame_step
        Seconds per frame of ``frame_speaker`` / ``frame_scores`` / ``frame_overlap``.
    frame_speaker
        ``(T,)`` speaker index per frame, ``-1`` outside speech.
    frame_scores
        ``(T, K)`` frame-level score of each speaker (cosine in the centred space; nan outside
        speech).
    frame_overlap
        ``(T,)`` second speaker where an overlap was detected, else ``-1``.
    frame_misfit
        ``(T,)`` frame-level misfit (the larger of the long and the fine windows' misfit
        spread on the frame grid; nan outside the windows): high where no single speaker fits.
    fine_windows
        The short windows of the second pass (``None`` when it was off).
    frame_overlap_probability
        ``(T,)`` the speaker counter's probability of two or more voices per frame (``None``
        when it was off).
    window_overlap
        ``(N,)`` misfit of each window (robust z-score of how badly its best speaker fits it;
        above ~2.5 suggests a mixture), see :func:`.resegment.overlap_scores`.
    regions
        Speech regions (seconds).
    duration
        Length of the recording (seconds).
    timings
        Seconds spent in each stage.
    tuning
        The advanced options that differed from their defaults
        (:meth:`.diarization_tuning.DiarizerTuning.changed`; empty: all defaults).
    """

    annotation: Annotation
    num_speakers: int
    centroids: np.ndarray
    windows: WindowEmbeddings
    window_labels: np.ndarray
    frame_step: float
    frame_speaker: np.ndarray
    frame_scores: np.ndarray
    frame_overlap: np.ndarray
    window_overlap: np.ndarray
    regions: tuple[tuple[float, float], ...]
    duration: float
    frame_misfit: np.ndarray | None = None
    fine_windows: WindowEmbeddings | None = None
    frame_overlap_probability: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    tuning: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [speaker_label(k) for k in range(self.num_speakers)]


def to_annotation(
    frame_speaker: np.ndarray,
    frame_step: float,
    *,
    frame_overlap: np.ndarray | None = None,
    uri: str | None = None,
    labels: list[str] | None = None,
) -> Annotation:
    """A ``pyannote.core.Annotation`` from frame-level speaker indices (``-1`` = nobody).

    ``frame_overlap`` (optional, ``-1`` = none) adds a second speaker's turns.

    Examples
    --------
    >>> ann = to_annotation(np.array([-1, 0, 0, 1, 1, -1]), 0.5)
    >>> [(round(s.start, 2), round(s.end, 2), lab) for s, _, lab in ann.itertracks(yield_label=True)]
    [(0.5, 1.5, 'SPEAKER_00'), (1.5, 2.5, 'SPEAKER_01')]
    """
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    name = (lambda k: labels[k]) if labels else speaker_label
    for a, b, v in runs(np.asarray(frame_speaker)):
        if v >= 0:
            ann[Segment(round(a * frame_step, 3), round(b * frame_step, 3)), f"T{len(ann)}"] = name(
                v
            )
    if frame_overlap is not None:
        for a, b, v in runs(np.asarray(frame_overlap)):
            if v >= 0:
                seg = Segment(round(a * frame_step, 3), round(b * frame_step, 3))
                ann[seg, f"O{len(ann)}"] = name(v)
    return ann.support()


@dataclass
class RecordingWindows:
    """One recording's speech regions and window embeddings (see :meth:`.diarization.Diarizer.analyse`).

    Attributes
    ----------
    regions
        Speech regions (seconds).
    windows
        Long windows (first pass).
    fine_windows
        Short windows (second pass), or ``None``.
    duration
        Seconds.
    uri
        File stem of the recording, when it came from a file.
    timings
        Seconds spent in VAD and embedding.
    count_probabilities
        ``(T, 3)`` per-frame probabilities of nobody / one speaker / overlap from the speaker
        counter (one row per :attr:`count_step` seconds), or ``None`` when it was off.
    count_step
        Seconds per row of ``count_probabilities``.
    history
        What was done to the recording before analysis (resampling, downmixing, levelling).
    """

    regions: tuple[tuple[float, float], ...]
    windows: WindowEmbeddings
    fine_windows: WindowEmbeddings | None
    duration: float
    uri: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    count_probabilities: np.ndarray | None = None
    count_step: float = 0.01
    history: tuple[str, ...] = ()
