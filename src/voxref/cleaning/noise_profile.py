"""What kind of noise a recording holds: how strongly its noise floor is modulated in time.

Stationary noise (fans, hiss, hum, coloured noise) has a steady spectrum: its band powers,
averaged over 64 ms, fluctuate little from one block to the next. Babble, music, a second
talker or a reverberant tail are *modulated*: syllables come and go at 2-8 Hz. Denoisers such as
DeepFilterNet3 remove stationary noise well; on modulated "noise" they carve into speech-like
energy and move the speaker embedding (``benchmarks/clean/denoise_decision.py``). The
``"auto"`` denoising policy therefore looks at both the estimated SNR and
:func:`noise_modulation`.

:func:`noise_modulation` is the median over 12 bands (250-6000 Hz, log-spaced) of the standard
deviation (natural log units) of 64 ms block band powers, over the quietest
:data:`QUIET_FRACTION` of the blocks (where the noise shows, between and under the speech).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> hiss = 0.05 * rng.standard_normal(3 * 16000)
>>> t = np.arange(3 * 16000) / 16000
>>> wobble = hiss * (1.0 + 0.9 * np.sin(2 * np.pi * 4 * t))  # 4 Hz amplitude modulation
>>> bool(noise_modulation(hiss, 16000) < 0.3 < noise_modulation(wobble, 16000))
True
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["noise_modulation", "QUIET_FRACTION", "BLOCK_SECONDS"]

#: Fraction of blocks (the quietest) that the modulation is measured on.
QUIET_FRACTION = 0.3
#: Length of the blocks band powers are averaged over (s).
BLOCK_SECONDS = 0.064
_BANDS = np.geomspace(250.0, 6000.0, 13)


def noise_modulation(samples: np.ndarray, sample_rate: int, regions: object = None) -> float:
    """Median (over bands) std of log band power across the quietest 64 ms blocks.

    Parameters
    ----------
    samples
        Mono audio.
    sample_rate
        Its rate (Hz); bands above the Nyquist frequency are ignored.
    regions
        Unused (kept so callers can pass the VAD's regions when a future version uses them).

    Returns
    -------
    float
        About 0.1-0.25 for stationary noise, 0.4 and more for babble and other modulated
        interference; ``nan`` for clips shorter than 8 blocks.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if sample_rate <= 0:
        raise ConfigError(f"sample_rate must be positive; got {sample_rate}.")
    n_fft = 512 if sample_rate <= 24_000 else 1024
    hop = n_fft // 2
    if len(x) < n_fft * 4:
        return float("nan")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = _BANDS[_BANDS < sample_rate / 2]
    bands = np.stack(
        [power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in zip(edges, edges[1:])],
        axis=1,
    )
    per_block = max(1, round(BLOCK_SECONDS * sample_rate / hop))
    n_blocks = bands.shape[0] // per_block
    if n_blocks < 8 or bands.shape[1] == 0:
        return float("nan")
    blocks = bands[: n_blocks * per_block].reshape(n_blocks, per_block, -1).mean(axis=1)
    total = blocks.sum(axis=1)
    quiet = blocks[total <= np.quantile(total, QUIET_FRACTION)]
    if len(quiet) < 4:
        return float("nan")
    logp = np.log(np.maximum(quiet, 1e-20))
    return float(np.median(logp.std(axis=0)))
