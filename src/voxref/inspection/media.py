"""Data URIs for a self-contained report: PNG images and 16-bit WAV audio in base64."""

from __future__ import annotations

import base64
import io

import numpy as np

from ..audio.resample import resample

__all__ = ["png_data_uri", "wav_bytes", "wav_data_uri", "PLAYER_SAMPLE_RATE"]

#: Audio players in the report play 16-bit mono PCM at this rate (32 kB per second).
PLAYER_SAMPLE_RATE = 16_000

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes.

    Examples
    --------
    >>> png_data_uri(b"\\x89PNG\\r\\n\\x1a\\n")[:30]
    'data:image/png;base64,iVBORw0K'
    """
    if not png.startswith(_PNG_MAGIC):
        raise ValueError("not PNG data (missing the PNG signature)")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def wav_bytes(
    samples: np.ndarray, sample_rate: int, *, target_sample_rate: int = PLAYER_SAMPLE_RATE
) -> bytes:
    """A mono 16-bit PCM WAV file of ``samples`` (resampled to ``target_sample_rate``).

    Peaks above full scale are scaled down, not clipped.

    Examples
    --------
    >>> data = wav_bytes(np.zeros(1600, np.float32), 16000)
    >>> data[:4], data[8:12], len(data)
    (b'RIFF', b'WAVE', 3244)
    """
    import soundfile as sf

    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if sample_rate != target_sample_rate and len(x):
        x = resample(x, sample_rate, target_sample_rate)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 1.0:
        x = x / peak
    buf = io.BytesIO()
    sf.write(buf, x, target_sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def wav_data_uri(samples: np.ndarray, sample_rate: int) -> str:
    """``data:audio/wav;base64,...`` of ``samples`` as 16 kHz 16-bit mono WAV."""
    return "data:audio/wav;base64," + base64.b64encode(wav_bytes(samples, sample_rate)).decode(
        "ascii"
    )
