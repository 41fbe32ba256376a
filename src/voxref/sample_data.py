"""Real speech that ships inside installed wheels: pyannote.audio's 30 s two-speaker sample.

Located on disk without importing ``pyannote.audio`` (which takes seconds).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MissingDependencyError

__all__ = ["Turn", "pyannote_sample", "read_rttm", "speaker_turns_audio"]


@dataclass(frozen=True)
class Turn:
    """One speech turn: ``start``/``end`` in seconds and a speaker label."""

    start: float
    end: float
    speaker: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def pyannote_sample() -> tuple[Path, Path]:
    """Paths of pyannote.audio's bundled ``sample.wav`` (16 kHz, 30 s) and ``sample.rttm``."""
    spec = importlib.util.find_spec("pyannote")
    roots = (
        list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []
    )
    for root in roots:
        folder = Path(root) / "audio" / "sample"
        if (folder / "sample.wav").exists():
            return folder / "sample.wav", folder / "sample.rttm"
    raise MissingDependencyError(
        "pyannote.audio", "pyannote.audio>=4", "The bundled sample recording"
    )


def read_rttm(path: str | Path) -> list[Turn]:
    """Parse an RTTM file into turns sorted by start (``SPEAKER file 1 start dur <NA> <NA> spk ...``).

    Examples
    --------
    >>> wav, rttm = pyannote_sample()
    >>> sorted({t.speaker for t in read_rttm(rttm)})
    ['speaker90', 'speaker91']
    """
    turns = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, dur = float(parts[3]), float(parts[4])
            turns.append(Turn(start, start + dur, parts[7]))
    return sorted(turns, key=lambda t: (t.start, t.end))


def exclusive_turns(turns: list[Turn]) -> list[Turn]:
    """The parts of each turn where no other speaker talks (overlaps removed)."""
    out = []
    for t in turns:
        pieces = [(t.start, t.end)]
        for o in turns:
            if o is t or o.speaker == t.speaker:
                continue
            nxt = []
            for a, b in pieces:
                if o.end <= a or o.start >= b:
                    nxt.append((a, b))
                    continue
                if o.start > a:
                    nxt.append((a, o.start))
                if o.end < b:
                    nxt.append((o.end, b))
            pieces = nxt
        out += [Turn(a, b, t.speaker) for a, b in pieces if b - a > 1e-3]
    return sorted(out, key=lambda t: t.start)


def speaker_turns_audio(
    samples: np.ndarray, sample_rate: int, turns: list[Turn], min_turn: float = 0.0
) -> dict[str, np.ndarray]:
    """Concatenate each speaker's overlap-free turns: ``{speaker: samples}``."""
    out: dict[str, list[np.ndarray]] = {}
    for t in exclusive_turns(turns):
        if t.duration >= min_turn:
            a, b = int(t.start * sample_rate), int(t.end * sample_rate)
            out.setdefault(t.speaker, []).append(samples[a:b])
    return {k: np.concatenate(v) for k, v in out.items()}
