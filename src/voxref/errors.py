"""Typed errors raised by voxref.

Every error says what went wrong *and what to do about it*. All inherit from
:class:`VoxrefError`, so ``except voxref.errors.VoxrefError`` catches everything
the library raises on purpose; anything else is a bug.

Examples
--------
>>> import numpy as np
>>> from voxref.errors import VoxrefError, SilentAudioError
>>> issubclass(SilentAudioError, VoxrefError)
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

__all__ = [
    "LowConfidenceWarning",
    "VoxrefError",
    "AudioError",
    "AudioFileNotFoundError",
    "UnreadableAudioError",
    "EmptyAudioError",
    "SilentAudioError",
    "TooShortAudioError",
    "NonFiniteAudioError",
    "OutOfRangeAudioError",
    "AudioShapeError",
    "SampleRateError",
    "NoSpeechError",
    "CheckpointError",
    "MissingCheckpointError",
    "UnsafeCheckpointError",
    "MissingDependencyError",
    "optional_dependency",
    "InputFate",
    "BatchReport",
    "NoUsableReferenceError",
    "NoTargetVoiceError",
    "ConfigError",
    "WorkerFailedError",
    "TargetNotFoundError",
]


class VoxrefError(Exception):
    """Base class of every error voxref raises on purpose."""


class ConfigError(VoxrefError, ValueError):
    """An option has a value voxref cannot use (the message names the valid values)."""


class WorkerFailedError(VoxrefError, RuntimeError):
    """A process of a multi-process run died or failed; the run was stopped.

    Parameters
    ----------
    message
        Which rank failed and how (exit status or signal), and how to continue.
    ranks
        The failed ranks.
    """

    def __init__(self, message: str, ranks: Sequence[int] = ()) -> None:
        self.ranks = list(ranks)
        super().__init__(message)


# --------------------------------------------------------------------------- audio input
class AudioError(VoxrefError, ValueError):
    """A piece of input audio cannot be used.

    Parameters
    ----------
    message
        What is wrong and what to do.
    source
        Name of the input (file path or ``"<array 0>"``), when known.
    """

    def __init__(self, message: str, source: str | None = None) -> None:
        self.source = source
        self.reason = message
        super().__init__(f"{source}: {message}" if source else message)


class AudioFileNotFoundError(AudioError, FileNotFoundError):
    """The path does not exist (or is a broken link)."""


class UnreadableAudioError(AudioError):
    """The file exists but is not audio voxref can decode (corrupt, truncated, text, directory...)."""


class EmptyAudioError(AudioError):
    """The audio has zero samples."""


class SilentAudioError(AudioError):
    """The audio is all zeros / digital silence."""


class TooShortAudioError(AudioError):
    """Less audio (or speech) than the encoder needs."""


class NonFiniteAudioError(AudioError):
    """The samples contain NaN or infinity."""


class OutOfRangeAudioError(AudioError):
    """The samples are finite but far beyond any audio scale (floats in [-1, 1], integer PCM
    stored as floats up to 2.1e9): garbage, or a scale voxref cannot guess (see
    :mod:`voxref.audio.samples`)."""


class AudioShapeError(AudioError):
    """An array/tensor has a shape voxref cannot interpret as mono or multi-channel audio."""


class SampleRateError(AudioError):
    """The sample rate is missing, or outside the range voxref accepts."""


class NoSpeechError(AudioError):
    """Voice activity detection found no (or too little) speech in the audio."""


# --------------------------------------------------------------------------- models
class CheckpointError(VoxrefError):
    """A model checkpoint cannot be loaded."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """No checkpoint at the given path / hub id (offline, or a typo)."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds Python objects that would run code on load; voxref refuses it."""


class MissingDependencyError(VoxrefError, ImportError):
    """An optional dependency is not installed.

    Parameters
    ----------
    package
        The importable module that was missing.
    extra
        What to ``pip install`` to get it.
    purpose
        What feature needs it.
    """

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"{purpose} needs the '{package}' package: run `pip install {extra}`.")


