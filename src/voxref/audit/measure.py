"""What the audit measures on each clip, and where each number comes from.

The clips are embedded by :func:`voxref.scale.embed_dataset` (the resumable batch engine) with
:class:`AuditEmbedder`: the :class:`voxref.Embedder` of the batch, plus one measurement the
embedder does not make on a lone clip -- the share of its speech frames in which the frame-level
speaker counter (:class:`voxref.separation.overlap_detector.SpeakerCountNet`, the shipped
checkpoint) hears two or more voices. It is stored as the clip's quality report
``overlap_ratio``, beside what the cleaning stage measured (speech seconds, SNR, clipping,
bandwidth, level: :mod:`voxref.cleaning.quality`).

:func:`clip_measures` then reads the batch's output back: each speaker's embedding (pooled from
all its clips by :meth:`voxref.Embedder.combine`: quality- and agreement-weighted attention, so
the voice most clips share, not a plain mean) is the centroid, and every clip gets its cosine to
it and the cosines of its windows (a clip where another voice takes over part-way has windows
that drift away from the centroid).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AuditEmbedder",
    "AuditEmbedderFactory",
    "ClipMeasures",
    "clip_measures",
    "speaker_centroids",
]

log = logging.getLogger(__name__)

#: Probability above which a frame counts as "someone speaks" / "two or more voices".
FRAME_THRESHOLD = 0.5


class AuditEmbedder:
    """A :class:`voxref.Embedder` whose :meth:`prepare` also measures overlapped speech.

    Everything but :meth:`prepare` is the wrapped embedder's (attribute access is forwarded),
    so :func:`voxref.scale.embed_dataset` workers use it as they use an ``Embedder``.
    """

    def __init__(self, **options: Any) -> None:
        from voxref import Embedder

        self._embedder = Embedder(**options)
        self._counter: Any = None

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("_embedder")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    @property
    def counter(self) -> Any:
        """The frame-level speaker counter (loaded on first use)."""
        if self._counter is None:
            from ..separation.overlap_detector import SpeakerCountNet

            self._counter = SpeakerCountNet.load()
        return self._counter

    def overlap_share(self, samples: np.ndarray, sample_rate: int) -> float | None:
        """Share of the frames where someone speaks in which two or more voices are heard."""
        x = np.asarray(samples, dtype=np.float32)
        if x.size < sample_rate // 10:
            return None
        p = self.counter.probabilities(x, sample_rate)
        speaking = p[:, 0] < FRAME_THRESHOLD
        if not speaking.any():
            return None
        return float(np.mean(p[speaking, 2] > FRAME_THRESHOLD))

    def prepare(self, x: Any, index: int | None = None, sample_rate: int | None = None) -> Any:
        p = self._embedder.prepare(x, index=index, sample_rate=sample_rate)
        if p.report is not None and p.audio is not None and p.audio.samples.size:
            share = self.overlap_share(p.audio.samples, p.audio.sample_rate)
            if share is not None:
                p.report.set_overlap_ratio(share)
        return p


class AuditEmbedderFactory:
    """Picklable factory of :class:`AuditEmbedder` for the batch engine's workers.

    Its ``repr`` names the options, and the batch engine records it: resuming an audit with
    other embedder options is refused instead of mixing embeddings.

    Examples
    --------
    >>> AuditEmbedderFactory({"vad": "energy"})
    AuditEmbedderFactory({'vad': 'energy'})
    """

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = dict(sorted((options or {}).items()))

    def __call__(self) -> AuditEmbedder:
        return AuditEmbedder(**self.options)

    def __repr__(self) -> str:
        return f"AuditEmbedderFactory({self.options!r})"


@dataclass
class ClipMeasures:
    """Everything measured on one clip (``None``: not measured, e.g. an unreadable clip).

    Attributes
    ----------
    clip_id, speaker, path
        Which clip.
    status, error, reason
        The batch's verdict: ``"ok"`` (embedded), ``"rejected"`` (unusable audio: ``error``
        names the :mod:`voxref.errors` class, ``reason`` says why) or ``"failed"``.
    duration_s, speech_s, snr_db, clipping_ratio, level_dbfs, bandwidth_hz, original_sample_rate
        From the cleaning stage's quality report (:class:`voxref.cleaning.quality.QualityReport`).
    overlap_ratio
        Share of the speech frames with two or more voices (:class:`AuditEmbedder`).
    cosine
        Cosine of the clip's embedding to its speaker's centroid.
    window_cosines
        Cosines of the clip's window embeddings to the centroid.
    embedding
        The clip's own embedding (unit norm).
    """

    clip_id: str
    speaker: str
    path: str
    status: str
    error: str = ""
    reason: str = ""
    duration_s: float | None = None
    speech_s: float | None = None
    snr_db: float | None = None
    clipping_ratio: float | None = None
    level_dbfs: float | None = None
    bandwidth_hz: float | None = None
    original_sample_rate: int | None = None
    overlap_ratio: float | None = None
    cosine: float | None = None
    window_cosines: list[float] = field(default_factory=list)
    embedding: np.ndarray | None = None

    @property
    def window_spread(self) -> float | None:
        """Highest minus lowest window cosine (``None`` with fewer than 3 windows)."""
        if len(self.window_cosines) < 3:
            return None
        return float(max(self.window_cosines) - min(self.window_cosines))


def _finite(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def speaker_centroids(speaker_rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """``{speaker: unit-norm centroid}`` of the speakers the batch pooled."""
    from ..encoding import l2_normalize

    return {
        r["speaker"]: l2_normalize(np.asarray(r["embedding"], dtype=np.float32))
        for r in speaker_rows
        if r.get("status") == "ok" and r.get("embedding") is not None
    }


def clip_measures(
    clip_rows: list[dict[str, Any]], speaker_rows: list[dict[str, Any]]
) -> list[ClipMeasures]:
    """:class:`ClipMeasures` of every clip row of an ``embed_dataset`` output (row order).

    ``clip_rows`` / ``speaker_rows``: :func:`voxref.scale.read_clips` /
    :func:`voxref.scale.read_speakers` as lists of dicts.
    """
    from ..encoding import l2_normalize

    centroids = speaker_centroids(speaker_rows)
    out = []
    for r in clip_rows:
        m = ClipMeasures(
            clip_id=r.get("clip_id") or r["source"],
            speaker=r["speaker"],
            path=r["path"],
            status=r["status"],
            error=r.get("error") or "",
            reason=r.get("reason") or "",
        )
        q = json.loads(r["quality"]) if r.get("quality") else None
        if q:
            m.duration_s = _finite(q.get("duration_s"))
            m.speech_s = _finite(q.get("speech_s"))
            m.snr_db = _finite(q.get("snr_db"))
            m.clipping_ratio = _finite(q.get("clipping_ratio"))
            m.level_dbfs = _finite(q.get("level_dbfs"))
            m.bandwidth_hz = _finite(q.get("bandwidth_hz"))
            m.original_sample_rate = q.get("original_sample_rate")
            m.overlap_ratio = _finite(q.get("overlap_ratio"))
        elif r.get("duration_s") is not None:
            m.duration_s = _finite(r["duration_s"])
        c = centroids.get(r["speaker"])
        if r["status"] == "ok" and r.get("embedding") is not None:
            m.embedding = l2_normalize(np.asarray(r["embedding"], dtype=np.float32))
            if c is not None:
                m.cosine = float(m.embedding @ c)
                n, dim = int(r["num_windows"]), int(r["dimension"])
                if n:
                    w = l2_normalize(np.asarray(r["windows"], dtype=np.float32).reshape(n, dim))
                    m.window_cosines = [float(v) for v in w @ c]
        out.append(m)
    return out
