"""Resampling: the cached polyphase filter gives exactly scipy's default ``resample_poly``."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy.signal import resample_poly

from voxref.audio.resample import _polyphase_filter, resample, run_at_rate


@pytest.mark.parametrize(
    ("orig", "target"), [(16000, 48000), (48000, 16000), (44100, 16000), (8000, 16000)]
)
def test_resample_is_scipy_default_bit_for_bit(orig: int, target: int) -> None:
    x = np.random.default_rng(7).standard_normal(orig).astype(np.float32)
    frac = Fraction(target, orig)
    expected = resample_poly(x.astype(np.float64), frac.numerator, frac.denominator)
    for _ in range(2):  # the second call reuses the cached filter: still the same output
        y = resample(x, orig, target)
        assert y.dtype == np.float32
        assert np.array_equal(y, expected.astype(np.float32))


def test_cached_filter_is_not_modified_by_use() -> None:
    before = _polyphase_filter(3, 1).copy()
    run_at_rate(np.ones(1600, np.float32), 16000, 48000, lambda y: 2 * y)
    assert np.array_equal(_polyphase_filter(3, 1), before)
    with pytest.raises(ValueError):
        _polyphase_filter(3, 1)[0] = 1.0
