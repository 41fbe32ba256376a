"""Shared test fixtures: paths to committed speech fixtures and pyannote's bundled 2-speaker sample.

Only locations and tiny parsers live here (no pyannote / torch imports: they cost seconds).
"""

from __future__ import annotations

import csv
import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures"
SPEECH_DIR = FIXTURE_DIR / "speech"


def read_rttm_turns(path: str | Path) -> list[tuple[float, float, str]]:
    """Parse an RTTM file into ``[(start, end, speaker)]`` (seconds), sorted by start."""
    turns = []
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start = float(fields[3])
            turns.append((start, round(start + float(fields[4]), 6), fields[7]))
    return sorted(turns)


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
    spec = importlib.util.find_spec("pyannote.audio")  # locates without importing pyannote.audio
    for root in (spec.submodule_search_locations or []) if spec else []:
        wav, rttm = Path(root, "sample", "sample.wav"), Path(root, "sample", "sample.rttm")
        if wav.is_file() and rttm.is_file():
            return wav, rttm
    pytest.fail(
        "pyannote.audio's sample/sample.wav + sample.rttm not found: install pyannote.audio"
    )


@pytest.fixture(scope="session")
def pyannote_turns(pyannote_sample: tuple[Path, Path]) -> list[tuple[float, float, str]]:
    """Reference turns ``[(start, end, speaker)]`` of the pyannote sample."""
    return read_rttm_turns(pyannote_sample[1])
