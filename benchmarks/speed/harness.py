"""Speed benchmark: every scenario in its own subprocess, import times, ratios vs voxref.

:func:`run_speed` writes the audio (:mod:`.audio`), measures ``import`` times (median wall time of
``python -c "<statement>"`` over repeats, minus ``python -c pass``), then runs each scenario of
:mod:`.scenarios` with ``python -m benchmarks.speed.scenarios NAME`` (so peak RSS is the
scenario's own) and computes, per comparison group, each system's median time divided by voxref's.

Examples
--------
>>> cfg = SpeedConfig.preset(quick=True)
>>> cfg.long_seconds, cfg.repeats
(60.0, 3)
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .audio import make_speed_audio
from .scenarios import SCENARIOS

__all__ = ["SpeedConfig", "run_speed", "import_times", "QUICK_SCENARIOS"]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]

SCENARIO_TIMEOUT = 1800
"""Seconds after which a scenario's process is stopped and reported as an error."""

IMPORT_STATEMENTS = {
    "python -c pass": "pass",
    "import voxref": "import voxref",
    "import voxref; voxref.Embedder": "import voxref; voxref.Embedder",
    "import resemblyzer": "import warnings; warnings.simplefilter('ignore'); import resemblyzer",
    "import speechbrain": "import speechbrain",
}

QUICK_SCENARIOS: tuple[str, ...] | None = None
"""Scenarios of ``--quick`` runs (``None``: all; the long recording is 60 s instead of 600 s)."""


@dataclass(frozen=True)
class SpeedConfig:
    """What the speed benchmark runs.

    Attributes
    ----------
    audio_dir
        Where the audio is written (git-ignored scratch space).
    mode
        ``quick`` / ``full`` label.
    long_seconds
        Length of the long recording.
    repeats, budget_seconds
        Timed calls per scenario (median reported), and the time after which fewer are taken.
    import_repeats
        Subprocess runs per import statement.
    scenarios
        Scenario names (``None``: all).
    """

    audio_dir: Path = REPO_ROOT / "benchmarks" / "work" / "speed"
    mode: str = "full"
    long_seconds: float = 600.0
    repeats: int = 5
    budget_seconds: float = 60.0
    import_repeats: int = 5
    scenarios: tuple[str, ...] | None = None

    @classmethod
    def preset(cls, quick: bool, **overrides: Any) -> SpeedConfig:
        """``--quick``: 60 s recording, 3 repeats, 15 s budget; full: 600 s, 5 repeats, 60 s."""
        base = (
            cls(
                mode="quick",
                long_seconds=60.0,
                repeats=3,
                budget_seconds=15.0,
                import_repeats=3,
                scenarios=QUICK_SCENARIOS,
            )
            if quick
            else cls()
        )
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["audio_dir"] = str(self.audio_dir)
        return d


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    return env


def import_times(repeats: int = 5) -> dict[str, Any]:
    """Median wall time of ``python -c STATEMENT`` per statement, and minus ``python -c pass``."""
    env = _env()
    out: dict[str, Any] = {}
    for label, stmt in IMPORT_STATEMENTS.items():
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", stmt], env=env, cwd=REPO_ROOT, capture_output=True, text=True
            )
            times.append(time.perf_counter() - t)
            if proc.returncode != 0:
                out[label] = {"status": "error", "reason": proc.stderr.strip().splitlines()[-1:]}
                break
        else:
            out[label] = {
                "status": "ok",
                "times": [round(x, 4) for x in times],
                "median_seconds": statistics.median(times),
            }
    base = out.get("python -c pass", {}).get("median_seconds")
    for rec in out.values():
        if rec.get("status") == "ok" and base is not None:
            rec["minus_python_seconds"] = rec["median_seconds"] - base
    return out


def _run_subprocess(name: str, config: SpeedConfig) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.speed.scenarios",
        name,
        "--audio-dir",
        str(config.audio_dir),
        "--long-seconds",
        str(config.long_seconds),
        "--repeats",
        str(config.repeats),
        "--budget",
        str(config.budget_seconds),
    ]
    t = time.perf_counter()
    sc = SCENARIOS[name]
    try:
        proc = subprocess.run(
            cmd, env=_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {
            "name": name,
            "system": sc.system,
            "stage": sc.stage,
            "audio": sc.audio,
            "compare": sc.compare,
            "status": "error",
            "reason": f"timed out after {SCENARIO_TIMEOUT} s",
        }
    wall = time.perf_counter() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {
            "name": name,
            "system": sc.system,
            "stage": sc.stage,
            "audio": sc.audio,
            "compare": sc.compare,
            "status": "error",
            "reason": " | ".join(tail),
        }
    rec = json.loads(lines[-1])
    rec["process_wall_seconds"] = round(wall, 2)
    return rec


def _ratios(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per comparison group: each system's median time / voxref's (> 1: voxref is faster)."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in scenarios:
        if rec.get("compare") and rec.get("status") == "ok":
            groups.setdefault(rec["compare"], {})[rec["system"]] = rec
    out = []
    for group, by_system in groups.items():
        ours = by_system.get("voxref")
        if ours is None:
            continue
        for system, rec in by_system.items():
            if system == "voxref":
                continue
            out.append(
                {
                    "compare": group,
                    "system": system,
                    "voxref_seconds": ours["median_seconds"],
                    "system_seconds": rec["median_seconds"],
                    "time_ratio_system_over_voxref": rec["median_seconds"] / ours["median_seconds"],
                    "voxref_peak_rss_mb": ours.get("peak_rss_mb"),
                    "system_peak_rss_mb": rec.get("peak_rss_mb"),
                }
            )
    return out


def run_speed(config: SpeedConfig, command: list[str] | None = None) -> dict[str, Any]:
    """Run the speed benchmark; return the JSON-ready result."""
    from .machine import run_info

    t0 = time.perf_counter()
    audio = make_speed_audio(config.audio_dir, config.long_seconds)
    log.info("speed: import times (%d runs each)", config.import_repeats)
    imports = import_times(config.import_repeats)
    names = list(config.scenarios) if config.scenarios is not None else list(SCENARIOS)
    results = []
    for i, name in enumerate(names, 1):
        rec = _run_subprocess(name, config)
        results.append(rec)
        log.info(
            "[%2d/%d] %-36s %-6s %s",
            i,
            len(names),
            name,
            rec.get("status"),
            f"median {rec['median_seconds']:.4f} s"
            if rec.get("status") == "ok"
            else rec.get("reason", ""),
        )
    return {
        "benchmark": "speed",
        "schema": 1,
        "run": run_info(config.mode, command, elapsed_seconds=round(time.perf_counter() - t0, 1)),
        "config": config.to_dict(),
        "audio": {
            **audio.to_dict(),
            "source": "pyannote.audio sample.wav (real speech, 2 speakers), cut / looped",
            "ref_seconds": audio.seconds("ref5"),
            "long_seconds": audio.seconds("long"),
        },
        "imports": imports,
        "scenarios": results,
        "ratios": _ratios(results),
    }
