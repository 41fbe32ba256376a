"""The prompt benchmark: its truth measures on hand-made spans, and its committed fragment is
the one its generator writes from the committed JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.prompt.report import markdown, set_summary
from benchmarks.prompt.run import purity
from benchmarks.prompt.sets import SR, Reference

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _reference() -> Reference:
    """4 s: the target speaks 0.5-1.5 s and 2.0-3.0 s, an interferer 2.5-3.5 s (a tone each)."""
    t = np.arange(4 * SR) / SR
    speech = np.zeros(len(t))
    for s, e, f in ((0.5, 1.5, 200.0), (2.0, 3.0, 200.0), (2.5, 3.5, 330.0)):
        m = (t >= s) & (t < e)
        speech[m] += 0.1 * np.sin(2 * np.pi * f * t[m])
    return Reference(
        speech.astype(np.float32),
        [(0.5, 1.5), (2.0, 3.0)],
        [(2.5, 3.5)],
        speech,
        np.zeros(len(t)),
        "overlap-test",
        "tone",
    )


def test_purity_of_a_target_only_span_cut_in_silence() -> None:
    ref = _reference()
    out = purity([(0, 0.3, 1.7)], [ref])
    assert out["target_only"] == pytest.approx(1.0)
    assert out["interferer"] == 0.0
    assert out["pause"] == pytest.approx(0.4 / 1.4, abs=1e-3)
    assert out["cuts"] == 2 and out["cuts_in_sound"] == 0.0 and out["cuts_in_utterance"] == 0.0


def test_purity_of_a_span_with_the_interferer_cut_in_speech() -> None:
    ref = _reference()
    out = purity([(0, 2.2, 3.2)], [ref])
    # 2.2-2.5 target alone, 2.5-3.0 both, 3.0-3.2 interferer alone
    assert out["target_only"] == pytest.approx(0.3 / 1.0, abs=1e-3)
    assert out["interferer"] == pytest.approx(0.7 / 1.0, abs=1e-3)
    assert out["cuts_in_sound"] == 1.0 and out["cuts_in_utterance"] == 1.0


def test_an_empty_prompt_has_no_shares() -> None:
    out = purity([], [_reference()])
    assert out["target_only"] is None and out["interferer"] is None and out["cuts"] == 0


def test_committed_fragment_is_the_generated_one() -> None:
    """prompt.md is regenerated from prompt.json, never edited."""
    path = RESULTS / "prompt.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the prompt section cannot be regenerated")
    data = json.loads(path.read_text())
    assert (RESULTS / "prompt.md").read_text() == markdown(data).rstrip() + "\n"
    # every set of every target is in it, and a set's cells are the means of its rows
    sets = {r["set"] for r in data["rows"]}
    for name in sets:
        rows = [r for r in data["rows"] if r["set"] == name]
        s = set_summary(rows)
        scored = [r for r in rows if r["prompt"]["dnsmos_ovrl"] is not None]
        if scored:
            want = np.mean([r["prompt"]["dnsmos_ovrl"] for r in scored])
            assert s["prompt_dnsmos_ovrl"] == pytest.approx(want)
        assert f"| {name} |" in markdown(data)
