"""Speed harness mechanics: audio, timing loop, n/a stages, subprocess isolation, ratios, report."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import soundfile as sf

from benchmarks.speed import harness, scenarios
from benchmarks.speed.audio import make_speed_audio
from benchmarks.speed.scenarios import NotAvailable, Scenario, run_scenario


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory):
    return make_speed_audio(tmp_path_factory.mktemp("speed"), long_seconds=8.0)


def test_audio_files(audio) -> None:
    assert len(audio.refs) == 10
    assert all(sf.info(str(p)).duration == pytest.approx(5.0) for p in audio.refs)
    assert sf.info(str(audio.long)).duration == pytest.approx(8.0)
    assert audio.seconds("3x5s") == pytest.approx(15.0)
    # different offsets of the real recording, not one clip repeated
    a, _ = sf.read(str(audio.refs[0]))
    b, _ = sf.read(str(audio.refs[1]))
    assert abs(a - b).max() > 0.01


def test_voxref_embed_scenario_in_process(audio) -> None:
    rec = run_scenario("voxref.embed@1x5s", audio, repeats=2, budget_seconds=30.0)
    assert rec["status"] == "ok", rec
    assert len(rec["times"]) == 2 and rec["median_seconds"] > 0
    assert rec["rtf"] == pytest.approx(rec["median_seconds"] / 5.0)
    assert rec["x_realtime"] == pytest.approx(1.0 / rec["rtf"])
    assert rec["peak_rss_mb"] > 50


def test_missing_stage_is_na_and_budget_limits_repeats(
    audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(_audio):
        raise NotAvailable("speechbrain: not installed")

    def slow(_audio):
        return (lambda: time.sleep(0.05)), None

    monkeypatch.setitem(
        scenarios.SCENARIOS,
        "t.missing@ref5",
        Scenario("t.missing@ref5", "voxref", "guide", "ref5", missing),
    )
    monkeypatch.setitem(
        scenarios.SCENARIOS, "t.slow@ref5", Scenario("t.slow@ref5", "voxref", "pool", "ref5", slow)
    )
    rec = run_scenario("t.missing@ref5", audio)
    assert rec["status"] == "n/a" and "not installed" in rec["reason"]
    rec = run_scenario("t.slow@ref5", audio, repeats=50, budget_seconds=0.12)
    assert rec["status"] == "ok" and 2 <= len(rec["times"]) <= 4


def test_scenario_in_subprocess_reports_its_own_peak_rss(audio) -> None:
    import numpy as np

    from benchmarks.speed.scenarios import peak_rss_mb

    ballast = np.ones(100_000_000 // 8 * 8, dtype=np.uint8)  # parent peak grows by ~100 MB ...
    parent_peak = peak_rss_mb()
    config = harness.SpeedConfig(audio_dir=audio.refs[0].parent, long_seconds=8.0, repeats=1)
    rec = harness._run_subprocess("voxref.load@ref5", config)
    del ballast
    assert rec["status"] == "ok", rec
    assert rec["process_wall_seconds"] >= rec["median_seconds"]
    # ... which must not show up in the child's figure (ru_maxrss would carry it over exec)
    assert 20 < rec["peak_rss_mb"] < parent_peak


def test_ratios_and_speed_report(tmp_path: Path) -> None:
    import json

    from benchmarks.report import write_report
    from benchmarks.speed.machine import run_info

    recs = [
        {
            "name": "voxref.embed@1x5s",
            "system": "voxref",
            "stage": "embed",
            "audio": "1x5s",
            "compare": "embed@1x5s",
            "status": "ok",
            "median_seconds": 0.1,
            "rtf": 0.02,
            "x_realtime": 50.0,
            "peak_rss_mb": 300.0,
            "n_files": 1,
            "files_per_second": 10.0,
        },
        {
            "name": "resemblyzer.embed_speaker@1x5s",
            "system": "resemblyzer",
            "stage": "embed",
            "audio": "1x5s",
            "compare": "embed@1x5s",
            "status": "ok",
            "median_seconds": 0.3,
            "rtf": 0.06,
            "x_realtime": 16.7,
            "peak_rss_mb": 400.0,
            "n_files": 1,
        },
        {
            "name": "voxref.guide@ref5",
            "system": "voxref",
            "stage": "guide",
            "audio": "ref5",
            "compare": None,
            "status": "n/a",
            "reason": "no module voxref.separation.target",
        },
    ]
    ratios = harness._ratios(recs)
    assert len(ratios) == 1 and ratios[0]["time_ratio_system_over_voxref"] == pytest.approx(3.0)
    speed = {
        "benchmark": "speed",
        "run": run_info("test"),
        "config": harness.SpeedConfig().to_dict(),
        "audio": {"source": "test", "ref_seconds": 5.0, "long_seconds": 8.0},
        "imports": {
            "python -c pass": {"status": "ok", "median_seconds": 0.02, "minus_python_seconds": 0.0}
        },
        "scenarios": recs,
        "ratios": ratios,
    }
    (tmp_path / "speed.json").write_text(json.dumps(speed))
    md = write_report(tmp_path, tmp_path / "B.md").read_text()
    assert "| guide | ref5 | n/a |" in md
    assert "Shared machine" not in md  # no load figures given
    assert "(3.00×)" in md and "no module voxref.separation.target" in md
    assert (tmp_path / "speed_rtf.png").stat().st_size > 1000


def test_interleaved_section_shows_ratios_goals_and_thread_scaling() -> None:
    from benchmarks.speed.interleaved import BATCH, GOALS, STAGE_FUNCTIONS, markdown

    def run(threads: int, scale: float, alone: float) -> dict:
        profile = [
            {"stage": label, "seconds": 0.1, "share": 0.1} for label, _, _ in STAGE_FUNCTIONS
        ]
        inputs = {
            name: {
                "audio_seconds": 15.0,
                "voxref_seconds": scale * ours,
                "voxref_alone_seconds": alone * ours,
                "resemblyzer_seconds": 0.1,
                "ratio": scale * ours / 0.1,
                "load_average_1min": 1.0,
                "profile_seconds": 1.0,
                "profile": profile,
            }
            for name, ours in zip(GOALS, (0.15, 0.9, 0.3))
        }
        inputs["3x5s-white5"].update(denoiser_seconds=0.3 * scale, denoiser_ratio=3.0 * scale)
        return {"threads": threads, "inputs": inputs}

    result = {
        "command": "c",
        "commit": "abc",
        "date": "d",
        "repeats": 3,
        "runs": [run(1, 1.0, 1.0), run(2, 0.8, 0.5)],
    }
    md = markdown(result)
    assert "| 3x5s | 1 | 0.150 | 0.100 | 1.50 | <= 2 (met) |" in md
    assert "| 3x5s-white5 | 1 | 0.900 | 0.100 | 9.00 | <= 5 (not met) |" in md
    assert (
        "- long: **0.50** (met; one embed call, 0.150 s vs 0.300 s; interleaved: 0.80; "
        "Resemblyzer's own, same processes: 1.00)" in md
    )  # the goal is judged on voxref timed alone, the interleaved ratio beside it
    # the batch row: per reference as well, beside the single calls
    for r, scale in zip(result["runs"], (1.0, 0.55)):
        r["inputs"][BATCH] = dict(
            r["inputs"]["3x5s"], voxref_alone_seconds=2.4 * scale, references=24
        )
        r["inputs"][BATCH].pop("profile")
    result["runs"][1]["machine_two_over_one_before"] = 0.51
    result["runs"][1]["machine_two_over_one_after"] = 0.93
    md = markdown(result)
    assert (
        f"- {BATCH}: **0.55** (met; one embed_many call, 24 references; per reference 55.0 ms "
        "vs 100.0 ms;" in md
    )
    assert "took 0.51 and 0.93 of its 1-thread time" in md and "measure the machine" in md
    assert md.count("| encode (GE2E windows) | 0.100 (10%)") == 1
    assert "- 3x5s-white5, 1 thread(s): 0.300 s = 3.00x Resemblyzer's whole call" in md


def test_voice_gate_summary_counts_what_a_threshold_skips() -> None:
    from benchmarks.speed.voice_gate import markdown, summary

    rows = [
        {"long_cosine": 0.95, "split": False},
        {"long_cosine": 0.86, "split": False},
        {"long_cosine": 0.80, "split": True},
        {"long_cosine": 0.70, "split": True},
    ]
    s = summary(rows, 0.85)
    assert s["max_long_cosine_of_split"] == 0.80 and s["min_long_cosine_of_one_voice"] == 0.86
    assert (s["skipped"], s["skipped_one_voice"], s["wrongly_skipped"]) == (2, 2, 0)
    assert summary(rows, 0.75)["wrongly_skipped"] == 1
    md = markdown({"A": {"summary": s}})
    assert "| A | 4 | 2 | 0.800 | 2 | 0 |" in md


def test_quality_check_counts_changed_rows() -> None:
    from benchmarks.speed.quality_check import compare

    def run(eer: float) -> dict:
        row = {"method": "voxref", "eer": eer, "min_dcf": 0.1, "mean_target": 0.8}
        rows = [
            {**row, "condition": "clean", "k": 1, "mean_nontarget": 0.5},
            {**row, "condition": "white-5dB", "k": 1, "eer": 0.2, "mean_nontarget": 0.5},
            {
                **row,
                "method": "resemblyzer",
                "condition": "clean",
                "k": 1,
                "eer": 0.9,
                "mean_nontarget": 0.5,
            },
        ]
        return {"results": rows, "run": {"git": {"commit": "0123456789abcdef"}, "command": "c"}}

    same = compare(run(0.1), run(0.1))
    assert (same["rows"], same["changed"], same["max_abs_eer_change"]) == (2, 0, 0.0)
    moved = compare(run(0.1), run(0.15))
    assert moved["changed"] == 1 and abs(moved["max_abs_eer_change"] - 0.05) < 1e-12
    assert moved["before_commit"] == "0123456789"
