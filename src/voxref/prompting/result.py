"""What :func:`voxref.prompt` returns: the prompt audio and, for every piece, where it came from."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BatchReport

__all__ = ["PromptPiece", "PromptResult", "PromptTooShortWarning", "PromptCutAtDipWarning"]


class PromptTooShortWarning(UserWarning):
    """The references hold less clean target-only speech than the preset wants; the prompt is the
    best there is, and the warning says how short it is and why."""


class PromptCutAtDipWarning(PromptTooShortWarning):
    """No piece between pauses fitted the preset, so the prompt was cut at energy dips inside
    the speech instead (the quietest moments, most likely between words, but not pauses).

    A kind of :class:`PromptTooShortWarning` (cut at pauses alone, the prompt would have been
    too short), so code that handles that warning handles this one too."""


def _r(v: Any, nd: int = 3) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, nd)
    return v


@dataclass
class PromptPiece:
    """One stretch of speech between two pauses of one reference, kept or dropped.

    Attributes
    ----------
    source
        The reference it comes from (path or ``"<array i>"``).
    reference
        Its index among the references given.
    start, end
        Seconds on the reference's own timeline (the speech between the two pauses).
    snr_db
        Estimated SNR of the piece: its power over the reference's noise floor (measured in the
        reference's pauses), dB.
    dnsmos
        DNSMOS P.835 scores (``ovrl_mos``, ``sig_mos``, ``bak_mos``, ``p808_mos``) when
        ``speechmos`` is installed and the piece was scored (chosen pieces), else ``None``.
    clipping
        Fraction of clipped samples (at the reference's own rate).
    bandwidth_hz
        Effective bandwidth of the piece (where its spectrum ends).
    overlap
        Fraction of the piece's 10 ms frames where the diarizer heard two voices at once.
    other_voice
        Fraction of its frames the diarizer gave to another speaker.
    similarity
        Cosine of the piece's embedding to the target's.
    other_similarity
        Its largest cosine to another voice found in the reference (``nan``: none found).
    kept
        Part of the prompt.
    reason
        Why it was dropped (empty when kept or merely not needed).
    actions
        What was done to it (cut margins, denoiser, fades, resampling); the whole prompt's
        levelling is in :attr:`PromptResult.actions`.
    score
        Its rank among usable pieces (:func:`voxref.prompting.select.piece_score`).
    pause_before, pause_after
        Length of the pauses around it (s): the room a cut has.
    dip_before, dip_after
        That end is an energy dip inside speech, not a pause: the part of a piece between
        pauses that is longer than the preset allows (:func:`voxref.prompting.select.dip_cuts`).
    """

    source: str
    reference: int
    start: float
    end: float
    snr_db: float = float("nan")
    dnsmos: dict[str, float] | None = None
    clipping: float = 0.0
    bandwidth_hz: float = 0.0
    overlap: float = 0.0
    other_voice: float = 0.0
    similarity: float = float("nan")
    other_similarity: float = float("nan")
    kept: bool = False
    reason: str = ""
    actions: list[str] = field(default_factory=list)
    score: float = 0.0
    pause_before: float = 0.0
    pause_after: float = 0.0
    dip_before: bool = False
    dip_after: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def usable(self) -> bool:
        """Target-only and clean enough to be chosen (``reason`` empty)."""
        return not self.reason

    def to_dict(self) -> dict:
        d = {k: _r(v) for k, v in asdict(self).items()}
        if self.dnsmos is not None:
            d["dnsmos"] = {k: round(v, 3) for k, v in self.dnsmos.items()}
        return d


@dataclass
class PromptResult:
    """A prompt for an audio-conditioned TTS model.

    Attributes
    ----------
    audio
        Mono float32 prompt, peak at most -1 dBFS.
    sample_rate
        Its rate (the preset's).
    preset
        The preset's settings (:class:`~voxref.prompting.presets.PromptPreset` as a dict).
    pieces
        The pieces the prompt is made of, in prompt order.
    candidates
        Every piece of every usable reference, kept or dropped, with why.
    report
        What happened to each reference (used / rejected and why).
    target
        How the target voice was found (one sentence).
    target_similarity
        Cosine of the finished prompt's embedding to the target's.
    warnings
        Warnings given (also issued as :class:`PromptTooShortWarning`).
    actions
        What was done to the joined prompt (levelling, limiting).
    per_reference
        With ``per_reference=True``: each reference's target-only pieces joined, ``{source:
        audio}`` at :attr:`sample_rate`.
    """

    audio: np.ndarray
    sample_rate: int
    preset: dict
    pieces: list[PromptPiece]
    candidates: list[PromptPiece]
    report: BatchReport
    target: str = ""
    target_similarity: float = float("nan")
    warnings: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    per_reference: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.audio) / float(self.sample_rate)

    def summary(self) -> str:
        """One line: length, pieces kept, pieces dropped and why."""
        dropped = [c for c in self.candidates if c.reason]
        why: dict[str, int] = {}
        for c in dropped:
            key = c.reason.split(":")[0]
            why[key] = why.get(key, 0) + 1
        refs = sorted({p.source for p in self.pieces})
        line = (
            f"prompt {self.duration:.1f} s at {self.sample_rate} Hz ({self.preset['name']}) from "
            f"{len(self.pieces)} piece(s) of {len(refs)} reference(s); dropped {len(dropped)}"
        )
        if why:
            line += " (" + ", ".join(f"{n} {k}" for k, n in sorted(why.items())) + ")"
        failed = self.report.failed
        if failed:
            line += f"; {len(failed)} reference(s) skipped"
        return line

    def to_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "duration_s": round(self.duration, 3),
            "preset": self.preset,
            "target": self.target,
            "target_similarity": _r(self.target_similarity),
            "actions": list(self.actions),
            "warnings": list(self.warnings),
            "pieces": [p.to_dict() for p in self.pieces],
            "candidates": [p.to_dict() for p in self.candidates],
            "references": self.report.to_dict()["fates"],
        }

    def write(self, path: str | os.PathLike, *, sidecar: bool = True) -> Path:
        """Write the prompt as 16-bit PCM wav and, next to it, ``<name>.json`` (:meth:`to_dict`).

        Returns the sidecar's path (or the wav's when ``sidecar`` is false).
        """
        import soundfile as sf

        path = Path(path)
        sf.write(str(path), self.audio, self.sample_rate, subtype="PCM_16")
        if not sidecar:
            return path
        side = path.with_suffix(".json")
        side.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return side
