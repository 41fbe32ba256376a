"""Audio for the speed benchmark, cut from pyannote's bundled 30 s real two-speaker recording.

* ``ref_00.wav`` ... ``ref_09.wav``: 5 s references at offsets 0, 2.5, ..., 22.5 s;
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


def make_speed_audio(out_dir: str | Path, long_seconds: float = 600.0) -> SpeedAudio:
    """Write (or reuse) the references and the long recording in ``out_dir``."""
    from voxref.sample_data import pyannote_sample

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wav, _ = pyannote_sample()
    x, sr = sf.read(str(wav), dtype="float32", always_2d=False)
    if sr != SAMPLE_RATE:
        raise RuntimeError(f"{wav} is {sr} Hz; expected {SAMPLE_RATE}")
    n_ref = int(REF_SECONDS * sr)
    refs = []
    for i in range(N_REFS):
        path = out / f"ref_{i:02d}.wav"
        if not path.is_file():
            start = int(i * 2.5 * sr) % len(x)
            piece = np.take(x, np.arange(start, start + n_ref), mode="wrap")
            sf.write(str(path), piece, sr, subtype="PCM_16")
        refs.append(path)
    long = out / f"long_{int(round(long_seconds))}s.wav"
    if not long.is_file():
        n = int(round(long_seconds * sr))
        sf.write(str(long), np.resize(x, n), sr, subtype="PCM_16")
    return SpeedAudio(tuple(refs), long)
