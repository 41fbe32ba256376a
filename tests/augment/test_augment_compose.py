"""voxref.augment.compose: probabilities, OneOf, logs, nuisance vectors, batch path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from voxref.augment import (
    NUISANCE_FIELDS,
    AddNoise,
    Clip,
    Compose,
    Gain,
    OneOf,
    Overlap,
    Reverb,
    Telephone,
    nuisance_matrix,
    nuisance_vector,
)
from voxref.augment.compose import AppliedTransform, AugmentLog

SR = 16000
X = np.sin(np.arange(1600) / 7).astype(np.float32)


def test_probabilities_respected_over_many_seeded_draws():
    probs = [0.1, 0.5, 0.9]
    c = Compose([(Gain(float(i + 1)), p) for i, p in enumerate(probs)])
    n = 3000
    counts = np.zeros(3)
    joint = 0
    for s in range(n):
        names = [e.params["gain_db"] for e in c.augment(X, SR, seed=s)[1]]
        for i in range(3):
            counts[i] += float(i + 1) in names
        joint += (1.0 in names) and (2.0 in names)
    for p, k in zip(probs, counts):
        assert abs(k / n - p) <= 4 * np.sqrt(p * (1 - p) / n)
    assert abs(joint / n - 0.05) <= 4 * np.sqrt(0.05 * 0.95 / n)  # steps decided independently


def test_one_of_weights():
    o = OneOf([Gain(-1.0), Gain(1.0)], weights=[1, 3])
    n = 2000
    ups = sum(o.augment(X, SR, seed=s)[1].entries[0].params["gain_db"] == 1.0 for s in range(n))
    assert abs(ups / n - 0.75) <= 4 * np.sqrt(0.75 * 0.25 / n)


def test_determinism_and_log(speech):
    c = Compose(
        [
            (Reverb((0.3, 0.9)), 0.5),
            (AddNoise((0.0, 20.0), ["white", "pink"]), 0.8),
            (Telephone(), 0.5),
        ]
    )
    a, la = c.augment(speech, SR, seed=3)
    b, lb = c.augment(speech, SR, seed=3)
    assert np.array_equal(a, b) and la.to_dicts() == lb.to_dicts()
    outs = {c.augment(speech, SR, seed=s)[0].tobytes() for s in range(6)}
    assert len(outs) == 6
    assert a.dtype == np.float32 and a.shape == speech.shape
    json.dumps(la.to_dicts())  # logs are JSON-friendly
    assert set(la.names()) <= {"reverb", "noise", "telephone"}


def test_disabling_a_step_does_not_change_the_others():
    on = Compose([(Gain((-5.0, 5.0)), 1.0), (Clip(ratio=(0.01, 0.2)), 1.0)])
    off = Compose([(Gain((-5.0, 5.0)), 0.0), (Clip(ratio=(0.01, 0.2)), 1.0)])
    for s in range(5):
        clip_on = on.augment(X, SR, seed=s)[1].find("clip").params["clip_ratio"]
        clip_off = off.augment(X, SR, seed=s)[1].find("clip").params["clip_ratio"]
        assert clip_on == pytest.approx(clip_off, abs=1.5 / X.size)


def test_nested_containers_flatten_their_logs():
    c = Compose([OneOf([Gain(2.0), Compose([Gain(3.0), Clip(ratio=0.1)])], weights=[0, 1])])
    _, log = c.augment(X, SR, seed=0)
    assert log.names() == ["gain", "clip"]


def test_nuisance_vector_layout(speech, others):
    assert len(NUISANCE_FIELDS) == len(set(NUISANCE_FIELDS)) == 18
    clean = nuisance_vector(AugmentLog())
    idx = {k: i for i, k in enumerate(NUISANCE_FIELDS)}
    assert clean[idx["noise_none"]] == 1 and clean[idx["snr"]] == 1 and clean[idx["sir"]] == 1
    assert clean[idx["reverb"]] == 0 and clean[idx["band_limited"]] == 0
    c = Compose(
        [Reverb(0.6, 5.0), AddNoise(10.0, "brown"), Telephone(), Overlap(others, 5.0, 0.25)]
    )
    _, log = c.augment(speech, SR, seed=1)
    v = nuisance_vector(log)
    assert v.dtype == np.float32 and v.shape == (18,)
    expect = {
        "noise_none": 0.0,
        "noise_brown": 1.0,
        "noise_white": 0.0,
        "snr": 10 / 40,
        "reverb": 1.0,
        "rt60": 0.6,
        "drr": 5 / 30,
        "band_limited": 1.0,
        "codec": 1.0,
        "overlap": 1.0,
        "sir": 5 / 40,
        "overlap_fraction": 0.25,
    }
    for k, val in expect.items():
        assert v[idx[k]] == pytest.approx(val, abs=1e-4), k
    # plain dicts (e.g. logs read back from JSON) give the same vector
    assert np.array_equal(nuisance_vector(log.to_dicts()), v)
    # speed / pitch change the voice itself: not nuisance
    voice = AugmentLog(
        [AppliedTransform("speed", {"speed": 1.1}), AppliedTransform("pitch", {"semitones": 2.0})]
    )
    assert np.array_equal(nuisance_vector(voice), clean)
    m = nuisance_matrix([log, AugmentLog([AppliedTransform("babble", {"snr_db": -20.0})])])
    assert m.shape == (2, 18) and m[1, idx["noise_babble"]] == 1 and m[1, idx["snr"]] == -0.25


def test_augment_batch_matches_per_item(speech):
    c = Compose([(Gain((-6.0, 6.0)), 0.5), (AddNoise((0.0, 20.0), "pink"), 0.7)])
    batch = torch.from_numpy(np.stack([speech, speech[::-1].copy(), 0.5 * speech]))
    out, logs = c.augment_batch(batch, SR, seeds=[1, 2, 3])
    assert out.shape == batch.shape and out.dtype == torch.float32 and len(logs) == 3
    for i, s in enumerate([1, 2, 3]):
        ref, log = c.augment(batch[i].numpy(), SR, seed=s)
        assert np.array_equal(out[i].numpy(), ref) and log.to_dicts() == logs[i].to_dicts()
    g = torch.Generator().manual_seed(0)
    o1, _ = c.augment_batch(batch, SR, generator=g)
    o2, _ = c.augment_batch(batch, SR, generator=torch.Generator().manual_seed(0))
    assert torch.equal(o1, o2)
    assert nuisance_matrix(logs).shape == (3, 18)
