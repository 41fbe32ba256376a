"""Turn whatever the user has (paths, arrays, tensors, ``(array, sr)`` pairs) into :class:`Audio`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import (
    AudioFileNotFoundError,
    AudioShapeError,
    EmptyAudioError,
    NonFiniteAudioError,
    SampleRateError,
    SilentAudioError,
    TooShortAudioError,
    UnreadableAudioError,
)
from .channels import mix_to_mono
from .properties import measure
from .resample import resample
from .samples import ABSURD_PEAK, array_from, out_of_range, to_float
from .signal import Audio

__all__ = [
    "AudioInput",
    "check_audio_path",
    "load_audio",
    "read_file",
    "to_mono_float",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
]

log = logging.getLogger(__name__)

#: Anything :func:`load_audio` accepts.
AudioInput = Union[str, os.PathLike, np.ndarray, "torch.Tensor", tuple, Audio]  # noqa: F821

MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 32
#: Peak below which audio counts as digital silence (~ -120 dBFS).
SILENCE_PEAK = 1e-6
# ABSURD_PEAK (finite samples refused above it) and LOUD_PEAK (float samples rescaled above it)
# live in voxref.audio.samples, with the rules for integer PCM and out-of-range floats.


def _describe(x: Any, index: int | None) -> str:
    if isinstance(x, (str, os.PathLike)):
        return str(x)
    return f"<array {index}>" if index is not None else "<array>"


def check_audio_path(path: str | os.PathLike) -> str:
    """The path as a string, after checking it names a readable, non-empty regular file.

    Raises
    ------
    AudioFileNotFoundError, UnreadableAudioError, EmptyAudioError
    """
    name = os.fsdecode(path)
    if not name:
        raise AudioFileNotFoundError("the path is an empty string; pass the path of an audio file.")
    p = Path(name)
    try:
        if not p.exists():
            if p.is_symlink():
                raise AudioFileNotFoundError(
                    "is a broken symbolic link (or a link loop); point it at an existing audio file.",
                    name,
                )
            raise AudioFileNotFoundError("no such file; check the path.", name)
        if p.is_dir():
            raise UnreadableAudioError(
                "is a directory, not an audio file; pass the files inside it (or use "
                "`voxref embed-dir`).",
                name,
            )
        if not p.is_file():  # a FIFO or device would block or never end
            raise UnreadableAudioError(
                "is not a regular file (a pipe, socket or device); save the audio to a file first.",
                name,
            )
        if not os.access(p, os.R_OK):
            raise UnreadableAudioError(
                "permission denied; make the file readable (chmod +r).", name
            )
        size = p.stat().st_size
    except AudioFileNotFoundError:  # an OSError too: let it through as it is
        raise
    except OSError as exc:  # name too long, permission denied on a parent folder, I/O error...
        raise UnreadableAudioError(
            f"cannot be accessed ({exc.strerror or exc}); check the path.", name
        ) from exc
    if size == 0:
        raise EmptyAudioError("file is 0 bytes; it holds no audio.", name)
    return name


LONG_FILE_S = 20 * 60.0
"""Files longer than this (seconds) are read whole with a hint to stream them instead."""


def read_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file with soundfile (wav, flac, ogg/vorbis/opus, mp3, aiff...).

    Returns
    -------
    samples, sample_rate
        ``float32`` array (``float64`` for a 64-bit float file) of shape
        ``(num_samples, channels)`` and the file's rate.

    Raises
    ------
    AudioFileNotFoundError, UnreadableAudioError
    """
    import soundfile as sf

    name = check_audio_path(path)
    try:
        with sf.SoundFile(name) as f:
            expected, sr = f.frames, f.samplerate
            if expected > LONG_FILE_S * sr:
                log.warning(
                    "%s: %.0f min of audio, read whole into memory (%.1f GB as float32); "
                    "voxref.embed_long streams a long recording chunk by chunk",
                    name,
                    expected / sr / 60.0,
                    expected * f.channels * 4 / 1e9,
                )
            # float64 files keep float64: huge finite values must not overflow to inf here
            dtype = "float64" if f.subtype == "DOUBLE" else "float32"
            parts = [f.read(dtype=dtype, always_2d=True)]
            # a decoder may stop short at a corrupt frame (mp3) and resync on the next read:
            # keep reading to the end, as the streamed reader does
            while len(more := f.read(1 << 16, dtype=dtype, always_2d=True)):
                parts.append(more)
        data = parts[0] if len(parts) == 1 else np.concatenate(parts)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise UnreadableAudioError(
            f"cannot be decoded as audio ({type(exc).__name__}: {exc}). Convert it to WAV or FLAC "
            "(e.g. `ffmpeg -i in.xxx -ar 16000 out.wav`) or check that it is not truncated.",
            name,
        ) from exc
    if 0 < len(data) < expected:
        log.warning(
            "%s: decoded %d of the %d frames its header announces; the file is probably corrupt "
            "or truncated",
            name,
            len(data),
            expected,
        )
    return data, int(sr)


