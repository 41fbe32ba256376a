"""Band limiting: telephone channel (300-3400 Hz, 8 kHz, 8-bit mu-law or A-law) and plain filters.

:func:`telephone` band-passes to 300-3400 Hz, resamples to 8 kHz, applies 8-bit G.711-style
companding (mu-law, mu = 255, or A-law, A = 87.6; sign bit + 7-bit magnitude codes), resamples
back and band-limits again (the receiving end); the result keeps the input's rate,
length and dtype and has essentially no energy above 4 kHz (< -45 dB of the total, measured on
white noise and speech). Companding acts on the absolute level: quiet input gets relatively
more quantisation noise, as on a real line. Filters are Butterworth, run forward and backward (zero phase) so nothing is
delayed.

Examples
--------
>>> import numpy as np
>>> x = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
>>> y = telephone(x, 16000)
>>> y.shape, y.dtype
((16000,), dtype('float32'))
>>> spec = np.abs(np.fft.rfft(y)) ** 2
>>> bool(spec[np.fft.rfftfreq(16000, 1 / 16000) > 4000].sum() < 1e-3 * spec.sum())
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import ParamSpec, Transform, check_sample_rate, check_samples, check_spec, draw

__all__ = [
    "TELEPHONE_BAND",
    "TELEPHONE_RATE",
    "mu_law_encode",
    "mu_law_decode",
    "a_law_encode",
    "a_law_decode",
    "companding",
    "lowpass",
    "highpass",
    "bandpass",
    "telephone",
    "Telephone",
    "BandLimit",
]

#: Pass band (Hz) of the telephone channel.
TELEPHONE_BAND = (300.0, 3400.0)
#: Sample rate (Hz) of the telephone channel.
TELEPHONE_RATE = 8000
_A = 87.6


def _quantise(y: np.ndarray, bits: int) -> np.ndarray:
    """Sign-magnitude code of compressed ``y`` in [-1, 1]: sign bit, ``bits - 1`` magnitude bits."""
    top = 2 ** (bits - 1) - 1
    mag = np.clip(np.floor(np.abs(y) * top + 0.5), 0, top).astype(np.int64)
    return np.where(y < 0, mag | (1 << (bits - 1)), mag)


def _dequantise(codes: np.ndarray, bits: int) -> np.ndarray:
    c = np.asarray(codes, dtype=np.int64)
    top = 2 ** (bits - 1) - 1
    mag = (c & top).astype(np.float64) / top
    return np.where(c >> (bits - 1) & 1, -mag, mag)


def mu_law_encode(samples: np.ndarray, bits: int = 8) -> np.ndarray:
    """Mu-law compress ``[-1, 1]`` samples (mu = 255) to ``bits``-bit sign-magnitude codes.

    As in G.711, zero has its own code, so digital silence stays silent.

    Examples
    --------
    >>> mu_law_encode(np.array([-1.0, 0.0, 1.0])).tolist()
    [255, 0, 127]
    """
    x = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(255.0 * np.abs(x)) / math.log1p(255.0)
    return _quantise(y, bits)


def mu_law_decode(codes: np.ndarray, bits: int = 8) -> np.ndarray:
    """Inverse of :func:`mu_law_encode` (float64 in ``[-1, 1]``).

    Examples
    --------
    >>> x = np.array([-0.5, 0.0, 0.25])
    >>> bool(np.all(np.abs(mu_law_decode(mu_law_encode(x)) - x) <= 0.03 * np.abs(x)))
    True
    """
    y = _dequantise(codes, bits)
    return np.sign(y) * np.expm1(np.abs(y) * math.log1p(255.0)) / 255.0


def a_law_encode(samples: np.ndarray, bits: int = 8) -> np.ndarray:
    """A-law (A = 87.6) compress ``[-1, 1]`` samples to ``bits``-bit sign-magnitude codes.

    Examples
    --------
    >>> a_law_encode(np.array([-1.0, 0.0, 1.0])).tolist()
    [255, 0, 127]
    """
    x = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
    ax = np.abs(x)
    small = ax < 1.0 / _A
    y = np.where(small, _A * ax, 1.0 + np.log(np.maximum(_A * ax, 1e-300))) / (1.0 + math.log(_A))
    return _quantise(np.sign(x) * y, bits)


def a_law_decode(codes: np.ndarray, bits: int = 8) -> np.ndarray:
    """Inverse of :func:`a_law_encode`.

    Examples
    --------
    >>> x = np.array([-0.5, 0.0, 0.25])
    >>> bool(np.all(np.abs(a_law_decode(a_law_encode(x)) - x) <= 0.03 * np.abs(x)))
    True
    """
    y = _dequantise(codes, bits)
    ay = np.abs(y) * (1.0 + math.log(_A))
    x = np.where(ay < 1.0, ay / _A, np.exp(ay - 1.0) / _A)
    return np.sign(y) * x


def companding(samples: np.ndarray, codec: str = "mulaw", bits: int = 8) -> np.ndarray:
    """Encode and decode with ``"mulaw"`` or ``"alaw"`` (quantisation noise, clipping at +-1).

    Examples
    --------
    >>> x = np.linspace(-1, 1, 5, dtype=np.float32)
    >>> companding(x).dtype
    dtype('float32')
    """
    x = np.asarray(samples)
    if codec == "mulaw":
        y = mu_law_decode(mu_law_encode(x, bits), bits)
    elif codec == "alaw":
        y = a_law_decode(a_law_encode(x, bits), bits)
    else:
        raise ConfigError(f"codec={codec!r}; use 'mulaw', 'alaw' or None.")
    return y.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)


def _filter(x: np.ndarray, sample_rate: int, btype: str, freqs: Any, order: int) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    nyq = sample_rate / 2.0
    f = np.atleast_1d(np.asarray(freqs, dtype=float))
    if np.any(f <= 0) or np.any(f >= nyq):
        raise ConfigError(
            f"cut-off frequencies {f.tolist()} Hz must lie in (0, {nyq:g}) Hz at {sample_rate} Hz."
        )
    sos = butter(order, f if f.size > 1 else f[0], btype=btype, fs=sample_rate, output="sos")
    if x.size <= 3 * (2 * len(sos) + 1):  # too short for filtfilt's padding
        from scipy.signal import sosfilt

        return sosfilt(sos, x)
    return sosfiltfilt(sos, x)


def lowpass(samples: np.ndarray, sample_rate: int, cutoff_hz: float, order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth low-pass (dtype and length preserved).

    Examples
    --------
    >>> lowpass(np.ones(1000, dtype=np.float32), 16000, 2000.0).dtype
    dtype('float32')
    """
    x = check_samples(samples)
    sr = check_sample_rate(sample_rate)
    return _filter(x.astype(np.float64), sr, "lowpass", cutoff_hz, order).astype(x.dtype)


