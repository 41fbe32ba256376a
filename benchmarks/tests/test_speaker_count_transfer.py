"""The speaker counter's transfer results: the committed section is the one generated from the
committed JSON, and its numbers are the JSON's."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"


@pytest.fixture(scope="module")
def transfer():
    path = REPO / "scripts" / "speaker_count_transfer.py"
    spec = importlib.util.spec_from_file_location("speaker_count_transfer", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_committed_fragment_is_the_generated_one(transfer) -> None:
    path = RESULTS / "speaker_count_transfer.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the speaker counter section cannot be regenerated")
    doc = json.loads(path.read_text())
    assert (RESULTS / "speaker_count_transfer.md").read_text() == transfer.markdown(doc)
    shipped = doc["checkpoints"]["shipped"]
    assert set(shipped) >= {"A", "B", "pyannote-sample"}, "both groups and the sample measured"
    # the summary is the detail's: false overlap is the mean over the group's voices
    for group in ("A", "B"):
        fo = shipped[group]["false_overlap_clean"]["0.5"]
        mean = sum(fo["by_voice"].values()) / len(fo["by_voice"])
        assert fo["mean"] == pytest.approx(mean, abs=1e-4)
        assert shipped["summary"][group]["false_overlap_mean"] == fo["mean"]
    assert doc.get("decision"), "the section records whether the retrained counter ships"
