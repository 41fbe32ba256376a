"""Reverberation: synthetic or recorded room impulse responses (RIRs), and RT60 measurement.

Synthetic model (default)
-------------------------
``h[0] = 1`` is the direct path. It is followed by a few sparse early reflections (1-50 ms) and
a late tail of low-pass filtered Gaussian noise, both under the envelope
``exp(-3 ln(10) t / rt60)`` (energy falls 60 dB in ``rt60`` seconds). The reverberant part
(early + late) is scaled so that the direct-to-reverberant ratio
``DRR = 10 log10(h[0]**2 / sum(h[1:]**2))`` equals ``drr_db``. The RIR lasts
``1.5 * rt60 + 0.05`` s (90 dB of decay) unless ``duration`` is given.

``pyroomacoustics`` shoebox rooms (image source method) are used when ``method="shoebox"``
and the package is installed (it is optional; not a voxref dependency). Checked once with
pyroomacoustics 0.10.1: 1.4-2 s per RIR on one core (too slow to draw per training example:
precompute a folder of RIRs and pass it as ``rirs``), and the Sabine-designed rooms measure
0.34 s for 0.3 s and 0.79 s for 0.6 s, so the *measured* RT60 is what gets logged.

Convolution (:func:`convolve_rir`) uses :func:`scipy.signal.fftconvolve`; the output is
aligned to the direct path (the RIR's largest-magnitude sample, or the index you give), cut to
the input's length, and by default rescaled to the input's active power
(:mod:`voxref.augment.levels`), so reverb does not change the level.

:func:`measure_rt60` estimates the RT60 of an RIR by Schroeder backward integration with a
line fitted to the energy decay curve between -5 and -25 dB (T20) or -5 and -35 dB (T30),
extrapolated to 60 dB. No noise-floor compensation is done: for recorded RIRs with a high
noise floor, crop the RIR where it reaches the floor first.

Examples
--------
>>> import numpy as np
>>> h = synthetic_rir(16000, rt60=0.5, drr_db=3.0, seed=0)
>>> abs(measure_rt60(h, 16000) - 0.5) < 0.05
True
>>> x = np.sin(np.arange(16000) / 9).astype(np.float32)
>>> y = reverberate(x, 16000, rt60=0.5, seed=0)
>>> y.shape, y.dtype
((16000,), dtype('float32'))
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AudioError, ConfigError, optional_dependency
from .base import (
    ParamSpec,
    Transform,
    check_sample_rate,
    check_samples,
    check_spec,
    draw,
    make_rng,
)
from .levels import active_power, active_power_torch
from .sources import SourceBank, SourceLike

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "synthetic_rir",
    "shoebox_rir",
    "measure_rt60",
    "direct_path_index",
    "direct_to_reverberant_db",
    "convolve_rir",
    "reverberate",
    "Reverb",
]

_DECAY = 3.0 * math.log(10.0)  # amplitude envelope exp(-_DECAY t / rt60): -60 dB energy at rt60


def synthetic_rir(
    sample_rate: int,
    rt60: float,
    *,
    drr_db: float = 5.0,
    duration: float | None = None,
    num_early: int = 8,
    lowpass_hz: float | None = 5000.0,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Exponentially decaying filtered-noise RIR (direct path at index 0), float32.

    Parameters
    ----------
    sample_rate
        Samples per second.
    rt60
        Reverberation time in seconds (60 dB energy decay), > 0.
    drr_db
        Direct-to-reverberant energy ratio in dB.
    duration
        RIR length in seconds (default ``1.5 * rt60 + 0.05``).
    num_early
        Number of sparse early reflections between 1 and 50 ms.
    lowpass_hz
        Cut-off of the one-pole low-pass applied to the tail noise (``None``: white tail).
    seed, rng
        Randomness.

    Examples
    --------
    >>> h = synthetic_rir(16000, 0.4, drr_db=0.0, seed=1)
    >>> int(np.argmax(np.abs(h))), abs(round(direct_to_reverberant_db(h), 3))
    (0, 0.0)
    """
    sr = check_sample_rate(sample_rate)
    if not (rt60 > 0 and math.isfinite(rt60)):
        raise ConfigError(f"rt60={rt60!r} s must be a positive number.")
    g = make_rng(seed, rng)
    dur = 1.5 * rt60 + 0.05 if duration is None else float(duration)
    n = max(2, int(round(dur * sr)))
    t = np.arange(n) / sr
    env = np.exp(-_DECAY * t / rt60)
    tail = g.standard_normal(n)
    if lowpass_hz is not None and lowpass_hz < sr / 2:
        from scipy.signal import lfilter

        a = math.exp(-2.0 * math.pi * lowpass_hz / sr)
        tail = lfilter([1.0 - a], [1.0, -a], tail)
        tail /= math.sqrt(float(np.mean(tail * tail)))
    rev = tail * env
    # early reflections: sparse, louder than the tail around them
    lo, hi = max(1, int(0.001 * sr)), min(n - 1, int(0.05 * sr))
    if num_early > 0 and hi > lo:
        pos = g.integers(lo, hi, size=num_early)
        amp = g.uniform(2.0, 6.0, size=num_early) * g.choice([-1.0, 1.0], size=num_early)
        np.add.at(rev, pos, amp * env[pos])
    rev[0] = 0.0
    e_rev = float(np.sum(rev * rev))
    rev *= math.sqrt(10.0 ** (-drr_db / 10.0) / e_rev)
    rev[0] = 1.0
    return rev.astype(np.float32)