def _frames(
    x: np.ndarray, source: str, *, channels_last: bool = False
) -> tuple[np.ndarray, tuple[str, ...]]:
    """float32 ``(samples, channels)`` in [-1, 1] and the notes of :func:`~voxref.audio.samples.to_float`."""
    x = np.asarray(x)
    if x.ndim > 0 and x.size == 0:
        raise EmptyAudioError(
            f"has no samples (shape {x.shape}); give a recording with speech in it.", source
        )
    x, notes = to_float(x, source)
    while x.ndim > 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 0:
        raise AudioShapeError(
            "got a single number (a 0-d array) where a recording is expected; pass a 1-D array "
            "of samples, shaped (samples,) or (channels, samples).",
            source,
        )
    if x.ndim > 2:
        raise AudioShapeError(
            f"array of shape {x.shape} has more than 2 dimensions; pass one recording at a time "
            "as (samples,) or (channels, samples), or a batch as a list: voxref.embed(list(x)).",
            source,
        )
    if x.ndim == 1:
        return x[:, None], notes
    # 2-D: the smaller axis is channels
    if not channels_last and x.shape[0] <= x.shape[1]:
        x = x.T
    channels = x.shape[1]
    if channels > MAX_CHANNELS:
        raise AudioShapeError(
            f"array of shape {x.shape} would have {channels} channels; pass one recording at a "
            "time, shaped (samples,) or (channels, samples).",
            source,
        )
    return np.ascontiguousarray(x), notes


def to_mono_float(
    x: np.ndarray, source: str = "<array>", *, channels_last: bool = False
) -> tuple[np.ndarray, int]:
    """Scale samples to float32 in [-1, 1] and return ``(samples (T, C), channels)``.

    Integer PCM is divided by its full scale and float samples far outside [-1, 1] are rescaled
    (rules, and the warnings they log, in :mod:`voxref.audio.samples`). Accepts shapes ``(T,)``,
    ``(C, T)`` and ``(T, C)`` (the smaller axis is taken as channels, unless ``channels_last``:
    then a 2-D array is always ``(T, C)``, as soundfile returns it), and leading singleton axes
    such as ``(1, 1, T)``.
    """
    frames, _ = _frames(x, source, channels_last=channels_last)
    return frames, frames.shape[1]


def validate(samples: np.ndarray, sample_rate: int, source: str, min_duration: float = 0.0) -> None:
    """Raise the matching typed error when mono ``samples`` cannot be used."""
    if samples.size == 0:
        raise EmptyAudioError("has no samples; give a recording with speech in it.", source)
    if not np.all(np.isfinite(samples)):
        bad = int(np.size(samples) - np.count_nonzero(np.isfinite(samples)))
        raise NonFiniteAudioError(
            f"{bad} samples are NaN or infinite; fix the upstream processing (or np.nan_to_num it).",
            source,
        )
    peak = float(np.max(np.abs(samples)))
    if peak > ABSURD_PEAK:
        raise out_of_range(peak, source)
    if peak < SILENCE_PEAK:
        raise SilentAudioError(
            "is digital silence (all samples ~0); check the recording or the gain.", source
        )
    dur = len(samples) / float(sample_rate)
    if dur < min_duration:
        raise TooShortAudioError(
            f"is {dur:.2f} s long; at least {min_duration:.2f} s is needed. Give a longer clip.",
            source,
        )


