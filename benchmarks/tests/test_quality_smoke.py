"""Smoke run of the quality harness and the report on a tiny corpus (3 trial speakers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.quality.harness import QualityConfig, run_quality

pytestmark = pytest.mark.slow  # ~40 s of CPU: builds a corpus, runs 4 methods x 5 conditions

CONDITIONS = ("clean", "white-5dB", "overlap-sir5dB", "reverb-0.6s", "mixed")
METHODS = ("voxref", "mean", "resemblyzer", "mfcc")


def tiny_config(corpus: Path, **options) -> QualityConfig:
    """3 trial speakers with 3 + 2 clips, one process, no DER run; ``options`` override."""
    base = dict(
        corpus=corpus,
        mode="smoke",
        conditions=CONDITIONS,
        methods=METHODS,
        ks=(1, 3),
        n_enroll=3,
        n_test=2,
        n_interferers=3,
        max_trial_speakers=3,
        max_sets=3,
        workers=1,
        diarization=False,
    )
    return QualityConfig(**{**base, **options})


@pytest.fixture(scope="module")
def result(tiny_corpus: Path) -> dict:
    return run_quality(tiny_config(tiny_corpus), command=["pytest"])


def test_result_has_every_cell_and_is_strict_json(result: dict) -> None:
    text = json.dumps(result, allow_nan=False)  # no NaN / inf sneaks into the file
    assert json.loads(text)["benchmark"] == "quality"
    for key in (
        "run",
        "config",
        "corpus",
        "methods",
        "conditions",
        "trials",
        "results",
        "ratios",
        "diarization",
        "failed_clips",
        "prepare_cpu_seconds",
    ):
        assert key in result, key
    assert result["run"]["mode"] == "smoke" and result["run"]["versions"]["numpy"]
    assert (
        result["run"]["threads"]["OMP_NUM_THREADS"] is not None
        or "OMP_NUM_THREADS" in result["run"]["threads"]
    )
    cells = {(r["condition"], r["k"], r["method"]) for r in result["results"]}
    for cond in CONDITIONS:
        for k in (1, 3):
            if cond == "mixed" and k == 1:
                assert not any((cond, k, m) in cells for m in METHODS)
                continue
            for m in METHODS:
                assert (cond, k, m) in cells, (cond, k, m)
    for r in result["results"]:
        for key in (
            "eer",
            "min_dcf",
            "mean_target",
            "mean_nontarget",
            "degraded_vs_clean_cos",
            "n_target",
            "n_nontarget",
        ):
            assert key in r
        assert 0.0 <= r["eer"] <= 1.0 and 0.0 <= r["min_dcf"] <= 1.0
        assert r["n_target"] == r["n_nontarget"] > 0
    baselines = {(r["condition"], r["k"], r["baseline"]) for r in result["ratios"]}
    assert ("white-5dB", 3, "resemblyzer") in baselines and ("clean", 1, "mfcc") in baselines
    # bootstrap intervals of ours / mean and ours / resemblyzer, per condition and overall
    u = {(r["scope"], r["k"], r["baseline"]): r for r in result["uncertainty"]["rows"]}
    for key in (("clean", 3, "mean"), ("degraded", 1, "resemblyzer"), ("white-5dB", 3, "mean")):
        r = u[key]
        lo, hi = r["ci"]
        assert r["n_draws"] > 0 and 0.0 <= r["p_better"] <= 1.0
        assert lo is None or hi is None or lo <= hi


def test_numbers_behave(result: dict) -> None:
    idx = {(r["condition"], r["k"], r["method"]): r for r in result["results"]}
    # clean sets are identical to themselves, degraded ones drift away from their clean version
    assert idx[("clean", 3, "voxref")]["degraded_vs_clean_cos"] == pytest.approx(1.0, abs=1e-5)
    assert idx[("white-5dB", 3, "voxref")]["degraded_vs_clean_cos"] < 0.99
    # a neural speaker encoder separates these 3 synthetic voices when clean
    for m in ("voxref", "resemblyzer"):
        r = idx[("clean", 3, m)]
        assert r["eer"] <= 0.25 and r["mean_target"] > r["mean_nontarget"] + 0.05


def test_report_from_smoke_result(result: dict, tmp_path: Path) -> None:
    from benchmarks.report import write_report

    (tmp_path / "quality.json").write_text(json.dumps(result))
    md = write_report(tmp_path, tmp_path / "BENCHMARKS.md").read_text()
    assert "## Quality" in md and "k = 3" in md and "white-5dB" in md
    assert "No `speed.json` yet" in md
    assert "speaker-bootstrap intervals" in md and "(all degraded)" in md
    assert (tmp_path / "quality_eer_k1.png").stat().st_size > 1000
    assert (tmp_path / "quality_eer_k3.png").stat().st_size > 1000


def test_prepared_cache_reuses_items_and_gives_identical_results(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    config = tiny_config(
        tiny_corpus,
        conditions=("clean", "white-5dB"),
        methods=("mean", "guide-mean"),  # one prepare group, two combine variants
        ks=(1,),
        cache_dir=tmp_path / "cache",
    )
    first = run_quality(config, command=["pytest"])
    second = run_quality(config, command=["pytest"])
    computed = first["prepare_cpu_seconds"]["n_computed"]
    assert list(computed.values()) == [3 * 3 + 3 * 2 + 3 * 3]  # enrol+test clean, enrol noisy
    assert second["prepare_cpu_seconds"]["n_computed"] == {}
    assert [
        (r["condition"], r["method"], r["eer"], r["mean_target"]) for r in first["results"]
    ] == [(r["condition"], r["method"], r["eer"], r["mean_target"]) for r in second["results"]]


def test_cache_fingerprint_follows_per_clip_code(tmp_path: Path) -> None:
    from benchmarks.quality.cache import FINGERPRINT_PATHS, code_fingerprint

    for p in FINGERPRINT_PATHS:
        f = tmp_path / (p if p.endswith(".py") else p + "/mod.py")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x = 1\n")
    before = code_fingerprint(root=tmp_path, callables=())
    (tmp_path / "src/voxref/cleaning/mod.py").write_text("x = 2\n")
    assert code_fingerprint(root=tmp_path, callables=()) != before
    (tmp_path / "src/voxref/cleaning/mod.py").write_text("x = 1\n")
    assert code_fingerprint(root=tmp_path, callables=()) == before
    (tmp_path / "src/voxref/embedder/pooling.py").write_text("y = 1\n")  # combine-only code
    assert code_fingerprint(root=tmp_path, callables=()) == before
