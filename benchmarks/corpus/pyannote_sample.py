"""Real 2-speaker speech: pyannote.audio's bundled ``sample.wav`` cut into per-speaker pieces.

The sample (30 s, 16 kHz, two speakers, ~1.9 s of overlap) ships inside the pyannote.audio wheel
with its reference ``sample.rttm`` and transcript ``sample.stm``. It is located on disk without
importing ``pyannote.audio`` (that import costs seconds). Each speaker's non-overlapped turns are
cut out, faded at the edges, and concatenated into pieces of 2–6 s.

Examples
--------
>>> from benchmarks.corpus.pyannote_sample import exclusive_regions
>>> turns = [(0.0, 2.0, "a"), (1.5, 3.0, "b")]
>>> exclusive_regions(turns)
{'a': [(0.0, 1.5)], 'b': [(2.0, 3.0)]}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxref.sample_data import pyannote_sample
from voxref.sample_data import read_rttm as _read_rttm

Turn = tuple[float, float, str]
"""(start seconds, end seconds, speaker label)."""

SPEAKER_GENDER = {"speaker90": "f", "speaker91": "f"}
"""Both sample speakers are women (``sample.stm`` names them Diane and Sheila)."""


def locate_sample() -> tuple[Path, Path]:
    """Return ``(sample.wav, sample.rttm)`` inside the installed pyannote.audio package."""
    return pyannote_sample()


def read_rttm(path: str | Path) -> list[Turn]:
    """Parse an RTTM file into ``[(start, end, speaker)]`` sorted by start (see voxref.sample_data)."""
    return [(t.start, round(t.end, 6), t.speaker) for t in _read_rttm(path)]


def read_stm(path: str | Path) -> list[tuple[float, float, str]]:
    """Parse an STM transcript into ``[(start, end, text)]``."""
    rows = []
    for line in Path(path).read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) >= 5:
            rows.append((float(fields[3]), float(fields[4]), fields[5] if len(fields) > 5 else ""))
    return rows


def _merge(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _subtract(
    intervals: Sequence[tuple[float, float]], holes: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = []
    for s, e in intervals:
        pieces = [(s, e)]
        for hs, he in holes:
            nxt = []
            for ps, pe in pieces:
                if he <= ps or hs >= pe:
                    nxt.append((ps, pe))
                    continue
                if hs > ps:
                    nxt.append((ps, hs))
                if he < pe:
                    nxt.append((he, pe))
            pieces = nxt
        out.extend(pieces)
    return out


def exclusive_regions(turns: Sequence[Turn]) -> dict[str, list[tuple[float, float]]]:
    """Each speaker's speech where nobody else speaks: its turns minus all others' turns."""
    speakers = sorted({spk for _, _, spk in turns})
    regions = {}
    for spk in speakers:
        own = _merge([(s, e) for s, e, k in turns if k == spk])
        others = _merge([(s, e) for s, e, k in turns if k != spk])
        regions[spk] = [(s, e) for s, e in _subtract(own, others) if e - s > 1e-6]
    return regions


def overlap_duration(turns: Sequence[Turn]) -> float:
    """Total seconds where two or more speakers are active.

    Examples
    --------
    >>> overlap_duration([(0.0, 2.0, "a"), (1.5, 3.0, "b")])
    0.5
    """
    events = sorted([(s, 1) for s, _, _ in turns] + [(e, -1) for _, e, _ in turns])
    total, active, last = 0.0, 0, 0.0
    for t, delta in events:
        if active >= 2:
            total += t - last
        active += delta
        last = t
    return round(total, 6)


@dataclass(frozen=True)
class Piece:
    """A 2–6 s piece of one speaker: samples and the source intervals it was cut from."""

    speaker: str
    samples: np.ndarray
    sources: tuple[tuple[float, float], ...]


def cut_pieces(
    samples: np.ndarray,
    sample_rate: int,
    regions: Sequence[tuple[float, float]],
    speaker: str,
    *,
    min_duration: float = 2.0,
    max_duration: float = 6.0,
    target_duration: float = 2.5,
    min_region: float = 0.25,
    fade: float = 0.01,
) -> list[Piece]:
    """Concatenate a speaker's regions (in time order) into pieces of ``min``–``max`` seconds.

    Regions shorter than ``min_region`` are dropped; a region longer than ``target_duration`` is
    split into equal parts no longer than it. A piece is closed once it reaches
    ``target_duration`` (or would exceed ``max_duration``); a final remainder shorter than
    ``min_duration`` is appended to the previous piece if that stays within ``max_duration``,
    otherwise dropped. Each region gets ``fade`` seconds of linear fade-in/out so joins do not click.

    Examples
    --------
    >>> x = np.ones(16000 * 10, dtype=np.float32)
    >>> pieces = cut_pieces(x, 16000, [(0.0, 1.5), (2.0, 3.5), (4.0, 9.0)], "a")
    >>> [round(len(p.samples) / 16000, 2) for p in pieces]
    [3.0, 2.5, 2.5]
    """
    max_n = round(max_duration * sample_rate)
    fade_n = max(1, round(fade * sample_rate))
    ramp = np.linspace(0.0, 1.0, fade_n, dtype=np.float32)
    chunks: list[tuple[np.ndarray, tuple[float, float]]] = []
    for s, e in regions:
        if e - s < min_region:
            continue
        a, b = round(s * sample_rate), min(round(e * sample_rate), len(samples))
        n_parts = max(1, math.ceil((b - a) / (target_duration * sample_rate)))
        bounds = np.linspace(a, b, n_parts + 1).round().astype(int)
        for c, d in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if (d - c) / sample_rate < min_region:
                continue
            seg = samples[c:d].astype(np.float32).copy()
            n = min(fade_n, len(seg) // 2)
            seg[:n] *= ramp[:n]
            seg[len(seg) - n :] *= ramp[:n][::-1]
            chunks.append((seg, (c / sample_rate, d / sample_rate)))
    groups: list[list[tuple[np.ndarray, tuple[float, float]]]] = []
    cur: list[tuple[np.ndarray, tuple[float, float]]] = []

    def length(parts: list[tuple[np.ndarray, tuple[float, float]]]) -> int:
        return sum(len(p) for p, _ in parts)

    for chunk in chunks:
        if cur and length(cur) + len(chunk[0]) > max_n:
            groups.append(cur)
            cur = []
        cur.append(chunk)
        if length(cur) >= target_duration * sample_rate:
            groups.append(cur)
            cur = []
    if cur:
        if length(cur) >= min_duration * sample_rate:
            groups.append(cur)
        elif groups and length(groups[-1]) + length(cur) <= max_n:
            groups[-1].extend(cur)
    return [_piece(speaker, g) for g in groups if length(g) >= min_duration * sample_rate]


def _piece(speaker: str, parts: list[tuple[np.ndarray, tuple[float, float]]]) -> Piece:
    return Piece(speaker, np.concatenate([p for p, _ in parts]), tuple(src for _, src in parts))


def transcript_for(
    sources: Sequence[tuple[float, float]], stm: Sequence[tuple[float, float, str]]
) -> str:
    """Approximate text of a piece: STM lines whose midpoint lies in one of its source intervals."""
    words = []
    for s, e, text in stm:
        mid = (s + e) / 2
        if any(a <= mid <= b for a, b in sources):
            words.append(text)
    return " ".join(words)
