"""Shared test fixtures: paths to committed speech fixtures and pyannote's bundled 2-speaker sample.

Only locations and tiny parsers live here (no pyannote / torch imports: they cost seconds).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures"
SPEECH_DIR = FIXTURE_DIR / "speech"


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    """``tests/fixtures``."""
    return FIXTURE_DIR


@pytest.fixture(scope="session")
def speech_manifest() -> list[dict[str, str]]:
    """Rows of ``tests/fixtures/speech/manifest.csv``; ``path`` made absolute."""
    with (SPEECH_DIR / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["path"] = str(SPEECH_DIR / row["path"])
    return rows


@pytest.fixture(scope="session")
def speech_by_speaker(speech_manifest: list[dict[str, str]]) -> dict[str, list[Path]]:
    """Speaker id -> its fixture wav paths (manifest order): 6 speakers x 4 utterances, 16 kHz."""
    out: dict[str, list[Path]] = {}
    for row in speech_manifest:
        out.setdefault(row["speaker"], []).append(Path(row["path"]))
    return out


@pytest.fixture(scope="session")
def pyannote_sample() -> tuple[Path, Path]:
    """``(sample.wav, sample.rttm)`` shipped in the pyannote.audio wheel (30 s, 2 speakers)."""
    from voxref.sample_data import pyannote_sample as locate  # no pyannote.audio import

    return locate()


@pytest.fixture(scope="session")
def pyannote_turns(pyannote_sample: tuple[Path, Path]) -> list[tuple[float, float, str]]:
    """Reference turns ``[(start, end, speaker)]`` of the pyannote sample."""
    from voxref.sample_data import read_rttm

    return [(t.start, t.end, t.speaker) for t in read_rttm(pyannote_sample[1])]
