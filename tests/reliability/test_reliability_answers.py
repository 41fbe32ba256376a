"""No silent wrong answer: one row per kind of call that used to answer the wrong question.

Each row is a class of calls on real speech (espeak-ng and flite fixture voices, the pyannote
sample), asserting what is embedded or which error is raised, and that a wrong option fails
before any audio is read. Before these rows existed, each of them failed: ``voxref.embed``
dropped ``guide=``; ``guide=False``, a string or a vector of another size was accepted or failed
per reference; two voices among one call's references were averaged without a word (both
"used" at 0.50); ``extract_target`` returned another voice as the target when the guided one was
absent, and one bad guide file (or one bad file of ``voxref similarity``) failed the whole call;
a missing or unsafe encoder and a misspelt ``vad=`` were "rejected" per reference; NaN, negative
or impossible options were accepted; CLI outputs that are folders, under files, unwritable or an
input raised tracebacks or overwrote the input; ``embed-dir`` counted Ctrl-C/SIGTERM as the
process dying, resumed under other settings, and kept embeddings of changed inputs.

The suite prints its count of kinds at the end of a run (``tests/reliability/conftest.py``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

import voxref
from voxref import errors as E
from voxref.cli.main import main
from voxref.embedder.pooling.voices import ANOTHER_VOICE

from .conftest import Kind, check_kinds, outcome, voxref_warnings

SR = 16000


@dataclass
class Ctx:
    tmp: Path
    voices: dict[str, list[Path]]  # fixture voice -> its 4 utterances (16 kHz)
    shared: Path  # a folder kept for the whole run

    def utt(self, voice: str, i: int) -> np.ndarray:
        return sf.read(self.voices[voice][i], dtype="float32")[0]

    def clean(self, voice: str) -> np.ndarray:
        """The embedding of all four clean utterances of ``voice``."""
        return _clean_embedding(tuple(self.voices[voice]))

    def conversation(self, a: str, b: str) -> tuple[Path, Any]:
        """A wav of utterances 0-1 of ``a`` and ``b`` taking turns, and its diarization (cached)."""
        if (a, b) not in _CONVERSATIONS:
            gap = np.zeros(SR // 4, np.float32)
            turns = [np.concatenate([self.utt(a, i), gap, self.utt(b, i), gap]) for i in (0, 1)]
            rec = self.shared / f"{a} and {b}.wav"
            sf.write(rec, np.concatenate(turns), SR)
            _CONVERSATIONS[a, b] = rec, voxref.diarize(rec, return_details=True)
        return _CONVERSATIONS[a, b]

    def mixed(self, first: str, second: str, i: int) -> tuple[np.ndarray, int]:
        """Utterance ``i`` of ``first``, 0.5 s of silence, then utterance ``i`` of ``second``."""
        gap = np.zeros(SR // 2, np.float32)
        return np.concatenate([self.utt(first, i), gap, self.utt(second, i)]), SR


_CONVERSATIONS: dict[tuple[str, str], tuple[Path, Any]] = {}


@functools.cache
def _clean_embedding(paths: tuple[Path, ...]) -> np.ndarray:
    return voxref.embed(list(paths))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def _config_error_before_audio(call: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The call raises ConfigError; its inputs include a missing file, so reading came later."""
    kind, exc = outcome(call, *args, **kwargs)
    assert kind == "error" and type(exc) is E.ConfigError, exc
    return str(exc)


# ----------------------------------------------------------------------------- kinds
def guide_is_passed_on(c: Ctx) -> None:
    """``voxref.embed(refs, guide=vec)`` keeps the guided voice of two-voice references."""
    a, b = "espeak-us-m3", "flite-slt"
    refs = [c.mixed(a, b, i) for i in range(3)]
    plain = voxref.embed(refs)
    target = c.clean(a)
    # the unguided result follows the voice b, so guiding to a is what moves it
    assert _cos(plain, target) < 0.6, _cos(plain, target)
    for guide in (target, torch.from_numpy(target), target.astype(np.float64) * 3):
        got = voxref.embed(refs, guide=guide)
        assert _cos(got, target) > 0.9, (type(guide), _cos(got, target))


