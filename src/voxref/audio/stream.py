"""Read a long recording block by block, in bounded memory, resampled and downmixed on the fly.

:func:`load_audio` holds a whole recording (and several float64 copies while resampling) in
memory: fine for reference clips, not for a 1-hour file. :func:`iter_blocks` reads the file with
``soundfile.SoundFile.read(frames)`` and resamples each block with the same polyphase filter as
:func:`voxref.audio.resample` (``scipy.signal.resample_poly``). Each block is filtered together
with enough neighbouring input on both sides (the filter's half length), and block boundaries
fall on the resampling grid, so the concatenated blocks equal whole-file resampling (to float
rounding; bit-identical in practice) instead of clicking at every block edge.
:func:`iter_chunks` cuts that stream into overlapping chunks for chunk-by-chunk VAD or windowed
embedding.

Peak memory is O(block + chunk), independent of the recording's length.

Examples
--------
>>> import numpy as np, soundfile as sf, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
>>> t = np.arange(3 * 44100) / 44100
>>> sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), 44100)
>>> chunks = list(iter_chunks(path, 16000, chunk_seconds=1.0, overlap_seconds=0.25))
>>> [(c.start, c.num_samples) for c in chunks]
[(0, 16000), (12000, 16000), (24000, 16000), (36000, 12000)]
>>> from voxref.audio import load_audio
>>> whole = load_audio(path).samples
>>> bool(np.allclose(np.concatenate([c.samples for c in iter_blocks(path, 16000)]), whole, atol=1e-6))
True
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import (
    AudioShapeError,
    EmptyAudioError,
    NonFiniteAudioError,
    SilentAudioError,
    UnreadableAudioError,
)
from .channels import choose_channel
from .load import MAX_CHANNELS, SILENCE_PEAK, _check_rate, check_audio_path
from .samples import ABSURD_PEAK, float_scale, out_of_range
from .signal import Audio

__all__ = [
    "StreamInfo",
    "AudioChunk",
    "stream_info",
    "iter_blocks",
    "iter_chunks",
    "resampling_ratio",
]

log = logging.getLogger(__name__)

#: Input frames read from the file per ``SoundFile.read`` call (before resampling): 2^18 frames,
#: ~5.5 s at 48 kHz; memory per block is a few MB whatever the file's length.
DEFAULT_READ_FRAMES = 1 << 18


@dataclass(frozen=True)
class StreamInfo:
    """What a file holds, read from its header (no samples decoded).

    Attributes
    ----------
    path
        The file.
    sample_rate, channels, frames
        As the header says (``frames`` may be approximate for mp3/ogg).
    format, subtype
        soundfile's names, e.g. ``"WAV"``, ``"PCM_16"``.
    """

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Seconds, from the header."""
        return self.frames / float(self.sample_rate)


@dataclass(frozen=True)
class AudioChunk:
    """A piece of a streamed recording: mono float32 at ``sample_rate``.

    Attributes
    ----------
    samples
        ``(num_samples,)`` float32.
    sample_rate
        Rate of ``samples`` (the target rate of the stream).
    start
        Index of ``samples[0]`` in the whole resampled recording.
    source
        The file it came from.
    """

    samples: np.ndarray
    sample_rate: int
    start: int
    source: str

    @property
    def num_samples(self) -> int:
        return int(len(self.samples))

    @property
    def end(self) -> int:
        """Index one past the last sample, in the whole recording."""
        return self.start + self.num_samples

    @property
    def start_seconds(self) -> float:
        return self.start / float(self.sample_rate)

    @property
    def duration(self) -> float:
        return self.num_samples / float(self.sample_rate)

    def to_audio(self) -> Audio:
        """This chunk as an :class:`Audio` (source names the time span)."""
        return Audio(
            samples=self.samples,
            sample_rate=self.sample_rate,
            source=f"{self.source}[{self.start_seconds:.2f}s:{self.end / self.sample_rate:.2f}s]",
            original_sample_rate=self.sample_rate,
        )


