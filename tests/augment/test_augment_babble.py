"""voxref.augment.babble: sum of other talkers at a target SNR."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxref.augment import AddBabble, add_babble, make_babble
from voxref.augment.levels import active_power

SR = 16000


@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0, 20.0])
def test_achieved_snr(speech, real_speech, others, measure_snr, snr):
    for i, x in enumerate((speech, real_speech)):
        y = add_babble(x, SR, snr, others, num_speakers=4, seed=i)
        assert abs(measure_snr(x, y) - snr) <= 0.5


def test_babble_is_made_of_distinct_talkers_at_equal_level(others):
    n = 2 * SR
    babble, names = make_babble(others, n, SR, 3, np.random.default_rng(0))
    assert len(set(names)) == 3  # drawn without replacement
    # one talker alone: equals that utterance's crop / loop, normalised to unit active power
    one, (name,) = make_babble(others[:1], n, SR, 1, np.random.default_rng(1))
    assert name == "<array 0>"
    assert active_power(one, SR) == pytest.approx(1.0, rel=1e-9)
    # three talkers at equal level sum to more than any one of them
    assert active_power(babble, SR) > 1.5


def test_num_speakers_range_and_log(speech, others):
    t = AddBabble(others, snr_db=(0.0, 10.0), num_speakers=(2, 4))
    ks = set()
    for s in range(25):
        _, p = t.apply(speech, SR, np.random.default_rng(s))
        ks.add(p["num_speakers"])
        assert 0.0 <= p["snr_db"] <= 10.0 and p["noise_type"] == "babble"
        assert len(p["sources"]) == p["num_speakers"]
    assert ks == {2, 3, 4}


def test_determinism_dtype_shape(speech, others):
    t = AddBabble(others, snr_db=(0.0, 10.0), num_speakers=3)
    a = t(speech, SR, seed=1)
    assert np.array_equal(a, t(speech, SR, seed=1))
    assert not np.array_equal(a, t(speech, SR, seed=2))
    assert a.dtype == np.float32 and a.shape == speech.shape


def test_batch_path_matches_numpy(speech, others):
    t = AddBabble(others, snr_db=5.0, num_speakers=2)
    batch = torch.from_numpy(np.stack([speech, speech[::-1].copy()]))
    out = t.apply_batch(batch, SR, seeds=[7, 8])
    for i, s in enumerate([7, 8]):
        assert np.array_equal(out[i].numpy(), t(batch[i].numpy(), SR, seed=s))