def wrong_guide_fails_before_audio(c: Ctx) -> None:
    """A guide that is no embedding (bool, text, wrong size, NaN, zeros) is a ConfigError."""
    missing = [c.tmp / "not there.wav"]
    v = c.clean("flite-slt")
    for guide, says in (
        (False, "turn guiding off"),
        (True, "turn guiding off"),
        ("flite-slt.wav", "embed it first"),
        (v[:128], "shape (128,)"),
        (np.concatenate([v, v]), "shape (512,)"),
        (np.where(np.arange(256) == 3, np.nan, v), "NaN"),
        (np.full(256, np.inf), "NaN or infinite"),
        (np.zeros(256), "all zeros"),
        ([[0.1] * 3], "shape (1, 3)"),
        (object(), "not numeric"),
    ):
        for call in (voxref.embed, voxref.Embedder().embed):
            msg = _config_error_before_audio(call, missing, guide=guide)
            assert says in msg and "(256,) vector" in msg, (guide, msg)
    msg = _config_error_before_audio(voxref.Embedder(guiding=False).embed, missing, guide=v)
    assert "guiding=False" in msg, msg
    kind, exc = outcome(voxref.Embedder, guide=v)
    assert kind == "error" and isinstance(exc, E.ConfigError), exc
    assert "Embedder(guiding=True/False)" in str(exc) and "embed(..., guide=vector)" in str(exc)


def another_voice_among_references(c: Ctx) -> None:
    """A clip of another speaker among one voice's references gets weight < 1/(2N) and a reason."""
    a, b = "espeak-gb-f2", "flite-awb"
    files = [*c.voices[a][:3], c.voices[b][0]]
    with voxref_warnings() as logged:
        res = voxref.embed(files, return_details=True)
    odd = res.references[3]
    assert odd.weight < 1 / (2 * len(files)), res.weights
    assert odd.fate.status == "down-weighted" and ANOTHER_VOICE in odd.fate.reason, odd.fate
    assert all(ANOTHER_VOICE not in r.fate.reason for r in res.references[:3]), res.weights
    assert abs(float(res.weights[:3].sum()) - 1) < 1e-5, res.weights
    assert res.voice_groups == [[str(f) for f in files[:3]], [str(files[3])]], res.voice_groups
    assert not res.blend and res.to_dict()["voices"] == res.voice_groups
    assert _cos(res.embedding, c.clean(a)) > 0.95, _cos(res.embedding, c.clean(a))
    assert any("2 different voices" in r.getMessage() for r in logged), logged
    # the CLI report shows it: the row's reason and the page's note
    page = c.tmp / "report.html"
    code = main(["inspect", *map(str, files), "-o", str(page), "--no-diarize"])
    text = page.read_text()
    assert code == 0 and ANOTHER_VOICE in text and "2 different voices" in text


def two_voices_without_majority(c: Ctx) -> None:
    """One clip each of two voices: a warned blend, or the guide's voice when a guide is given."""
    a, b = "espeak-us-m3", "flite-slt"
    files = [c.voices[a][0], c.voices[b][0]]
    with voxref_warnings() as logged:
        res = voxref.embed(files, return_details=True)
    assert res.blend and len(res.voice_groups) == 2, res.voice_groups
    assert any("BLEND" in r.getMessage() for r in logged), [r.getMessage() for r in logged]
    for want, odd in ((a, 1), (b, 0)):
        res = voxref.embed(files, guide=c.clean(want), return_details=True)
        assert not res.blend and res.weights[odd] < 0.25, (want, res.weights)
        assert ANOTHER_VOICE in res.references[odd].fate.reason, res.references[odd].fate
        assert _cos(res.embedding, c.clean(want)) > 0.9, (want, _cos(res.embedding, c.clean(want)))


def target_not_in_recording(c: Ctx) -> None:
    """``extract_target`` / ``voxref extract`` with a guide of a voice the recording does not
    hold raise TargetNotFoundError (no file written) instead of returning another voice."""
    a, b = "espeak-us-m3", "flite-slt"
    rec, diarization = c.conversation(a, b)
    for voice, present in ((a, True), ("espeak-gb-f2", False), ("flite-awb", False)):
        guide = [str(p) for p in c.voices[voice][2:]]
        kind, res = outcome(voxref.extract_target, rec, guide, diarization=diarization)
        if present:
            assert kind == "ok" and res.duration > 2.0, (voice, res)
            continue
        assert kind == "error" and isinstance(res, E.TargetNotFoundError), (voice, res)
        assert "not found" in str(res) and len(res.guide_similarity) >= 2, str(res)
        # the old answer, on request: the closest speaker
        anyway = voxref.extract_target(
            rec, guide, diarization=diarization, min_guide_similarity=None
        )
        assert anyway.duration > 0
    out = c.tmp / "target.wav"
    code, err = _cli(
        "extract", str(rec), *(f"--ref={p}" for p in c.voices["flite-awb"][2:]), "-o", str(out)
    )
    assert code == 1 and "guided voice was not found" in err and not out.exists(), err


