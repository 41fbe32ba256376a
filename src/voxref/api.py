"""One-call functions: :func:`embed`, :func:`embed_many`, :func:`similarity`.

They share one lazily built :class:`~voxref.pipeline.Embedder` per set of options, so
models load once per process.

Memory: :func:`embed` of a single audio file longer than :data:`LONG_FILE_SECONDS` streams it
chunk by chunk (:func:`voxref.longform.embed_long`, chunks of :data:`LONG_CHUNK_SECONDS`), as
``voxref embed-dir`` does, so its peak memory does not grow with the recording (loaded whole, a
1-hour file takes several times more; ``tests/reliability/test_reliability_stream.py`` measures
both, see :mod:`voxref.longform`). Shorter files, arrays and several references are embedded
whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .audio.load import AudioInput
from .pipeline import EmbeddingResult, get_embedder

__all__ = ["embed", "embed_many", "similarity", "get_embedder", "LONG_FILE_SECONDS"]

LONG_FILE_SECONDS = 600.0
"""A single file longer than this is streamed by :func:`embed` (the ``embed-dir`` default)."""
LONG_CHUNK_SECONDS = 60.0
"""Audio per chunk when streaming (peak memory grows with it, not with the file)."""


def embed(
    inputs: AudioInput | Sequence[AudioInput],
    *,
    sample_rate: int | None = None,
    return_details: bool = False,
    guide: np.ndarray | None = None,
    **options: Any,
) -> np.ndarray | EmbeddingResult:
    """One robust speaker embedding from one speaker's reference recordings.

    Parameters
    ----------
    inputs
        One or several references of the same voice: paths (wav/flac/ogg/mp3), numpy arrays or
        torch tensors (give ``sample_rate``), or ``(array, sample_rate)`` pairs.
    sample_rate
        Sample rate of array/tensor inputs.
    return_details
        Return an :class:`~voxref.pipeline.EmbeddingResult` (weights, per-reference
        embeddings, what happened to each input) instead of the bare vector.
    guide
        Optional enrollment embedding of the target voice (same encoder): in references holding
        several voices, the one closest to it is kept. Default: the voice the references share.
    **options
        Passed to :class:`~voxref.pipeline.Embedder` (``encoder``, ``pooling``, ...).

    Returns
    -------
    numpy.ndarray
        ``float32`` vector of shape ``(dimension,)`` with unit L2 norm.

    Notes
    -----
    One file longer than :data:`LONG_FILE_SECONDS` (10 min), without ``guide``, is embedded chunk
    by chunk in bounded memory (:func:`voxref.longform.embed_long`: each 60 s chunk is cleaned as a
    reference of its own and the chunks are pooled like references, so the result is close to,
    not equal to, embedding the file whole).

    Examples
    --------
    >>> import numpy as np, soundfile as sf, voxref
    >>> from voxref.sample_data import pyannote_sample
    >>> x, sr = sf.read(pyannote_sample()[0], dtype="float32")   # real speech, 16 kHz
    >>> e = voxref.embed([(x[: 8 * sr], sr), (x[20 * sr :], sr)])
    >>> e.shape, bool(abs(np.linalg.norm(e) - 1) < 1e-5)
    ((256,), True)
    """
    embedder = get_embedder(**options)
    path = _long_file(inputs)
    if path is not None and guide is None:
        from .longform import embed_long

        res = embed_long(
            path, embedder=embedder, chunk_seconds=LONG_CHUNK_SECONDS, return_details=True
        )
        return res.details if return_details else res.embedding
    return embedder.embed(
        inputs, sample_rate=sample_rate, return_details=return_details, guide=guide
    )


def _long_file(inputs: Any) -> str | os.PathLike | None:
    """The path when ``inputs`` is one audio file longer than :data:`LONG_FILE_SECONDS`."""
    if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
        inputs = inputs[0]
    if not isinstance(inputs, (str, os.PathLike)):
        return None
    from .audio.stream import stream_info
    from .errors import VoxrefError

    try:
        duration = stream_info(inputs).duration
    except VoxrefError:
        return None  # the whole-file path reports what is wrong with it
    return inputs if duration > LONG_FILE_SECONDS else None


def embed_many(
    speakers: Mapping[str, AudioInput | Sequence[AudioInput]],
    *,
    sample_rate: int | None = None,
    skip_failed: bool = False,
    return_details: bool = False,
    progress: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Embed many speakers at once: ``{speaker: references} -> {speaker: embedding}``.

    See :meth:`voxref.Embedder.embed_many` for how failures are reported.
    """
    return get_embedder(**options).embed_many(
        speakers,
        sample_rate=sample_rate,
        skip_failed=skip_failed,
        return_details=return_details,
        progress=progress,
    )


def similarity(embeddings: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Cosine similarity matrix of unit-norm embeddings, shape ``(n, n)``.

    Examples
    --------
    >>> import numpy as np
    >>> similarity(np.eye(2, dtype=np.float32)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    from .encoding import l2_normalize

    e = l2_normalize(np.asarray(embeddings, dtype=np.float32))
    return (e @ e.T).astype(np.float32)
