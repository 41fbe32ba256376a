"""voxref.augment.overlap: interfering talker over a region, SIR on active speech, masks."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.augment import Overlap, add_overlap
from voxref.augment.overlap import frame_mask, region_mask

SR = 16000


def runs(mask: np.ndarray) -> int:
    """Number of contiguous True runs."""
    m = mask.astype(np.int8)
    return int(np.sum(np.diff(np.concatenate([[0], m])) == 1))


@pytest.mark.parametrize("sir", [0.0, 5.0, 10.0, 20.0])
@pytest.mark.parametrize("fraction", [0.2, 0.5, 1.0])
def test_achieved_sir_on_active_speech(speech, real_speech, others, measure_snr, sir, fraction):
    for i, target in enumerate((speech, real_speech)):
        r = add_overlap(target, SR, others[i], sir, fraction, seed=i)
        assert abs(measure_snr(target, r.samples) - sir) <= 0.5


def test_sir_does_not_depend_on_the_covered_fraction(speech, others):
    """Same SIR -> same interferer loudness while it talks, whatever the overlap length."""
    levels = []
    for f in (0.2, 0.8):
        r = add_overlap(speech, SR, others[0], 5.0, f, seed=3)
        seg = r.interferer[r.active_mask]
        levels.append(float(np.mean(seg**2)))
    assert levels[0] == pytest.approx(levels[1], rel=0.35)  # different excerpts of the talker
    plain = [
        float(np.mean(add_overlap(speech, SR, others[0], 5.0, f, seed=3).interferer ** 2))
        for f in (0.2, 0.8)
    ]
    assert plain[1] > 2 * plain[0]  # the whole-signal mean power scales with coverage instead


def test_region_masks(speech, others):
    starts = set()
    for seed in range(20):
        r = add_overlap(speech, SR, others[0], 5.0, 0.3, seed=seed)
        n = int(round(0.3 * speech.size))
        assert r.region_mask.sum() == n and r.end - r.start == n
        assert (
            runs(r.region_mask) == 1
            and r.region_mask[r.start]
            and not r.region_mask[r.start - 1 : r.start].any()
        )
        assert np.all(r.interferer[~r.region_mask] == 0)
        assert np.all(r.active_mask <= r.region_mask) and r.active_mask.sum() > 0.5 * n
        assert 0 <= r.start and r.end <= speech.size
        assert r.fraction == pytest.approx(0.3, abs=1 / speech.size)
        fm = r.frame_mask(0.01)
        assert fm.shape == (-(-speech.size // 160),)
        assert abs(int(r.frame_mask(0.01, "region").sum()) - n / 160) <= 1
        starts.add(r.start)
    assert len(starts) > 15  # placement is random


def test_edges(speech, others):
    r0 = add_overlap(speech, SR, others[0], 5.0, 0.0, seed=0)
    assert (
        np.array_equal(r0.samples, speech)
        and not r0.region_mask.any()
        and r0.sir_db == float("inf")
    )
    r1 = add_overlap(speech, SR, others[0], 5.0, 1.0, seed=0)
    assert r1.region_mask.all() and (r1.start, r1.end) == (0, speech.size)


def test_transform_log_rebuilds_masks_and_is_deterministic(speech, others):
    t = Overlap(others, sir_db=(0.0, 10.0), fraction=(0.1, 0.5))
    out, p = t.apply(speech, SR, np.random.default_rng(4))
    r = t.overlap(speech, SR, rng=np.random.default_rng(4))
    assert np.array_equal(out, r.samples)
    assert np.array_equal(region_mask(speech.size, p["start"], p["end"]), r.region_mask)
    assert 0.1 <= p["fraction"] <= 0.5 and 0.0 <= p["sir_db"] <= 10.0
    a = t(speech, SR, seed=9)
    assert np.array_equal(a, t(speech, SR, seed=9)) and not np.array_equal(
        a, t(speech, SR, seed=10)
    )
    assert a.dtype == np.float32 and a.shape == speech.shape


def test_frame_mask_majority_rule():
    m = np.zeros(1000, dtype=bool)
    m[150:700] = True
    fm = frame_mask(m, 1000, 0.1)
    assert fm.tolist() == [False, True, True, True, True, True, True, False, False, False]


def test_short_region_is_not_cut_from_a_pause(speech):
    """An interferer that is mostly silence still yields a sounding overlap (the cut is redone)."""
    mostly_silent = np.zeros(10 * SR, np.float32)
    mostly_silent[4 * SR : 6 * SR] = np.sin(np.arange(2 * SR) / 5)
    for seed in range(10):
        r = add_overlap(speech, SR, mostly_silent, 5.0, 0.1, seed=seed)
        assert r.active_mask.any()