def one_bad_file_is_skipped(c: Ctx) -> None:
    """``voxref similarity`` and ``extract_target`` skip one bad file and say so; only when
    every file is bad is it an error."""
    good = [str(p) for p in (c.voices["flite-slt"][0], c.voices["flite-slt"][1])]
    empty = c.tmp / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    silent = c.tmp / "silent.wav"
    sf.write(silent, np.zeros(2 * SR, np.float32), SR)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        code = outcome(main, ["similarity", good[0], str(empty), good[1], "--json"])[1]
    table = json.loads(out.getvalue())
    assert code == 0 and table["files"] == good, (code, err.getvalue())
    assert str(empty) in table["skipped"] and f"skipped {empty}" in err.getvalue()
    assert np.asarray(table["similarity"]).shape == (2, 2) and table["similarity"][0][1] > 0.8
    rec, diarization = c.conversation("espeak-us-m3", "flite-slt")
    guide = [str(p) for p in c.voices["espeak-us-m3"][2:]]
    for bad in (empty, silent, c.tmp / "missing.wav"):
        res = voxref.extract_target(rec, [*guide, str(bad)], diarization=diarization)
        assert res.duration > 2.0 and "skipped" in res.reason and str(bad) in res.reason, res.reason
    kind, exc = outcome(
        voxref.extract_target, rec, [str(empty), str(silent)], diarization=diarization
    )
    assert kind == "error" and isinstance(exc, E.NoUsableReferenceError), exc


class _NotAllowed:
    """A class no checkpoint may unpickle."""


def model_errors_fail_before_audio(c: Ctx) -> None:
    """A missing, unsafe or offline encoder and a misspelt ``vad=`` fail once, naming the model
    and the fix, before any audio is read, instead of "rejected" for every reference."""
    good = [str(c.voices["flite-slt"][0]), str(c.voices["flite-slt"][1])]
    unsafe = c.tmp / "unsafe.pt"
    torch.save({"model_state": {"lstm.weight_ih_l0": _NotAllowed()}}, unsafe)
    for encoder, error, says in (
        (str(c.tmp / "missing.pt"), E.ConfigError, "missing.pt"),
        (str(unsafe), E.CheckpointError, "unsafe.pt"),
        ("voxref-tests/no-such-model", E.CheckpointError, "voxref-tests/no-such-model"),
    ):
        for call in (voxref.embed, voxref.Embedder(encoder=encoder).prepare_all):
            kind, exc = outcome(
                call, good, **({"encoder": encoder} if call is voxref.embed else {})
            )
            assert kind == "error" and isinstance(exc, error), (encoder, exc)
            assert not isinstance(exc, E.NoUsableReferenceError) and says in str(exc), str(exc)
        code, err = _cli("embed", *good, "--encoder", encoder)
        assert code == 1 and says in err and "rejected" not in err, err
    for vad in ("silerro", "Energy", "silero-gpu"):
        msg = _config_error_before_audio(voxref.embed, good, vad=vad)
        assert f"unknown vad {vad!r}" in msg and "'energy'" in msg, msg
        assert _config_error_before_audio(voxref.Embedder, vad=vad) == msg


