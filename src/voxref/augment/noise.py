"""Additive noise at a target SNR: seeded colored noise (white / pink / brown) or recorded noise.

The SNR is ``10 log10(active_power(speech) / active_power(noise))`` with the active-power
definition of :mod:`voxref.augment.levels` (20 ms frames within 50 dB of the loudest frame), so
silence around or inside the speech does not change how loud the noise is made. The achieved
SNR, measured with :func:`~voxref.augment.levels.snr_db` on ``degraded - clean``, equals the
requested one up to float32 rounding.

Colored noise has a power spectral density proportional to ``1 / f**exponent`` (white 0,
pink 1, brown 2) above ``min_freq`` (20 Hz) and flat below it (so brown noise is not dominated
by sub-audio drift), and unit RMS before scaling.

Examples
--------
>>> import numpy as np
>>> from voxref.augment.levels import snr_db
>>> speech = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype(np.float32)
>>> noisy = add_noise(speech, 16000, snr_db=5.0, noise="pink", seed=0)
>>> noisy.dtype, noisy.shape
(dtype('float32'), (16000,))
>>> round(snr_db(speech, noisy - speech, 16000), 2)
5.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from .base import ParamSpec, Transform, check_sample_rate, check_samples, check_spec, draw, make_rng
from .levels import active_power_torch, gain_for_snr
from .sources import SourceBank, fit_length

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["NOISE_COLORS", "NoiseSpec", "colored_noise", "add_noise", "mix_at_snr", "AddNoise"]

#: Spectral exponent of each named color (PSD ~ 1 / f**exponent).
NOISE_COLORS: dict[str, float] = {"white": 0.0, "pink": 1.0, "brown": 2.0}

#: A color name, a spectral exponent, or a recorded source (array, (array, rate), file, folder).
NoiseSpec = str | float | np.ndarray | tuple | os.PathLike


def _exponent(color: str | float) -> float:
    if isinstance(color, str):
        if color not in NOISE_COLORS:
            raise ConfigError(
                f"unknown noise color {color!r}; use one of {sorted(NOISE_COLORS)} or an exponent."
            )
        return NOISE_COLORS[color]
    return float(color)


def colored_noise(
    num_samples: int,
    sample_rate: int,
    color: str | float = "white",
    *,
    min_freq: float = 20.0,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Gaussian noise with PSD ``~ 1/f**exponent`` and unit RMS (float32).

    Parameters
    ----------
    num_samples
        Length of the result.
    sample_rate
        Samples per second (sets where ``min_freq`` lies).
    color
        ``"white"``, ``"pink"``, ``"brown"`` or a spectral exponent.
    min_freq
        Below this frequency (Hz) the spectrum is flat at its ``min_freq`` level; DC is removed.
    seed, rng
        Randomness (see :mod:`voxref.augment.base`).

    Examples
    --------
    >>> n = colored_noise(16000, 16000, "brown", seed=1)
    >>> n.dtype, round(float(np.sqrt(np.mean(n.astype(np.float64) ** 2))), 3)
    (dtype('float32'), 1.0)
    """
    sr = check_sample_rate(sample_rate)
    a = _exponent(color)
    g = make_rng(seed, rng)
    white = g.standard_normal(int(num_samples))
    if num_samples < 2:
        return white.astype(np.float32)
    if a != 0.0:
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(int(num_samples), d=1.0 / sr)
        f = np.maximum(f, max(min_freq, f[1]))
        spec *= f ** (-a / 2.0)
        spec[0] = 0.0
        x = np.fft.irfft(spec, n=int(num_samples))
    else:
        x = white - white.mean()
    rms = math.sqrt(float(np.mean(x * x)))
    return (x / rms if rms > 0 else x).astype(np.float32)


def mix_at_snr(
    samples: np.ndarray, noise: np.ndarray, sample_rate: int, snr_db: float
) -> np.ndarray:
    """``samples + g * noise`` with ``g`` set for the target SNR (same dtype as ``samples``).

    Examples
    --------
    >>> s = np.ones(1600, dtype=np.float32)
    >>> mix_at_snr(s, -s, 16000, 0.0).max()
    np.float32(0.0)
    """
    x = check_samples(samples)
    n = np.asarray(noise, dtype=np.float64).reshape(-1)
    if n.shape != x.shape:
        raise ConfigError(
            f"noise has {n.size} samples, the signal {x.size}; fit it first (sources.fit_length)."
        )
    g = gain_for_snr(x, n, sample_rate, snr_db)
    return (x.astype(np.float64) + g * n).astype(x.dtype)


