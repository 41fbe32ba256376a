"""Embed a long recording (an hour of podcast, a lecture) chunk by chunk in bounded memory.

:func:`voxref.embed` loads a whole file: for a 1-hour 16 kHz file its peak memory is several times
the samples' size (float64 resampling copies, a full spectrogram, the VAD's buffers;
``tests/reliability/test_reliability_stream.py`` measures it). :func:`embed_long`
streams the file with :func:`voxref.audio.stream.iter_blocks` and runs the same
:class:`~voxref.pipeline.Embedder` stages on one chunk at a time, so peak memory stays
around that of one chunk (60 s by default) whatever the recording's length.

Two modes, following the embedder's ``clean`` option:

* ``clean=False`` (raw windows): chunks overlap by one window plus one hop of context and start
  on the window grid, so the windows are those of the whole file and each is computed once; they
  are pooled as one reference by :meth:`Embedder.combine`, so the result equals
  ``Embedder(clean=False).embed(path)`` to float rounding.
* ``clean=True`` (the default pipeline): each chunk goes through :meth:`Embedder.prepare` (VAD,
  denoising, quality report) as its own reference, and :meth:`Embedder.combine` pools the chunks
  like references (target activity across chunks, quality-aware weights); chunks without usable
  speech are reported, not fatal. Only windows, reports and regions are kept per chunk (its
  audio arrays are dropped). Cleaning per chunk adapts the noise estimate along the recording;
  windows never straddle a chunk boundary, so the result is close to, not equal to, whole-file
  embedding.

Examples
--------
>>> from voxref.sample_data import pyannote_sample
>>> wav, _ = pyannote_sample()
>>> res = embed_long(wav, chunk_seconds=10.0, return_details=True, clean=False)
>>> res.embedding.shape, res.num_chunks, len(res.windows) > 50
((256,), 2, True)
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .audio.level import SPEECH_BAND_HZ, ActiveLevelMeter, scale_to
from .audio.signal import Audio
from .audio.stream import AudioChunk, iter_blocks
from .encoding import WindowEmbeddings
from .errors import (
    BatchReport,
    InputFate,
    TooShortAudioError,
    VoxrefError,
)

__all__ = ["LongEmbedding", "embed_long", "stream_chunks"]

log = logging.getLogger(__name__)


@dataclass
class LongEmbedding:
    """The embedding of one long recording and how it was made.

    Attributes
    ----------
    embedding
        Unit-norm float32 ``(dimension,)``.
    windows
        Every window embedding that went into it, on the recording's timeline (seconds) in
        ``clean=False`` mode, on each chunk's cleaned-speech timeline plus the chunk's start
        otherwise.
    source
        The file.
    duration
        Seconds of audio read.
    num_chunks
        Chunks processed.
    report
        With cleaning: one :class:`~voxref.errors.InputFate` per chunk
        (``"path[0.00s:60.00s]"``); without: one for the recording.
    encoder
        The encoder's description.
    details
        The :class:`~voxref.pipeline.EmbeddingResult` of the pooling (each chunk is a
        reference when cleaning; its audio arrays are dropped to bound memory).
    """

    embedding: np.ndarray
    windows: WindowEmbeddings
    source: str
    duration: float
    num_chunks: int
    report: BatchReport = field(default_factory=BatchReport)
    encoder: dict = field(default_factory=dict)
    details: Any = None


def stream_chunks(
    path: str | os.PathLike,
    sample_rate: int,
    *,
    step: int,
    context_before: int = 0,
    context_after: int = 0,
) -> Iterator[tuple[AudioChunk, int, bool]]:
    """Chunks ``[k*step - context_before, (k+1)*step + context_after)`` of a streamed file.

    Yields ``(chunk, core_start, is_last)`` where ``core_start = k * step``. The last chunk runs
    to the end of the file and is between one and two steps long (plus context), so no chunk is a
    useless sliver; a file shorter than two steps is one chunk.
    """
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0  # sample index of buf[0]
    k = 0
    name = os.fsdecode(path)

    def _chunk(lo: int, hi: int) -> AudioChunk:
        return AudioChunk(buf[lo - buf_start : hi - buf_start].copy(), sample_rate, lo, name)

    for block in iter_blocks(name, sample_rate):
        buf = np.concatenate([buf, block.samples])
        # emit chunk k only once the next one is known to be at least a full step long
        while buf_start + len(buf) >= (k + 2) * step + context_after:
            lo = max(0, k * step - context_before)
            yield _chunk(lo, (k + 1) * step + context_after), k * step, False
            k += 1
            keep_from = max(0, k * step - context_before)
            buf = buf[keep_from - buf_start :]
            buf_start = keep_from
    end = buf_start + len(buf)
    lo = max(0, k * step - context_before)
    if end > lo:
        yield _chunk(lo, end), k * step, True


def embed_long(
    path: str | os.PathLike,
    *,
    embedder: Any = None,
    chunk_seconds: float = 60.0,
    return_details: bool = False,
    **options: Any,
) -> np.ndarray | LongEmbedding:
    """One speaker embedding of a long recording, read and processed chunk by chunk.

    Parameters
    ----------
    path
        An audio file (any length; wav/flac/ogg/mp3...).
    embedder
        The :class:`~voxref.pipeline.Embedder` to use (its encoder, window, hop and
        cleaning options). Default: the shared one for ``**options`` (as :func:`voxref.embed`).
    chunk_seconds
        Audio per chunk; peak memory grows with it, not with the recording.
    return_details
        Return a :class:`LongEmbedding` instead of the bare vector.
    **options
        :class:`~voxref.pipeline.Embedder` options when ``embedder`` is not given.

    Returns
    -------
    numpy.ndarray or LongEmbedding
        Unit-norm float32 ``(dimension,)``.

    Raises
    ------
    voxref.errors.AudioError
        The file is missing, unreadable, empty, silent, or holds NaN/inf.
    voxref.errors.NoUsableReferenceError
        No chunk had usable speech (the report names each chunk and why).
    """
    if embedder is None:
        from .pipeline import get_embedder

        embedder = get_embedder(**options)
    elif options:
        from .errors import ConfigError

        raise ConfigError("pass Embedder options either in embedder=... or as keywords, not both.")
    encoder = embedder.encoder
    sr = int(encoder.sample_rate)
    window = float(embedder.advanced.window or encoder.window_seconds)
    hop = float(embedder.advanced.hop or encoder.hop_seconds)
    win = int(round(window * sr))
    hop_n = max(1, int(round(hop * sr)))
    step = max(1, int(round(chunk_seconds * sr / hop_n))) * hop_n  # chunks start on the hop grid
    name = os.fsdecode(path)
    clean = bool(getattr(embedder, "clean", False))

    # without cleaning the file is one reference: one active level for all of it, measured in a
    # first pass (with cleaning each chunk is a reference and Embedder.prepare levels it)
    target_level = getattr(embedder, "level_dbfs", None)
    file_level_db: float | None = None
    if not clean and target_level is not None:
        meter = ActiveLevelMeter(sr, SPEECH_BAND_HZ)  # the meter of Embedder.prepare
        for block in iter_blocks(name, sr):
            meter.update(block.samples)
        file_level_db = meter.level_db()
        log.info(
            "%s: speech-band active level %.1f dBFS, scaled to %g dBFS",
            name,
            file_level_db,
            target_level,
        )

    prepared: list[Any] = []  # PreparedReference (samples dropped) or InputFate, per chunk
    parts: list[WindowEmbeddings] = []
    n_chunks = 0
    total = 0
    chunks = stream_chunks(
        name,
        sr,
        step=step,
        context_before=0 if clean else hop_n,
        context_after=0 if clean else win,
    )
    for chunk, core_start, is_last in chunks:
        n_chunks += 1
        total = chunk.end
        offset = chunk.start / sr
        if clean:
            label = chunk.to_audio().source
            try:
                p = embedder.prepare(chunk.to_audio())
            except VoxrefError as exc:
                reason = getattr(exc, "reason", str(exc))
                prepared.append(InputFate(label, "rejected", reason, type(exc).__name__))
                log.info("%s: %s", label, reason)
                continue
            prepared.append(_without_samples(p))
            parts.append(p.windows)
            continue
        min_seconds = float(getattr(embedder, "min_seconds", 0.0))
        if n_chunks == 1 and is_last and chunk.duration < min_seconds:
            raise TooShortAudioError(
                f"{chunk.duration:.2f} s of audio; at least {min_seconds:.2f} s is needed. "
                "Give a longer recording.",
                name,
            )
        samples = chunk.samples
        if file_level_db is not None:  # the whole file's gain, as Embedder.prepare would give it
            samples, _ = scale_to(samples, file_level_db, target_level)
        w = encoder.embed_windows(samples, window, hop, source=name)
        starts = w.starts + offset
        first = np.round(starts * sr).astype(np.int64)
        keep = first >= core_start
        if not is_last:
            keep &= first < core_start + step
        parts.append(WindowEmbeddings(w.embeddings[keep], starts[keep], w.ends[keep] + offset))
    if not clean:
        # one reference made of every window of the recording, as whole-file embedding sees it
        from .pipeline import PreparedReference

        whole = WindowEmbeddings(
            np.concatenate([p.embeddings for p in parts]),
            np.concatenate([p.starts for p in parts]),
            np.concatenate([p.ends for p in parts]),
        )
        empty = _empty_audio(name, sr, "samples streamed by embed_long (not kept)")
        prepared = [PreparedReference(name, empty, empty, whole, total / sr)]
    result = embedder.combine(prepared)  # NoUsableReferenceError when no chunk was usable
    windows = WindowEmbeddings(
        np.concatenate([p.embeddings for p in parts]),
        np.concatenate([p.starts for p in parts]),
        np.concatenate([p.ends for p in parts]),
    )
    embedding = result.embedding
    if not return_details:
        return embedding
    return LongEmbedding(
        embedding=embedding,
        windows=windows,
        source=name,
        duration=total / sr,
        num_chunks=n_chunks,
        report=result.report,
        encoder=encoder.describe(),
        details=result,
    )


def _empty_audio(source: str, sample_rate: int, note: str) -> Audio:
    return Audio(np.zeros(0, dtype=np.float32), sample_rate, source, history=(note,))


def _without_samples(p: Any) -> Any:
    """A prepared chunk without its audio arrays (windows, report and regions are kept)."""
    note = "samples dropped by embed_long to bound memory"
    return dataclasses.replace(
        p,
        audio=p.audio.replace(np.zeros(0, dtype=np.float32), note),
        speech=p.speech.replace(np.zeros(0, dtype=np.float32), note),
    )
