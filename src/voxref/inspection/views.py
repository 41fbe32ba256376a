"""What ``voxref inspect`` shows, as plain arrays: :class:`ReferenceView`, :class:`SpeakerView`,
:class:`Inspection`.

:mod:`voxref.inspection.collect` fills them by running the models; the figures and the HTML are
drawn from them alone, so they can be tested without models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .timeline import MASK_HOP_S, target_only_audio, window_mask

__all__ = ["Inspection", "ReferenceView", "SpeakerView"]


@dataclass
class ReferenceView:
    """Everything the report shows about one reference, as plain arrays.

    Attributes
    ----------
    index
        Position in the input list.
    source
        Input name (path as given).
    status, reason
        Fate in the pooled embedding (``used``, ``down-weighted``, ``rejected``, ``failed``) and why.
    weight
        Pooling weight (0 for a rejected reference).
    report
        The :class:`~voxref.cleaning.quality.QualityReport` (``None`` when the file could not be read).
    samples, sample_rate
        The recording as voxref loaded it (mono); ``None`` when it could not be loaded.
    regions
        Speech regions ``[(start, end)]`` on the recording's timeline (``None``: cleaning was off).
    window_times
        ``(N, 2)`` start/end of each embedding window on the *speech* timeline (concatenated
        speech regions).
    window_weights
        Per-window pooling weights.
    activity
        Per-window target activity in [0, 1], when known.
    overlap
        Per-window probability that a window mixes voices, when known.
    activity_source
        ``"embedder"`` (the activity the embedder pooled with), ``"inspect"`` (computed by the
        report from the window embeddings; the pooling did not use it) or ``""`` (none).
    activity_note
        The separation stage's explanation (other voices found, confidence...).
    embedding
        The reference's embedding (``None`` when rejected).
    window_embeddings
        ``(N, D)`` window embeddings.
    speech, speech_sample_rate
        The cleaned speech the encoder saw (concatenated regions).
    turns
        Diarization turns ``[(start, end, label)]`` on the recording's timeline, or ``None``.
    diarization_note
        Why there are no turns (``"not available"``, an error...), empty when there are.
    """

    index: int
    source: str
    status: str
    reason: str = ""
    weight: float = 0.0
    report: Any = None
    samples: np.ndarray | None = None
    sample_rate: int = 16_000
    regions: list[tuple[float, float]] | None = None
    window_times: np.ndarray | None = None
    window_weights: np.ndarray | None = None
    activity: np.ndarray | None = None
    overlap: np.ndarray | None = None
    activity_source: str = ""
    activity_note: str = ""
    embedding: np.ndarray | None = None
    window_embeddings: np.ndarray | None = None
    speech: np.ndarray | None = None
    speech_sample_rate: int = 16_000
    turns: list[tuple[float, float, str]] | None = None
    diarization_note: str = "not run"

    @property
    def name(self) -> str:
        """File name without its folder."""
        return os.path.basename(self.source) or self.source

    @property
    def duration(self) -> float:
        return 0.0 if self.samples is None else len(self.samples) / float(self.sample_rate)

    @property
    def num_windows(self) -> int:
        return 0 if self.window_embeddings is None else int(self.window_embeddings.shape[0])

    def _relative_weights(self) -> np.ndarray | None:
        w = self.window_weights
        if w is None or not len(w):
            return None
        peak = float(np.max(w))
        return w / peak if peak > 0 else w

    def weight_mask(self, hop: float = MASK_HOP_S) -> tuple[np.ndarray, np.ndarray]:
        """Window weights over their maximum on the recording's timeline (``nan`` off speech).

        This is where the reference's embedding was taken from, as the pooling weighted it.
        """
        return window_mask(
            self.duration, self.regions, self.window_times, self._relative_weights(), hop=hop
        )

    def activity_mask(self, hop: float = MASK_HOP_S) -> tuple[np.ndarray, np.ndarray] | None:
        """Target activity on the recording's timeline, or ``None`` when unknown."""
        if self.activity is None:
            return None
        return window_mask(self.duration, self.regions, self.window_times, self.activity, hop=hop)

    def overlap_mask(self, hop: float = MASK_HOP_S) -> tuple[np.ndarray, np.ndarray] | None:
        """Overlap probability on the recording's timeline, or ``None`` when unknown."""
        if self.overlap is None:
            return None
        return window_mask(self.duration, self.regions, self.window_times, self.overlap, hop=hop)

    def target_audio(self, max_seconds: float | None = None) -> np.ndarray | None:
        """The cleaned speech of the target (see :func:`target_only_audio`).

        Windows count as target when their activity (when known, else their relative pooling
        weight) is at least :data:`TARGET_THRESHOLD`.
        """
        if self.speech is None:
            return None
        values = self.activity if self.activity is not None else self._relative_weights()
        return target_only_audio(
            self.speech, self.speech_sample_rate, self.window_times, values, max_seconds=max_seconds
        )


@dataclass
class SpeakerView:
    """One speaker of ``inspect --speakers DIR``: its pooled embedding and its references'."""

    name: str
    embedding: np.ndarray | None
    reference_embeddings: np.ndarray
    reference_sources: list[str]
    num_files: int
    speech_seconds: float
    note: str = ""


@dataclass
class Inspection:
    """What one report shows."""

    references: list[ReferenceView] = field(default_factory=list)
    embedding: np.ndarray | None = None
    encoder: dict = field(default_factory=dict)
    pooling: str = ""
    note: str = ""
    speakers: list[SpeakerView] = field(default_factory=list)
    speakers_dir: str | None = None
    #: The prompt shown on the references' timelines
    #: (:class:`~voxref.inspection.prompt_view.PromptView`), or ``None``.
    prompt: Any = None
