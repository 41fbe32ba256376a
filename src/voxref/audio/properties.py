"""What a recording was as read: signal properties measured before any resampling or downmix.

:func:`voxref.audio.load_audio` measures these on the samples it read (every channel, the file's own
rate) and carries them on :attr:`Audio.as_read <voxref.audio.Audio.as_read>`, so that every
later stage, whatever rate it works at, judges the recording and not voxref's conversion of it.
Resampling turns the flat tops clipping leaves into ripples (a clipped 44.1 kHz file measured at
16 kHz looks clean) and averaging channels can cancel them; the quality report
(:mod:`voxref.cleaning.quality`) therefore reads clipping, peak, DC offset and level from here.

Clipping is a flat run at one of the signal's two rails: at least :data:`CLIP_MIN_RUN`
consecutive samples equal (within half a quantisation step) to the channel's maximum, or to its
minimum. The rails are taken separately, so a DC offset (which shifts one rail towards zero)
does not halve the count; a signal must span at least :data:`CLIP_MIN_STEPS` quantisation steps
to be judged, so low-level dither (a handful of values) is not "clipped"; and a sine, which only
touches its peak, scores below 1 % (about ``(2/pi) * sqrt(2 step / amplitude)`` for a
low-frequency, quantised one, 0 for float) where a 1 % tolerance called it 8 % clipped. A
constant (DC) signal has no rails. Flat tops smoothed by a lossy codec (mp3, ogg) or by
resampling are not found: measure before such processing.

Examples
--------
>>> import numpy as np
>>> t = np.arange(16000) / 16000
>>> x = np.sin(2 * np.pi * 150 * t) * np.exp(-3 * t)  # a decaying, vowel-like tone
>>> float(np.mean(np.abs(4 * x) >= 1))  # the samples that 4x gain drives beyond full scale
0.283875
>>> clipping_ratio(x), clipping_ratio(np.clip(4 * x, -1, 1))
(0.0, 0.283875)
>>> clipping_ratio(0.2 + 0.5 * np.clip(4 * x, -1, 1))  # scaled down and offset after clipping
0.283875
>>> clipping_ratio(0.5 * np.sin(2 * np.pi * 100 * t)), clipping_ratio(np.full(100, 0.3))
(0.0, 0.0)
"""

from __future__ import annotations

import math

import numpy as np

from .level import ActiveLevelMeter
from .signal import SignalProperties

__all__ = [
    "SignalProperties",
    "measure",
    "clipping_ratio",
    "clipped_mask",
    "quantisation_step",
    "CLIP_MIN_RUN",
    "CLIP_MIN_STEPS",
]

#: A flat run at a rail counts as clipping from this many consecutive samples.
CLIP_MIN_RUN = 2
#: Signals spanning fewer quantisation steps than this (between their rails) are not judged.
CLIP_MIN_STEPS = 64

_BLOCK = 1 << 20


def quantisation_step(x: np.ndarray) -> float:
    """Smallest non-zero difference between consecutive samples (1 LSB for PCM; 0 when none).

    Examples
    --------
    >>> quantisation_step(np.array([0, 3, 4, 4, 10]) / 32768) * 32768
    1.0
    """
    x = np.asarray(x).reshape(-1)
    step = math.inf
    for start in range(0, max(0, len(x) - 1), _BLOCK):
        d = np.diff(x[start : start + _BLOCK + 1])
        np.abs(d, out=d)
        d[d == 0] = np.inf
        step = min(step, float(d.min()))
    return 0.0 if math.isinf(step) else step


def _runs(idx: np.ndarray, min_run: int) -> np.ndarray:
    """The members of ``idx`` (sorted sample indices) in runs of ``min_run`` consecutive ones."""
    if idx.size < min_run:
        return idx[:0]
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    lengths = np.diff(np.concatenate(([0], breaks, [idx.size])))
    return idx[np.repeat(lengths >= min_run, lengths)]


def clipped_mask(
    samples: np.ndarray, *, min_run: int = CLIP_MIN_RUN, min_steps: int = CLIP_MIN_STEPS
) -> np.ndarray:
    """Which samples of a 1-D signal lie in flat runs at its rails (see the module text)."""
    x = np.ascontiguousarray(np.asarray(samples).reshape(-1))
    out = np.zeros(x.size, dtype=bool)
    if x.size < min_run:
        return out
    hi, lo = float(np.max(x)), float(np.min(x))
    span = hi - lo
    if not span > 0:
        return out
    # candidates within the widest tolerance a judged signal can have (half a step, where a step
    # is at most span / min_steps): usually a few isolated samples, and then nothing is clipped
    loose = 0.5 * span / min_steps
    rails = [(np.flatnonzero(x >= hi - loose), hi), (np.flatnonzero(x <= lo + loose), lo)]
    if not any(_runs(idx, min_run).size for idx, _ in rails):
        return out
    step = quantisation_step(x)
    if span < min_steps * step:
        return out
    tol = max(0.5 * step, 1e-9 * span)
    for idx, rail in rails:
        out[_runs(idx[np.abs(x[idx] - rail) <= tol], min_run)] = True
    return out


def clipping_ratio(
    samples: np.ndarray, *, min_run: int = CLIP_MIN_RUN, min_steps: int = CLIP_MIN_STEPS
) -> float:
    """Fraction of samples (frames, for ``(num_samples, channels)``) in flat runs at the rails.

    A frame counts when any of its channels is clipped there. Measure it at the recording's own
    rate, before resampling (module text).
    """
    x = np.asarray(samples)
    if x.size == 0:
        return 0.0
    if x.ndim == 1:
        x = x[:, None]
    hit = np.zeros(x.shape[0], dtype=bool)
    for c in range(x.shape[1]):
        hit |= clipped_mask(x[:, c], min_run=min_run, min_steps=min_steps)
    return float(hit.mean())


def measure(
    frames: np.ndarray, mono: np.ndarray, sample_rate: int, notes: tuple[str, ...] = ()
) -> SignalProperties:
    """Measure :class:`SignalProperties` of ``frames`` ``(num_samples, channels)`` as read and of
    ``mono``, the signal voxref goes on with, at the same ``sample_rate``.

    Examples
    --------
    >>> x = np.clip(4 * np.sin(np.arange(16000) * 0.05), -1, 1)[:, None]
    >>> p = measure(x, x[:, 0], 16000)
    >>> p.channels, round(p.clipping_ratio, 2), p.peak, round(p.level_dbfs, 1)
    (1, 0.84, 1.0, -0.5)
    """
    x = np.asarray(frames)
    if x.ndim == 1:
        x = x[:, None]
    meter = ActiveLevelMeter(int(sample_rate))
    meter.update(mono)
    peak = float(max(np.max(x), -np.min(x))) if x.size else 0.0
    means = np.einsum("tc->c", x, dtype=np.float64) / max(1, len(x)) if x.size else np.zeros(1)
    return SignalProperties(
        sample_rate=int(sample_rate),
        channels=int(x.shape[1]),
        num_frames=int(x.shape[0]),
        peak=peak,
        clipping_ratio=clipping_ratio(x),
        dc_offset=float(means[np.argmax(np.abs(means))]),
        level_dbfs=meter.level_db(),
        frame_power=meter.frame_powers().astype(np.float64),
        frame_s=meter.frame / float(sample_rate),
        notes=tuple(notes),
    )
