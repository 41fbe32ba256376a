"""benchmarks.run helpers: strict JSON output and thread settings."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from benchmarks.run import write_json
from benchmarks.speed.machine import THREAD_VARS, run_info, set_thread_env


def test_write_json_replaces_non_finite_numbers(tmp_path: Path) -> None:
    path = tmp_path / "r" / "x.json"
    write_json(path, {"eer": math.nan, "rows": [1.5, math.inf, {"r": -math.inf}], "k": (1, 3)})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"eer": None, "rows": [1.5, None, {"r": None}], "k": [1, 3]}


def test_thread_env_is_set_and_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    set_thread_env(1)
    assert all(os.environ[v] == "1" for v in THREAD_VARS)
    info = run_info("test", command=["python", "-m", "benchmarks.run", "--quick"])
    assert info["threads"]["OMP_NUM_THREADS"] == "1"
    assert info["command"] == "python -m benchmarks.run --quick"
    assert info["git"]["commit"] is None or len(info["git"]["commit"]) == 40


def test_recorded_command_drops_output_only_options() -> None:
    from benchmarks.run import recorded_command

    argv = ["--only", "quality", "--results", "results-x", "--no-report", "-v", "--methods", "mean"]
    assert recorded_command(argv) == [
        "python", "-m", "benchmarks.run", "--only", "quality", "--methods", "mean",
    ]  # fmt: skip
    assert recorded_command(["--results=results-x", "--quick"])[3:] == ["--quick"]
