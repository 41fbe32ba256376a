"""Blind SNR estimation against noise added at a known active-speech SNR."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.cleaning.snr import estimate_snr, measure_snr, snr_against_reference

from .clean_signals import SR, add_noise, babble, pink_noise, white_noise

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
    from voxref.cleaning.vad import SpeechRegions

    x = speech_with_pauses
    later = SpeechRegions(tuple(x.spans[1:]), np.zeros(0), 0.032, len(x.samples) / SR)
    assert estimate_snr(x.samples, SR, regions=later) >= 30.0


def test_dc_offset_does_not_lower_the_estimate(speech_with_pauses):
    x = speech_with_pauses
    noisy = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=3), 15.0)
    assert estimate_snr(noisy + 0.1, SR) == pytest.approx(estimate_snr(noisy, SR), abs=0.5)


# --------------------------------------------------------------------------- regressions on
# real signals: clean clips that read absurdly low, noise hidden by digital silence, reverb


@pytest.fixture(scope="module")
def sample_wav() -> np.ndarray:
    """pyannote's real 2-speaker ``sample.wav`` (16 kHz, 30 s)."""
    import soundfile as sf

    from voxref.sample_data import pyannote_sample

    x, sr = sf.read(pyannote_sample()[0], dtype="float32")
    assert sr == SR
    return x


def _crop(x: np.ndarray, start: float, end: float) -> np.ndarray:
    return x[int(start * SR) : int(end * SR)]


@pytest.mark.parametrize(("start", "end", "at_least"), [(11.5, 16.5, 25.0), (8.0, 13.0, 25.0)])
def test_real_clean_crops_read_clean(sample_wav, start, end, at_least):
    """Real telephone-quality speech (its noise floor ~38 dB below the speech) reads 30.4 dB on
    both crops. The crop starting at 8.0 s cuts the other talker's last word (to 8.35 s); the
    VAD misses it and it sat in the "pauses": the estimate read -20 dB."""
    est = measure_snr(_crop(sample_wav, start, end), SR)
    assert est.snr_db >= at_least, est


def test_short_real_crop_with_missed_speech_is_not_buried(sample_wav):
    """2 s that start inside a word (read -20 dB): no silence to measure, but not buried either."""
    assert estimate_snr(_crop(sample_wav, 8.0, 10.0), SR) >= 15.0


def test_clean_continuous_fixture_speech_reads_high(utterances):
    """Every fixture speaker's utterances back to back (no pauses): the quietest frames are
    quiet speech, not noise; measured 24-46 dB."""
    for spk, utts in utterances.items():
        assert estimate_snr(np.concatenate(utts), SR) >= 20.0, spk


@pytest.fixture(scope="module")
def babble_talkers(utterances, speech_with_pauses) -> list[list[np.ndarray]]:
    talkers = [u for spk, u in sorted(utterances.items())[1:]]  # all but the target speaker
    if len(talkers) < 5:
        pytest.skip("5-talker babble needs the speech fixtures (6 speakers)")
    return talkers[:5]


@pytest.mark.parametrize("snr_db", [0, 5, 10])
@pytest.mark.parametrize("seed", [0, 1])
def test_babble_within_3_db(speech_with_pauses, babble_talkers, snr_db, seed):
    """5-talker babble: up to 10 dB the VAD hears speech everywhere; the quietest frames of
    babble sit 4-5 dB below its mean (read +4..+7 dB high before the sustained-floor estimate)."""
    x = speech_with_pauses
    noise = babble(babble_talkers, len(x.samples), seed=10 * seed + snr_db)
    est = measure_snr(add_noise(x.samples, x.mask, noise, snr_db), SR)
    assert abs(est.snr_db - snr_db) <= 3.0, est


@pytest.mark.parametrize("snr_db", [0, 5, 10])
def test_white_noise_0_to_10_db_within_3_db_on_other_speakers(utterances, snr_db):
    from .clean_signals import build

    for i, (spk, utts) in enumerate(sorted(utterances.items())[1:4]):
        x = build(utts[:3], [0.6, 0.9, 1.3, 0.7])
        noisy = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=100 + i), snr_db)
        assert abs(estimate_snr(noisy, SR) - snr_db) <= 3.0, spk


@pytest.mark.parametrize("kind", ["white", "babble"])
def test_speech_missed_by_the_vad_in_noise(speech_with_pauses, babble_talkers, kind):
    """The VAD missed the first utterance of a noisy clip: the 'pauses' are mostly speech. The
    noise is still measured (white 10 dB: 9.0 dB; babble 5 dB: 4.6 dB); the pause mean read
    0.0 / -1.6 dB, the quietest-frames cap 9.9 / 10.0 dB."""
    from voxref.cleaning.vad import SpeechRegions

    x = speech_with_pauses
    snr_db = 10.0 if kind == "white" else 5.0
    n = len(x.samples)
    noise = white_noise(n, seed=4) if kind == "white" else babble(babble_talkers, n, seed=4)
    noisy = add_noise(x.samples, x.mask, noise, snr_db)
    later = SpeechRegions(tuple(x.spans[1:]), np.zeros(0), 0.032, n / SR)
    assert abs(estimate_snr(noisy, SR, regions=later) - snr_db) <= 3.0


def test_zero_padding_does_not_hide_the_noise(speech_with_pauses):
    """Digital silence around a noisy recording is not its noise floor (read 80 dB)."""
    x = speech_with_pauses
    noisy = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=5), 10.0)
    padded = np.concatenate([np.zeros(int(1.5 * SR), np.float32), noisy, np.zeros(SR // 2)])
    assert estimate_snr(padded, SR) == pytest.approx(10.0, abs=1.5)


def test_dc_offset_and_drift_change_nothing_on_real_speech(sample_wav):
    x = _crop(sample_wav, 11.5, 16.5)
    t = np.arange(len(x)) / SR
    shifted = (x + 0.2 + 0.05 * np.sin(2 * np.pi * 0.5 * t)).astype(np.float32)
    assert estimate_snr(shifted, SR) == pytest.approx(estimate_snr(x, SR), abs=0.5)


def test_reverberation_in_long_pauses_is_not_noise(speech_with_pauses):
    """RT60 0.9 s, DRR 3 dB + white noise at 30 dB: the tails decay inside the 0.9-1.3 s pauses
    and the estimate stays on the noise (measured 28.9-29.6 dB over the 6 fixture speakers)."""
    from voxref.augment.reverb import reverberate

    x = speech_with_pauses
    wet = reverberate(x.samples, SR, rt60=0.9, drr_db=3.0, seed=0)
    noisy = add_noise(wet, x.mask, white_noise(len(wet), seed=6), 30.0)
    assert estimate_snr(noisy, SR) == pytest.approx(30.0, abs=2.0)


def test_moderately_reverberant_real_speech_reads_moderate(sample_wav):
    """Continuous real speech, RT60 0.6 s (DRR 5 dB): the tails fill the gaps between words and
    read like noise, but not like loud noise (18.0 dB; 0.3 s: 24.4 dB, 0.9 s: 15.1 dB)."""
    from voxref.augment.reverb import reverberate

    wet = reverberate(_crop(sample_wav, 11.5, 16.5), SR, rt60=0.6, seed=0)
    assert estimate_snr(wet, SR) >= 15.0