def embed_dir_resumes_right(c: Ctx) -> None:
    """embed-dir: Ctrl-C / SIGTERM on an item is not the process dying on it; every option that
    changes a vector is part of the run's identity; an input changed since it was embedded is
    embedded again (a new modification time alone is not a change)."""
    src, out = c.tmp / "in", c.tmp / "out"
    src.mkdir()
    a, b = src / "a.wav", src / "b.wav"
    a.write_bytes(c.voices["flite-slt"][0].read_bytes())
    b.write_bytes(c.voices["espeak-gb-f2"][0].read_bytes())
    embedder = voxref.Embedder()
    real = embedder.embed_details

    def stopped(inputs: list[str], **kw: Any) -> Any:
        if inputs[0].endswith("b.wav"):
            if stops.pop() == "sigterm":
                assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, "would kill"
                os.kill(os.getpid(), signal.SIGTERM)
            raise KeyboardInterrupt
        return real(inputs, **kw)

    embedder.embed_details = stopped  # type: ignore[method-assign]
    stops = ["ctrl-c", "sigterm", "ctrl-c", "sigterm"]
    while stops:
        with pytest.raises(KeyboardInterrupt):
            voxref.embed_dir(src, out, embedder=embedder, progress=False)
    del embedder.embed_details
    s = voxref.embed_dir(src, out, embedder=embedder, progress=False)
    assert (s.ok, s.failed, s.computed) == (2, 0, 1), s.failures
    # settings that change a vector may not continue this batch
    for options in (
        {"level_dbfs": -30.0},
        {"guiding": False},
        {"advanced": {"window_temperature": 1.0}},
    ):
        kind, exc = outcome(voxref.embed_dir, src, out, progress=False, **options)
        assert kind == "error" and "different settings" in str(exc), (options, exc)
    kind, exc = outcome(voxref.embed_dir, src, out, embedder=embedder, long_seconds=5.0)
    assert kind == "error" and "long_seconds" in str(exc), exc
    # an input replaced by another recording is embedded again; a touched one is not
    before = np.load(out / "embeddings" / "a.wav.npy")
    a.write_bytes(c.voices["espeak-us-m3"][0].read_bytes())
    os.utime(b, ns=(time.time_ns(), time.time_ns() + 10**9))
    with voxref_warnings() as logged:
        s = voxref.embed_dir(src, out, embedder=embedder, progress=False)
    assert (s.ok, s.computed, s.reused) == (2, 1, 1), (s.computed, s.reused)
    after = np.load(out / "embeddings" / "a.wav.npy")
    assert _cos(after, voxref.embed(a)) > 0.999 and _cos(after, before) < 0.9
    assert any("a.wav changed since it was embedded" in r.getMessage() for r in logged), logged


def options_out_of_range_fail_before_audio(c: Ctx) -> None:
    """Numeric options no call can use (NaN, negative window, level 300 dBFS...) are ConfigErrors."""
    missing = [c.tmp / "not there.wav"]
    for options, says in (
        ({"level_dbfs": 300}, "level_dbfs=300"),
        ({"level_dbfs": 20.0}, "between -80 and 0"),
        ({"min_seconds": float("nan")}, "min_seconds"),
        ({"min_seconds": -1}, "min_seconds"),
        ({"advanced": {"window": -1}}, "window must be a positive"),
        ({"advanced": {"window": float("inf")}}, "window must be a positive"),
        ({"advanced": {"hop": 0}}, "hop must be a positive"),
        ({"advanced": {"window": "1.6"}}, "window must be a positive"),
        ({"advanced": {"window_temperature": 0}}, "window_temperature must be > 0"),
        ({"advanced": {"separate_margin": float("nan")}}, "separate_margin must be"),
        ({"advanced": {"hops": 0.8}}, "unknown advanced option"),
        ({"advanced": "hop=0.8"}, "takes a voxref.tuning.EmbedderTuning"),
        ({"hop": 0.8}, "Embedder(advanced=EmbedderTuning(hop=...))"),
        ({"window_temperature": 1.0}, "EmbedderTuning(window_temperature=...)"),
        ({"device": "cuda:7"}, "CUDA device"),
        ({"device": "gpu"}, "unknown device"),
        ({"device": ""}, "torch device name"),
    ):
        if (
            "device" in options
            and options["device"].startswith("cuda")
            and torch.cuda.is_available()
        ):
            continue
        msg = _config_error_before_audio(voxref.embed, missing, **options)
        assert says in msg, (options, msg)
    for value in (2.5, 0, -1, float("nan"), "2", True):
        for call in (voxref.diarize, voxref.extract_target):
            args = (missing[0],) if call is voxref.diarize else (missing[0], [(0.0, 1.0)])
            msg = _config_error_before_audio(call, *args, num_speakers=value)
            assert "num_speakers must be a whole number" in msg, (value, msg)
    for not_a_mapping in (missing, [missing], "speaker.wav"):
        for call in (voxref.embed_many, voxref.Embedder().embed_many):
            msg = _config_error_before_audio(call, not_a_mapping)
            assert "embed_many takes a mapping" in msg and "embed([files" in msg, msg


