"""voxref.augment.gain: gain and clipping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxref.augment import Clip, Gain, apply_gain, clip
from voxref.augment.levels import active_power
from voxref.errors import ConfigError

SR = 16000


def test_gain_changes_level_by_db(speech):
    for g in (-12.0, 3.5):
        y = apply_gain(speech, SR, g)
        assert y.dtype == np.float32
        ratio_db = 10 * np.log10(active_power(y, SR) / active_power(speech, SR))
        assert ratio_db == pytest.approx(g, abs=1e-4)


@pytest.mark.parametrize("ratio", [0.001, 0.01, 0.05, 0.2])
def test_clipping_ratio_achieved(real_speech, speech, ratio):
    dithered = real_speech + 1e-6 * np.random.default_rng(0).standard_normal(real_speech.size)
    for x in (real_speech, speech, dithered.astype(np.float32)):
        y = clip(x, SR, ratio=ratio)
        level = float(np.max(np.abs(y)))
        achieved = float(np.mean(np.abs(x) > level))
        # PCM16 input ties at the level: the closest achievable count; continuous input: exact
        kth = np.sort(np.abs(x))[x.size - int(round(ratio * x.size)) - 1]
        tied = float(np.mean(np.abs(x) == kth))
        assert abs(achieved - ratio) <= 0.5 * tied + 1.0 / x.size
        untouched = np.abs(x) <= level
        assert np.array_equal(y[untouched], x[untouched])
        assert y.dtype == x.dtype and y.shape == x.shape


def test_clip_at_level(real_speech):
    y = clip(real_speech, SR, 0.005)  # this recording peaks at ~0.014
    assert float(np.max(np.abs(y))) == pytest.approx(0.005, rel=1e-6)
    assert np.array_equal(clip(real_speech, SR, 1.0), real_speech)
    with pytest.raises(ConfigError):
        clip(real_speech, SR)
    with pytest.raises(ConfigError):
        clip(real_speech, SR, 0.1, ratio=0.1)


def test_clip_transform_logs_achieved_ratio(real_speech):
    out, p = Clip(ratio=(0.01, 0.1)).apply(real_speech, SR, np.random.default_rng(0))
    assert 0.01 <= p["clip_ratio"] <= 0.1
    assert p["clip_ratio"] == pytest.approx(float(np.mean(np.abs(real_speech) > p["clip_level"])))


def test_batch_paths_match_numpy(speech, real_speech):
    n = min(speech.size, real_speech.size)
    batch = torch.from_numpy(np.stack([speech[:n], real_speech[:n]]))
    for t in (Gain((-10.0, 10.0)), Clip(ratio=(0.001, 0.1)), Clip(level=(0.01, 0.1))):
        out, params = t.apply_batch_logged(batch, SR, seeds=[5, 6])
        assert out.dtype == torch.float32 and out.shape == batch.shape
        for i, s in enumerate([5, 6]):
            ref, p = t.apply(batch[i].numpy(), SR, np.random.default_rng(s))
            assert p == pytest.approx(params[i])
            np.testing.assert_allclose(out[i].numpy(), ref, rtol=1e-6, atol=0)


def test_determinism(speech):
    t = Gain((-6.0, 6.0))
    assert np.array_equal(t(speech, SR, seed=1), t(speech, SR, seed=1))
    assert not np.array_equal(t(speech, SR, seed=1), t(speech, SR, seed=2))
