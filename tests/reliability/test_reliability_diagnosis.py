"""Right diagnosis, whatever the path: one row per kind of input voxref used to misjudge.

Each kind is a class of inputs, not one example: every row tries several rates, dtypes, gains or
layouts, and asserts what the user is told (the quality report of ``voxref.cleaning.check`` and the
fate ``voxref.embed`` gives the same reference agree) and what is embedded (the vector of the
input as it should have been read). Before these rows existed, each of them failed: clipped
44.1/48 kHz files were "used" by ``embed`` and rejected by ``check``; integer PCM stored as
floats was embedded as another voice; phase-inverted stereo and int64 arrays were "digital
silence"; dither, DC and tones were "clipped"; finite huge values were "NaN or infinite"; very
quiet speech was "no speech" without a word about its level; sparse, meta and nested tensors
raised raw TypeError / NotImplementedError / RuntimeError.

The suite prints its count of kinds at the end of a run (``tests/reliability/conftest.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

import voxref
from voxref import errors as E
from voxref.audio import resample
from voxref.audio.level import active_level_db
from voxref.cleaning import check

from .conftest import Kind, check_kinds, outcome

SR = 16000
#: quality verdict -> the fate ``embed`` must give the same reference
FATE_OF_VERDICT = {"ok": "used", "weak": "down-weighted", "reject": "rejected"}


@dataclass
class Ctx:
    tmp: Path
    speech: np.ndarray  # clean 3.3 s espeak-ng utterance, float32 16 kHz, peak ~0.5
    rng: np.random.Generator

    def wav(self, name: str, x: np.ndarray, sr: int = SR, **kw: Any) -> Path:
        p = self.tmp / name
        sf.write(p, x, sr, **kw)
        return p


def _fate(x: Any) -> tuple[str, str, np.ndarray | None]:
    """``(status, reason, embedding or None)`` that ``voxref.embed`` gives one reference."""
    kind, res = outcome(voxref.embed, x, return_details=True)
    if kind == "ok":
        f = res.report.fates[0]
        return f.status, f.reason, res.embedding
    assert isinstance(res, E.NoUsableReferenceError), res
    f = res.report.fates[0]
    return f.status, f.reason, None


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


# ----------------------------------------------------------------------------- kinds
def signal_properties_as_read_at_any_rate(c: Ctx) -> None:
    """A clipped file gets one verdict from ``check`` and ``embed`` at 16, 44.1 and 48 kHz."""
    seen: dict[float, set[tuple[str, str]]] = {}
    for gain, verdict in ((3.0, "weak"), (8.0, "reject")):
        for rate in (16000, 44100, 48000):
            x = resample(c.speech, SR, rate)
            path = c.wav(
                f"clipped x{gain:g} {rate}.wav", np.clip(gain * x / np.abs(x).max(), -1, 1), rate
            )
            report = check(path)
            status, reason, _ = _fate(path)
            assert report.verdict == verdict, (rate, gain, report.reasons)
            assert status == FATE_OF_VERDICT[verdict], (rate, gain, status, reason)
            assert "clipped" in reason and report.reasons[0] in reason, (reason, report.reasons)
            seen.setdefault(gain, set()).add((report.verdict, status))
    assert all(len(v) == 1 for v in seen.values()), seen


def integer_pcm_stored_as_floats(c: Ctx) -> None:
    """int16/24/32 values in float arrays and float WAVs embed as the voice they are."""
    want = voxref.embed((c.speech, SR))
    for bits in (16, 24, 32):
        full = 2.0 ** (bits - 1)
        as_float = np.round(c.speech.astype(np.float64) * (full - 1))
        for x in (
            (as_float.astype(np.float32), SR),
            c.wav(f"i{bits}.wav", as_float, subtype="DOUBLE"),
        ):
            status, _, got = _fate(x)
            assert got is not None and _cos(got, want) > 0.99, (bits, status)
            notes = check(x).notes
            assert notes and f"{bits}-bit PCM" in notes[0], notes


def wide_integer_arrays(c: Ctx) -> None:
    """16-bit samples in int32/int64/uint32 arrays (and torch int64) embed like int16."""
    pcm = np.round(c.speech * 32767)
    want = voxref.embed((pcm.astype(np.int16), SR))
    for x in (
        pcm.astype(np.int32),
        pcm.astype(np.int64),
        (pcm + 32768).astype(np.uint32),
        torch.from_numpy(pcm.astype(np.int64)),
    ):
        status, reason, got = _fate((x, SR))
        assert got is not None and _cos(got, want) > 0.999, (x.dtype, status, reason)


def phase_inverted_stereo(c: Ctx) -> None:
    """Channels that cancel when averaged: one channel is used, and the report says so."""
    want = voxref.embed((c.speech, SR))
    hiss = 1e-3 * c.rng.standard_normal((len(c.speech), 2)).astype(np.float32)
    for name, x in (
        ("exact", np.stack([c.speech, -c.speech], 1)),
        ("gain-and-hiss", np.stack([c.speech, -0.7 * c.speech], 1) + hiss),
    ):
        path = c.wav(f"inverted-{name}.wav", x, subtype="FLOAT")
        report = check(path)
        assert report.verdict != "reject", report.reasons
        assert any("cancel when averaged" in n for n in report.notes), report.notes
        _, _, got = _fate(path)
        assert got is not None and _cos(got, want) > 0.99, name


def dither_dc_and_tones_are_not_clipping(c: Ctx) -> None:
    """Low-level dither, a DC offset (alone or under speech) and steady tones are not "clipped"."""
    t = np.arange(3 * SR) / SR
    for name, x in (
        ("dither", c.rng.integers(-1, 2, 3 * SR) / 32768),
        ("tpdf-dither", (c.rng.integers(-1, 2, 3 * SR) + c.rng.integers(-1, 2, 3 * SR)) / 32768),
        ("dc", np.full(3 * SR, 0.25)),
        ("dc-under-speech", 0.5 + c.speech),
        ("sine-440", np.round(0.5 * np.sin(2 * np.pi * 440 * t) * 32767) / 32768),
        ("hum-50", 0.9 * np.sin(2 * np.pi * 50 * t)),
    ):
        report = check((x.astype(np.float32), SR))
        assert not any("clipped" in why for why in report.reasons), (name, report.reasons)


def finite_huge_values(c: Ctx) -> None:
    """Finite samples beyond any audio scale are called out of range, never "NaN or infinite"."""
    x64 = c.speech.astype(np.float64)
    for x in (
        (x64 * 1e300, SR),
        (torch.from_numpy(x64 * 1e300), SR),
        (np.stack([c.speech * 3e38 / np.abs(c.speech).max()] * 2), SR),
        (c.speech * 1e15, SR),
        c.wav("huge.wav", x64 * 1e300, subtype="DOUBLE"),
    ):
        kind, exc = outcome(voxref.load_audio, x)
        assert kind == "error" and isinstance(exc, E.OutOfRangeAudioError), exc
        assert "NaN" not in str(exc) and "finite" in str(exc) and "[-1, 1]" in str(exc)
        status, reason, _ = _fate(x)
        assert status == "rejected" and "NaN" not in reason and "finite" in reason


def quiet_speech_is_told_its_level(c: Ctx) -> None:
    """However little speech a VAD finds in very quiet audio, the level and the fix are given."""
    level = active_level_db(c.speech, SR)
    for target in (-75.0, -85.0):
        x = c.speech * np.float32(10 ** ((target - level) / 20))
        report = check((x, SR))
        told = [why for why in report.reasons if "dBFS" in why and "raise its gain" in why]
        assert told, (target, report.reasons)
        status, reason, _ = _fate((x, SR))
        assert status != "used" and "dBFS" in reason and "raise its gain" in reason, reason


def sparse_and_quantised_tensors(c: Ctx) -> None:
    """Sparse (COO, CSR) and quantised tensors hold samples: embedded as the dense tensor is."""
    dense = torch.from_numpy(c.speech.copy())
    want = voxref.embed((dense, SR))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # beta / deprecation notices of torch itself
        tensors = (
            dense.to_sparse(),
            dense[None].to_sparse_csr(),
            torch.quantize_per_tensor(dense, 2**-15, 0, torch.qint32),
        )
    for t in tensors:
        _, _, got = _fate((t, SR))
        assert got is not None and _cos(got, want) > 0.999, t.layout


def inputs_without_samples_say_what_to_do(c: Ctx) -> None:
    """Meta/nested/complex tensors, object/complex/bool/masked/0-d/3-D arrays: a typed error
    whose message says what to pass instead, from ``load_audio`` and per reference in ``embed``."""
    s = c.speech
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nested tensors are a prototype
        nested = torch.nested.nested_tensor([torch.from_numpy(s), torch.from_numpy(s[:800])])
    cases = [
        (torch.empty(len(s), device="meta"), "no samples"),
        (nested, "unbind"),
        (torch.from_numpy(s).to(torch.complex64), "x.real"),
        (s.astype(np.complex128), "x.real"),
        (np.array([0.1, "a"], dtype=object), "np.asarray(x, dtype=np.float32)"),
        (np.array(0.5), "1-D array"),
        (np.stack([np.stack([s, s])] * 2), "list(x)"),
        (s > 0, "float samples in [-1, 1]"),
        (np.ma.masked_array(s, mask=s > 0.2), "x.filled(0)"),
    ]
    for x, advice in cases:
        kind, exc = outcome(voxref.load_audio, (x, SR))
        assert kind == "error" and isinstance(exc, E.AudioShapeError), exc
        assert advice in str(exc), (advice, str(exc))
        status, reason, _ = _fate((x, SR))
        assert status == "rejected" and advice in reason, reason


KINDS = [
    Kind("signal-properties-as-read-at-any-rate", signal_properties_as_read_at_any_rate),
    Kind("integer-pcm-stored-as-floats", integer_pcm_stored_as_floats),
    Kind("wide-integer-arrays", wide_integer_arrays),
    Kind("phase-inverted-stereo", phase_inverted_stereo),
    Kind("dither-dc-tones-not-clipping", dither_dc_and_tones_are_not_clipping),
    Kind("finite-huge-values", finite_huge_values),
    Kind("quiet-speech-told-its-level", quiet_speech_is_told_its_level),
    Kind("sparse-and-quantised-tensors", sparse_and_quantised_tensors),
    Kind("inputs-without-samples-say-what-to-do", inputs_without_samples_say_what_to_do),
]


check_kinds(KINDS)  # on import: a duplicate id would silently merge two kinds


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_diagnosis(kind: Kind, tmp_path: Path, speech: np.ndarray) -> None:
    kind.check(Ctx(tmp_path, speech, np.random.default_rng(24)))