def _cli(*argv: str) -> tuple[int, str]:
    """Exit code and stderr of ``voxref ARGV`` run in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = outcome(main, list(argv))[1]
    return code, err.getvalue()


def cli_output_paths(c: Ctx) -> None:
    """Outputs that are a folder, under a file, unwritable, of an unknown kind or an input fail
    with a message and exit code 1, before any audio is read, and never touch the input."""
    src = c.tmp / "a.wav"
    src.write_bytes(c.voices["flite-slt"][0].read_bytes())
    before = src.read_bytes()
    missing = str(c.tmp / "not there.wav")
    (c.tmp / "folder").mkdir()
    (c.tmp / "file.txt").write_text("a file")
    full = c.tmp / "full.wav"
    full.symlink_to("/dev/full")
    for argv, says in (
        (["clean", str(src), "-o", str(src)], "overwrite the input"),
        (["clean", str(src), "-o", str(c.tmp / "." / "a.wav")], "overwrite the input"),
        (["clean", missing, "-o", str(c.tmp / "folder")], "unknown extension"),
        (["clean", missing, "-o", str(c.tmp / "folder.wav")], None),
        (["clean", missing, "-o", str(c.tmp / "file.txt" / "x.wav")], "is a file, not a folder"),
        (["clean", missing, "-o", str(c.tmp / "x.mp4")], "unknown extension '.mp4'"),
        (["clean", str(src), "-o", str(full)], "could not write it"),
        (["embed", missing, "-o", str(c.tmp / "folder")], "unknown extension"),
        (["embed", missing, "-o", str(c.tmp / "e.txt")], "unknown extension '.txt'"),
        (["embed", missing, "-o", str(c.tmp / "file.txt" / "e.npy")], "not a folder"),
        (["embed", str(src), "-o", str(src)], "unknown extension"),
        (["extract", missing, "--segments", "0-1", "--rttm", str(c.tmp / "folder")], "--rttm"),
        (["extract", missing, "--segments", "0-1", "-o", missing], "overwrite the input"),
        (["inspect", missing, "-o", str(c.tmp / "folder")], "unknown extension"),
        (["inspect", missing, "-o", str(c.tmp / "report.pdf")], "unknown extension '.pdf'"),
        (["inspect", missing, "-o", str(c.tmp / "file.txt" / "r.html")], "not a folder"),
        (["inspect", missing, "-o", "r.html", "--screenshot", str(src)], "--screenshot"),
        (["diarize", missing, "--rttm", str(c.tmp / "folder")], "--rttm"),
        (["diarize", missing, "--rttm", str(c.tmp / "file.txt" / "d.rttm")], "not a folder"),
    ):
        if says is None:  # a folder named like a file
            (c.tmp / "folder.wav").mkdir()
            says = "is a directory"
        code, err = _cli(*argv)
        assert code == 1 and says in err and "Traceback" not in err, (argv, code, err)
        assert src.read_bytes() == before
    assert not (c.tmp / "file.txt").is_dir()


KINDS = [
    Kind("guide-is-passed-on", guide_is_passed_on),
    Kind("wrong-guide-fails-before-audio", wrong_guide_fails_before_audio),
    Kind("another-voice-among-references", another_voice_among_references),
    Kind("two-voices-without-majority", two_voices_without_majority),
    Kind("target-not-in-recording", target_not_in_recording),
    Kind("one-bad-file-is-skipped", one_bad_file_is_skipped),
    Kind("model-errors-fail-before-audio", model_errors_fail_before_audio),
    Kind("embed-dir-resumes-right", embed_dir_resumes_right),
    Kind("options-out-of-range-fail-before-audio", options_out_of_range_fail_before_audio),
    Kind("cli-output-paths", cli_output_paths),
]

check_kinds(KINDS)  # on import: a duplicate id would silently merge two kinds


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_answers(
    kind: Kind,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    speech_by_speaker: dict[str, list[Path]],
) -> None:
    kind.check(Ctx(tmp_path, speech_by_speaker, tmp_path_factory.getbasetemp()))