def resampling_ratio(orig_sr: int, target_sr: int) -> tuple[int, int]:
    """``(up, down)`` of the polyphase resampler, exactly as :func:`voxref.audio.resample` uses.

    Examples
    --------
    >>> resampling_ratio(44100, 16000)
    (160, 441)
    """
    frac = Fraction(int(target_sr), int(orig_sr)).limit_denominator(1000)
    return frac.numerator, frac.denominator


def _open(path: str | os.PathLike):
    """Open with soundfile after the same path checks as :func:`read_file` (typed errors)."""
    import soundfile as sf

    name = check_audio_path(path)
    try:
        return sf.SoundFile(name)
    except Exception as exc:  # LibsndfileError, RuntimeError, TypeError...
        raise UnreadableAudioError(
            f"cannot be decoded as audio ({type(exc).__name__}: {exc}). Convert it to WAV or FLAC "
            "or check that it is not truncated.",
            name,
        ) from exc


def stream_info(path: str | os.PathLike) -> StreamInfo:
    """Header facts of an audio file, with voxref's typed errors.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(p, np.zeros((8000, 2)), 8000)
    >>> stream_info(p).duration, stream_info(p).channels
    (1.0, 2)
    """
    with _open(path) as f:
        return StreamInfo(
            str(path), int(f.samplerate), int(f.channels), int(f.frames), f.format, f.subtype
        )


@dataclass(frozen=True)
class _Plan:
    """How blocks become mono float32 like :func:`load_audio` makes them: the divisor of
    out-of-range float samples and the channel used alone when the channels cancel."""

    dtype: str = "float32"
    scale: float = 1.0
    channel: int | None = None


def _read(f, name: str, read_frames: int, dtype: str) -> Iterator[np.ndarray]:
    """Finite ``(frames, channels)`` blocks of ``f`` (typed errors for decoding failures, NaN)."""
    while True:
        try:
            block = f.read(read_frames, dtype=dtype, always_2d=True)
        except Exception as exc:  # a decoder error half-way (truncated flac, corrupt mp3 frame)
            raise UnreadableAudioError(
                f"decoding failed after {f.tell() if not f.closed else '?'} frames "
                f"({type(exc).__name__}: {exc}); the file is probably truncated or corrupt.",
                name,
            ) from exc
        if block.shape[0] == 0:
            return
        if not np.all(np.isfinite(block)):
            raise NonFiniteAudioError(
                "holds NaN or infinite samples (a float WAV written from broken processing); "
                "fix the upstream processing.",
                name,
            )
        yield block


def _plan(f, name: str, read_frames: int) -> _Plan:
    """Scan a float or multi-channel file once for the decisions :func:`load_audio` takes on the
    whole recording (rescaling integer-scaled floats, a channel alone when they cancel), then
    rewind. PCM mono files need no scan: soundfile scales integer PCM itself."""
    dtype = "float64" if f.subtype == "DOUBLE" else "float32"
    is_float = f.subtype in ("FLOAT", "DOUBLE")
    if not is_float and f.channels == 1:
        return _Plan(dtype)
    peak, whole, n = 0.0, True, 0
    power = np.zeros(f.channels)
    mix_power = 0.0
    for block in _read(f, name, read_frames, dtype):
        peak = max(peak, float(np.max(np.abs(block))))
        if peak > ABSURD_PEAK:
            raise out_of_range(peak, name)
        if is_float and whole:
            whole = bool(np.all(np.floor(block) == block))
        b64 = block.astype(np.float64)
        power += np.einsum("tc,tc->c", b64, b64)
        mix = b64.mean(axis=1)
        mix_power += float(np.dot(mix, mix))
        n += len(block)
    f.seek(0)
    scale, note = float_scale(peak, whole) if is_float else (1.0, None)
    if note:
        log.warning("%s: %s; pass samples scaled to [-1, 1] to silence this warning", name, note)
    # the channel decision on the rescaled samples, as load_audio takes it
    channel, why = choose_channel(power / max(n, 1) / scale**2, mix_power / max(n, 1) / scale**2)
    if why:
        log.warning("%s: %s", name, why)
    return _Plan(dtype, scale, channel)


