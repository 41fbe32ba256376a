"""voxref.augment.levels: the shared active-power / SNR definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from voxref.augment.levels import (
    active_frame_mask,
    active_power,
    active_power_torch,
    gain_for_snr,
    snr_db,
)
from voxref.errors import SilentAudioError

SR = 16000


def test_active_power_matches_independent_measurement(speech, real_speech, measure_level):
    for x in (speech, real_speech):
        assert active_power(x, SR) == pytest.approx(measure_level(x), rel=1e-9)


def test_digital_silence_does_not_dilute_the_level(speech):
    base = active_power(speech, SR)
    padded = np.concatenate([np.zeros(32000, np.float32), speech, np.zeros(17777, np.float32)])
    plain_mean = float(np.mean(padded.astype(np.float64) ** 2))
    assert plain_mean < 0.8 * base  # the plain mean *would* be diluted ...
    assert active_power(padded, SR) == pytest.approx(base, rel=0.01)  # ... the active one is not


def test_very_quiet_floor_is_excluded_but_speech_level_kept(speech):
    rng = np.random.default_rng(0)
    peak_frame_rms = math.sqrt(active_power(speech, SR)) * 3
    floor = (peak_frame_rms * 10 ** (-70 / 20)) * rng.standard_normal(speech.size)
    quiet_gaps = speech + np.where(np.abs(speech) < 1e-7, floor, 0.0)
    assert active_power(quiet_gaps, SR) == pytest.approx(active_power(speech, SR), rel=0.01)


def test_scale_invariance_of_active_frames(speech):
    m = active_frame_mask(speech, SR)
    assert 0 < m.sum() < m.size  # espeak speech has pauses
    assert np.array_equal(m, active_frame_mask(7.3 * speech, SR))
    assert active_power(0.1 * speech, SR) == pytest.approx(
        0.01 * active_power(speech, SR), rel=1e-6
    )


def test_gain_for_snr_hits_target(speech):
    noise = np.random.default_rng(1).standard_normal(speech.size)
    for target in (-5.0, 0.0, 13.0):
        g = gain_for_snr(speech, noise, SR, target)
        assert snr_db(speech, g * noise, SR) == pytest.approx(target, abs=1e-9)


def test_silence_raises_typed_error():
    with pytest.raises(SilentAudioError):
        gain_for_snr(np.zeros(1600), np.ones(1600), SR, 10.0)
    with pytest.raises(SilentAudioError):
        gain_for_snr(np.ones(1600), np.zeros(1600), SR, 10.0)
    assert snr_db(np.ones(1600), np.zeros(1600), SR) == math.inf
    assert active_power(np.zeros(10), SR) == 0.0


def test_torch_active_power_matches_numpy(speech, real_speech):
    n = min(speech.size, real_speech.size)
    batch = torch.from_numpy(np.stack([speech[:n], real_speech[:n], np.zeros(n, np.float32)]))
    got = active_power_torch(batch, SR).tolist()
    assert got[0] == pytest.approx(active_power(speech[:n], SR), rel=1e-9)
    assert got[1] == pytest.approx(active_power(real_speech[:n], SR), rel=1e-9)
    assert got[2] == 0.0
