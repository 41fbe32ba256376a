"""What the pipeline returns: one prepared reference, one reference's result, the pooled result.

:class:`PreparedReference` is the cacheable output of :meth:`voxref.pipeline.Embedder.prepare`;
:class:`EmbeddingResult` (with a :class:`ReferenceResult` per input) that of
:meth:`~voxref.pipeline.Embedder.embed_details`; :class:`PartialBatchError` is raised by
:meth:`~voxref.pipeline.Embedder.embed_many`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio.signal import Audio
from ..encoding import WindowEmbeddings
from ..errors import BatchReport, InputFate, VoxrefError

__all__ = ["EmbeddingResult", "PartialBatchError", "PreparedReference", "ReferenceResult"]


@dataclass
class PreparedReference:
    """One reference after the stages that do not depend on the other references.

    Attributes
    ----------
    source
        Input name.
    audio
        The loaded audio (mono, encoder rate).
    speech
        The audio the encoder saw (after cleaning: denoised speech regions, concatenated).
    windows
        Window embeddings of ``speech`` (times on the concatenated-speech timeline; see
        :meth:`to_original_time`).
    speech_seconds
        Duration of ``speech``.
    regions
        Speech regions (:class:`voxref.cleaning.vad.SpeechRegions`) on the recording's timeline, or
        ``None`` when cleaning is off.
    report
        The :class:`voxref.cleaning.quality.QualityReport`, or ``None`` when cleaning is off.
    denoiser
        Name of the denoiser that ran.
    """

    source: str
    audio: Audio
    speech: Audio
    windows: WindowEmbeddings
    speech_seconds: float
    regions: Any = None
    report: Any = None
    denoiser: str = "off"
    extras: dict[str, Any] = field(default_factory=dict)

    def to_original_time(self, t: np.ndarray) -> np.ndarray:
        """Map times on the concatenated-speech timeline (window starts/ends) to the recording's."""
        from ..audio.timeline import concatenated_to_source

        t = np.asarray(t, dtype=np.float64)
        if self.regions is None or not len(self.regions):
            return t
        return concatenated_to_source(t, self.regions.regions)


@dataclass
class ReferenceResult:
    """What voxref made of one reference.

    Attributes
    ----------
    source
        Input name (path or ``"<array i>"``).
    embedding
        Unit-norm embedding of this reference, or ``None`` when it was rejected.
    weight
        Its weight in the pooled speaker embedding (weights of used references sum to 1).
    fate
        Status and reason (used / down-weighted / rejected / failed).
    windows
        The window embeddings it was pooled from.
    window_weights
        Per-window pooling weights (sum to 1).
    speech_seconds
        Seconds of audio the embedding was computed from.
    activity
        :class:`voxref.separation.guide.TargetActivity` of its windows (``None`` unguided).
    quality
        Its :class:`voxref.cleaning.quality.QualityReport`, with the overlap measured by guiding.
    """

    source: str
    embedding: np.ndarray | None
    weight: float
    fate: InputFate
    windows: WindowEmbeddings | None = None
    window_weights: np.ndarray | None = None
    speech_seconds: float = 0.0
    prepared: PreparedReference | None = None
    activity: Any = None
    quality: Any = None


@dataclass
class EmbeddingResult:
    """A pooled speaker embedding and the per-reference details that explain it.

    ``advanced`` holds the :class:`~voxref.tuning.EmbedderTuning` options that were changed from
    their defaults (:meth:`~voxref.tuning.EmbedderTuning.changed`; empty with the defaults).
    """

    embedding: np.ndarray
    references: list[ReferenceResult]
    report: BatchReport
    encoder: dict
    pooling: str
    voices: Any = None  # pooling.voices.VoiceGroups over the used references
    advanced: dict[str, float] = field(default_factory=dict)

    @property
    def voice_groups(self) -> list[list[str]]:
        """Sources of the references of each voice (one group when they share one voice)."""
        used = [r.source for r in self.references if r.embedding is not None]
        return [used] if self.voices is None else self.voices.named(used)

    @property
    def blend(self) -> bool:
        """True when the references hold several voices and none was chosen: a blend."""
        return self.voices is not None and self.voices.kept is None

    @property
    def weights(self) -> np.ndarray:
        """Pooling weight of each reference, in input order (0 for rejected ones)."""
        return np.array([r.weight for r in self.references], dtype=np.float32)

    def to_dict(self) -> dict:
        """JSON-friendly summary (no arrays but the embedding)."""
        return {
            "embedding": self.embedding.tolist(),
            "encoder": self.encoder,
            "pooling": self.pooling,
            "advanced": dict(self.advanced),
            "voices": self.voice_groups,
            "blend": self.blend,
            "references": [
                {
                    "source": r.source,
                    "weight": float(r.weight),
                    "status": r.fate.status,
                    "reason": r.fate.reason,
                    "speech_seconds": round(float(r.speech_seconds), 3),
                }
                for r in self.references
            ],
        }


class PartialBatchError(VoxrefError):
    """Some speakers of :meth:`~voxref.pipeline.Embedder.embed_many` had no usable reference.

    ``results`` holds the speakers that did succeed; ``failures`` maps each failed speaker to its
    :class:`~voxref.errors.NoUsableReferenceError`.
    """

    def __init__(self, results: dict[str, np.ndarray], failures: dict[str, VoxrefError]) -> None:
        self.results = results
        self.failures = failures
        lines = [f"{len(failures)} speaker(s) failed, {len(results)} succeeded:"]
        lines += [f"  - {spk}: {str(err).splitlines()[0]}" for spk, err in failures.items()]
        lines.append("Pass skip_failed=True to get the successful ones back with a report instead.")
        super().__init__("\n".join(lines))
