"""Reading input right: every dtype, scale, channel layout and tensor kind gives the recording it
holds (or a typed error that says what to do), and its properties are measured as read.

Each test below failed before these rules existed: int64 arrays were digital silence, int16
values stored as floats were embedded ~100 dB too loud, phase-inverted stereo cancelled to
silence, finite huge values were called "NaN or infinite", sparse/meta/nested tensors raised
raw TypeError / NotImplementedError / RuntimeError, and clipping was measured after resampling.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from voxref.audio import load_audio, resample
from voxref.audio.properties import clipping_ratio
from voxref.audio.stream import iter_blocks
from voxref.errors import AudioShapeError, OutOfRangeAudioError

SR = 16000


@pytest.fixture(scope="module")
def speech(speech_by_speaker) -> np.ndarray:
    """A flite utterance, float32 at 16 kHz, peak 0.7 (so that 16-bit copies are exact)."""
    x, sr = sf.read(speech_by_speaker["flite-slt"][0], dtype="float32")
    assert sr == SR
    return np.round(0.7 * x / np.abs(x).max() * 32768).astype(np.float32) / 32768


@pytest.fixture(scope="module")
def pcm16(speech: np.ndarray) -> np.ndarray:
    return np.round(speech * 32768).astype(np.int16)


# ----------------------------------------------------------------------------- integer dtypes
@pytest.mark.parametrize(
    "make,inferred",
    [
        (lambda p: p.astype(np.int32), True),  # int16 samples in an int32 array
        (lambda p: p.astype(np.int64), True),  # np.array(list of ints): int64
        (lambda p: p.astype(np.int32) << 16, False),  # 32-bit PCM (soundfile dtype="int32")
        (lambda p: p.astype(np.int32) << 8, True),  # 24-bit, right-justified in int32
        (lambda p: (p.astype(np.int32) + 32768).astype(np.uint16), False),  # offset binary
        (lambda p: (p.astype(np.int64) + 32768).astype(np.uint32), True),
        (lambda p: torch.from_numpy(p.astype(np.int64)), True),  # torch.tensor(list of ints)
    ],
    ids=[
        "int32-16bit",
        "int64-16bit",
        "int32-full",
        "int32-24bit",
        "uint16",
        "uint32",
        "torch-int64",
    ],
)
def test_every_integer_dtype_reads_as_the_recording(pcm16, speech, make, inferred, caplog):
    with caplog.at_level(logging.WARNING, logger="voxref"):
        a = load_audio((make(pcm16), SR))
    np.testing.assert_allclose(a.samples, speech, atol=1.5 / 32768)
    notes = a.as_read.notes
    assert bool(notes) == inferred, notes
    if inferred:
        assert "bits: read as" in notes[0] and any(
            notes[0] in r.getMessage() for r in caplog.records
        )


# ----------------------------------------------------------------------------- float scale
@pytest.mark.parametrize(
    "bits,dtype",
    [(8, np.float32), (16, np.float32), (16, np.float64), (24, np.float32), (32, np.float64)],
)
def test_integer_pcm_stored_as_floats_is_rescaled_with_a_note(speech, bits, dtype, caplog):
    full = 2.0 ** (bits - 1)
    proper = np.round(speech * full) / full
    with caplog.at_level(logging.WARNING, logger="voxref"):
        a = load_audio((np.round(speech * full).astype(dtype), SR))
    np.testing.assert_allclose(a.samples, proper.astype(np.float32), atol=1e-6)
    note = f"read as {bits}-bit PCM (divided by {full:.0f})"
    assert note in a.as_read.notes[0] and any(note in h for h in a.history)
    assert any(note in r.getMessage() for r in caplog.records)


def test_integer_scaled_float_file_is_rescaled(tmp_path, speech, pcm16):
    path = tmp_path / "int16 values.wav"
    sf.write(path, pcm16.astype(np.float32), SR, subtype="FLOAT")  # values up to 22937
    a = load_audio(path)
    np.testing.assert_allclose(a.samples, speech, atol=1e-6)
    assert "16-bit PCM" in a.as_read.notes[0]
    # streamed the same way
    streamed = np.concatenate([b.samples for b in iter_blocks(path, SR, read_frames=5000)])
    np.testing.assert_array_equal(streamed, a.samples)


def test_out_of_range_floats_without_a_pcm_scale_are_peak_normalised(speech):
    x = resample(speech * 32768.0, SR, 22050)  # int16 scale, then resampled: not whole numbers
    a = load_audio((x, 22050))
    assert np.abs(a.samples).max() == pytest.approx(1.0, abs=0.02)
    assert "scaled by 1/" in a.as_read.notes[0]
    reference = load_audio((resample(speech, SR, 22050), 22050)).samples
    assert np.corrcoef(a.samples, reference)[0, 1] > 0.9999
    # floats a little over full scale are left as they are
    assert load_audio((1.5 * speech, SR)).as_read.notes == ()


@pytest.mark.parametrize(
    "make",
    [
        lambda s: s.astype(np.float64) * 1e300,
        lambda s: torch.from_numpy(s.astype(np.float64) * 1e300),
        lambda s: np.stack([s * 3e38 / np.abs(s).max()] * 2),  # float32, the mean overflows
        lambda s: s * 1e15,
    ],
    ids=["float64-1e300", "tensor-float64-1e300", "stereo-float32-3e38", "float32-1e15"],
)
def test_finite_huge_values_are_called_what_they_are(speech, make):
    with pytest.raises(OutOfRangeAudioError) as info:
        load_audio((make(speech), SR))
    msg = str(info.value)
    assert "finite" in msg and "NaN" not in msg and "scale it to [-1, 1]" in msg


def test_finite_huge_values_in_a_double_file(tmp_path, speech):
    path = tmp_path / "huge.wav"
    sf.write(path, speech.astype(np.float64) * 1e300, SR, subtype="DOUBLE")
    for read in (load_audio, lambda p: list(iter_blocks(p))):
        with pytest.raises(OutOfRangeAudioError, match="finite"):
            read(path)


# ----------------------------------------------------------------------------- channels
def test_phase_inverted_stereo_uses_one_channel(tmp_path, speech, caplog):
    rng = np.random.default_rng(3)
    hiss = 1e-3 * rng.standard_normal((len(speech), 2)).astype(np.float32)
    cases = {
        "exact": np.stack([speech, -speech], axis=1),
        "gain-and-hiss": np.stack([0.8 * speech, -speech], axis=1) + hiss,
    }
    for name, x in cases.items():
        path = tmp_path / f"{name}.wav"
        sf.write(path, x, SR, subtype="FLOAT")
        with caplog.at_level(logging.WARNING, logger="voxref"):
            a = load_audio(path)
        loud = int(np.argmax(np.abs(x).max(axis=0)))
        np.testing.assert_allclose(a.samples, x[:, loud], atol=1e-6)
        assert "the channels cancel when averaged" in a.as_read.notes[0], name
        assert any("channel" in h and "alone" in h for h in a.history)
        streamed = np.concatenate([b.samples for b in iter_blocks(path, SR, read_frames=7000)])
        np.testing.assert_array_equal(streamed, a.samples)
    # ordinary stereo (correlated, or one channel quiet) is still averaged
    for x in (np.stack([speech, 0.5 * speech], 1), np.stack([speech, hiss[:, 0]], 1)):
        a = load_audio((x, SR))
        np.testing.assert_allclose(a.samples, x.mean(axis=1), atol=1e-7)
        assert a.history == ("downmix 2->1 channels (mean)",) and a.as_read.notes == ()


# ----------------------------------------------------------------------------- tensors and arrays
def test_sparse_and_quantised_tensors_are_read_as_their_samples(speech):
    dense = torch.from_numpy(speech.copy())
    want = load_audio((dense, SR)).samples
    with warnings.catch_warnings():  # torch's own beta / deprecation notices
        warnings.simplefilter("ignore")
        sparse = (dense.to_sparse(), dense[None].to_sparse_csr(), dense[None].to_sparse_csc())
        q = torch.quantize_per_tensor(dense, 1 / 32768, 0, torch.qint32)
    for t in sparse:
        np.testing.assert_array_equal(load_audio((t, SR)).samples, want)
    np.testing.assert_allclose(load_audio((q, SR)).samples, want, atol=1e-4)


@pytest.mark.parametrize(
    "make,advice",
    [
        (lambda s: torch.empty(len(s), device="meta"), "no samples"),
        (
            lambda s: torch.nested.nested_tensor([torch.from_numpy(s), torch.from_numpy(s[:800])]),
            "unbind",
        ),
        (lambda s: torch.from_numpy(s).to(torch.complex64), "x.real"),
        (lambda s: s.astype(np.complex128), "x.real"),
        (lambda s: np.array([0.1, "a"], dtype=object), "np.asarray(x, dtype=np.float32)"),
        (lambda s: np.array(0.5), "1-D array"),
        (lambda s: np.stack([np.stack([s, s])] * 2), "voxref.embed(list(x))"),
        (lambda s: s > 0, "float samples in [-1, 1]"),
        (lambda s: np.ma.masked_array(s, mask=s > 0.3), "x.filled(0)"),
        (lambda s: np.arange(10).astype("datetime64[s]"), "not numbers"),
    ],
    ids=[
        "meta",
        "nested",
        "complex-tensor",
        "complex",
        "object",
        "0-d",
        "3-d",
        "bool",
        "masked",
        "datetime",
    ],
)
def test_odd_inputs_raise_a_typed_error_that_says_what_to_do(speech, make, advice):
    with warnings.catch_warnings():  # nested tensors warn that they are a prototype
        warnings.simplefilter("ignore")
        x = make(speech)
    with pytest.raises(AudioShapeError) as info:
        load_audio((x, SR))
    assert advice in str(info.value)


# ----------------------------------------------------------------------------- measured as read
@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_clipping_is_measured_on_the_samples_as_read(speech, rate):
    x = resample(speech, SR, rate)
    driven = 5.0 * x / np.abs(x).max()
    truth = float(np.mean(np.abs(driven) >= 1.0))
    a = load_audio((np.clip(driven, -1, 1), rate))
    assert a.as_read.sample_rate == rate and a.as_read.clipping_ratio == pytest.approx(
        truth, rel=0.05
    )
    if rate != SR:  # what measuring after resampling would have said
        assert clipping_ratio(a.samples) < 0.2 * truth


def test_properties_survive_later_steps(speech):
    from voxref.audio.level import level_audio

    x = np.stack([np.clip(3 * speech, -1, 1) + 0.05, 0.5 * speech], axis=1)
    a = load_audio((x, 48000))
    p = a.as_read
    assert (p.channels, p.sample_rate, p.num_frames) == (2, 48000, len(speech))
    assert p.dc_offset == pytest.approx(float(x[:, 0].mean()), abs=1e-6)
    assert p.peak == pytest.approx(1.05, abs=1e-6) and p.clipping_ratio > 0.01
    assert level_audio(a, -30.0).as_read is p and load_audio(a).as_read is p


@pytest.mark.parametrize("rate", [16000, 48000])
def test_dither_dc_and_tones_are_not_clipping(rate):
    rng = np.random.default_rng(0)
    t = np.arange(3 * rate) / rate
    signals = {
        "rpdf-dither": rng.integers(-1, 2, len(t)) / 32768,
        "tpdf-dither": (rng.integers(-1, 2, len(t)) + rng.integers(-1, 2, len(t))) / 32768,
        "dc": np.full(len(t), 0.2),
        **{
            f"sine-{f}Hz-16bit": np.round(0.99 * np.sin(2 * np.pi * f * t + 0.3) * 32767) / 32768
            for f in (20, 50, 100, 440, 1000)
        },
        "sine-100Hz-float": 0.5 * np.sin(2 * np.pi * 100 * t),
    }
    for name, x in signals.items():
        assert clipping_ratio(x) < 0.01, name  # WEAK_CLIPPING_RATIO: not even "clipped"
