"""Shared data for the scale tests: a small manifest of fixture speech and its reference embeddings.

The manifest holds 3 speakers x 2 fixture clips (16 kHz synthetic speech), one segment of
pyannote's real recording as a fourth speaker, and one clip whose file does not exist. The
reference embeddings are computed in this process with ``voxref.embed`` -- what every backend
of ``embed_dataset`` must reproduce.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

SEGMENT = (7.0, 13.0)  # seconds of pyannote's sample: one speaker talking


def write_manifest(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "speaker", "start", "end"])
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in ("path", "speaker", "start", "end")})
    return path


@pytest.fixture(scope="session")
def scale_rows(speech_by_speaker, pyannote_sample) -> list[dict]:
    """Manifest rows: 3 synthetic speakers x 2 clips, a pyannote segment, a missing file."""
    rows = []
    for spk in sorted(speech_by_speaker)[:3]:
        for p in speech_by_speaker[spk][:2]:
            rows.append({"path": str(p), "speaker": spk})
    rows.append(
        {
            "path": str(pyannote_sample[0]),
            "speaker": "pyannote",
            "start": SEGMENT[0],
            "end": SEGMENT[1],
        }
    )
    rows.append({"path": "/nonexistent/lost.wav", "speaker": "ghost"})
    return rows


def reference_inputs(rows: list[dict]) -> dict[str, list]:
    """What to give ``voxref.embed`` for each speaker: paths, or ``(samples, rate)`` segments."""
    import soundfile as sf

    out: dict[str, list] = {}
    for r in rows:
        if r.get("start") not in (None, ""):
            info = sf.info(r["path"])
            a, b = (int(round(float(r[k]) * info.samplerate)) for k in ("start", "end"))
            x, sr = sf.read(r["path"], start=a, stop=b, dtype="float32")
            out.setdefault(r["speaker"], []).append((x, sr))
        else:
            out.setdefault(r["speaker"], []).append(r["path"])
    return out


@pytest.fixture(scope="session")
def reference_embeddings(scale_rows) -> dict[str, np.ndarray]:
    """``voxref.embed`` of each speaker's existing clips (the ghost speaker has none)."""
    import voxref

    refs = {}
    for spk, inputs in reference_inputs(scale_rows).items():
        usable = [x for x in inputs if not isinstance(x, str) or os.path.exists(x)]
        if usable:
            refs[spk] = voxref.embed(usable)
    return refs


@pytest.fixture(scope="session")
def ray_cluster():
    """One private local Ray (loopback, 2 CPUs) for every Ray test of the session."""
    pytest.importorskip(
        "ray.data",
        reason="ray[data] is not installed (pip install 'voxref[ray]'); the Ray backend is untested",
    )
    import ray

    from voxref.scale.backends import start_local_ray

    if not ray.is_initialized():
        start_local_ray(num_cpus=2)
    yield ray
    ray.shutdown()
