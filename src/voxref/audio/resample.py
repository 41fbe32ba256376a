"""Explicit, reproducible resampling and downmixing."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from fractions import Fraction

import numpy as np

__all__ = ["resample", "downmix", "run_at_rate"]

log = logging.getLogger(__name__)


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with a polyphase anti-aliasing filter (``scipy.signal.resample_poly``).

    Deterministic: the same input gives bit-identical output. The anti-aliasing filter is the
    one ``resample_poly`` designs by default (Kaiser window, beta 5, ``20 * max(up, down) + 1``
    taps), designed once per rate pair and reused (:func:`_polyphase_filter`).

    Parameters
    ----------
    samples
        1-D float array at ``orig_sr``.
    orig_sr, target_sr
        Sample rates in Hz.

    Returns
    -------
    numpy.ndarray
        ``float32`` samples at ``target_sr``.

    Examples
    --------
    >>> import numpy as np
    >>> resample(np.zeros(48000, dtype=np.float32), 48000, 16000).shape
    (16000,)
    """
    if orig_sr == target_sr:
        return np.asarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    frac = Fraction(int(target_sr), int(orig_sr)).limit_denominator(1000)
    up, down = frac.numerator, frac.denominator
    out = resample_poly(
        np.asarray(samples, dtype=np.float64), up, down, window=_polyphase_filter(up, down)
    )
    return out.astype(np.float32)


@functools.lru_cache(maxsize=16)
def _polyphase_filter(up: int, down: int) -> np.ndarray:
    """The low-pass FIR ``resample_poly(x, up, down)`` designs for itself, designed once.

    Same taps as its default (``window=("kaiser", 5.0)``), so passing them as ``window`` gives
    bit-identical output; ``resample_poly`` copies the array before scaling it, so the cached
    one is never modified. A design costs as much as resampling a short clip (and far more for
    ratios such as 441:160).

    Examples
    --------
    >>> from scipy.signal import resample_poly
    >>> x = np.random.default_rng(0).standard_normal(4000)
    >>> y = resample_poly(x, 3, 1, window=_polyphase_filter(3, 1))
    >>> bool(np.array_equal(y, resample_poly(x, 3, 1)))
    True
    """
    from scipy.signal import firwin

    rate = max(up, down)
    h = firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))
    h.setflags(write=False)
    return h


def downmix(samples: np.ndarray) -> np.ndarray:
    """Average channels of a ``(num_samples, channels)`` array into mono ``(num_samples,)``.

    Examples
    --------
    >>> import numpy as np
    >>> downmix(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)).tolist()
    [0.5, 0.5]
    """
    x = np.asarray(samples)
    if x.ndim == 1:
        return x.astype(np.float32)
    return x.mean(axis=1).astype(np.float32)


def run_at_rate(
    samples: np.ndarray,
    sample_rate: int,
    model_rate: int,
    process: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """``process`` (a model working at ``model_rate``) applied to mono ``samples`` at any rate.

    The input is resampled to ``model_rate`` when it differs, ``process`` returns ``(..., n)``
    signals at that rate, and they come back at ``sample_rate`` with exactly the input's length
    (zero-padded or cut), float32.

    Examples
    --------
    >>> x = np.ones(16000, dtype=np.float32)
    >>> run_at_rate(x, 16000, 8000, lambda y: np.stack([y, -y])).shape
    (2, 16000)
    """
    x = np.asarray(samples, dtype=np.float32)
    sr, own = int(sample_rate), int(model_rate)
    work = x if sr == own else resample(x, sr, own).astype(np.float32)
    y = np.asarray(process(np.ascontiguousarray(work)), dtype=np.float32)
    if sr != own:
        lead = y.shape[:-1]
        flat = y.reshape(-1, y.shape[-1])
        y = np.stack([resample(s, own, sr) for s in flat]).reshape(*lead, -1)
    pad = [(0, 0)] * (y.ndim - 1) + [(0, max(0, x.size - y.shape[-1]))]
    return np.pad(y, pad)[..., : x.size].astype(np.float32)
