"""Speed perturbation (resampling: tempo and pitch change together) and pitch shift (tempo kept).

* :func:`speed_perturb` plays the signal ``factor`` times faster, Kaldi-style: polyphase
  resampling by the rational ``factor`` (denominator <= 100), so duration is divided and every
  frequency multiplied by it. With ``keep_length=True`` (the default, so batches keep their shape)
  the result is cut, or zero-padded at the end, to the input length; the log records the
  natural length.
* :func:`pitch_shift` moves every frequency by ``semitones`` and keeps the duration: a phase
  vocoder (STFT, 32 ms Hann window, 75 % overlap) stretches time by the ratio
  ``r = 2 ** (semitones / 12)`` (approximated by a fraction with denominator <= 64; the achieved
  value is logged), then resampling by ``1 / r`` restores the length.

``torch_audiomentations.PitchShift`` is not reused: its phase vocoder (via ``torch_pitch_shift``,
hop of 7 samples) is far slower than real time on short clips, and it draws its shifts from
Python's global ``random``.

Examples
--------
>>> import numpy as np
>>> sr = 16000
>>> tone = np.sin(2 * np.pi * 200 * np.arange(sr) / sr).astype(np.float32)
>>> fast = speed_perturb(tone, sr, 1.1, keep_length=False)
>>> fast.shape
(14546,)
>>> shifted = pitch_shift(tone, sr, 2.0)
>>> shifted.shape, shifted.dtype
((16000,), dtype('float32'))
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import ParamSpec, Transform, check_sample_rate, check_samples, check_spec, draw
from .levels import active_power

__all__ = ["speed_perturb", "time_stretch", "pitch_shift", "SpeedPerturb", "PitchShift"]


def _ratio(value: float, max_denominator: int) -> Fraction:
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"ratio {value!r} must be a positive number.")
    return Fraction(value).limit_denominator(max_denominator)


def _resample_ratio(x: np.ndarray, up: int, down: int) -> np.ndarray:
    from scipy.signal import resample_poly

    if up == down:
        return np.asarray(x, dtype=np.float64)
    return resample_poly(np.asarray(x, dtype=np.float64), up, down)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    m = min(n, y.size)
    out[:m] = y[:m]
    return out


def speed_perturb(
    samples: np.ndarray, sample_rate: int, factor: float, *, keep_length: bool = True
) -> np.ndarray:
    """Play ``factor`` times faster (``factor > 1`` shorter and higher), dtype preserved.

    Parameters
    ----------
    samples
        1-D float signal.
    sample_rate
        Its rate (unchanged by the operation).
    factor
        Speed factor, e.g. 0.9, 1.0, 1.1.
    keep_length
        Cut or zero-pad (at the end) to the input length.

    Examples
    --------
    >>> speed_perturb(np.ones(1000, dtype=np.float32), 16000, 0.9, keep_length=False).shape
    (1112,)
    """
    x = check_samples(samples)
    check_sample_rate(sample_rate)
    f = _ratio(factor, 100)
    y = _resample_ratio(x, f.denominator, f.numerator)
    if keep_length:
        y = _fit(y, x.size)
    return y.astype(x.dtype)


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    win = np.hanning(n_fft + 1)[:-1]
    pad = n_fft // 2
    xp = np.pad(x, (pad, pad + n_fft))
    n_frames = 1 + (x.size + 2 * pad - n_fft) // hop + 1
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop][:n_frames]
    return np.fft.rfft(frames * win, axis=1).T


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    win = np.hanning(n_fft + 1)[:-1]
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * win
    k = frames.shape[0]
    per = n_fft // hop
    total = (k + per) * hop
    y = np.zeros(total).reshape(-1, hop)
    wsum = np.zeros(total).reshape(-1, hop)
    w2 = (win * win).reshape(per, hop)
    for j in range(per):
        y[j : j + k] += frames[:, j * hop : (j + 1) * hop]
        wsum[j : j + k] += w2[j]
    y, wsum = y.reshape(-1), wsum.reshape(-1)
    y = np.where(wsum > 1e-8, y / np.maximum(wsum, 1e-8), 0.0)
    pad = n_fft // 2
    return _fit(y[pad:], length)


def time_stretch(
    samples: np.ndarray,
    sample_rate: int,
    rate: float,
    *,
    n_fft: int | None = None,
) -> np.ndarray:
    """Phase-vocoder time stretch: ``rate > 1`` is faster; length ``round(T / rate)``; pitch kept.

    Parameters
    ----------
    samples
        1-D float signal.
    sample_rate
        Its rate (sets the default ``n_fft``: the power of two nearest 32 ms).
    rate
        Tempo factor.
    n_fft
        STFT size (hop is ``n_fft // 4``).

    Examples
    --------
    >>> time_stretch(np.ones(16000, dtype=np.float32), 16000, 2.0).shape
    (8000,)
    """
    x = check_samples(samples)
    sr = check_sample_rate(sample_rate)
    if not (rate > 0 and math.isfinite(rate)):
        raise ConfigError(f"rate={rate!r} must be a positive number.")
    n_fft = int(n_fft or 2 ** round(math.log2(0.032 * sr)))
    hop = n_fft // 4
    out_len = int(round(x.size / rate))
    if x.size == 0 or out_len == 0:
        return np.zeros(out_len, dtype=x.dtype)
    spec = _stft(x.astype(np.float64), n_fft, hop)
    n_bins, n_frames = spec.shape
    steps = np.arange(0.0, n_frames - 1, rate)
    i = steps.astype(np.int64)
    alpha = (steps - i)[None, :]
    mag = np.abs(spec)
    out_mag = (1.0 - alpha) * mag[:, i] + alpha * mag[:, i + 1]
    phase = np.angle(spec)
    advance = 2.0 * np.pi * hop * np.arange(n_bins) / n_fft
    dphi = phase[:, 1:] - phase[:, :-1] - advance[:, None]
    dphi -= 2.0 * np.pi * np.round(dphi / (2.0 * np.pi))
    inc = advance[:, None] + dphi[:, i]
    acc = phase[:, :1] + np.concatenate(
        [np.zeros((n_bins, 1)), np.cumsum(inc[:, :-1], axis=1)], axis=1
    )
    y = _istft(out_mag * np.exp(1j * acc), n_fft, hop, out_len)
    return y.astype(x.dtype)


def pitch_shift(
    samples: np.ndarray, sample_rate: int, semitones: float, *, n_fft: int | None = None
) -> np.ndarray:
    """Shift pitch by ``semitones`` keeping duration (see module docstring); dtype preserved.

    Examples
    --------
    >>> pitch_shift(np.zeros(4000, dtype=np.float32), 16000, -3.0).shape
    (4000,)
    """
    x = check_samples(samples)
    sr = check_sample_rate(sample_rate)
    r = _ratio(2.0 ** (semitones / 12.0), 64)
    if r == 1:
        return x.copy()
    stretched = time_stretch(x.astype(np.float64), sr, 1.0 / float(r), n_fft=n_fft)
    y = _fit(_resample_ratio(stretched, r.denominator, r.numerator), x.size)
    p_in, p_out = active_power(x, sr), active_power(y, sr)
    if p_out > 0:  # the vocoder loses a little level (phasiness): restore the input's
        y *= math.sqrt(p_in / p_out)
    return y.astype(x.dtype)


class SpeedPerturb(Transform):
    """Speed perturbation with a factor drawn from ``factor`` (default Kaldi's 0.9/1.0/1.1).

    Like every transform it keeps the input length (cut, or zero-padded at the end); the
    natural length is logged as ``natural_length``. For the natural length itself call
    :func:`speed_perturb` with ``keep_length=False``.

    Examples
    --------
    >>> out, p = SpeedPerturb([0.9, 1.1]).apply(np.ones(1600, dtype=np.float32), 16000, np.random.default_rng(0))
    >>> p["speed"] in (0.9, 1.1), out.shape
    (True, (1600,))
    """

    name = "speed"

    def __init__(self, factor: ParamSpec = [0.9, 1.0, 1.1]) -> None:  # noqa: B006
        self.factor = check_spec(factor, "factor", 0.1, 10.0)

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        f = draw(self.factor, rng)
        out = speed_perturb(samples, sample_rate, f, keep_length=True)
        natural = int(math.ceil(samples.size / float(_ratio(f, 100))))
        return out, {"speed": f, "natural_length": natural}


class PitchShift(Transform):
    """Pitch shift by a drawn number of semitones (duration kept).

    Examples
    --------
    >>> _, p = PitchShift((-2.0, 2.0)).apply(np.ones(1600, dtype=np.float32), 16000, np.random.default_rng(0))
    >>> abs(p["semitones"] - p["requested_semitones"]) < 0.05
    True
    """

    name = "pitch"

    def __init__(self, semitones: ParamSpec = (-2.0, 2.0)) -> None:
        self.semitones = check_spec(semitones, "semitones", -24.0, 24.0)

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        s = draw(self.semitones, rng)
        achieved = 12.0 * math.log2(float(_ratio(2.0 ** (s / 12.0), 64)))
        return pitch_shift(samples, sample_rate, s), {
            "semitones": achieved,
            "requested_semitones": s,
        }
