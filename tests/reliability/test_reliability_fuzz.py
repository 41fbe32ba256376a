"""Property-based tests: for any array or any file bytes, a valid result or a voxref error.

Hypothesis draws arrays (length, rate, dtype, amplitude, content, layout) for ``embed`` (with
and without the cleaning stage), ``clean`` and ``diarize``; and bytes for the audio loader
(random bytes with an audio suffix, and mutations of a valid WAV header). Example counts are
kept small for CI; ``scripts/fuzz_loader.py --seconds N`` runs the loader target for longer.
"""

from __future__ import annotations

import functools
import importlib
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import voxref
from voxref.audio.stream import iter_blocks
from voxref.errors import VoxrefError

from .conftest import assert_unit_vector, outcome

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # same examples on every run: CI failures reproduce
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
RATES = [4000, 8000, 11025, 16000, 22050, 44100, 48000, 96000]
DTYPES = ["float32", "float64", "float16", "int16", "int32", "uint8"]
# weighted by repetition: mostly plausible levels and speech, enough oddities to matter
AMPLITUDES = [0.0, 1e-9, 1e-4, 0.05, 0.3, 0.3, 0.5, 0.5, 1.0, 1.5, 30.0, 3e4, 1e9, 1e14, 1e19]
CONTENTS = ["noise", "sine", "constant", "impulse", "speech", "speech", "speech", "speech+nan"]
CONTENTS += ["alternating"]


def _speech16k() -> np.ndarray:
    d = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
    return sf.read(sorted(d.glob("*.wav"))[0], dtype="float32")[0]


SPEECH = _speech16k()


@functools.lru_cache(maxsize=16)
def _speech_at(sr: int) -> np.ndarray:
    from voxref.audio import resample

    x = resample(SPEECH, 16000, sr).astype(np.float64)
    return x / np.abs(x).max()


