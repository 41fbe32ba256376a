"""Quality reports on real speech made worse in known ways."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

from voxref.audio import load_audio, resample
from voxref.audio.level import active_level_db
from voxref.cleaning import check, format_reports
from voxref.cleaning.quality import (
    WEAK_BANDWIDTH_HZ,
    WEAK_CLIPPING_RATIO,
    QualityReport,
    clipping_ratio,
    estimate_bandwidth,
)

from .clean_signals import SR, add_noise, white_noise


@pytest.fixture(scope="module")
def speech(speech_with_pauses) -> np.ndarray:
    x = speech_with_pauses.samples
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def test_clean_speech_is_ok(speech):
    r = check((speech, SR))
    assert r.verdict == "ok", r.reasons
    assert r.clipping_ratio < 0.001
    assert r.bandwidth_hz > 7000
    assert r.snr_db > 40
    assert r.level_dbfs == pytest.approx(
        10 * np.log10(np.mean(speech[np.abs(speech) > 0] ** 2)), abs=3
    )
    assert 0.9 < r.weight_hint <= 1.0


def test_clipping_is_detected(speech):
    driven = 6 * speech
    truth = float(np.mean(np.abs(driven) >= 1.0))
    clipped = np.clip(driven, -1.0, 1.0)
    assert clipping_ratio(clipped) == pytest.approx(truth, rel=0.15)
    r = check((clipped, SR))
    assert r.clipping_ratio > WEAK_CLIPPING_RATIO
    assert r.verdict in ("weak", "reject") and any("clipped" in why for why in r.reasons)
    # scaled down after clipping: still flat tops
    assert clipping_ratio(0.3 * clipped) == pytest.approx(clipping_ratio(clipped))


def test_clipping_is_measured_at_the_file_rate(speech, tmp_path):
    """A clipped 44.1 kHz file: resampling to 16 kHz would hide the flat tops; the report does not."""
    x44 = np.clip(6 * resample(speech, SR, 44100), -1.0, 1.0)
    truth = float(np.mean(np.abs(x44) >= 1.0))
    path = tmp_path / "clipped44k.wav"
    sf.write(path, x44, 44100, subtype="FLOAT")
    r = check(path)
    assert r.original_sample_rate == 44100
    assert r.clipping_ratio == pytest.approx(truth, rel=0.15)
    assert any("clipped" in why for why in r.reasons)


def test_silence_only_file_is_rejected(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(3 * SR, np.float32), SR)
    r = check(path)
    assert r.verdict == "reject"
    assert r.reasons == ["digital silence (all samples ~0)"]
    assert r.duration_s == pytest.approx(3.0)
    assert r.weight_hint == 0.0


def test_near_silence_and_noise_only_files_are_rejected(tmp_path):
    for name, level in (("hiss", 1e-4), ("noise", 0.1)):
        path = tmp_path / f"{name}.wav"
        sf.write(path, (level * white_noise(3 * SR, seed=1)).astype(np.float32), SR)
        r = check(path)
        assert r.verdict == "reject" and len(r.reasons) == 1, (name, r.reasons)
        assert r.reasons[0].startswith("no speech detected"), r.reasons
        assert r.speech_s == 0.0
        # a quiet recording is told that it is quiet (speech that quiet can be missed), a loud
        # one is not
        assert ("-80 dBFS" in r.reasons[0] and "raise its gain" in r.reasons[0]) == (name == "hiss")


def test_telephone_band_gets_a_low_bandwidth(speech):
    sos = butter(8, [300, 3400], btype="bandpass", fs=SR, output="sos")
    phone = sosfiltfilt(sos, speech).astype(np.float32)
    r = check((phone, SR))
    assert 3000 < r.bandwidth_hz < 4200
    assert any("narrowband" in why for why in r.reasons) and r.verdict == "weak"
    assert estimate_bandwidth(speech, SR) > 7000


def test_8_khz_recording_is_flagged(speech):
    r = check((resample(speech, SR, 8000), 8000))
    assert r.original_sample_rate == 8000 and r.sample_rate == SR
    assert r.bandwidth_hz < WEAK_BANDWIDTH_HZ + 500
    assert any("8000 Hz" in why for why in r.reasons)
    wideband = check((speech, SR))
    assert r.weight_hint == pytest.approx(0.7 * wideband.weight_hint, rel=0.05)


def test_short_speech_is_weak_then_rejected(utterances):
    u = utterances[sorted(utterances)[0]][0]
    pad = np.zeros(SR // 2, np.float32)
    weak = check((np.concatenate([pad, u[: int(1.8 * SR)], pad]), SR))
    assert weak.verdict == "weak" and any("short" in why for why in weak.reasons)
    tiny = check((np.concatenate([pad, u[: int(0.3 * SR)], pad]), SR))
    assert tiny.verdict == "reject"
    assert tiny.speech_s < 0.5 or tiny.reasons == ["no speech detected"]


def test_noise_lowers_verdict_and_weight(speech_with_pauses):
    x = speech_with_pauses
    reports = {
        snr: check(
            (add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=snr + 20), snr), SR)
        )
        for snr in (-10, 5, 20)
    }
    assert reports[20].verdict == "ok"
    assert reports[5].verdict == "weak" and any("noisy" in why for why in reports[5].reasons)
    assert reports[-10].verdict == "reject"
    assert reports[20].weight_hint > reports[5].weight_hint > reports[-10].weight_hint == 0.0


def test_overlap_ratio_is_set_later():
    r = QualityReport("a.wav", 10.0, 9.0, snr_db=30.0, bandwidth_hz=8000.0).judge()
    assert r.overlap_ratio is None and r.verdict == "ok"
    w = r.weight_hint
    assert r.set_overlap_ratio(0.2).verdict == "weak" and r.weight_hint == pytest.approx(0.8 * w)
    assert r.set_overlap_ratio(0.7).verdict == "reject" and r.weight_hint == 0.0


def test_report_serialises_and_formats(speech):
    reports = [
        check((speech, SR), source="good.wav"),
        QualityReport.rejected("bad.wav", "cannot be decoded"),
    ]
    d = json.loads(json.dumps([r.to_dict() for r in reports]))
    assert d[0]["verdict"] == "ok" and d[0]["overlap_ratio"] is None and d[1]["snr_db"] is None
    assert set(d[0]) >= {
        "source",
        "duration_s",
        "speech_s",
        "snr_db",
        "clipping_ratio",
        "level_dbfs",
        "sample_rate",
        "original_sample_rate",
        "bandwidth_hz",
        "overlap_ratio",
        "dnsmos",
        "verdict",
        "reasons",
        "weight_hint",
        "peak_dbfs",
        "dc_offset",
        "notes",
    }
    table = format_reports(reports)
    assert "good.wav" in table and "bad.wav" in table and "cannot be decoded" in table
    assert len(table.splitlines()) == 4  # header, 2 rows, 1 reason


def test_clipping_of_a_file_is_the_same_at_every_rate_and_on_every_path(speech, tmp_path):
    """One clipped recording saved at 16, 44.1 and 48 kHz: one verdict, one clipping figure,
    whether the file is checked directly or first loaded at 16 kHz (as ``voxref.embed`` does:
    that path measured the resampled audio, ~0.2 % clipped at 44.1/48 kHz instead of ~18 %)."""
    reports = []
    for rate in (16000, 44100, 48000):
        path = tmp_path / f"clipped{rate}.wav"
        sf.write(path, np.clip(20 * resample(speech, SR, rate), -1, 1), rate, subtype="PCM_16")
        reports += [check(path), check(load_audio(path))]
    ratios = [r.clipping_ratio for r in reports]
    assert max(ratios) < 1.1 * min(ratios), ratios
    assert {r.verdict for r in reports} == {"reject"}
    assert all("heavily clipped" in r.reasons[0] for r in reports)


def test_dither_dc_and_tones_are_not_called_clipped():
    """Clipping is a flat run at a rail; a few LSB of dither, an offset or a tone is not one."""
    rng = np.random.default_rng(5)
    t = np.arange(3 * SR) / SR
    signals = {
        "dither": rng.integers(-1, 2, 3 * SR) / 32768,
        "dc": np.full(3 * SR, 0.2),
        "sine": np.round(0.5 * np.sin(2 * np.pi * 440 * t) * 32767) / 32768,
        "hum": 0.9 * np.sin(2 * np.pi * 50 * t),
    }
    for name, x in signals.items():
        r = check((x.astype(np.float32), SR))
        assert r.clipping_ratio < WEAK_CLIPPING_RATIO, (name, r.clipping_ratio)
        assert not any("clipped" in why for why in r.reasons), (name, r.reasons)


@pytest.mark.parametrize("level", [-70.0, -80.0, -90.0])
def test_quiet_speech_is_told_its_level_and_the_fix(speech_with_pauses, level):
    """However little speech the VAD finds in a very quiet recording, the report says how quiet it
    is and what to do; it used to say only "no speech detected" (or "only 0.3 s of speech")."""
    x = speech_with_pauses.samples
    quiet = x * np.float32(10 ** ((level - active_level_db(x, SR)) / 20))
    r = check((quiet, SR))
    assert r.level_dbfs == pytest.approx(level, abs=4)
    told = [why for why in r.reasons if f"{r.level_dbfs:.0f} dBFS" in why]
    assert told and all("raise its gain" in why for why in told), r.reasons
    if r.speech_s < r.min_speech_s:
        assert "can go undetected" in r.reasons[0] and r.verdict == "reject"


def test_report_keeps_what_reading_assumed(speech):
    """Integer PCM stored as floats, and channels that cancel, are noted in the report."""
    stereo = np.stack([speech, -speech], axis=1)
    r = check((np.round(stereo * 32767).astype(np.float32), SR))
    assert r.verdict == "ok", r.reasons  # not "digital silence"
    assert len(r.notes) == 2 and "16-bit PCM" in r.notes[0] and "cancel" in r.notes[1]
    assert r.peak_dbfs == pytest.approx(20 * np.log10(0.5), abs=0.01)
    table = format_reports([r])
    assert all(f"note: {n}" in table for n in r.notes)
    assert json.loads(json.dumps(r.to_dict()))["notes"] == r.notes


@pytest.mark.slow
def test_dnsmos_is_opt_in_and_sees_the_noise(speech_with_pauses):
    pytest.importorskip("speechmos")
    x = speech_with_pauses
    assert check((x.samples, SR)).dnsmos is None
    clean_scores = check((x.samples, SR), report_dnsmos=True).dnsmos
    noisy = check(
        (add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=4), 0.0), SR),
        report_dnsmos=True,
    )
    assert set(clean_scores) == {"ovrl_mos", "sig_mos", "bak_mos", "p808_mos"}
    assert noisy.dnsmos["bak_mos"] < clean_scores["bak_mos"] - 1.0
    assert noisy.dnsmos["ovrl_mos"] < clean_scores["ovrl_mos"]


@pytest.mark.parametrize("n", [101, 512, 8000, 16000 * 5 + 37])
def test_welch_density_is_scipys_welch(pyannote_sample, n):
    from scipy.signal import welch

    from voxref.cleaning.quality import welch_density

    x, sr = sf.read(pyannote_sample[0], dtype="float32")
    seg = x[sr : sr + n].astype(np.float64)
    nper = min(n, 512)
    f0, p0 = welch(seg, fs=sr, nperseg=nper)
    f, p = welch_density(seg, sr, nper)
    assert np.array_equal(f, f0)
    np.testing.assert_allclose(p, p0, rtol=1e-9, atol=0)
    assert not np.allclose(p[1:-1], p0[1:-1] / 2, rtol=1e-3, atol=0)  # one-sided: doubled bins