def highpass(samples: np.ndarray, sample_rate: int, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth high-pass (dtype and length preserved).

    Examples
    --------
    >>> float(np.abs(highpass(np.ones(4000), 16000, 100.0)[1000:3000]).max()) < 1e-3
    True
    """
    x = check_samples(samples)
    sr = check_sample_rate(sample_rate)
    return _filter(x.astype(np.float64), sr, "highpass", cutoff_hz, order).astype(x.dtype)


def bandpass(
    samples: np.ndarray, sample_rate: int, low_hz: float, high_hz: float, order: int = 4
) -> np.ndarray:
    """Zero-phase Butterworth band-pass ``low_hz``-``high_hz`` (dtype and length preserved).

    Examples
    --------
    >>> bandpass(np.ones(1000, dtype=np.float32), 16000, 300.0, 3400.0).shape
    (1000,)
    """
    x = check_samples(samples)
    sr = check_sample_rate(sample_rate)
    if not low_hz < high_hz:
        raise ConfigError(f"band {low_hz}-{high_hz} Hz: low must be below high.")
    return _filter(x.astype(np.float64), sr, "bandpass", [low_hz, high_hz], order).astype(x.dtype)


def telephone(
    samples: np.ndarray,
    sample_rate: int,
    codec: str | None = "mulaw",
    *,
    band: tuple[float, float] = TELEPHONE_BAND,
    bits: int = 8,
) -> np.ndarray:
    """Telephone channel: band-pass, 8 kHz round trip, 8-bit companding (see module docstring).

    Parameters
    ----------
    samples
        1-D float signal (nominally in [-1, 1]; the codec clips beyond).
    sample_rate
        Its rate (at least 8 kHz).
    codec
        ``"mulaw"``, ``"alaw"`` or ``None`` (band limit only).
    band
        Pass band in Hz.
    bits
        Codec word length.

    Examples
    --------
    >>> y = telephone(np.zeros(800, dtype=np.float32), 16000)
    >>> y.shape, float(np.abs(y).max())
    ((800,), 0.0)
    """
    from ..audio.resample import resample

    x = check_samples(samples)
    sr = check_sample_rate(sample_rate)
    if sr < TELEPHONE_RATE:
        raise ConfigError(
            f"telephone simulation needs at least {TELEPHONE_RATE} Hz input, got {sr} Hz."
        )
    y = _filter(x.astype(np.float64), sr, "bandpass", list(band), 4)
    y = resample(y, sr, TELEPHONE_RATE).astype(np.float64)
    if codec is not None:
        y = companding(y, codec, bits).astype(np.float64)
    y = resample(y, TELEPHONE_RATE, sr).astype(np.float64)
    # receiving end: band-limit again, removing the codec noise outside the band and the
    # resampler's transition band
    y = _filter(y, sr, "lowpass", band[1], 8)
    y = _filter(y, sr, "highpass", band[0], 4)
    out = np.zeros(x.size)
    n = min(x.size, y.size)
    out[:n] = y[:n]
    return out.astype(x.dtype)


class Telephone(Transform):
    """Telephone channel as a transform (deterministic: ``rng`` is not used).

    Parameters
    ----------
    codec
        ``"mulaw"``, ``"alaw"``, ``None``, or a list to draw from per call.

    Examples
    --------
    >>> t = Telephone()
    >>> out, params = t.apply(np.zeros(800, dtype=np.float32), 16000, np.random.default_rng(0))
    >>> params
    {'band_limited': True, 'low_hz': 300.0, 'high_hz': 3400.0, 'codec': 'mulaw'}
    """

    name = "telephone"

    def __init__(
        self, codec: str | None | list = "mulaw", band: tuple[float, float] = TELEPHONE_BAND
    ) -> None:
        for c in codec if isinstance(codec, list) else [codec]:
            if c not in ("mulaw", "alaw", None):
                raise ConfigError(f"codec={c!r}; use 'mulaw', 'alaw' or None.")
        self.codec = codec
        self.band = (float(band[0]), float(band[1]))

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        codec = (
            self.codec[int(rng.integers(len(self.codec)))]
            if isinstance(self.codec, list)
            else self.codec
        )
        out = telephone(samples, sample_rate, codec, band=self.band)
        return out, {
            "band_limited": True,
            "low_hz": self.band[0],
            "high_hz": self.band[1],
            "codec": codec,
        }


class BandLimit(Transform):
    """Low-pass (``low_hz=None``) or band-pass with cut-offs drawn per call.

    Parameters
    ----------
    high_hz
        Upper cut-off spec (Hz), e.g. ``(3000.0, 7000.0)``.
    low_hz
        Lower cut-off spec (Hz) or ``None`` for a low-pass.
    order
        Butterworth order.

    Examples
    --------
    >>> t = BandLimit(high_hz=(3000.0, 6000.0))
    >>> _, p = t.apply(np.ones(1600, dtype=np.float32), 16000, np.random.default_rng(0))
    >>> 3000.0 <= p["high_hz"] <= 6000.0, p["low_hz"]
    (True, None)
    """

    name = "bandlimit"

    def __init__(
        self, high_hz: ParamSpec = (3000.0, 7000.0), low_hz: ParamSpec | None = None, order: int = 8
    ) -> None:
        self.high_hz = check_spec(high_hz, "high_hz", 1.0, 1e6)
        self.low_hz = None if low_hz is None else check_spec(low_hz, "low_hz", 1.0, 1e6)
        self.order = int(order)

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        high = min(draw(self.high_hz, rng), 0.499 * sample_rate)
        if self.low_hz is None:
            out = lowpass(samples, sample_rate, high, self.order)
            return out, {"band_limited": True, "low_hz": None, "high_hz": high}
        low = draw(self.low_hz, rng)
        out = bandpass(samples, sample_rate, low, high, max(1, self.order // 2))
        return out, {"band_limited": True, "low_hz": low, "high_hz": high}