def shoebox_rir(
    sample_rate: int,
    rt60: float,
    *,
    room_dim: Sequence[float] | None = None,
    max_order: int | None = None,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """RIR of a random shoebox room with the given RT60 (needs ``pyroomacoustics``).

    The room size (if not given) and source/microphone positions (at least 0.5 m from the
    walls) are drawn from the generator; wall absorption and image-source order come from
    ``pyroomacoustics.inverse_sabine``. Returned as float32, starting at the direct path.

    Examples
    --------
    >>> h = shoebox_rir(16000, 0.4, seed=0)  # doctest: +SKIP
    """
    with optional_dependency(
        "pyroomacoustics", "pyroomacoustics", "Shoebox room simulation (method='shoebox')"
    ):
        import pyroomacoustics as pra
    sr = check_sample_rate(sample_rate)
    g = make_rng(seed, rng)
    if room_dim is None:
        room_dim = [g.uniform(3.0, 10.0), g.uniform(3.0, 8.0), g.uniform(2.5, 4.0)]
    dims = np.asarray(room_dim, dtype=float)
    absorption, order = pra.inverse_sabine(float(rt60), dims)
    room = pra.ShoeBox(
        dims, fs=sr, materials=pra.Material(absorption), max_order=int(max_order or order)
    )
    room.add_source(g.uniform(0.5, dims - 0.5))
    room.add_microphone(g.uniform(0.5, dims - 0.5))
    room.compute_rir()
    h = np.asarray(room.rir[0][0], dtype=np.float64)
    h = h[direct_path_index(h) :]
    return (h / np.max(np.abs(h))).astype(np.float32)


def direct_path_index(rir: np.ndarray) -> int:
    """Index of the direct path: the RIR's largest-magnitude sample.

    Examples
    --------
    >>> direct_path_index(np.array([0.0, 0.1, -0.9, 0.3]))
    2
    """
    return int(np.argmax(np.abs(np.asarray(rir))))


def direct_to_reverberant_db(rir: np.ndarray, direct_index: int | None = None) -> float:
    """DRR in dB: energy of the direct-path sample over the energy after it.

    Examples
    --------
    >>> direct_to_reverberant_db(np.array([1.0, 0.5, 0.5, 0.5, 0.5]))
    0.0
    """
    h = np.asarray(rir, dtype=np.float64)
    d = direct_path_index(h) if direct_index is None else int(direct_index)
    e_rev = float(np.sum(h[d + 1 :] ** 2))
    return math.inf if e_rev == 0 else 10.0 * math.log10(float(h[d] ** 2) / e_rev)


def measure_rt60(rir: np.ndarray, sample_rate: int, method: str = "T30") -> float:
    """RT60 (s) by Schroeder backward integration, T20 or T30 extrapolated to 60 dB.

    The energy decay curve starts at the direct path; a least-squares line is fitted to it
    between -5 dB and -25 dB (``"T20"``) or -35 dB (``"T30"``).

    Raises
    ------
    voxref.errors.AudioError
        When the decay curve does not reach the lower level (RIR too short or too noisy).

    Examples
    --------
    >>> sr = 8000
    >>> h = np.exp(-3 * np.log(10) * np.arange(sr) / sr / 0.6)  # smooth 0.6 s decay
    >>> round(measure_rt60(h, sr, "T20"), 3)
    0.6
    """
    sr = check_sample_rate(sample_rate)
    levels = {"T20": -25.0, "T30": -35.0}
    if method not in levels:
        raise ConfigError(f"method={method!r}; use 'T20' or 'T30'.")
    h = np.asarray(rir, dtype=np.float64).reshape(-1)
    if h.size == 0 or not np.any(h):
        raise AudioError("the RIR is empty or all zeros.")
    h = h[direct_path_index(h) :]
    edc = np.cumsum((h * h)[::-1])[::-1]
    with np.errstate(divide="ignore"):
        edc_db = 10.0 * np.log10(edc / edc[0])
    lo, hi = -5.0, levels[method]
    if edc_db[-1] > hi:
        raise AudioError(
            f"the RIR's energy decays only {-edc_db[-1]:.1f} dB; {method} needs {-hi:.0f} dB. "
            "Give a longer RIR (or use method='T20')."
        )
    i0 = int(np.argmax(edc_db <= lo))
    i1 = int(np.argmax(edc_db <= hi))
    idx = np.arange(i0, max(i1, i0 + 2))
    slope, _ = np.polyfit(idx / sr, edc_db[idx], 1)
    if slope >= 0:
        raise AudioError(
            "the RIR's energy decay curve does not decay; is this an impulse response?"
        )
    return float(-60.0 / slope)


def _measure_or_nan(rir: np.ndarray, sample_rate: int) -> float:
    """T30, else T20, else ``nan`` (RIR too short or too noisy to measure)."""
    for method in ("T30", "T20"):
        try:
            return measure_rt60(rir, sample_rate, method)
        except AudioError:
            continue
    return math.nan


def convolve_rir(
    samples: np.ndarray,
    sample_rate: int,
    rir: np.ndarray,
    *,
    direct_index: int | None = None,
    preserve_level: bool = True,
) -> np.ndarray:
    """Convolve with an RIR, aligned to its direct path, same length and dtype as ``samples``.

    Parameters
    ----------
    samples
        1-D float signal.
    sample_rate
        Samples per second (of both the signal and the RIR).
    rir
        Impulse response.
    direct_index
        Direct-path index (default :func:`direct_path_index`).
    preserve_level
        Rescale the output to the input's active power.

    Examples
    --------
    >>> x = np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32)
    >>> np.round(convolve_rir(x, 16000, np.array([0.0, 1.0, 0.5]), preserve_level=False), 6).tolist()
    [0.0, 1.0, 0.5, 0.0]
    """
    from scipy.signal import fftconvolve

    x = check_samples(samples)
    sr = check_sample_rate(sample_rate)
    h = np.asarray(rir, dtype=np.float64).reshape(-1)
    d = direct_path_index(h) if direct_index is None else int(direct_index)
    y = fftconvolve(x.astype(np.float64), h)[d : d + x.size]
    if preserve_level:
        p_in, p_out = active_power(x, sr), active_power(y, sr)
        if p_out > 0:
            y *= math.sqrt(p_in / p_out)
    return y.astype(x.dtype)


class Reverb(Transform):
    """Convolve with a synthetic RIR (drawn RT60 / DRR) or one of the given RIRs.

    Parameters
    ----------
    rt60
        RT60 spec in seconds (synthetic and shoebox RIRs).
    drr_db
        Direct-to-reverberant ratio spec in dB (synthetic RIRs).
    rirs
        Recorded RIRs (arrays at the call's rate, ``(array, rate)`` pairs, files, folders). When
        given, one is drawn per call and ``rt60``/``drr_db`` are ignored; the logged ``rt60`` is
        measured (T30, else T20, else ``nan``).
    method
        ``"synthetic"`` (default) or ``"shoebox"`` (pyroomacoustics; logs the measured RT60
        as ``rt60`` and the drawn one as ``requested_rt60``).
    preserve_level
        Keep the input's active power.

    Examples
    --------
    >>> t = Reverb(rt60=(0.3, 0.9))
    >>> x = np.sin(np.arange(8000) / 9).astype(np.float32)
    >>> out, params = t.apply(x, 16000, np.random.default_rng(0))
    >>> 0.3 <= params["rt60"] <= 0.9, out.shape
    (True, (8000,))
    """

    name = "reverb"

    def __init__(
        self,
        rt60: ParamSpec = (0.3, 0.9),
        drr_db: ParamSpec = (0.0, 10.0),
        *,
        rirs: SourceLike | Sequence[SourceLike] | None = None,
        method: str = "synthetic",
        preserve_level: bool = True,
    ) -> None:
        self.rt60 = check_spec(rt60, "rt60", 1e-3, 20.0)
        self.drr_db = check_spec(drr_db, "drr_db", -40.0, 60.0)
        if method not in ("synthetic", "shoebox"):
            raise ConfigError(f"method={method!r}; use 'synthetic' or 'shoebox'.")
        self.method = method
        self.preserve_level = bool(preserve_level)
        self._bank = None if rirs is None else SourceBank(rirs)
        self._measured: dict[tuple[int, int], float] = {}

    def _repr_fields(self) -> dict[str, Any]:
        return {
            "rt60": self.rt60,
            "drr_db": self.drr_db,
            "rirs": None if self._bank is None else len(self._bank),
            "method": self.method,
            "preserve_level": self.preserve_level,
        }

    def _measured_rt60(self, index: int, rir: np.ndarray, sample_rate: int) -> float:
        key = (index, sample_rate)
        if key not in self._measured:
            self._measured[key] = _measure_or_nan(rir, sample_rate)
        return self._measured[key]

    def draw_rir(
        self, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw one RIR and its parameters."""
        if self._bank is not None:
            j = self._bank.pick(rng)
            h = np.asarray(self._bank.get(j, sample_rate), dtype=np.float64)
            params = {
                "rir_source": self._bank.describe(j),
                "rt60": self._measured_rt60(j, h, sample_rate),
                "drr_db": direct_to_reverberant_db(h),
            }
            return h, params
        rt60 = draw(self.rt60, rng)
        if self.method == "shoebox":
            h = shoebox_rir(sample_rate, rt60, rng=rng)
            params = {
                "rir_source": "shoebox",
                "rt60": _measure_or_nan(h, sample_rate),  # Sabine's rt60 is only approximate
                "requested_rt60": rt60,
                "drr_db": direct_to_reverberant_db(h),
            }
            return h, params
        drr = draw(self.drr_db, rng)
        h = synthetic_rir(sample_rate, rt60, drr_db=drr, rng=rng)
        return h, {"rir_source": "synthetic", "rt60": rt60, "drr_db": drr}

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        h, params = self.draw_rir(sample_rate, rng)
        out = convolve_rir(samples, sample_rate, h, preserve_level=self.preserve_level)
        return out, params

    def _apply_batch(
        self, batch: torch.Tensor, sample_rate: int, rngs: list[np.random.Generator]
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        import torch

        b, t = batch.shape
        drawn = [self.draw_rir(sample_rate, r) for r in rngs]
        length = max(len(h) for h, _ in drawn)
        rirs = np.zeros((b, length))
        for i, (h, _) in enumerate(drawn):
            d = direct_path_index(h)
            rirs[i, : len(h) - d] = h[d:]
        n_fft = 1 << int(math.ceil(math.log2(t + length - 1)))
        x = batch.detach().to(torch.float64)
        hr = torch.from_numpy(rirs).to(x.device)
        y = torch.fft.irfft(torch.fft.rfft(x, n_fft) * torch.fft.rfft(hr, n_fft), n_fft)[:, :t]
        if self.preserve_level:
            p_in, p_out = active_power_torch(x, sample_rate), active_power_torch(y, sample_rate)
            y = (
                y
                * torch.where(
                    p_out > 0, torch.sqrt(p_in / p_out.clamp_min(1e-300)), torch.ones_like(p_in)
                )[:, None]
            )
        return y.to(batch.dtype), [p for _, p in drawn]


def reverberate(
    samples: np.ndarray,
    sample_rate: int,
    rt60: float | None = 0.5,
    *,
    drr_db: float = 5.0,
    rir: np.ndarray | str | os.PathLike | None = None,
    preserve_level: bool = True,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Function form of :class:`Reverb`: a synthetic RIR with ``rt60``/``drr_db``, or ``rir``.

    Examples
    --------
    >>> x = np.sin(np.arange(4000) / 9).astype(np.float32)
    >>> reverberate(x, 16000, rt60=0.3, seed=0).shape
    (4000,)
    """
    if rir is not None:
        t = Reverb(rirs=[rir], preserve_level=preserve_level)
    else:
        if rt60 is None:
            raise ConfigError("give rt60=... (seconds) or rir=...")
        t = Reverb(rt60=float(rt60), drr_db=float(drr_db), preserve_level=preserve_level)
    return t(samples, sample_rate, seed=seed, rng=rng)