class AddNoise(Transform):
    """Add noise at an SNR drawn from ``snr_db``.

    Parameters
    ----------
    snr_db
        SNR in dB: a number, a ``(low, high)`` range or a list of values.
    noise
        A :data:`NoiseSpec` or a list of them; each call draws one entry uniformly (a folder
        entry then draws one file). Colors are generated fresh from the call's generator;
        recordings are cropped at a random offset or looped to the signal's length.
    min_freq
        Low-frequency limit of the colored noise spectra (Hz).

    Examples
    --------
    >>> t = AddNoise(snr_db=(0.0, 20.0), noise=["white", "pink", "brown"])
    >>> x = np.sin(np.arange(8000) / 5).astype(np.float32)
    >>> out, params = t.apply(x, 16000, np.random.default_rng(0))
    >>> sorted(params)
    ['exponent', 'noise_source', 'noise_type', 'snr_db']
    >>> np.array_equal(t(x, 16000, seed=4), t(x, 16000, seed=4))
    True
    """

    name = "noise"

    def __init__(
        self,
        snr_db: ParamSpec = (0.0, 20.0),
        noise: NoiseSpec | Sequence[NoiseSpec] = "white",
        *,
        min_freq: float = 20.0,
    ) -> None:
        self.snr_db = check_spec(snr_db, "snr_db", -60.0, 120.0)
        self.min_freq = float(min_freq)
        entries = self._entries(noise)
        self._colors: list[float | None] = []
        self._labels: list[str] = []
        recorded: list[Any] = []
        for e in entries:
            if isinstance(e, str) and e in NOISE_COLORS:
                self._colors.append(NOISE_COLORS[e])
                self._labels.append(e)
            elif isinstance(e, (int, float)) and not isinstance(e, bool):
                self._colors.append(float(e))
                self._labels.append(self._label_for_exponent(float(e)))
            else:
                if isinstance(e, str) and not Path(e).exists():
                    raise ConfigError(
                        f"noise={e!r} is neither a color ({sorted(NOISE_COLORS)}) nor an existing file/folder."
                    )
                self._colors.append(None)
                self._labels.append("recorded")
                recorded.append(e)
        # each recorded entry is its own bank, so a folder counts as one entry of the choice
        self._banks = [SourceBank([r]) for r in recorded]
        self.noise = noise

    @staticmethod
    def _entries(noise: Any) -> list[Any]:
        if isinstance(noise, (str, os.PathLike, np.ndarray, int, float)):
            return [noise]
        if isinstance(noise, tuple) and len(noise) == 2 and np.isscalar(noise[1]):
            return [noise]
        entries = list(noise)
        if not entries:
            raise ConfigError("noise=[]: give at least one color or recording.")
        return entries

    @staticmethod
    def _label_for_exponent(a: float) -> str:
        for k, v in NOISE_COLORS.items():
            if v == a:
                return k
        return "colored"

    def draw_noise(
        self, num_samples: int, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw the SNR and a noise of ``num_samples`` (unscaled); return ``(noise, params)``."""
        snr = draw(self.snr_db, rng)
        k = int(rng.integers(len(self._colors)))
        color = self._colors[k]
        if color is not None:
            n = colored_noise(num_samples, sample_rate, color, min_freq=self.min_freq, rng=rng)
            source = self._labels[k]
        else:
            bank = self._banks[sum(c is None for c in self._colors[:k])]
            j = bank.pick(rng)
            n = fit_length(bank.get(j, sample_rate), num_samples, rng)
            source = bank.describe(j)
        params = {
            "noise_type": self._labels[k],
            "exponent": color,
            "noise_source": source,
            "snr_db": snr,
        }
        return n, params

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        noise, params = self.draw_noise(samples.size, sample_rate, rng)
        return mix_at_snr(samples, noise, sample_rate, params["snr_db"]), params

    def _apply_batch(
        self, batch: torch.Tensor, sample_rate: int, rngs: list[np.random.Generator]
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        import torch

        from ..errors import SilentAudioError

        t = batch.shape[1]
        drawn = [self.draw_noise(t, sample_rate, r) for r in rngs]
        noise = torch.from_numpy(np.stack([d[0] for d in drawn]).astype(np.float64)).to(
            batch.device
        )
        snr = torch.tensor(
            [d[1]["snr_db"] for d in drawn], dtype=torch.float64, device=batch.device
        )
        ps = active_power_torch(batch, sample_rate)
        pn = active_power_torch(noise, sample_rate)
        if bool((ps == 0).any()) or bool((pn == 0).any()):
            raise SilentAudioError("a batch item or its noise is all zeros: its SNR is undefined.")
        g = torch.sqrt(ps / (pn * 10.0 ** (snr / 10.0)))
        out = batch.detach().to(torch.float64) + g[:, None] * noise
        return out.to(batch.dtype), [d[1] for d in drawn]


def add_noise(
    samples: np.ndarray,
    sample_rate: int,
    snr_db: float,
    noise: NoiseSpec | Sequence[NoiseSpec] = "white",
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Function form of :class:`AddNoise` with a fixed SNR.

    Examples
    --------
    >>> x = np.sin(np.arange(8000) / 5).astype(np.float32)
    >>> add_noise(x, 16000, 10.0, "brown", seed=0).shape
    (8000,)
    """
    return AddNoise(snr_db=float(snr_db), noise=noise)(samples, sample_rate, seed=seed, rng=rng)