@contextlib.contextmanager
def optional_dependency(package: str, extra: str, purpose: str) -> Iterator[None]:
    """Context for importing an optional dependency: an :class:`ImportError` inside it becomes a
    :class:`MissingDependencyError` (``package``, ``extra``, ``purpose`` as there); one already
    raised as such passes unchanged.

    Examples
    --------
    >>> try:
    ...     with optional_dependency("no_such_pkg", "no-such-pkg>=1", "This example"):
    ...         import no_such_pkg  # noqa: F401
    ... except MissingDependencyError as exc:
    ...     print(exc)
    This example needs the 'no_such_pkg' package: run `pip install no-such-pkg>=1`.
    """
    try:
        yield
    except MissingDependencyError:
        raise
    except ImportError as exc:
        raise MissingDependencyError(package, extra, purpose) from exc


class LowConfidenceWarning(UserWarning):
    """An embedding was computed from references voxref would normally reject (too short, no
    speech found, very noisy): a best-effort vector, to be trusted less. Pass ``strict=True`` to
    raise :class:`NoUsableReferenceError` instead; give a longer, cleaner clip to avoid it."""


# --------------------------------------------------------------------------- batches
@dataclass
class InputFate:
    """What happened to one input of a batch call.

    Attributes
    ----------
    source
        The input's name (path, or ``"<array i>"``).
    status
        ``"used"``, ``"down-weighted"``, or ``"rejected"`` / ``"failed"``.
    reason
        Why, in words a user can act on (empty for a clean ``"used"``).
    error
        The exception type name when the input failed.
    """

    source: str
    status: str
    reason: str = ""
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
        }


@dataclass
class BatchReport:
    """Every input's fate in a batch call; nothing is silently dropped."""

    fates: list[InputFate] = field(default_factory=list)

    def add(self, fate: InputFate) -> None:
        self.fates.append(fate)

    @property
    def failed(self) -> list[InputFate]:
        return [f for f in self.fates if f.status in ("rejected", "failed")]

    @property
    def used(self) -> list[InputFate]:
        return [f for f in self.fates if f.status not in ("rejected", "failed")]

    def summary(self) -> str:
        lines = [f"{len(self.used)} of {len(self.fates)} inputs used"]
        for f in self.fates:
            tail = f" ({f.reason})" if f.reason else ""
            lines.append(f"  {f.status:>13}: {f.source}{tail}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"fates": [f.to_dict() for f in self.fates]}


class NoUsableReferenceError(VoxrefError):
    """Every reference given for one speaker was unusable.

    The message names each file and why it was rejected; ``report`` holds the details.
    """

    def __init__(
        self, report: BatchReport | Sequence[InputFate], speaker: str | None = None
    ) -> None:
        if not isinstance(report, BatchReport):
            report = BatchReport(list(report))
        self.report = report
        who = f" for speaker {speaker!r}" if speaker else ""
        lines = [f"no usable reference{who}; every input was rejected:"]
        lines += [f"  - {f.source}: {f.reason}" for f in report.fates]
        lines.append("Give at least one clip with >= 1 s of clear speech from the target voice.")
        super().__init__("\n".join(lines))


class TargetNotFoundError(VoxrefError):
    """The guided voice is not among the speakers of a recording (:func:`voxref.extract_target`).

    ``guide_similarity`` maps each speaker found in the recording to its cosine to the guide.
    """

    def __init__(self, message: str, guide_similarity: dict[str, float] | None = None) -> None:
        self.guide_similarity = dict(guide_similarity or {})
        super().__init__(message)


class NoTargetVoiceError(TargetNotFoundError):
    """The target voice is nowhere in the references: no piece of speech matches it.

    Raised by :func:`voxref.prompt` when every speech piece of every usable reference is another
    voice (or the guide matches none of them). ``details`` lists what was found per reference.
    """

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        self.details = list(details)
        lines = [message, *[f"  - {d}" for d in self.details]]
        lines.append(
            "Give references in which the target voice speaks on its own, or a guide (an "
            "embedding or a clean clip of the target) that matches a voice in them."
        )
        super().__init__("\n".join(lines))
