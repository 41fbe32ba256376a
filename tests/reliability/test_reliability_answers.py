"""No silent wrong answer: one row per kind of call that used to answer the wrong question.

Each row is a class of calls on real speech (espeak-ng and flite fixture voices, the pyannote
sample), asserting what is embedded or which error is raised, and that a wrong option fails
before any audio is read. Before these rows existed, each of them failed: ``voxref.embed``
dropped ``guide=``; ``guide=False``, a string or a vector of another size was accepted or failed
per reference.

The suite prints its count of kinds at the end of a run (``tests/reliability/conftest.py``).
"""

from __future__ import annotations

import functools
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

from .conftest import outcome

SR = 16000


@dataclass
class Ctx:
    tmp: Path
    voices: dict[str, list[Path]]  # fixture voice -> its 4 utterances (16 kHz)

    def utt(self, voice: str, i: int) -> np.ndarray:
        return sf.read(self.voices[voice][i], dtype="float32")[0]

    def clean(self, voice: str) -> np.ndarray:
        """The embedding of all four clean utterances of ``voice``."""
        return _clean_embedding(tuple(self.voices[voice]))

    def mixed(self, first: str, second: str, i: int) -> tuple[np.ndarray, int]:
        """Utterance ``i`` of ``first``, 0.5 s of silence, then utterance ``i`` of ``second``."""
        gap = np.zeros(SR // 2, np.float32)
        return np.concatenate([self.utt(first, i), gap, self.utt(second, i)]), SR


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
    msg = _config_error_before_audio(voxref.Embedder(guide=False).embed, missing, guide=v)
    assert "guide=False" in msg, msg
    kind, exc = outcome(voxref.Embedder, guide=v)
    assert kind == "error" and isinstance(exc, E.ConfigError), exc


@dataclass(frozen=True)
class Kind:
    id: str
    check: Callable[[Ctx], None]

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


KINDS = [
    Kind("guide-is-passed-on", guide_is_passed_on),
    Kind("wrong-guide-fails-before-audio", wrong_guide_fails_before_audio),
]

# one id per kind, each explained (checked on import: a duplicate would silently merge two kinds)
assert len({k.id for k in KINDS}) == len(KINDS) and all(k.doc for k in KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_answers(kind: Kind, tmp_path: Path, speech_by_speaker: dict[str, list[Path]]) -> None:
    kind.check(Ctx(tmp_path, speech_by_speaker))
