"""Explicit, reproducible resampling and downmixing."""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

__all__ = ["resample", "downmix"]

log = logging.getLogger(__name__)


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with a polyphase anti-aliasing filter (``scipy.signal.resample_poly``).

    Deterministic: the same input gives bit-identical output.

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
    out = resample_poly(np.asarray(samples, dtype=np.float64), frac.numerator, frac.denominator)
    return out.astype(np.float32)


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
