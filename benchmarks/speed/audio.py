"""Audio for the speed benchmark, cut from pyannote's bundled 30 s real two-speaker recording.

* ``ref_v2_00.wav`` ... ``ref_v2_09.wav``: 5 s references, the 10 windows (offsets on a 0.5 s grid,
  at least 1 s apart) with the most speech according to ``sample.rttm``;
* ``long.wav``: the recording looped to ``long_seconds`` (600 s in full mode).

Files are written once per length (16 kHz PCM16) and reused.

Examples
--------
>>> import tempfile
>>> a = make_speed_audio(tempfile.mkdtemp(), long_seconds=12.0)
>>> len(a.refs), round(a.seconds("long"), 1), round(a.seconds("ref5"), 1)
(10, 12.0, 5.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["SpeedAudio", "make_speed_audio", "REF_SECONDS", "N_REFS"]

AUDIO_VERSION = 2
"""Part of the file names: bump when the way the audio is cut changes (old files are not reused)."""

REF_SECONDS = 5.0
N_REFS = 10
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class SpeedAudio:
    """Paths of the speed benchmark's audio."""

    refs: tuple[Path, ...]
    long: Path

    def paths(self, label: str) -> list[Path]:
        """Files behind an audio label: ``ref5``/``1x5s``, ``3x5s``, ``10x5s``, ``long``."""
        if label in ("ref5", "1x5s"):
            return [self.refs[0]]
        if label == "3x5s":
            return list(self.refs[:3])
        if label == "10x5s":
            return list(self.refs[:10])
        if label == "long":
            return [self.long]
        raise KeyError(f"unknown audio label {label!r}")

    def seconds(self, label: str) -> float:
        """Total duration of the files behind ``label``."""
        return float(sum(sf.info(str(p)).duration for p in self.paths(label)))

    def to_dict(self) -> dict[str, str]:
        return {"refs": str(self.refs[0].parent), "long": str(self.long)}


def speech_rich_offsets(rttm: Path, duration: float, n: int = N_REFS) -> list[float]:
    """Start times of ``n`` windows of :data:`REF_SECONDS` with the most annotated speech.

    Examples
    --------
    >>> from voxref.sample_data import pyannote_sample
    >>> offs = speech_rich_offsets(pyannote_sample()[1], 30.0)
    >>> len(offs), min(abs(a - b) for a in offs for b in offs if a != b) >= 1.0
    (10, True)
    """
    from voxref.sample_data import read_rttm

    grid = np.arange(0.0, duration - REF_SECONDS + 1e-9, 0.5)
    t = np.arange(0.0, duration, 0.01)
    speech = np.zeros(t.size, dtype=bool)
    for turn in read_rttm(rttm):
        speech |= (t >= turn.start) & (t < turn.end)
    coverage = [speech[(t >= o) & (t < o + REF_SECONDS)].mean() for o in grid]
    chosen: list[float] = []
    for i in np.argsort(coverage, kind="stable")[::-1]:
        if all(abs(grid[i] - c) >= 1.0 for c in chosen):
            chosen.append(float(grid[i]))
        if len(chosen) == n:
            break
    return sorted(chosen)


def make_speed_audio(out_dir: str | Path, long_seconds: float = 600.0) -> SpeedAudio:
    """Write (or reuse) the references and the long recording in ``out_dir``."""
    from voxref.sample_data import pyannote_sample

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wav, rttm = pyannote_sample()
    x, sr = sf.read(str(wav), dtype="float32", always_2d=False)
    if sr != SAMPLE_RATE:
        raise RuntimeError(f"{wav} is {sr} Hz; expected {SAMPLE_RATE}")
    n_ref = int(REF_SECONDS * sr)
    refs = []
    for i, offset in enumerate(speech_rich_offsets(rttm, len(x) / sr)):
        path = out / f"ref_v{AUDIO_VERSION}_{i:02d}.wav"
        if not path.is_file():
            start = int(offset * sr)
            sf.write(str(path), x[start : start + n_ref], sr, subtype="PCM_16")
        refs.append(path)
    long = out / f"long_{int(round(long_seconds))}s.wav"
    if not long.is_file():
        n = int(round(long_seconds * sr))
        sf.write(str(long), np.resize(x, n), sr, subtype="PCM_16")
    return SpeedAudio(tuple(refs), long)
