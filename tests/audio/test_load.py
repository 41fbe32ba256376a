"""voxref.audio: every input kind loads to mono float32 at the target rate; bad input -> typed error."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from voxref.audio import Audio, load_audio, resample
from voxref.errors import (
    AudioFileNotFoundError,
    AudioShapeError,
    EmptyAudioError,
    NonFiniteAudioError,
    SampleRateError,
    SilentAudioError,
    TooShortAudioError,
    UnreadableAudioError,
)


def tone(sr: int, seconds: float = 1.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    "fmt,subtype",
    [
        ("WAV", "PCM_16"),
        ("WAV", "PCM_24"),
        ("WAV", "FLOAT"),
        ("WAV", "PCM_U8"),
        ("FLAC", "PCM_16"),
        ("OGG", "VORBIS"),
        ("MP3", "MPEG_LAYER_III"),
    ],
)
def test_file_formats_load_to_16k_mono(tmp_path, fmt, subtype):
    sr = 22050
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, tone(sr), sr, format=fmt, subtype=subtype)
    a = load_audio(path)
    assert a.sample_rate == 16000 and a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert abs(a.duration - 1.0) < 0.08  # mp3/ogg add encoder padding
    assert a.original_sample_rate == sr
    assert a.history == ("resample 22050->16000 Hz (polyphase)",)
    # the tone survives: its peak frequency is still 440 Hz
    spec = np.abs(np.fft.rfft(a.samples))
    assert abs(np.argmax(spec) * 16000 / len(a.samples) - 440) < 5


def test_stereo_file_is_downmixed_visibly(tmp_path):
    sr = 16000
    st = np.stack([tone(sr), np.zeros(sr, np.float32)], axis=1)
    sf.write(tmp_path / "s.wav", st, sr)
    a = load_audio(tmp_path / "s.wav")
    assert a.original_channels == 2
    assert a.history == ("downmix 2->1 channels (mean)",)
    np.testing.assert_allclose(a.samples, tone(sr) / 2, atol=1e-4)


def test_array_tensor_pair_and_int16_agree():
    sr = 16000
    x = tone(sr)
    ref = load_audio(x, sample_rate=sr).samples
    np.testing.assert_array_equal(load_audio((x, sr)).samples, ref)
    np.testing.assert_array_equal(load_audio(torch.from_numpy(x), sample_rate=sr).samples, ref)
    np.testing.assert_array_equal(
        load_audio(torch.from_numpy(x)[None, None], sample_rate=sr).samples, ref
    )
    pcm = np.round(x * 32767).astype(np.int16)
    np.testing.assert_allclose(load_audio((pcm, sr)).samples, ref, atol=1e-4)
    # (channels, time) and (time, channels) both work
    two = np.stack([x, x])
    np.testing.assert_allclose(load_audio((two, sr)).samples, ref, atol=1e-7)
    np.testing.assert_allclose(load_audio((two.T, sr)).samples, ref, atol=1e-7)


def test_resampling_is_deterministic_and_reversible():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(48000).astype(np.float32) * 0.1
    a = resample(x, 48000, 16000)
    b = resample(x, 48000, 16000)
    assert np.array_equal(a, b)
    # a band-limited tone survives a round trip
    t = tone(16000)
    back = resample(resample(t, 16000, 44100), 44100, 16000)
    assert np.max(np.abs(back[200:-200] - t[200:-200])) < 1e-2


def test_audio_input_passthrough():
    a = Audio(tone(8000), 8000, source="x")
    b = load_audio(a)
    assert b.sample_rate == 16000 and b.source == "x" and b.original_sample_rate == 8000


@pytest.mark.parametrize(
    "make,err",
    [
        (lambda p: None, AudioFileNotFoundError),
        (lambda p: p.write_bytes(b""), EmptyAudioError),
        (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt "), UnreadableAudioError),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), UnreadableAudioError),
        (lambda p: p.write_text("hello, this is not audio\n" * 50), UnreadableAudioError),
        (lambda p: p.mkdir(), UnreadableAudioError),
    ],
    ids=["missing", "zero-bytes", "header-only", "random-bytes", "text", "directory"],
)
def test_bad_files_raise_typed_errors(tmp_path, make, err):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(err) as info:
        load_audio(p)
    assert str(p) in str(info.value)  # names the file


def test_broken_symlink(tmp_path):
    link = tmp_path / "link.wav"
    link.symlink_to(tmp_path / "gone.wav")
    with pytest.raises(AudioFileNotFoundError, match="broken symbolic link"):
        load_audio(link)


@pytest.mark.parametrize(
    "x,kw,err",
    [
        (np.zeros(0, np.float32), {"sample_rate": 16000}, EmptyAudioError),
        (np.zeros(16000, np.float32), {"sample_rate": 16000}, SilentAudioError),
        (np.full(16000, np.nan, np.float32), {"sample_rate": 16000}, NonFiniteAudioError),
        (
            np.r_[np.ones(100), np.inf].astype(np.float32),
            {"sample_rate": 16000},
            NonFiniteAudioError,
        ),
        (np.ones(16000, np.float32), {}, SampleRateError),
        (np.ones(16000, np.float32), {"sample_rate": 100}, SampleRateError),
        (np.ones(16000, np.float32), {"sample_rate": 10_000_000}, SampleRateError),
        (np.ones(16000, np.float32), {"sample_rate": 16000.5}, SampleRateError),
        (np.ones((2, 3, 16000), np.float32), {"sample_rate": 16000}, AudioShapeError),
        (np.ones((100, 16000), np.float32), {"sample_rate": 16000}, AudioShapeError),
        (np.array(1.0), {"sample_rate": 16000}, AudioShapeError),
        (np.array(["a", "b"]), {"sample_rate": 16000}, AudioShapeError),
        (np.ones(16000, np.complex64), {"sample_rate": 16000}, AudioShapeError),
    ],
    ids=[
        "empty",
        "all-zero",
        "nan",
        "inf",
        "no-rate",
        "rate-too-low",
        "rate-too-high",
        "rate-fraction",
        "3d",
        "100-channels",
        "scalar",
        "strings",
        "complex",
    ],
)
def test_bad_arrays_raise_typed_errors(x, kw, err):
    with pytest.raises(err):
        load_audio(x, **kw)


def test_too_short():
    with pytest.raises(TooShortAudioError, match="at least 1.00 s"):
        load_audio(tone(16000, 0.2), sample_rate=16000, min_duration=1.0)


def test_a_long_file_is_read_whole_with_a_hint_to_stream_it(tmp_path, monkeypatch, caplog) -> None:
    import logging

    import voxref.audio.load as load

    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16000 * 3, np.float32) + 0.01, 16000)
    with caplog.at_level(logging.WARNING, logger="voxref.audio.load"):
        x, sr = load.read_file(path)
    assert not [r for r in caplog.records if "embed_long" in r.message]  # short: no hint
    monkeypatch.setattr(load, "LONG_FILE_S", 2.0)
    with caplog.at_level(logging.WARNING, logger="voxref.audio.load"):
        y, _ = load.read_file(path)
    hints = [r.message for r in caplog.records if "embed_long" in r.message]
    assert len(hints) == 1 and "long.wav" in hints[0]
    assert np.array_equal(x, y) and sr == 16000  # still read whole
