"""The overlap / mixed-bag decision record matches the results it comes from; the consensus
window weighting it tried does what it says on real speech."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.quality.overlap_record import record_markdown
from benchmarks.quality.variants import consensus_window_pool

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _load(name: str) -> dict:
    path = RESULTS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the decision record cannot be regenerated")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def inputs() -> tuple[dict, dict, dict]:
    return (
        _load("overlap_diagnosis_A.json"),
        _load("overlap_variants_A.json"),
        _load("overlap_diagnosis_B.json"),
    )


def test_committed_record_is_the_generated_one(inputs: tuple[dict, dict, dict]) -> None:
    """overlap_pooling.md is regenerated, never edited."""
    committed = (RESULTS / "overlap_pooling.md").read_text()
    assert committed == record_markdown(*inputs) + "\n"


def test_record_is_made_on_the_tuning_voices_only(inputs: tuple[dict, dict, dict]) -> None:
    diag, run, diag_b = inputs
    assert diag_b["voice_group"] == "B"  # the reporting check only
    assert diag["voice_group"] == "A"
    assert run["config"]["voice_group"] == "A"
    eer = {(r["condition"], r["k"], r["method"]): r["eer"] for r in run["results"]}
    md = record_markdown(diag, run, diag_b)
    assert f"defaults {100 * eer[('overlap-sir0dB', 3, 'voxref')]:.2f} %" in md
    # the record says no variant beat the defaults there: the JSON must agree
    others = [m for m in run["methods"] if m not in ("voxref", "resemblyzer")]
    assert (
        min(eer[("overlap-sir0dB", 3, m)] for m in others) >= eer[("overlap-sir0dB", 3, "voxref")]
    )


def test_consensus_weighting_drops_windows_of_a_voice_only_one_reference_holds(
    speech_by_speaker,
) -> None:
    """Two references of one espeak-ng voice and a third whose second half is another
    (flite) voice: the other voice's windows lose their weight, the target's keep theirs."""
    import soundfile as sf

    from voxref.embedder.ge2e import GE2EEncoder

    enc = GE2EEncoder()
    target = [sf.read(str(p), dtype="float32")[0] for p in speech_by_speaker["espeak-us-m3"]]
    other = sf.read(str(speech_by_speaker["flite-slt"][0]), dtype="float32")[0]
    third = np.concatenate([target[2], other])
    windows = [enc.embed_windows(x) for x in (target[0], target[1], third)]
    split = float(len(target[2])) / 16_000
    starts = np.asarray(windows[2].starts)
    ends = np.asarray(windows[2].ends)
    own, foreign = ends <= split, starts >= split
    assert own.any() and foreign.any()
    _, weights = consensus_window_pool([np.asarray(w.embeddings) for w in windows])
    w = weights[2]
    assert w[foreign].sum() < 0.1 * w[own].sum()
    # the plain mean (no consensus) keeps them: the weighting is what drops them
    _, flat = consensus_window_pool(
        [np.asarray(w.embeddings) for w in windows], temperature=float("inf")
    )
    assert flat[2][foreign].sum() > 0.3 * flat[2][own].sum()
