"""Whatever users have on disk: each kind of bad (or odd) input has one expected outcome.

Every case goes through ``voxref.load_audio`` and ``voxref.embed``. The contract, asserted for
every case whatever the default pipeline becomes: a finite unit-norm float32 vector, or a
``VoxrefError`` subclass with a message (never another exception type, never a hang). On top,
each case states its expected outcome: a valid result, or which typed error (the root cause:
for ``embed`` of one bad reference, the error recorded for that reference inside the
``NoUsableReferenceError``). Cases whose outcome depends on the cleaning stage's judgement
(noise, tones, clipping) accept either a result or a content rejection, never a decoding error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import soundfile as sf
import torch

import voxref
from voxref import errors as E

from .conftest import assert_unit_vector, outcome, voxref_warnings

SR = 16000
#: What the cleaning stage may answer for audio without (enough) usable speech.
CONTENT_REJECTIONS = (E.NoSpeechError, E.TooShortAudioError, E.AudioError)


@dataclass(frozen=True)
class Expect:
    """``ok``: a valid result is expected (or allowed, with ``errors``); ``errors``: allowed types."""

    ok: bool = False
    errors: tuple[type, ...] = ()
    warn: str | None = None  # a log record matching this must be emitted


OK = Expect(ok=True)


def err(*types: type, warn: str | None = None) -> Expect:
    return Expect(errors=types, warn=warn)


def ok_or(*types: type, warn: str | None = None) -> Expect:
    return Expect(ok=True, errors=types, warn=warn)


@dataclass
class Ctx:
    tmp: Path
    speech: np.ndarray  # clean 3.3 s utterance, float32 16 kHz
    speech_path: Path
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(1234))

    def wav(self, name: str, x: np.ndarray, sr: int = SR, **kw: Any) -> Path:
        p = self.tmp / name
        sf.write(p, x, sr, **kw)
        return p

    def raw(self, name: str, data: bytes) -> Path:
        p = self.tmp / name
        p.write_bytes(data)
        return p

    def resampled(self, sr: int) -> np.ndarray:
        from voxref.audio import resample

        return resample(self.speech, SR, sr)


def _truncated(fmt: str, subtype: str, suffix: str) -> Callable[[Ctx], Path]:
    def make(c: Ctx) -> Path:
        p = c.wav(f"full{suffix}", c.speech, format=fmt, subtype=subtype)
        data = p.read_bytes()
        return c.raw(f"truncated{suffix}", data[: len(data) // 2])

    return make


def _tones(c: Ctx) -> tuple[np.ndarray, int]:
    t = np.arange(3 * SR) / SR
    notes = [261.63, 329.63, 392.0, 523.25]  # a C major arpeggio with harmonics
    x = np.zeros_like(t)
    for i, f in enumerate(notes):
        seg = (t >= i * 0.75) & (t < (i + 1) * 0.75)
        for h in (1, 2, 3):
            x[seg] += 0.2 / h * np.sin(2 * np.pi * f * h * t[seg])
    return x.astype(np.float32), SR


def _fifo(c: Ctx) -> Path:
    p = c.tmp / "pipe.wav"
    os.mkfifo(p)
    return p


def _loop(c: Ctx) -> Path:
    p = c.tmp / "loop.wav"
    p.symlink_to(p)
    return p


def _broken_link(c: Ctx) -> Path:
    p = c.tmp / "link.wav"
    p.symlink_to(c.tmp / "gone.wav")
    return p


def _directory(c: Ctx) -> Path:
    p = c.tmp / "folder.wav"
    p.mkdir()
    return p


def _with_nan_file(c: Ctx) -> Path:
    x = c.speech.copy()
    x[1000] = np.nan
    return c.wav("nan.wav", x, subtype="FLOAT")


def _quietly(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` without torch's beta / prototype / deprecation notices."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _nested(x: np.ndarray) -> Any:
    return _quietly(torch.nested.nested_tensor, [torch.from_numpy(x), torch.from_numpy(x[:8000])])


def _clipped(c: Ctx) -> tuple[np.ndarray, int]:
    return np.clip(c.speech * 4.0 / np.abs(c.speech).max(), -1.0, 1.0), SR


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Ctx], Any]
    load: Expect
    embed: Expect


CASES = [
    # ---------------------------------------------------------------- broken files / paths
    Case(
        "empty-file-no-suffix",
        lambda c: c.raw("empty", b""),
        err(E.EmptyAudioError),
        err(E.EmptyAudioError),
    ),
    Case(
        "zero-byte-wav",
        lambda c: c.raw("zero.wav", b""),
        err(E.EmptyAudioError),
        err(E.EmptyAudioError),
    ),
    Case(
        "header-only-wav",
        lambda c: c.raw("header.wav", c.wav("h.wav", c.speech).read_bytes()[:44]),
        err(E.EmptyAudioError),
        err(E.EmptyAudioError),
    ),
    Case("truncated-wav", _truncated("WAV", "PCM_16", ".wav"), OK, ok_or(*CONTENT_REJECTIONS)),
    Case(
        "truncated-flac",
        _truncated("FLAC", "PCM_16", ".flac"),
        err(E.UnreadableAudioError),
        err(E.UnreadableAudioError),
    ),
    Case(
        "truncated-mp3", _truncated("MP3", "MPEG_LAYER_III", ".mp3"), OK, ok_or(*CONTENT_REJECTIONS)
    ),
    Case(
        "random-bytes-named-wav",
        lambda c: c.raw("random.wav", c.rng.bytes(20000)),
        err(E.UnreadableAudioError),
        err(E.UnreadableAudioError),
    ),
    Case(
        "riff-header-then-garbage",
        lambda c: c.raw("riff.wav", c.wav("g.wav", c.speech).read_bytes()[:36] + c.rng.bytes(4000)),
        err(E.UnreadableAudioError),
        err(E.UnreadableAudioError),
    ),
    Case(
        "text-named-wav",
        lambda c: c.raw("text.wav", b"this is not audio\n" * 100),
        err(E.UnreadableAudioError),
        err(E.UnreadableAudioError),
    ),
    Case(
        "text-file",
        lambda c: c.raw("notes.txt", "h\u00e9llo\n".encode() * 50),
        err(E.UnreadableAudioError),
        err(E.UnreadableAudioError),
    ),
    Case("directory", _directory, err(E.UnreadableAudioError), err(E.UnreadableAudioError)),
    Case(
        "missing-path",
        lambda c: c.tmp / "nope.wav",
        err(E.AudioFileNotFoundError),
        err(E.AudioFileNotFoundError),
    ),
    Case(
        "missing-as-str",
        lambda c: str(c.tmp / "nope.flac"),
        err(E.AudioFileNotFoundError),
        err(E.AudioFileNotFoundError),
    ),
    Case(
        "broken-symlink", _broken_link, err(E.AudioFileNotFoundError), err(E.AudioFileNotFoundError)
    ),
    Case("symlink-loop", _loop, err(E.AudioFileNotFoundError), err(E.AudioFileNotFoundError)),
    Case("fifo-never-blocks", _fifo, err(E.UnreadableAudioError), err(E.UnreadableAudioError)),
    Case(
        "name-too-long",
        lambda c: c.tmp / ("a" * 300 + ".wav"),
        err(E.UnreadableAudioError),
        err(E.UnreadableAudioError),
    ),
    Case(
        "empty-path-string",
        lambda c: "",
        err(E.AudioFileNotFoundError),
        err(E.AudioFileNotFoundError),
    ),
    Case(
        "nan-in-float-wav",
        _with_nan_file,
        err(E.NonFiniteAudioError),
        err(E.NonFiniteAudioError),
    ),
    Case(
        "2-frames-6-channels",
        lambda c: c.wav("tiny6.wav", np.full((2, 6), 0.5, np.float32)),
        OK,
        err(*CONTENT_REJECTIONS),
    ),
    # ---------------------------------------------------------------- sample formats, rates, channels
    Case("wav-8bit-unsigned", lambda c: c.wav("u8.wav", c.speech, subtype="PCM_U8"), OK, OK),
    Case("wav-24bit", lambda c: c.wav("s24.wav", c.speech, subtype="PCM_24"), OK, OK),
    Case("wav-32bit-float", lambda c: c.wav("f32.wav", c.speech, subtype="FLOAT"), OK, OK),
    Case("wav-64bit-float", lambda c: c.wav("f64.wav", c.speech, subtype="DOUBLE"), OK, OK),
    Case("flac-16bit", lambda c: c.wav("a.flac", c.speech, format="FLAC"), OK, OK),
    Case("ogg-vorbis", lambda c: c.wav("a.ogg", c.speech, format="OGG", subtype="VORBIS"), OK, OK),
    Case("mp3", lambda c: c.wav("a.mp3", c.speech, format="MP3", subtype="MPEG_LAYER_III"), OK, OK),
    Case("rate-8k", lambda c: c.wav("r8.wav", c.resampled(8000), 8000), OK, OK),
    Case("rate-22050", lambda c: c.wav("r22.wav", c.resampled(22050), 22050), OK, OK),
    Case("rate-44100", lambda c: c.wav("r44.wav", c.resampled(44100), 44100), OK, OK),
    Case("rate-48k", lambda c: c.wav("r48.wav", c.resampled(48000), 48000), OK, OK),
    Case(
        "rate-96k", lambda c: c.wav("r96.wav", c.resampled(96000), 96000, subtype="PCM_24"), OK, OK
    ),
    Case("stereo", lambda c: c.wav("st.wav", np.stack([c.speech, 0.5 * c.speech], 1)), OK, OK),
    Case(
        "six-channels",
        lambda c: c.wav(
            "51.wav", np.stack([c.speech * g for g in (1, 0.8, 0.6, 0.4, 0.3, 0.2)], 1)
        ),
        Expect(ok=True, warn="6 channels"),
        Expect(ok=True, warn="6 channels"),
    ),
    Case(
        "non-ascii-name",
        lambda c: c.wav("r\u00e9f\u00e9rence \u65e5\u672c\u8a9e \u00fc.wav", c.speech),
        OK,
        OK,
    ),
    Case("spaces-in-name", lambda c: c.wav("   my  voice  .wav", c.speech), OK, OK),
    Case(
        "dot-in-folder-and-no-suffix", lambda c: c.wav("v1.2-take", c.speech, format="WAV"), OK, OK
    ),
    # ---------------------------------------------------------------- signal content
    Case("dc-offset", lambda c: (c.speech + 0.1, SR), OK, OK),
    Case("full-scale-clipping", _clipped, OK, ok_or(*CONTENT_REJECTIONS)),
    Case(
        "square-wave-at-full-scale",
        lambda c: (np.sign(np.sin(np.arange(3 * SR) * 0.1)).astype(np.float32), SR),
        OK,
        ok_or(*CONTENT_REJECTIONS),
    ),
    Case(
        "all-zero-file",
        lambda c: c.wav("zeros.wav", np.zeros(3 * SR, np.float32)),
        err(E.SilentAudioError),
        err(E.SilentAudioError),
    ),
    Case(
        "all-zero-array",
        lambda c: (np.zeros(3 * SR, np.float32), SR),
        err(E.SilentAudioError),
        err(E.SilentAudioError),
    ),
    Case(
        "white-noise-only",
        lambda c: ((0.1 * c.rng.standard_normal(3 * SR)).astype(np.float32), SR),
        OK,
        ok_or(*CONTENT_REJECTIONS),
    ),
    Case("music-like-tones", _tones, OK, ok_or(*CONTENT_REJECTIONS)),
    Case("speech-0.1s", lambda c: (c.speech[16000:17600], SR), OK, err(*CONTENT_REJECTIONS)),
    Case("one-sample", lambda c: (np.array([0.3], np.float32), SR), OK, err(*CONTENT_REJECTIONS)),
    Case("very-quiet-speech", lambda c: (c.speech * 1e-3, SR), OK, ok_or(*CONTENT_REJECTIONS)),
    # integer PCM stored as floats is rescaled, with a warning (embedded as another voice before)
    Case(
        "int16-values-as-floats",
        lambda c: (np.round(c.speech * 32767).astype(np.float32), SR),
        Expect(ok=True, warn="integer PCM stored as floats"),
        Expect(ok=True, warn="integer PCM stored as floats"),
    ),
    Case(
        "int24-values-in-float-wav",
        lambda c: c.wav("i24.wav", np.round(c.speech * 2**23).astype(np.float32), subtype="FLOAT"),
        Expect(ok=True, warn="read as 24-bit PCM"),
        Expect(ok=True, warn="read as 24-bit PCM"),
    ),
    Case(
        "gain-1e9",
        lambda c: (c.speech * 1e9, SR),
        Expect(ok=True, warn="to a peak of 1"),
        Expect(ok=True, warn="to a peak of 1"),
    ),
    # 1e18 made the GE2E spectrum overflow: the encoder returned a NaN vector; finite, so not
    # "NaN or infinite" but out of range
    Case(
        "gain-1e18-overflows-encoder",
        lambda c: (c.speech * 1e18, SR),
        err(E.OutOfRangeAudioError),
        err(E.OutOfRangeAudioError),
    ),
    Case(
        "double-wav-1e300",
        lambda c: c.wav("huge.wav", c.speech.astype(np.float64) * 1e300, subtype="DOUBLE"),
        err(E.OutOfRangeAudioError),
        err(E.OutOfRangeAudioError),
    ),
    Case(
        "stereo-float32-near-max",
        lambda c: (np.stack([c.speech * 3e38 / np.abs(c.speech).max()] * 2), SR),
        err(E.OutOfRangeAudioError),
        err(E.OutOfRangeAudioError),
    ),
    Case(
        "phase-inverted-stereo-file",
        lambda c: c.wav("inverted.wav", np.stack([c.speech, -c.speech], 1)),
        Expect(ok=True, warn="cancel when averaged"),
        Expect(ok=True, warn="cancel when averaged"),
    ),
    Case(
        "phase-inverted-stereo-array",
        lambda c: (np.stack([c.speech, -0.8 * c.speech]), SR),
        Expect(ok=True, warn="cancel when averaged"),
        Expect(ok=True, warn="cancel when averaged"),
    ),
    Case(
        "dither-only",
        lambda c: (c.rng.integers(-1, 2, 3 * SR).astype(np.float32) / 32768, SR),
        OK,
        err(*CONTENT_REJECTIONS),
    ),
    Case("dc-only", lambda c: (np.full(3 * SR, 0.2, np.float32), SR), OK, err(*CONTENT_REJECTIONS)),
    # ---------------------------------------------------------------- arrays and tensors
    Case(
        "nan-in-array",
        lambda c: (np.where(np.arange(len(c.speech)) == 500, np.nan, c.speech), SR),
        err(E.NonFiniteAudioError),
        err(E.NonFiniteAudioError),
    ),
    Case(
        "inf-in-array",
        lambda c: (np.append(c.speech, np.inf).astype(np.float32), SR),
        err(E.NonFiniteAudioError),
        err(E.NonFiniteAudioError),
    ),
    Case(
        "float64-beyond-float32",
        lambda c: (c.speech.astype(np.float64) * 1e300, SR),
        err(E.OutOfRangeAudioError),
        err(E.OutOfRangeAudioError),
    ),
    Case("int16-array", lambda c: (np.round(c.speech * 32767).astype(np.int16), SR), OK, OK),
    # 16-bit values in a wider integer array (np.array of Python ints is int64): "silence" before
    Case(
        "int64-array-16bit-values",
        lambda c: (np.round(c.speech * 32767).astype(np.int64), SR),
        Expect(ok=True, warn="read as 16-bit PCM"),
        Expect(ok=True, warn="read as 16-bit PCM"),
    ),
    Case(
        "uint32-array-offset-16bit",
        lambda c: ((np.round(c.speech * 32767) + 32768).astype(np.uint32), SR),
        Expect(ok=True, warn="read as 16-bit PCM"),
        Expect(ok=True, warn="read as 16-bit PCM"),
    ),
    Case("int32-array", lambda c: (np.round(c.speech * 2**31 * 0.99).astype(np.int32), SR), OK, OK),
    Case("float16-array", lambda c: (c.speech.astype(np.float16), SR), OK, OK),
    Case("channels-first-stereo", lambda c: (np.stack([c.speech, c.speech]), SR), OK, OK),
    Case(
        "3d-array",
        lambda c: (np.stack([np.stack([c.speech] * 2)] * 2), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "40-channel-array",
        lambda c: (np.tile(c.speech, (40, 1)), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "empty-2d-array",
        lambda c: (np.zeros((2, 0), np.float32), SR),
        err(E.EmptyAudioError),
        err(E.EmptyAudioError),
    ),
    Case("0d-array", lambda c: (np.array(0.5), SR), err(E.AudioShapeError), err(E.AudioShapeError)),
    Case(
        "complex-array",
        lambda c: (c.speech.astype(np.complex64), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "bool-array", lambda c: (c.speech > 0, SR), err(E.AudioShapeError), err(E.AudioShapeError)
    ),
    Case(
        "object-array",
        lambda c: (np.array([0.1, "a"], dtype=object), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "ragged-list",
        lambda c: ([[0.1, 0.2], [0.3]], SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case("none", lambda c: None, err(E.AudioShapeError), err(E.AudioShapeError)),
    Case("bytes", lambda c: c.speech.tobytes(), err(E.AudioShapeError), err(E.AudioShapeError)),
    Case("array-without-rate", lambda c: c.speech, err(E.SampleRateError), err(E.SampleRateError)),
    Case("rate-zero", lambda c: (c.speech, 0), err(E.SampleRateError), err(E.SampleRateError)),
    Case(
        "rate-inf",
        lambda c: (c.speech, float("inf")),
        err(E.SampleRateError),
        err(E.SampleRateError),
    ),
    Case(
        "rate-nan",
        lambda c: (c.speech, float("nan")),
        err(E.SampleRateError),
        err(E.SampleRateError),
    ),
    Case(
        "rate-fractional",
        lambda c: (c.speech, 16000.5),
        err(E.SampleRateError),
        err(E.SampleRateError),
    ),
    Case("rate-1GHz", lambda c: (c.speech, 10**9), err(E.SampleRateError), err(E.SampleRateError)),
    Case("tensor-float32", lambda c: (torch.from_numpy(c.speech.copy()), SR), OK, OK),
    Case(
        "tensor-bfloat16-1xT",
        lambda c: (torch.from_numpy(c.speech.copy())[None].bfloat16(), SR),
        OK,
        OK,
    ),
    Case(
        "tensor-requires-grad",
        lambda c: (torch.from_numpy(c.speech.copy()).requires_grad_(), SR),
        OK,
        OK,
    ),
    Case(
        "tensor-3d-batch",
        lambda c: (torch.zeros(2, 2, 3 * SR), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "tensor-int16",
        lambda c: (torch.from_numpy(np.round(c.speech * 32767).astype(np.int16)), SR),
        OK,
        OK,
    ),
    Case(
        "tensor-sparse-coo", lambda c: (torch.from_numpy(c.speech.copy()).to_sparse(), SR), OK, OK
    ),
    Case(
        "tensor-sparse-csr",
        lambda c: (_quietly(torch.from_numpy(np.stack([c.speech] * 2)).to_sparse_csr), SR),
        OK,
        OK,
    ),
    Case(
        "tensor-quantized",
        lambda c: (
            _quietly(
                torch.quantize_per_tensor,
                torch.from_numpy(c.speech.copy()),
                2**-15,
                0,
                torch.qint32,
            ),
            SR,
        ),
        OK,
        OK,
    ),
    Case(
        "tensor-meta",
        lambda c: (torch.empty(3 * SR, device="meta"), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "tensor-nested",
        lambda c: (_nested(c.speech), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "tensor-complex",
        lambda c: (torch.from_numpy(c.speech.copy()).to(torch.complex64), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "masked-array-with-holes",
        lambda c: (np.ma.masked_array(c.speech, mask=c.speech > 0.2), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "datetime-array",
        lambda c: (np.arange(SR).astype("datetime64[s]"), SR),
        err(E.AudioShapeError),
        err(E.AudioShapeError),
    ),
    Case(
        "tensor-nan",
        lambda c: (torch.full((SR,), float("nan")), SR),
        err(E.NonFiniteAudioError),
        err(E.NonFiniteAudioError),
    ),
]


@pytest.fixture
def ctx(tmp_path: Path, speech: np.ndarray, speech_path: Path) -> Ctx:
    return Ctx(tmp_path, speech, speech_path)


def _root_error(exc: BaseException) -> type:
    """The error behind ``exc``: the recorded error of a lone rejected reference."""
    if isinstance(exc, E.NoUsableReferenceError):
        fates = exc.report.failed
        assert len(fates) == 1, fates
        assert fates[0].reason, "each rejected reference needs a reason"
        cls = getattr(E, fates[0].error or "", None)
        assert cls is not None, f"reference failed with a non-voxref error {fates[0].error!r}"
        return cls
    return type(exc)


def _check(kind: str, result: Any, expect: Expect, name: str) -> None:
    if kind == "ok":
        assert expect.ok, f"expected one of {expect.errors}, got a result"
        return
    root = _root_error(result)
    assert expect.errors, f"expected a result, got {type(result).__name__}: {result}"
    assert issubclass(root, expect.errors), f"{root.__name__} not in {expect.errors}: {result}"
    if name:  # file inputs: the message names the file so the user knows which one
        assert name in str(result), f"message does not name {name!r}: {result}"


def _name_of(x: Any) -> str:
    return os.fsdecode(x) if isinstance(x, (str, os.PathLike)) and os.fsdecode(x) else ""


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_load_audio_contract(case: Case, ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    x = case.make(ctx)
    with voxref_warnings() as records:
        kind, res = outcome(voxref.load_audio, x, timeout=30)
    if kind == "ok":
        assert res.samples.dtype == np.float32 and res.samples.ndim == 1
        assert res.sample_rate == SR and np.all(np.isfinite(res.samples))
    _check(kind, res, case.load, _name_of(x))
    if case.load.warn:
        assert any(case.load.warn in r.getMessage() for r in records)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_embed_contract(case: Case, ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    x = case.make(ctx)
    with voxref_warnings() as records:
        kind, res = outcome(voxref.embed, x, timeout=120)
    if kind == "ok":
        assert_unit_vector(res)
    _check(kind, res, case.embed, _name_of(x))
    if case.embed.warn:
        assert any(case.embed.warn in r.getMessage() for r in records)


# ------------------------------------------------------------------------- permissions
def test_unreadable_file_mocked_access(ctx: Ctx) -> None:
    """Root reads chmod-000 files, so the refusal is tested with os.access saying no."""
    p = ctx.wav("secret.wav", ctx.speech)
    real_access = os.access

    def deny(path, mode, *a, **k):
        return False if Path(path) == p and mode == os.R_OK else real_access(path, mode, *a, **k)

    with mock.patch("os.access", deny):
        kind, exc = outcome(voxref.load_audio, p)
        assert kind == "error" and isinstance(exc, E.UnreadableAudioError)
        assert "permission denied" in str(exc) and str(p) in str(exc)
        kind, exc = outcome(voxref.embed, p)
        assert kind == "error" and _root_error(exc) is E.UnreadableAudioError


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root: chmod 000 does not stop root from reading (mocked test above)",
)
def test_unreadable_file_chmod(ctx: Ctx) -> None:
    p = ctx.wav("locked.wav", ctx.speech)
    p.chmod(0)
    try:
        kind, exc = outcome(voxref.load_audio, p)
        assert kind == "error" and isinstance(exc, E.UnreadableAudioError)
    finally:
        p.chmod(0o644)


# ------------------------------------------------------------------------- reference sets
def test_reference_set_all_unusable_names_every_file(ctx: Ctx) -> None:
    bad = [
        ctx.raw("zero.wav", b""),
        ctx.raw("noise.wav", ctx.rng.bytes(3000)),
        ctx.wav("silence.wav", np.zeros(SR, np.float32)),
        ctx.tmp / "missing.wav",
    ]
    kind, exc = outcome(voxref.embed, bad)
    assert kind == "error" and isinstance(exc, E.NoUsableReferenceError)
    assert len(exc.report.fates) == 4 and all(f.reason for f in exc.report.fates)
    for p in bad:
        assert str(p) in str(exc)
    assert [f.error for f in exc.report.fates] == [
        "EmptyAudioError",
        "UnreadableAudioError",
        "SilentAudioError",
        "AudioFileNotFoundError",
    ]


def test_reference_set_with_one_good_clip(ctx: Ctx) -> None:
    bad = [ctx.raw("zero.wav", b""), (np.full(SR, np.nan, np.float32), SR), ctx.tmp / "gone.wav"]
    kind, res = outcome(voxref.embed, [*bad[:2], ctx.speech_path, bad[2]], return_details=True)
    assert kind == "ok"
    assert_unit_vector(res.embedding)
    statuses = [f.status for f in res.report.fates]
    assert statuses[:2] + statuses[3:] == ["rejected"] * 3
    assert statuses[2] in ("used", "down-weighted")
    # the bad clips changed nothing: same vector as the good clip alone
    alone = voxref.embed(ctx.speech_path)
    np.testing.assert_allclose(res.embedding, alone, atol=1e-6)


def test_empty_reference_list_is_a_config_error() -> None:
    kind, exc = outcome(voxref.embed, [])
    assert kind == "error" and isinstance(exc, E.ConfigError)


def test_dc_offset_is_not_counted_as_noise(ctx: Ctx) -> None:
    """A DC offset (cheap sound cards) is not noise: it must not lower the clip's judged quality.

    The cleaning stage's SNR estimate used to measure the offset as noise (0.1 DC on clean
    speech -> "noisy: estimated SNR -3 dB", down-weighted; 0.2 -> rejected); it now high-passes
    the signal first (``voxref.cleaning.snr.DC_CUTOFF_HZ``).
    """
    plain = voxref.embed(ctx.speech_path, return_details=True).report.fates[0]
    for offset in (0.1, 0.2):
        shifted = voxref.embed((ctx.speech + offset, SR), return_details=True).report.fates[0]
        assert "nois" not in shifted.reason or "nois" in plain.reason, (offset, shifted.reason)
        assert shifted.status == plain.status, (offset, plain, shifted)
