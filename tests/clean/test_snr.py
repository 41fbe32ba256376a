"""Blind SNR estimation against noise added at a known active-speech SNR."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.clean.snr import estimate_snr, measure_snr, snr_against_reference

from .clean_signals import SR, add_noise, pink_noise, white_noise

NOISES = {"white": white_noise, "pink": pink_noise}


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("snr_db", [0, 5, 10, 20])
def test_estimate_within_3_db_with_pauses(speech_with_pauses, kind, snr_db):
    x = speech_with_pauses
    noisy = add_noise(x.samples, x.mask, NOISES[kind](len(x.samples), seed=snr_db), snr_db)
    est = measure_snr(noisy, SR)
    assert est.method == "pauses"
    assert abs(est.snr_db - snr_db) <= 3.0, est


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("snr_db", [0, 10, 20])
def test_estimate_within_3_db_without_pauses(speech_with_pauses, kind, snr_db):
    """Continuous speech (the silences cut out): the noise floor comes from the quietest frames."""
    x = speech_with_pauses
    speech = x.samples[x.mask]
    noisy = add_noise(
        speech, np.ones(len(speech), bool), NOISES[kind](len(speech), seed=50 + snr_db), snr_db
    )
    est = measure_snr(noisy, SR)
    assert est.method == "percentile"
    assert abs(est.snr_db - snr_db) <= 3.0, est


def test_estimate_orders_recordings_by_noise(speech_with_pauses):
    x = speech_with_pauses
    noise = white_noise(len(x.samples), seed=7)
    estimates = [
        estimate_snr(add_noise(x.samples, x.mask, noise, s), SR) for s in (-5, 0, 5, 10, 20, 30)
    ]
    assert estimates == sorted(estimates)


def test_no_speech_gives_nan():
    noise = 0.05 * white_noise(2 * SR, seed=0).astype(np.float32)
    est = measure_snr(noise, SR)
    assert est.method == "none" and np.isnan(est.snr_db)


def test_digital_silence_in_pauses_is_the_ceiling(speech_with_pauses):
    assert estimate_snr(speech_with_pauses.samples, SR) >= 60


def test_snr_against_reference_is_scale_invariant():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(SR)
    n = rng.standard_normal(SR)
    n -= s * np.dot(n, s) / np.dot(s, s)  # orthogonal to s: the SNR is exact
    noisy = s + 0.1 * n
    assert snr_against_reference(noisy, s) == pytest.approx(
        10 * np.log10(np.dot(s, s) / np.dot(0.1 * n, 0.1 * n)), abs=1e-6
    )
    assert snr_against_reference(3 * noisy, s) == pytest.approx(
        snr_against_reference(noisy, s), abs=1e-6
    )


def test_speech_missed_by_the_vad_is_not_taken_for_noise(speech_with_pauses):
    """A clean clip whose first utterance the VAD missed (it then sits in the 'pauses') must not
    read as noisy (a clean benchmark clip read -20 dB this way)."""
    from voxref.clean.vad import SpeechRegions

    x = speech_with_pauses
    later = SpeechRegions(tuple(x.spans[1:]), np.zeros(0), 0.032, len(x.samples) / SR)
    assert estimate_snr(x.samples, SR, regions=later) >= 30.0


def test_dc_offset_does_not_lower_the_estimate(speech_with_pauses):
    x = speech_with_pauses
    noisy = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=3), 15.0)
    assert estimate_snr(noisy + 0.1, SR) == pytest.approx(estimate_snr(noisy, SR), abs=0.5)