@st.composite
def audio_arrays(draw: st.DrawFn, max_seconds: float = 3.0) -> tuple[object, int]:
    """``(array, sample_rate)`` with a drawn length, rate, dtype, amplitude, content and layout."""
    sr = draw(st.sampled_from([*RATES, "other"]))  # one in nine: any integer, mostly refused
    if sr == "other":
        sr = draw(st.integers(-10, 500_000))
    base = sr if 4000 <= sr <= 384_000 else 16000
    n = draw(st.one_of(st.integers(0, base // 2), st.integers(base, int(max_seconds * base))))
    content = draw(st.sampled_from(CONTENTS))
    amp = draw(st.sampled_from(AMPLITUDES))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / base
    if content == "noise":
        x = rng.standard_normal(n)
    elif content == "sine":
        x = np.sin(2 * np.pi * draw(st.floats(20, 8000)) * t)
    elif content == "constant":
        x = np.ones(n)
    elif content == "impulse":
        x = np.zeros(n)
        x[: min(n, 1)] = 1.0
    elif content == "alternating":
        x = (-1.0) ** np.arange(n)
    else:  # fixture speech at the drawn rate, tiled to length, peak 1
        x = np.resize(_speech_at(base), n)
        if content == "speech+nan" and n:
            x[rng.integers(0, n)] = np.nan
    x = x * amp
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        scaled = np.nan_to_num(x, nan=0.0) * (info.max if info.min < 0 else info.max / 2)
        x = np.clip(scaled + (0 if info.min < 0 else info.max / 2), info.min, info.max)
        x = x.astype(dtype)
    else:
        with np.errstate(over="ignore"):
            x = x.astype(dtype)
    layout = draw(st.sampled_from(["mono", "(1,T)", "(2,T)", "(T,2)", "(1,1,T)", "torch"]))
    if layout == "(1,T)":
        x = x[None]
    elif layout == "(2,T)":
        x = np.stack([x, x[::-1]])
    elif layout == "(T,2)":
        x = np.stack([x, x], axis=1)
    elif layout == "(1,1,T)":
        x = x[None, None]
    elif layout == "torch":
        import torch

        x = (
            torch.from_numpy(np.ascontiguousarray(x))
            if x.dtype != np.uint8
            else torch.from_numpy(x)
        )
    return x, sr


@SETTINGS
@given(audio_arrays())
def test_embed_any_array(arr: tuple[object, int]) -> None:
    kind, res = outcome(voxref.embed, arr, timeout=60)
    event(kind if kind == "ok" else type(res).__name__)
    if kind == "ok":
        assert_unit_vector(res)


@SETTINGS
@given(audio_arrays())
def test_embed_any_array_without_cleaning(arr: tuple[object, int]) -> None:
    """The encoder sees the raw signal: no VAD to reject odd content before it."""
    kind, res = outcome(voxref.embed, arr, clean=False, timeout=60)
    event(kind if kind == "ok" else type(res).__name__)
    if kind == "ok":
        assert_unit_vector(res)


@SETTINGS
@given(audio_arrays())
def test_load_audio_any_array(arr: tuple[object, int]) -> None:
    kind, res = outcome(voxref.load_audio, arr, timeout=30)
    event(kind if kind == "ok" else type(res).__name__)
    if kind == "ok":
        assert res.samples.dtype == np.float32 and res.samples.ndim == 1
        assert res.sample_rate == 16000 and res.num_samples > 0
        assert np.all(np.isfinite(res.samples))


def _module(name: str):
    """The module (a missing one is a failure: the stage it fuzzes is gone or renamed)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        pytest.fail(f"{name} cannot be imported ({exc})")


@SETTINGS
@given(audio_arrays(max_seconds=2.0))
def test_clean_any_array(arr: tuple[object, int]) -> None:
    clean = _module("voxref.cleaning.pipeline").clean
    kind, res = outcome(clean, arr, timeout=60)
    event(kind if kind == "ok" else type(res).__name__)
    if kind == "ok":
        samples = res.speech.samples
        assert samples.dtype == np.float32 and samples.ndim == 1
        assert np.all(np.isfinite(samples))
        assert res.report is not None


@settings(SETTINGS, max_examples=25)
@given(audio_arrays(max_seconds=4.0))
def test_diarize_any_array(arr: tuple[object, int]) -> None:
    diarize = _module("voxref.separation.diarization").diarize
    kind, res = outcome(diarize, arr, timeout=120)
    event(kind if kind == "ok" else type(res).__name__)
    if kind == "ok":
        for segment, _, label in res.itertracks(yield_label=True):
            assert np.isfinite(segment.start) and np.isfinite(segment.end)
            assert segment.end >= segment.start and isinstance(label, str)


# ------------------------------------------------------------------------- loader fuzzing
def _valid_wav(tmp: Path) -> bytes:
    p = tmp / "valid.wav"
    sf.write(p, SPEECH[:3200], 16000, subtype="PCM_16")
    return p.read_bytes()


def _check_file(path: Path) -> None:
    kind, res = outcome(voxref.load_audio, path, timeout=30)
    event(kind if kind == "ok" else type(res).__name__)
    if kind == "ok":
        assert res.samples.dtype == np.float32 and res.samples.ndim == 1
        assert np.all(np.isfinite(res.samples)) and res.num_samples > 0
        # the streamed reader agrees with the whole-file reader on every file the latter accepts
        kind2, blocks = outcome(lambda: list(iter_blocks(path, 16000, read_frames=777)))
        if kind2 == "ok" and sf.info(str(path)).format not in ("MP3", "OGG"):
            # (a corrupt mp3/ogg decodes differently with the read size: only validity counts)
            got = np.concatenate([b.samples for b in blocks])
            np.testing.assert_allclose(got, res.samples, atol=1e-6)
    else:
        assert kind == "error" and str(path) in str(res)


SUFFIXES = [".wav", ".flac", ".mp3", ".ogg", ".aiff", ""]


@settings(SETTINGS, max_examples=50)
@given(data=st.binary(min_size=1, max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_loader_random_bytes(tmp_path: Path, data: bytes, suffix: str) -> None:
    p = tmp_path / f"fuzz{suffix}"
    p.write_bytes(data)
    _check_file(p)


# RIFF/WAVE header fields a broken writer gets wrong: (offset, struct format)
WAV_FIELDS = [
    (4, "<I"),  # RIFF size
    (16, "<I"),  # fmt chunk size
    (20, "<H"),  # format tag (1 PCM, 3 float, 0xFFFE extensible)
    (22, "<H"),  # channels
    (24, "<I"),  # sample rate
    (28, "<I"),  # byte rate
    (32, "<H"),  # block align
    (34, "<H"),  # bits per sample
    (40, "<I"),  # data size
]


@st.composite
def mutated_wavs(draw: st.DrawFn, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["field", "flip", "truncate", "append", "splice"]))
        if op == "field":
            off, fmt = draw(st.sampled_from(WAV_FIELDS))
            size = struct.calcsize(fmt)
            special = [0, 1, 2, 3, 7, 8, 24, 32, 64, 255, 0xFFFE, 0xFFFF, 2**31 - 1, 2**32 - 1]
            limit = 2 ** (8 * size) - 1
            value = draw(
                st.one_of(
                    st.sampled_from([v for v in special if v <= limit]), st.integers(0, limit)
                )
            )
            data[off : off + size] = struct.pack(fmt, value)
        elif op == "flip" and data:
            i = draw(st.integers(0, min(len(data), 64) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif op == "append":
            data += draw(st.binary(max_size=256))
        elif op == "splice" and len(data) > 8:
            i = draw(st.integers(0, len(data) - 4))
            data[i : i + 4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


_VALID_WAV: bytes | None = None


@settings(SETTINGS, max_examples=60)
@given(data=st.data())
def test_loader_mutated_wav_headers(tmp_path: Path, data: st.DataObject) -> None:
    global _VALID_WAV
    if _VALID_WAV is None:
        _VALID_WAV = _valid_wav(tmp_path)
    blob = data.draw(mutated_wavs(_VALID_WAV))
    p = tmp_path / "mutated.wav"
    p.write_bytes(blob)
    _check_file(p)


def test_fuzz_strategies_reach_both_outcomes(tmp_path: Path) -> None:
    """Guard against a vacuous fuzz: valid files load, and simple corruptions are refused."""
    valid = _valid_wav(tmp_path)
    ok = tmp_path / "ok.wav"
    ok.write_bytes(valid)
    assert outcome(voxref.load_audio, ok)[0] == "ok"
    bad = bytearray(valid)
    bad[20:22] = struct.pack("<H", 0x1234)  # unknown format tag
    p = tmp_path / "bad.wav"
    p.write_bytes(bytes(bad))
    kind, exc = outcome(voxref.load_audio, p)
    assert kind == "error" and isinstance(exc, VoxrefError)