def _read_mono_blocks(f, name: str, read_frames: int, plan: _Plan) -> Iterator[np.ndarray]:
    """Mono float32 blocks of ``read_frames`` input frames, made mono like :func:`load_audio`."""
    for block in _read(f, name, read_frames, plan.dtype):
        if plan.scale != 1.0:
            block = (block.astype(np.float64) / plan.scale).astype(np.float32)
        block = block.astype(np.float32, copy=False)
        if block.shape[1] == 1:
            yield block[:, 0].copy()
        elif plan.channel is not None:
            yield np.ascontiguousarray(block[:, plan.channel])
        else:
            yield block.mean(axis=1, dtype=np.float32)


def _resampled(
    blocks: Iterator[np.ndarray], orig_sr: int, target_sr: int, segment_frames: int
) -> Iterator[np.ndarray]:
    """Resample a stream of mono blocks; the concatenated output equals whole-signal resampling.

    Segments of ``segment_frames`` input samples (a multiple of ``down``) are filtered together
    with ``pad`` input samples of context on each side (``pad`` >= the filter's half length and a
    multiple of ``down``), so every output sample sees exactly the input it sees in one call of
    ``resample_poly`` on the whole signal; zero padding happens only at the true ends.
    """
    if orig_sr == target_sr:
        yield from blocks
        return
    from scipy.signal import resample_poly

    up, down = resampling_ratio(orig_sr, target_sr)
    half_len = 10 * max(up, down)  # resample_poly's default FIR: 2 * half_len + 1 taps
    pad = down * math.ceil((math.ceil(half_len / up) + 2) / down)
    seg = max(down, (segment_frames // down) * down)
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0  # input index of buf[0]
    s = 0  # input index where the next segment starts (multiple of down)
    eof = False
    it = iter(blocks)
    while True:
        e = s + seg
        while not eof and buf_start + len(buf) < e + pad:
            try:
                buf = np.concatenate([buf, next(it)])
            except StopIteration:
                eof = True
        buf_end = buf_start + len(buf)
        final = eof and e + pad >= buf_end
        if final:
            e = buf_end
        lo = max(0, s - pad)
        hi = min(buf_end, e + pad)
        if e > s:
            y = resample_poly(
                np.asarray(buf[lo - buf_start : hi - buf_start], dtype=np.float64), up, down
            )
            offset = (s - lo) * up // down
            if final:
                count = -(-buf_end * up // down) - s * up // down  # ceil(N*up/down) - s*up/down
            else:
                count = (e - s) * up // down
            out = y[offset : offset + count].astype(np.float32)
            if len(out):
                yield out
        if final:
            return
        s = e
        drop = (s - pad) - buf_start
        if drop > 0:
            buf = buf[drop:]
            buf_start += drop


def iter_blocks(
    path: str | os.PathLike,
    target_sample_rate: int = 16_000,
    *,
    block_seconds: float = 30.0,
    read_frames: int = DEFAULT_READ_FRAMES,
) -> Iterator[AudioChunk]:
    """Contiguous, non-overlapping mono blocks of a file at ``target_sample_rate``.

    Concatenated, the blocks equal ``load_audio(path, target_sample_rate).samples`` (the same
    downmix and polyphase resampling). Validation happens as the stream goes: NaN/inf samples
    raise :class:`~voxref.errors.NonFiniteAudioError` at the block that holds them, a decoding
    failure half-way raises :class:`~voxref.errors.UnreadableAudioError`, and after the last
    block a recording with no samples or only digital silence raises
    :class:`~voxref.errors.EmptyAudioError` / :class:`~voxref.errors.SilentAudioError` (blocks
    already yielded stay valid: the caller decides what to keep).

    Parameters
    ----------
    path
        An audio file soundfile can read (wav, flac, ogg, mp3...).
    target_sample_rate
        Rate of the yielded samples.
    block_seconds
        Approximate length of each block at the input rate.
    read_frames
        Frames per ``SoundFile.read`` call.

    Yields
    ------
    AudioChunk
        ``start`` counts samples at ``target_sample_rate`` from the beginning of the file.

    Raises
    ------
    voxref.errors.AudioError
        Missing / unreadable / empty / silent / non-finite input, or an unsupported rate.
    """
    name = os.fsdecode(path)
    target = _check_rate(target_sample_rate, "target_sample_rate")
    with _open(name) as f:
        sr = _check_rate(f.samplerate, name)
        if f.channels > MAX_CHANNELS:
            raise AudioShapeError(
                f"has {f.channels} channels; voxref reads at most {MAX_CHANNELS}.", name
            )
        if f.channels > 2:
            log.warning("%s: %d channels; averaging them into mono", name, f.channels)
        frames_per_read = max(1, int(read_frames))
        segment = max(1, int(round(block_seconds * sr)))
        start = 0
        peak = 0.0
        plan = _plan(f, name, frames_per_read)
        blocks = _read_mono_blocks(f, name, frames_per_read, plan)
        for out in _resampled(blocks, sr, target, segment):
            peak = max(peak, float(np.max(np.abs(out))))
            yield AudioChunk(out, target, start, name)
            start += len(out)
    if start == 0:
        raise EmptyAudioError("has no samples; give a recording with speech in it.", name)
    if peak < SILENCE_PEAK:
        raise SilentAudioError(
            "is digital silence (all samples ~0); check the recording or the gain.", name
        )


def iter_chunks(
    path: str | os.PathLike,
    target_sample_rate: int = 16_000,
    *,
    chunk_seconds: float = 60.0,
    overlap_seconds: float = 0.0,
    chunk_samples: int | None = None,
    overlap_samples: int | None = None,
    block_seconds: float = 30.0,
) -> Iterator[AudioChunk]:
    """Overlapping chunks of a file, mono at ``target_sample_rate``, read in bounded memory.

    Chunk ``k`` covers samples ``[k * step, k * step + chunk)`` of the resampled recording, with
    ``step = chunk - overlap``; the last chunk may be shorter, and every sample is in at least
    one chunk. Errors are those of :func:`iter_blocks`.

    Parameters
    ----------
    path
        An audio file.
    target_sample_rate
        Rate of the chunks.
    chunk_seconds, overlap_seconds
        Chunk length and how much consecutive chunks share (``0 <= overlap < chunk``).
    chunk_samples, overlap_samples
        The same in samples at ``target_sample_rate`` (exact; override the seconds).
    block_seconds
        Read/resample block length (memory vs. call overhead).

    Yields
    ------
    AudioChunk
    """
    target = _check_rate(target_sample_rate, "target_sample_rate")
    size = int(chunk_samples) if chunk_samples is not None else int(round(chunk_seconds * target))
    overlap = (
        int(overlap_samples)
        if overlap_samples is not None
        else int(round(overlap_seconds * target))
    )
    if size <= 0 or not (0 <= overlap < size):
        from ..errors import ConfigError

        raise ConfigError(
            f"chunk of {size} samples with overlap {overlap}: need chunk > 0 and 0 <= overlap < chunk."
        )
    step = size - overlap
    name = os.fsdecode(path)
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0
    pending: list[np.ndarray] = []
    pending_len = 0
    for block in iter_blocks(name, target, block_seconds=block_seconds):
        pending.append(block.samples)
        pending_len += block.num_samples
        if len(buf) + pending_len < size:
            continue
        buf = np.concatenate([buf, *pending])
        pending, pending_len = [], 0
        while len(buf) >= size:
            yield AudioChunk(buf[:size].copy(), target, buf_start, name)
            buf = buf[step:]
            buf_start += step
    if pending:
        buf = np.concatenate([buf, *pending])
    # what is left: samples not yet in any chunk (beyond the overlap with the last one)
    if len(buf) > overlap or (buf_start == 0 and len(buf) > 0):
        yield AudioChunk(buf.copy(), target, buf_start, name)