def _check_rate(sr: Any, source: str) -> int:
    if sr is None:
        raise SampleRateError(
            "an array needs its sample rate: pass (array, sample_rate) or sample_rate=...", source
        )
    try:
        sr_int = int(sr)
    except (TypeError, ValueError, OverflowError) as exc:  # None-like, "abc", nan, inf
        raise SampleRateError(f"sample rate {sr!r} is not a number.", source) from exc
    if sr_int != sr or not (MIN_SAMPLE_RATE <= sr_int <= MAX_SAMPLE_RATE):
        raise SampleRateError(
            f"sample rate {sr!r} Hz is outside [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz or not an "
            "integer; pass the true rate of the recording.",
            source,
        )
    return sr_int


def load_audio(
    x: AudioInput,
    target_sample_rate: int = 16_000,
    *,
    sample_rate: int | None = None,
    min_duration: float = 0.0,
    index: int | None = None,
    source: str | None = None,
) -> Audio:
    """Load, validate, downmix and resample one input to mono float32 at ``target_sample_rate``.

    Parameters
    ----------
    x
        A path (wav/flac/ogg/mp3...), a numpy array or torch tensor (give ``sample_rate``), an
        ``(array, sample_rate)`` pair, or an :class:`Audio`.
    target_sample_rate
        Rate of the returned audio. Resampling (polyphase) is recorded in ``Audio.history``.
    sample_rate
        Rate of an array/tensor input.
    min_duration
        Raise :class:`~voxref.errors.TooShortAudioError` below this many seconds.
    index
        Position in a batch, used to name array inputs (``"<array 3>"``).
    source
        Name to use for the input in messages (default: the path, or ``"<array i>"``).

    Returns
    -------
    Audio

    Raises
    ------
    voxref.errors.AudioError
        One of its subclasses, naming the input and what to do.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = load_audio((0.1 * rng.standard_normal((2, 48000)), 48000))
    >>> a.sample_rate, a.num_samples, a.original_channels
    (16000, 16000, 2)
    >>> a.history
    ('downmix 2->1 channels (mean)', 'resample 48000->16000 Hz (polyphase)')
    """
    if isinstance(x, Audio):
        name = source or x.source
        sr = x.sample_rate
        orig_sr, channels, hist = x.original_sample_rate or sr, x.original_channels, list(x.history)
        frames, notes = _frames(x.samples, name)
        samples, as_read = frames[:, 0], x.as_read
        hist += [f"rescale: {n}" for n in notes]
    else:
        name = source or _describe(x, index)
        channels_last = isinstance(x, (str, os.PathLike))
        if channels_last:
            raw, sr = read_file(x)
        else:
            if isinstance(x, tuple) and len(x) == 2 and np.isscalar(x[1]):
                x, sr = x
            else:
                sr = sample_rate
            raw = array_from(x, name)
        sr = _check_rate(sr, name)
        frames, notes = _frames(raw, name, channels_last=channels_last)
        del raw
        channels = frames.shape[1]
        orig_sr, hist, as_read = sr, [f"rescale: {n}" for n in notes], None
        if channels > 2:
            log.warning("%s: %d channels; averaging them into mono", name, channels)
        samples, note = mix_to_mono(frames, name)
        if note:
            hist.append(f"downmix {channels}->1: {note}")
            notes = (*notes, note)
        elif channels > 1:
            hist.append(f"downmix {channels}->1 channels (mean)")
    validate(samples, sr, name)
    if as_read is None:  # measured on the samples as read, before resampling
        as_read = measure(frames, samples, sr, notes)
    del frames
    if sr != target_sample_rate:
        samples = resample(samples, sr, target_sample_rate)
        hist.append(f"resample {sr}->{target_sample_rate} Hz (polyphase)")
        # resampling can create tiny non-finite values only from non-finite input, checked above
    validate(samples, target_sample_rate, name, min_duration=min_duration)
    return Audio(
        samples=np.ascontiguousarray(samples, dtype=np.float32),
        sample_rate=int(target_sample_rate),
        source=name,
        original_sample_rate=int(orig_sr),
        original_channels=int(channels),
        history=tuple(hist),
        as_read=as_read,
    )
