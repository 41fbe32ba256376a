"""The guide of :func:`.target.extract_target`: what it is, and the target's embedding from it.

A guide is one of three things (:func:`.target.extract_target` tells them apart with
:func:`is_segment_list` and :func:`is_embedding`):

* reference recordings of the target, possibly with other voices in them
  (:func:`reference_list`): :func:`guide_embedding` finds the voice they share by cross-reference
  agreement (:func:`.guide.target_activity`) and pools its clean windows;
* an embedding vector ``(D,)`` from the same encoder;
* explicit target segments on the recording itself, ``(start, end)`` seconds
  (:func:`segments_embedding`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from ..audio.level import level_audio
from ..audio.load import AudioInput, load_audio
from ..encoding import Encoder, WindowEmbeddings
from ..errors import AudioError, ConfigError, InputFate, NoSpeechError, NoUsableReferenceError
from .diarization import DIARIZATION_LEVEL_DBFS, DiarizationResult
from .guide import guided_pool, target_activity
from .speech import speech_regions
from .windows import embed_speech_windows

__all__ = [
    "guide_embedding",
    "segments_embedding",
    "reference_list",
    "is_segment_list",
    "is_embedding",
]

log = logging.getLogger(__name__)


def is_segment_list(guide: Any) -> bool:
    """Whether ``guide`` is a list of ``(start, end)`` times in seconds (not audio, not a vector).

    >>> is_segment_list([(0.0, 2.5), (4, 6)]), is_segment_list("a.wav")
    (True, False)
    """
    if isinstance(guide, (str, bytes, np.ndarray)) or not isinstance(guide, Sequence):
        return False
    if len(guide) == 0:
        return False
    return all(
        isinstance(g, (tuple, list))
        and len(g) == 2
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in g)
        for g in guide
    )


def is_embedding(guide: Any, dimension: int) -> bool:
    """Whether ``guide`` is one ``(dimension,)`` vector (numpy array or torch tensor)."""
    if isinstance(guide, np.ndarray) and guide.ndim == 1 and guide.shape[0] == dimension:
        return True
    try:
        import torch

        return isinstance(guide, torch.Tensor) and guide.ndim == 1 and guide.shape[0] == dimension
    except ImportError:  # pragma: no cover
        return False


def reference_list(x: Any) -> list:
    """One reference or a list/tuple of them; an ``(array, sample_rate)`` pair is one reference.

    Examples
    --------
    >>> len(reference_list((np.zeros(10), 16000))), len(reference_list(["a.wav", "b.wav"]))
    (1, 2)
    """
    pair = (
        isinstance(x, tuple)
        and len(x) == 2
        and isinstance(x[1], (int, np.integer))
        and not isinstance(x[0], (str, os.PathLike))
    )
    return list(x) if isinstance(x, (list, tuple)) and not pair else [x]


def guide_embedding(
    references: Sequence[AudioInput] | AudioInput,
    encoder: Encoder,
    *,
    sample_rate: int | None = None,
    vad: Any = "silero",
    level_dbfs: float | None = DIARIZATION_LEVEL_DBFS,
) -> tuple[np.ndarray, str]:
    """The target's embedding from reference recordings that may contain other voices.

    Each reference is loaded, scaled to ``level_dbfs`` (as the diarizer scales the recording;
    ``None``: as it is), reduced to its speech regions and embedded in windows; the target is
    the voice they share (:func:`.guide.target_activity`), pooled with :func:`.guide.guided_pool`
    over its clean windows.

    Returns
    -------
    embedding, reason
        Unit-norm ``(D,)`` vector and the target activity's explanation (first reference).
    """
    refs = reference_list(references)
    if len(refs) == 0:
        raise ConfigError("give at least one reference recording as the guide.")
    wins: list[WindowEmbeddings] = []
    skipped: list[InputFate] = []
    for i, r in enumerate(refs):
        try:
            a = level_audio(
                load_audio(r, encoder.sample_rate, sample_rate=sample_rate, index=i), level_dbfs
            )
            regions = speech_regions(a.samples, a.sample_rate, vad=vad)
            if not regions:
                raise NoSpeechError("no speech found in this guide reference.", a.source)
        except AudioError as exc:  # one bad guide file: skipped and reported
            if len(refs) == 1:
                raise
            skipped.append(InputFate(exc.source or f"<guide {i}>", "rejected", exc.reason))
            log.warning("guide reference skipped: %s", exc)
            continue
        wins.append(
            embed_speech_windows(
                encoder,
                a.samples,
                a.sample_rate,
                regions,
                window=encoder.window_seconds,
                hop=encoder.hop_seconds,
            )
        )
    if not wins:
        raise NoUsableReferenceError(skipped, "guide")
    acts = target_activity(wins)
    e = np.concatenate([w.embeddings for w in wins], axis=0)
    z = np.concatenate([a.clean_weights for a in acts])
    if z.sum() <= 1e-6:
        z = np.concatenate([a.weights for a in acts])
    reason = acts[0].reason
    if skipped:
        reason += f"; {len(skipped)} guide reference(s) skipped: " + "; ".join(
            f"{f.source}: {f.reason}" for f in skipped
        )
    return guided_pool(e, z, acts[0].target), reason


def segments_embedding(
    segments: Sequence[tuple[float, float]],
    res: DiarizationResult,
    x: np.ndarray,
    sr: int,
    enc: Encoder,
) -> np.ndarray:
    """Embedding of the recording inside explicit target segments."""
    w = res.windows
    inside = np.zeros(len(w), dtype=bool)
    for s, e in segments:
        inside |= (w.starts >= s - 1e-6) & (w.ends <= e + 1e-6)
    if inside.sum() >= 2:
        return w.embeddings[inside].mean(axis=0)
    pieces = [x[int(s * sr) : int(e * sr)] for s, e in segments]
    audio = np.concatenate([p for p in pieces if len(p)]) if pieces else np.zeros(0)
    if len(audio) < enc.min_num_samples:
        raise ConfigError(
            f"the target segments hold {len(audio) / sr:.2f} s of audio; give at least "
            f"{enc.min_num_samples / sr:.2f} s."
        )
    return enc.embed_utterance(audio)
