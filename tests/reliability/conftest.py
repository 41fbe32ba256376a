"""Helpers for the reliability suite: the contract every call must keep, and a hang guard.

The contract: a voxref call on any input either returns a valid result (a finite, unit-norm
float32 embedding) or raises a :class:`voxref.errors.VoxrefError` subclass with a message.
Anything else (a raw ``ValueError`` from numpy, an ``OSError``, a hang) is a bug.

The suite counts its kinds: a row of a table (a test parametrised by ``case`` or ``kind``: one id
per kind of input or failure) is one kind, any other test function is one kind (its own
parameters are variants of it). The count, per module, is printed at the end of every run that
collects the suite.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from voxref.errors import VoxrefError

DIMENSION = 256  # the default GE2E encoder
_HERE = Path(__file__).resolve().parent
_KINDS_KEY = pytest.StashKey[dict[str, dict[str, int]]]()


@dataclass(frozen=True)
class Kind:
    """One kind of input or failure of a reliability module: an id and the check that runs it
    (its docstring says what the kind is)."""

    id: str
    check: Callable[[Any], None]

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


def check_kinds(kinds: Sequence[Kind]) -> None:
    """One id per kind, each explained: a duplicate id would silently merge two kinds."""
    assert len({k.id for k in kinds}) == len(kinds) and all(k.doc for k in kinds)


def kind_of(item: pytest.Item) -> str:
    """The kind a collected test checks: its table row id, or its function name."""
    spec = getattr(item, "callspec", None)
    if spec is not None:
        for name in ("case", "kind"):
            if name in spec.params:
                return getattr(spec.params[name], "id", spec.id)
    return getattr(item, "originalname", item.name)


def pytest_collection_finish(session: pytest.Session) -> None:
    kinds: dict[str, dict[str, int]] = {}
    for item in session.items:  # after -k / -m selection
        path = Path(str(item.fspath)).resolve()
        if path.parent != _HERE:
            continue
        per_module = kinds.setdefault(path.stem.removeprefix("test_reliability_"), {})
        kind = kind_of(item)
        per_module[kind] = per_module.get(kind, 0) + 1
    session.config.stash[_KINDS_KEY] = kinds


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    kinds = config.stash.get(_KINDS_KEY, {})
    if not kinds:
        return
    total = sum(len(k) for k in kinds.values())
    tests = sum(sum(k.values()) for k in kinds.values())
    parts = ", ".join(f"{m} {len(k)}" for m, k in sorted(kinds.items()))
    terminalreporter.write_line(
        f"reliability suite: {total} kinds of input or failure in {tests} tests ({parts})"
    )


class Hang(Exception):
    """A call ran past its deadline."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` if the block runs longer than ``seconds`` (main thread, Unix)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _alarm(signum, frame):  # noqa: ARG001
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def assert_unit_vector(v: Any, dimension: int = DIMENSION) -> np.ndarray:
    """A finite float32 ``(dimension,)`` vector of unit L2 norm."""
    assert isinstance(v, np.ndarray), type(v)
    assert v.dtype == np.float32, v.dtype
    assert v.shape == (dimension,), v.shape
    assert np.all(np.isfinite(v))
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-4, float(np.linalg.norm(v))
    return v


class voxref_warnings:  # noqa: N801  (used as a context manager)
    """Collect the WARNING+ records voxref's loggers emit, from a handler on the ``voxref`` logger
    itself (independent of how other libraries configured the root logger during the session)."""

    def __enter__(self) -> list[logging.LogRecord]:
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger("voxref")
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = self.records.append  # type: ignore[method-assign]
        self.saved = (self.logger.level, self.logger.disabled)
        self.logger.setLevel(logging.WARNING)
        self.logger.disabled = False
        self.logger.addHandler(self.handler)
        return self.records

    def __exit__(self, *exc: Any) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.saved[0])
        self.logger.disabled = self.saved[1]


def outcome(fn: Callable[..., Any], *args: Any, timeout: float = 120.0, **kwargs: Any):
    """``("ok", result)`` or ``("error", exc)``; fails the test on any non-voxref exception."""
    try:
        with deadline(timeout):
            return "ok", fn(*args, **kwargs)
    except Hang as exc:
        pytest.fail(f"hang: {exc}")
    except VoxrefError as exc:
        assert str(exc).strip(), "a voxref error must say what went wrong"
        return "error", exc
    except BaseException as exc:  # noqa: BLE001  (the point of the suite)
        pytest.fail(f"raised {type(exc).__name__} (not a VoxrefError): {exc!r}")


@pytest.fixture(scope="session")
def speech_path(speech_by_speaker: dict[str, list[Path]]) -> Path:
    """A clean 3.3 s fixture utterance that the default pipeline uses as is."""
    return speech_by_speaker["espeak-rp-m7"][0]


@pytest.fixture(scope="session")
def speech(speech_path: Path) -> np.ndarray:
    """``speech_path`` as float32 at 16 kHz."""
    x, sr = sf.read(speech_path, dtype="float32")
    assert sr == 16000
    return x


@pytest.fixture(scope="session")
def long_speech(speech_by_speaker: dict[str, list[Path]]) -> np.ndarray:
    """Every fixture utterance of every speaker back to back (~70 s, 16 kHz, float32)."""
    parts = [sf.read(p, dtype="float32")[0] for ps in speech_by_speaker.values() for p in ps]
    return np.concatenate(parts)


def tile_to(x: np.ndarray, seconds: float, sample_rate: int = 16000) -> np.ndarray:
    """``x`` repeated to exactly ``seconds`` of audio."""
    return np.resize(x, int(round(seconds * sample_rate)))


@pytest.fixture(scope="session")
def hour_wav(tmp_path_factory: pytest.TempPathFactory, long_speech: np.ndarray) -> Path:
    """One hour of fixture speech, 16 kHz PCM_16 (115 MB; written in ~1 s)."""
    path = tmp_path_factory.mktemp("hour") / "one hour.wav"
    pcm = np.round(tile_to(long_speech, 3600.0) * 32767).astype(np.int16)
    sf.write(path, pcm, 16000, subtype="PCM_16")
    return path
