"""The cleaning pipeline end to end on real speech."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from voxref.audio import Audio, resample
from voxref.cleaning import CleanResult, SpectralGate, clean
from voxref.errors import AudioFileNotFoundError, NoSpeechError, TooShortAudioError

from .clean_signals import SR, add_noise, white_noise


def test_speech_is_the_regions_joined(speech_with_pauses):
    x = speech_with_pauses
    r = clean((x.samples, SR), denoise="off")
    assert isinstance(r, CleanResult) and r.denoiser == "off"
    assert r.report.verdict == "ok", r.report.reasons
    assert r.denoised.num_samples == len(x.samples)
    np.testing.assert_array_equal(r.denoised.samples, x.samples)
    assert r.speech.duration == pytest.approx(
        r.regions.speech_duration, abs=2 / SR * len(r.regions)
    )
    truth = sum(e - s for s, e in x.spans)
    assert truth - 0.1 <= r.speech.duration <= truth + 0.3 * len(x.spans)  # padding 0.1 s per side
    assert r.audio is r.speech
    assert "vad silero-onnx" in r.speech.history[-1]


def test_noisy_file_is_denoised_and_history_says_so(speech_with_pauses, tmp_path):
    x = speech_with_pauses
    noisy = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=2), 5.0)
    path = tmp_path / "noisy22k.wav"
    sf.write(path, resample(noisy, SR, 22050), 22050, subtype="FLOAT")
    r = clean(path, denoise=SpectralGate(stationary=True))
    assert r.denoiser == "gate-stationary"
    assert r.report.original_sample_rate == 22050 and r.denoised.sample_rate == SR
    assert r.report.snr_db == pytest.approx(5.0, abs=3.0)
    hist = r.speech.history
    assert hist[0] == "resample 22050->16000 Hz (polyphase)"
    assert hist[1] == "denoise gate-stationary"
    assert hist[2].startswith("vad ")
    denoised = r.denoised.samples[: len(noisy)]  # 16k -> 22.05k -> 16k may add a sample
    assert np.std(denoised[~x.mask]) < 0.5 * np.std(noisy[~x.mask])


def test_auto_policy_runs_dfn3_only_on_noisy_audio(speech_with_pauses):
    x = speech_with_pauses
    n = 5 * SR
    clean_part, mask = x.samples[:n], x.mask[:n]
    noisy = add_noise(clean_part, mask, white_noise(n, seed=4), 5.0)
    r = clean((noisy, SR), denoise="auto")
    assert r.denoiser == "dfn3"
    assert r.denoised.history[-1].startswith("denoise dfn3 (auto: estimated SNR")
    quiet = clean(
        (clean_part + 1e-5 * white_noise(n, seed=4).astype(np.float32), SR), denoise="auto"
    )
    assert quiet.denoiser == "off"
    assert quiet.denoised.history[-1].startswith("denoise off (auto: estimated SNR")


def test_auto_policy_measures_noise_modulation_only_below_the_threshold(
    speech_with_pauses, monkeypatch
):
    import voxref.cleaning.noise_profile as noise_profile

    x = speech_with_pauses
    n = 5 * SR
    clean_part, mask = x.samples[:n], x.mask[:n]
    calls = []
    measure = noise_profile.noise_modulation
    monkeypatch.setattr(
        noise_profile, "noise_modulation", lambda *a, **k: calls.append(1) or measure(*a, **k)
    )
    quiet = clean(
        (clean_part + 1e-5 * white_noise(n, seed=4).astype(np.float32), SR), denoise="auto"
    )
    assert quiet.denoiser == "off" and calls == []
    assert quiet.denoised.history[-1].endswith("noise modulation not needed)")
    noisy = add_noise(clean_part, mask, white_noise(n, seed=4), 5.0)
    r = clean((noisy, SR), denoise="auto")
    assert r.denoiser == "dfn3" and calls == [1]
    assert "noise modulation 0." in r.denoised.history[-1]


def test_rejections_are_reports_not_errors(tmp_path):
    noise = (0.1 * white_noise(2 * SR, seed=0)).astype(np.float32)
    r = clean((noise, SR))
    assert r.report.verdict == "reject" and r.speech.num_samples == 0
    assert r.denoised.history[-1] == "denoise skipped: no speech"
    with pytest.raises(NoSpeechError, match="no speech detected"):
        r.raise_if_rejected()
    silent = clean((np.zeros(SR, np.float32), SR))
    assert silent.report.reasons == ["digital silence (all samples ~0)"]
    with pytest.raises(NoSpeechError):
        silent.raise_if_rejected()


def test_too_little_speech_raises_too_short(utterances):
    u = utterances[sorted(utterances)[0]][0]
    pad = np.zeros(SR // 2, np.float32)
    r = clean((np.concatenate([pad, u[: int(2.0 * SR)], pad]), SR), denoise="off", min_speech=5.0)
    assert r.report.verdict == "reject"
    with pytest.raises(TooShortAudioError):
        r.raise_if_rejected()


def test_accepts_audio_objects_and_keeps_their_history(speech_with_pauses):
    a = Audio(speech_with_pauses.samples, SR, source="mine", history=("earlier step",))
    r = clean(a, denoise="off")
    assert r.source == "mine" and r.speech.history[0] == "earlier step"


def test_undecodable_input_raises(tmp_path):
    with pytest.raises(AudioFileNotFoundError):
        clean(tmp_path / "missing.wav")


def test_deterministic(speech_with_pauses):
    x = speech_with_pauses
    noisy = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=8), 10.0)
    a, b = clean((noisy, SR), denoise="gate"), clean((noisy, SR), denoise="gate")
    assert np.array_equal(a.speech.samples, b.speech.samples)
    assert a.report.to_dict() == b.report.to_dict()
