"""Signal levels shared by every transform: active power, SNR/SIR in dB, scaling to a target ratio.

Definition used throughout :mod:`voxref.augment`
-----------------------------------------------
The **active power** of a signal is its mean square computed only over its *active frames*:
the signal is cut into non-overlapping frames of ``frame_seconds`` (20 ms by default; a shorter
last frame is kept), each frame's mean square is computed, and a frame is active when its mean
square is within ``threshold_db`` (-50 dB by default) of the loudest frame. Digital silence,
leading/trailing padding and pauses far below the speech level therefore do not dilute the level.
Because the threshold is relative to the signal's own peak frame, the active frames do not
change when the signal is scaled, so scaling by ``g`` multiplies the active power by ``g**2``
exactly; that is what makes the achieved SNR equal to the requested one.

The **SNR** (or **SIR**) of a signal against an additive component is
``10 * log10(active_power(signal) / active_power(component))``: both sides are measured on their
own active frames. For stationary noise this equals its plain mean power; for a babble, an
interfering talker placed in one region, or a noise file with gaps, it is the level while it is
sounding. To measure a finished mixture, pass ``degraded - clean`` as the component.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> speech = np.concatenate([np.zeros(8000), 0.5 * np.ones(16000)])
>>> active_power(speech, 16000)  # the leading silence is ignored
0.25
>>> noise = 0.05 * rng.standard_normal(24000)
>>> round(snr_db(speech, noise, 16000), 1)
20.0
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SilentAudioError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DEFAULT_FRAME_SECONDS",
    "DEFAULT_THRESHOLD_DB",
    "frame_powers",
    "active_frame_mask",
    "active_sample_mask",
    "active_power",
    "active_power_torch",
    "snr_db",
    "gain_for_snr",
    "db_to_amplitude",
    "amplitude_to_db",
]

#: Frame length (seconds) of the active-power measurement.
DEFAULT_FRAME_SECONDS = 0.02
#: A frame is active when its mean square is above ``peak frame mean square * 10**(this/10)``.
DEFAULT_THRESHOLD_DB = -50.0


def _frame_length(sample_rate: int, frame_seconds: float) -> int:
    return max(1, int(round(frame_seconds * sample_rate)))


def frame_powers(
    samples: np.ndarray, sample_rate: int, frame_seconds: float = DEFAULT_FRAME_SECONDS
) -> np.ndarray:
    """Mean square of each non-overlapping frame (the last, shorter frame is kept).

    Parameters
    ----------
    samples
        1-D array.
    sample_rate
        Samples per second.
    frame_seconds
        Frame length in seconds.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(ceil(T / frame_length),)``.

    Examples
    --------
    >>> frame_powers(np.array([1.0, 1.0, 0.0, 2.0, 2.0]), 100, 0.02).tolist()
    [1.0, 2.0, 4.0]
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    n = _frame_length(sample_rate, frame_seconds)
    if x.size == 0:
        return np.zeros(0)
    full = (x.size // n) * n
    sq = x * x
    powers = sq[:full].reshape(-1, n).mean(axis=1)
    if full < x.size:
        powers = np.append(powers, sq[full:].mean())
    return powers


def active_frame_mask(
    samples: np.ndarray,
    sample_rate: int,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    frame_seconds: float = DEFAULT_FRAME_SECONDS,
) -> np.ndarray:
    """Boolean mask of the active frames (see the module docstring for the definition).

    All ``False`` when the signal is all zeros.

    Examples
    --------
    >>> x = np.concatenate([np.zeros(320), np.ones(320), 1e-4 * np.ones(320)])
    >>> active_frame_mask(x, 16000).tolist()
    [False, True, False]
    """
    p = frame_powers(samples, sample_rate, frame_seconds)
    if p.size == 0:
        return np.zeros(0, dtype=bool)
    peak = float(p.max())
    if peak <= 0.0:
        return np.zeros(p.shape, dtype=bool)
    return p >= peak * 10.0 ** (threshold_db / 10.0)


def active_sample_mask(
    samples: np.ndarray,
    sample_rate: int,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    frame_seconds: float = DEFAULT_FRAME_SECONDS,
) -> np.ndarray:
    """Per-sample version of :func:`active_frame_mask` (each sample takes its frame's value).

    Examples
    --------
    >>> x = np.concatenate([np.zeros(320), np.ones(10)])
    >>> m = active_sample_mask(x, 16000)
    >>> int(m.sum()), m.shape
    (10, (330,))
    """
    x = np.asarray(samples).reshape(-1)
    frames = active_frame_mask(x, sample_rate, threshold_db, frame_seconds)
    n = _frame_length(sample_rate, frame_seconds)
    return np.repeat(frames, n)[: x.size]


def active_power(
    samples: np.ndarray,
    sample_rate: int,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    frame_seconds: float = DEFAULT_FRAME_SECONDS,
) -> float:
    """Mean square over the active frames; ``0.0`` for an all-zero signal.

    Examples
    --------
    >>> x = np.concatenate([np.zeros(16000), 0.5 * np.ones(16000)])
    >>> active_power(x, 16000)
    0.25
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    mask = active_sample_mask(x, sample_rate, threshold_db, frame_seconds)
    if not mask.any():
        return 0.0
    sel = x[mask]
    return float(np.dot(sel, sel) / sel.size)


def active_power_torch(
    batch: torch.Tensor,
    sample_rate: int,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    frame_seconds: float = DEFAULT_FRAME_SECONDS,
) -> torch.Tensor:
    """Active power of each row of a ``(B, T)`` tensor (same definition as :func:`active_power`).

    Computed in float64; returns a float64 tensor of shape ``(B,)`` (0 for all-zero rows).

    Examples
    --------
    >>> import torch
    >>> b = torch.zeros(2, 32000)
    >>> b[0, 16000:] = 0.5
    >>> b[1] = 2.0
    >>> active_power_torch(b, 16000).tolist()
    [0.25, 4.0]
    """
    import torch

    x = batch.detach().to(torch.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a (batch, samples) tensor, got shape {tuple(batch.shape)}")
    b, t = x.shape
    n = _frame_length(sample_rate, frame_seconds)
    n_frames = -(-t // n)
    sq = torch.nn.functional.pad(x * x, (0, n_frames * n - t))
    sums = sq.reshape(b, n_frames, n).sum(dim=2)
    counts = torch.full((n_frames,), float(n), dtype=torch.float64, device=x.device)
    counts[-1] = t - (n_frames - 1) * n
    powers = sums / counts
    peak = powers.max(dim=1, keepdim=True).values
    active = (powers >= peak * 10.0 ** (threshold_db / 10.0)) & (peak > 0)
    num = (sums * active).sum(dim=1)
    den = (counts * active).sum(dim=1)
    return torch.where(den > 0, num / den.clamp_min(1.0), torch.zeros_like(num))


def snr_db(
    signal: np.ndarray,
    noise: np.ndarray,
    sample_rate: int,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    frame_seconds: float = DEFAULT_FRAME_SECONDS,
) -> float:
    """Signal-to-noise (or -interference) ratio in dB, each side on its active frames.

    Parameters
    ----------
    signal
        The clean signal (speech).
    noise
        The additive component; for a finished mixture pass ``degraded - clean``.
    sample_rate
        Samples per second of both.

    Returns
    -------
    float
        ``inf`` when ``noise`` is all zeros, ``-inf`` when ``signal`` is.

    Examples
    --------
    >>> s = np.ones(16000)
    >>> round(snr_db(s, 0.1 * s, 16000), 6)
    20.0
    """
    ps = active_power(signal, sample_rate, threshold_db, frame_seconds)
    pn = active_power(noise, sample_rate, threshold_db, frame_seconds)
    if pn == 0.0:
        return math.inf
    if ps == 0.0:
        return -math.inf
    return 10.0 * math.log10(ps / pn)


def gain_for_snr(
    signal: np.ndarray,
    noise: np.ndarray,
    sample_rate: int,
    target_snr_db: float,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    frame_seconds: float = DEFAULT_FRAME_SECONDS,
    source: str = "<array>",
) -> float:
    """Amplitude factor ``g`` such that ``snr_db(signal, g * noise) == target_snr_db``.

    Raises
    ------
    voxref.errors.SilentAudioError
        When ``signal`` or ``noise`` is all zeros (the ratio is undefined).

    Examples
    --------
    >>> s = np.ones(16000)
    >>> round(gain_for_snr(s, 2 * s, 16000, 20.0), 6)
    0.05
    """
    ps = active_power(signal, sample_rate, threshold_db, frame_seconds)
    pn = active_power(noise, sample_rate, threshold_db, frame_seconds)
    if ps == 0.0:
        raise SilentAudioError(
            "is all zeros: an SNR relative to it is undefined; skip this clip.", source
        )
    if pn == 0.0:
        raise SilentAudioError(
            "the noise/interference is all zeros over this length; give a non-silent noise.", source
        )
    return math.sqrt(ps / (pn * 10.0 ** (target_snr_db / 10.0)))


def db_to_amplitude(db: float) -> float:
    """``10 ** (db / 20)``.

    Examples
    --------
    >>> db_to_amplitude(-20.0)
    0.1
    """
    return float(10.0 ** (db / 20.0))


def amplitude_to_db(amplitude: float) -> float:
    """``20 * log10(amplitude)`` (``-inf`` for 0).

    Examples
    --------
    >>> amplitude_to_db(0.1)
    -20.0
    """
    return -math.inf if amplitude <= 0 else 20.0 * math.log10(amplitude)
