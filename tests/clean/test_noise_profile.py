"""Noise modulation tells stationary noise from babble, and steers the ``auto`` denoise policy."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.augment.babble import add_babble
from voxref.cleaning import clean
from voxref.cleaning.denoise import AUTO_MAX_BABBLE_MODULATION, AUTO_MAX_MODULATION
from voxref.cleaning.noise_profile import noise_modulation

from .clean_signals import SR, add_noise, pink_noise, white_noise


@pytest.fixture(scope="module")
def babble_talkers(utterances):
    speakers = sorted(utterances)[1:]
    return [np.concatenate(utterances[s]) for s in speakers]


@pytest.mark.parametrize("snr_db", [0.0, 5.0, 10.0])
def test_coloured_noise_reads_stationary_and_babble_modulated(
    speech_with_pauses, babble_talkers, snr_db
):
    x = speech_with_pauses
    white = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=1), snr_db)
    pink = add_noise(x.samples, x.mask, pink_noise(len(x.samples), seed=2), snr_db)
    babble = add_babble(x.samples, SR, snr_db, babble_talkers, seed=3)
    m_white, m_pink, m_babble = (noise_modulation(s, SR) for s in (white, pink, babble))
    assert m_white < 0.6 and m_pink < 0.6, (m_white, m_pink)
    assert AUTO_MAX_MODULATION < m_babble < AUTO_MAX_BABBLE_MODULATION, m_babble


def test_clean_speech_with_silent_pauses_reads_modulated(speech_with_pauses):
    assert noise_modulation(speech_with_pauses.samples, SR) > 3.0


def test_too_short_clip_gives_nan():
    assert np.isnan(noise_modulation(np.zeros(1000), SR))


def test_auto_policy_denoises_babble_gently_and_white_noise_fully(
    speech_with_pauses, babble_talkers
):
    x = speech_with_pauses
    n = 6 * SR
    babble = add_babble(x.samples[:n], SR, 5.0, babble_talkers, seed=5)
    r = clean((babble, SR), denoise="auto")
    assert r.denoiser == "dfn3-lim6", r.denoised.history[-1]
    assert "noise modulation" in r.denoised.history[-1]
    # at most 6 dB removed: the output keeps most of the babble's energy (speech + babble power
    # falls by far less than the unlimited network's cut)
    drop = 10 * np.log10(np.mean(babble**2) / np.mean(r.denoised.samples**2))
    full = clean((babble, SR), denoise="dfn3").denoised.samples
    assert drop < 10 * np.log10(np.mean(babble**2) / np.mean(full**2)), drop
    white = add_noise(x.samples[:n], x.mask[:n], white_noise(n, seed=6), 5.0)
    assert clean((white, SR), denoise="auto").denoiser == "dfn3"


def test_auto_policy_leaves_reverberant_or_clean_pauses_alone(speech_with_pauses):
    """Speech whose pauses are silent (modulation far above the babble range) is not denoised."""
    r = clean((speech_with_pauses.samples, SR), denoise="auto")
    assert r.denoiser == "off"
