"""voxref.augment.reverb: synthetic RIRs, RT60 measurement, aligned convolution."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import soundfile as sf
import torch

from voxref.augment import Reverb, convolve_rir, measure_rt60, reverberate, synthetic_rir
from voxref.augment.levels import active_power
from voxref.augment.reverb import direct_to_reverberant_db, shoebox_rir
from voxref.errors import AudioError, MissingDependencyError

SR = 16000


@pytest.mark.parametrize("rt60", [0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("drr", [-3.0, 5.0, 10.0])
def test_measured_rt60_matches_requested(rt60, drr):
    for seed in range(3):
        h = synthetic_rir(SR, rt60, drr_db=drr, seed=seed)
        assert measure_rt60(h, SR, "T30") == pytest.approx(rt60, rel=0.15)
        assert measure_rt60(h, SR, "T20") == pytest.approx(rt60, rel=0.15)
        assert direct_to_reverberant_db(h) == pytest.approx(drr, abs=1e-3)
        assert int(np.argmax(np.abs(h))) == 0


def test_measure_rt60_on_an_analytic_decay():
    t = np.arange(2 * SR) / SR
    for rt in (0.25, 0.8):
        h = np.exp(-3 * np.log(10) * t / rt)  # energy -60 dB at rt
        h = np.concatenate([np.zeros(123), h])  # measurement starts at the direct path
        assert measure_rt60(h, SR, "T30") == pytest.approx(rt, rel=0.01)
    with pytest.raises(AudioError):
        measure_rt60(np.exp(-np.arange(100) / 1e5), SR)  # decays far less than 35 dB


def test_convolution_is_aligned_same_length_same_level(speech):
    h = synthetic_rir(SR, 0.6, drr_db=3.0, seed=0)
    delayed = np.concatenate([np.zeros(250, np.float32), h])  # propagation delay before direct path
    y = convolve_rir(speech, SR, delayed)
    assert y.shape == speech.shape and y.dtype == np.float32
    assert active_power(y, SR) == pytest.approx(active_power(speech, SR), rel=1e-4)
    # cross-correlation of input and output peaks at lag 0 (direct path aligned)
    lags = range(-40, 41)
    corr = [float(np.dot(speech[40:-40], np.roll(y, -k)[40:-40])) for k in lags]
    assert list(lags)[int(np.argmax(corr))] == 0
    assert np.allclose(convolve_rir(speech, SR, h), y, atol=1e-6)


def test_reverb_fills_the_pauses(speech):
    y = reverberate(speech, SR, rt60=0.8, drr_db=0.0, seed=0)
    silent = np.abs(speech) == 0
    assert silent.mean() > 0.05
    assert float(np.mean(y[silent] ** 2)) > 1e-3 * active_power(speech, SR)


def test_reverb_transform_params_and_determinism(speech):
    t = Reverb(rt60=(0.3, 0.9), drr_db=(0.0, 10.0))
    a, p = t.apply(speech, SR, np.random.default_rng(0))
    assert 0.3 <= p["rt60"] <= 0.9 and 0.0 <= p["drr_db"] <= 10.0
    assert np.array_equal(a, t(speech, SR, rng=np.random.default_rng(0)))
    assert np.array_equal(t(speech, SR, seed=5), t(speech, SR, seed=5))
    assert not np.array_equal(t(speech, SR, seed=5), t(speech, SR, seed=6))
    assert t(speech.astype(np.float64), SR, seed=5).dtype == np.float64


def test_recorded_rir_files(speech, tmp_path):
    h = synthetic_rir(SR, 0.5, drr_db=2.0, seed=3)
    sf.write(tmp_path / "room.wav", np.concatenate([np.zeros(100), h]) * 0.5, SR, subtype="FLOAT")
    t = Reverb(rirs=tmp_path)
    y, p = t.apply(speech, SR, np.random.default_rng(0))
    assert p["rir_source"].endswith("room.wav")
    assert p["rt60"] == pytest.approx(0.5, rel=0.15)
    assert np.allclose(y, convolve_rir(speech, SR, h), atol=1e-5)


def test_batch_path_matches_numpy(speech, real_speech):
    n = min(speech.size, real_speech.size)
    batch = torch.from_numpy(np.stack([speech[:n], real_speech[:n]]))
    t = Reverb(rt60=(0.3, 0.9))
    out, params = t.apply_batch_logged(batch, SR, seeds=[1, 2])
    for i, s in enumerate([1, 2]):
        ref, p = t.apply(batch[i].numpy(), SR, np.random.default_rng(s))
        assert p == params[i]
        np.testing.assert_allclose(out[i].numpy(), ref, atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("pyroomacoustics") is not None, reason="installed")
def test_shoebox_needs_pyroomacoustics():
    with pytest.raises(MissingDependencyError, match="pip install pyroomacoustics"):
        shoebox_rir(SR, 0.4, seed=0)
