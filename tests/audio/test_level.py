"""Speech level normalisation: measured on real (synthesised) speech, and its effect on embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from voxref.audio.level import (
    MAX_GAIN_DB,
    SPEECH_BAND_HZ,
    TARGET_LEVEL_DBFS,
    ActiveLevelMeter,
    active_level_db,
    normalize_level,
)


@pytest.fixture(scope="module")
def utterance(speech_by_speaker) -> tuple[np.ndarray, int]:
    first = next(iter(speech_by_speaker.values()))[0]
    x, sr = sf.read(first, dtype="float32")
    return x, sr


def test_active_level_ignores_pauses_and_follows_gain(utterance) -> None:
    x, sr = utterance
    level = active_level_db(x, sr)
    assert -45.0 < level < -3.0
    padded = np.concatenate([np.zeros(3 * sr, np.float32), x, np.zeros(3 * sr, np.float32)])
    assert active_level_db(padded, sr) == pytest.approx(level, abs=0.01)
    for gain_db in (-25.0, -10.0, 6.0):
        y = x * np.float32(10 ** (gain_db / 20))
        assert active_level_db(y, sr) == pytest.approx(level + gain_db, abs=0.05)
    assert active_level_db(np.zeros(sr, np.float32), sr) == float("-inf")


@pytest.mark.parametrize("gain_db", [-30.0, -8.0, 0.0, 10.0])
def test_normalize_level_reaches_the_target_whatever_the_input_gain(utterance, gain_db) -> None:
    x, sr = utterance
    y, applied = normalize_level(x * np.float32(10 ** (gain_db / 20)), sr, -23.0)
    band_level = active_level_db(x, sr, SPEECH_BAND_HZ)
    assert active_level_db(y, sr, SPEECH_BAND_HZ) == pytest.approx(-23.0, abs=0.05)
    assert applied == pytest.approx(-23.0 - band_level - gain_db, abs=0.05)
    # full band: the same gain, measured without the band-pass
    y_full, _ = normalize_level(x, sr, -23.0, band=None)
    assert active_level_db(y_full, sr) == pytest.approx(-23.0, abs=0.05)
    # the waveform is only scaled
    assert np.corrcoef(x, y)[0, 1] > 0.9999


def test_speech_band_level_ignores_what_lies_outside_the_voice_band(utterance) -> None:
    """A telephone copy (300-3400 Hz) or a copy with low rumble is scaled like the original by
    the speech-band meter; the full-band meter scales them apart by several dB."""
    from scipy.signal import butter, sosfiltfilt

    x, sr = utterance
    rng = np.random.default_rng(0)
    sos = butter(8, [300, 3400], btype="bandpass", fs=sr, output="sos")
    phone = sosfiltfilt(sos, x).astype(np.float32)
    rumble_sos = butter(4, 120, btype="lowpass", fs=sr, output="sos")
    rumble = sosfiltfilt(rumble_sos, rng.standard_normal(len(x))).astype(np.float32)
    rumble *= np.float32(3.0 * np.sqrt(np.mean(x**2)) / np.sqrt(np.mean(rumble**2)))
    rumbly = x + rumble  # rumble ~10 dB above the speech, all below 120 Hz
    g = normalize_level(x, sr)[1]
    assert normalize_level(phone, sr)[1] == pytest.approx(g, abs=0.5)
    assert normalize_level(rumbly, sr)[1] == pytest.approx(g, abs=0.5)
    g_full = normalize_level(x, sr, band=None)[1]
    assert normalize_level(rumbly, sr, band=None)[1] < g_full - 6.0


def test_band_meter_streams_exactly(utterance) -> None:
    x, sr = utterance
    meter = ActiveLevelMeter(sr, SPEECH_BAND_HZ)
    for piece in np.array_split(x, 13):
        meter.update(piece)
    assert meter.level_db() == pytest.approx(active_level_db(x, sr, SPEECH_BAND_HZ), abs=1e-9)
    # an 8 kHz telephone file keeps a valid band
    assert np.isfinite(active_level_db(x[::2], sr // 2, SPEECH_BAND_HZ))
    # a long piece is measured in blocks: the same value with blocks far smaller than the signal
    small = ActiveLevelMeter(sr, SPEECH_BAND_HZ)
    small.block = 1000  # not a multiple of the 320-sample frame
    small.update(x)
    assert small.level_db() == pytest.approx(active_level_db(x, sr, SPEECH_BAND_HZ), abs=1e-9)


def test_normalize_level_limits_the_gain_and_leaves_silence_alone(utterance) -> None:
    x, sr = utterance
    faint = x * np.float32(1e-4)  # -80 dB
    _, gain = normalize_level(faint, sr, -20.0)
    assert gain == MAX_GAIN_DB
    silence = np.zeros(sr, np.float32)
    y, gain = normalize_level(silence, sr)
    assert gain == 0.0 and not y.any()


def test_embedding_does_not_depend_on_the_recording_level(speech_by_speaker) -> None:
    """GE2E's power-mel input is level-dependent: without the normalisation a 20 dB quieter copy
    of a clip embeds measurably apart (cosine ~0.75-0.9 measured), with it the two agree."""
    from voxref import Embedder

    clip = next(iter(speech_by_speaker.values()))[1]
    x, sr = sf.read(clip, dtype="float32")
    quiet = x * np.float32(0.1)
    levelled, raw = Embedder(clean=False), Embedder(clean=False, level_dbfs=None)
    assert levelled.level_dbfs == TARGET_LEVEL_DBFS == -22.0  # on by default
    a, b = levelled.embed([(x, sr)]), levelled.embed([(quiet, sr)])
    c, d = raw.embed([(x, sr)]), raw.embed([(quiet, sr)])
    assert float(a @ b) > 0.999
    assert float(c @ d) < 0.97
    res = levelled.embed([(quiet, sr)], return_details=True)
    steps = " ".join(res.references[0].prepared.speech.history)
    assert "level: speech scaled by +" in steps  # the step is visible


def test_level_option_reaches_the_embedder_from_the_command_line(
    speech_by_speaker, tmp_path
) -> None:
    """``voxref embed --level off`` embeds as recorded; ``--level -30`` at -30 dBFS."""
    from voxref import Embedder
    from voxref.cli.main import main

    clip = next(iter(speech_by_speaker.values()))[2]
    x, sr = sf.read(clip, dtype="float32")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, x * np.float32(0.05), sr)
    outs = {}
    for level in ("off", "-30"):
        out = tmp_path / f"{level}.npy"
        assert main(["embed", str(quiet), "-o", str(out), "--level", level]) == 0
        outs[level] = np.load(out)
    assert np.allclose(outs["off"], Embedder(level_dbfs=None).embed([quiet]), atol=1e-5)
    assert np.allclose(outs["-30"], Embedder(level_dbfs=-30.0).embed([quiet]), atol=1e-5)
    assert float(outs["off"] @ outs["-30"]) < 0.99  # the option changed something


def test_embedder_rejects_a_level_that_is_not_a_number() -> None:
    from voxref import Embedder
    from voxref.errors import ConfigError

    for bad in ("loud", float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="level_dbfs"):
            Embedder(level_dbfs=bad)
