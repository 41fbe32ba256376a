"""Steps per second of ``voxref train`` on 1 and 2 processes (``--nproc``), CPU.

Usage (from the repository root)::

    python -m benchmarks.scale.train_ddp                  # GE2E (bundled), 30 steps per run
    python -m benchmarks.scale.train_ddp --steps 10 --model-config '{"hidden_size": 64, "num_layers": 1}'

Three runs on the fixture speakers (``tests/fixtures/speech``: 6 speakers x 4 utterances), no
validation, one torch thread per process:

* ``1 x N``: one process, ``N`` speakers per step;
* ``2 x N``: two processes of ``N`` speakers each (a global batch of ``2N``);
* ``1 x 2N``: one process on that same global batch -- the run ``2 x N`` reproduces.

Steps per second are steady-state: from the ``seconds`` the trainer logs at every step
(``metrics.jsonl``), between the first logged step and the last (start-up, imports and the
process-group rendezvous excluded; the wall time including them is reported too). The ratio that
matters is ``2 x N`` against ``1 x 2N``: the same training, on two processes instead of one.

Results: ``benchmarks/results/train_ddp.json`` and ``benchmarks/results/train_ddp.md`` (the
``Data-parallel training`` section of ``BENCHMARKS.md``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..speed.machine import run_info

REPO = Path(__file__).resolve().parents[2]
SPEECH = REPO / "tests" / "fixtures" / "speech"
DEFAULT_WORK = REPO / "benchmarks" / "work" / "train_ddp"
DEFAULT_RESULTS = REPO / "benchmarks" / "results"

log = logging.getLogger("benchmarks.train_ddp")


def _run(work: Path, label: str, nproc: int, speakers: int, args: argparse.Namespace) -> dict:
    out = work / label
    config = {
        "data": str(SPEECH),
        "out": str(out),
        "model": "ge2e",
        "init": "auto" if not args.model_config else "random",
        "model_config": json.loads(args.model_config or "{}"),
        "speakers_per_batch": speakers,
        "utterances_per_speaker": args.utterances,
        "crop_seconds": args.crop_seconds,
        "steps": args.steps,
        "steps_per_epoch": args.steps,
        "log_every": 1,
        "lr": 1e-4,
        "progress": False,
        "device": "cpu",
        "seed": 0,
    }
    work.mkdir(parents=True, exist_ok=True)
    recipe = work / f"{label}.json"
    recipe.write_text(json.dumps(config))
    if (out / "metrics.jsonl").exists():
        (out / "metrics.jsonl").unlink()
    cmd = [sys.executable, "-m", "voxref", "train", str(recipe), "--threads", "1"]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r.get("event") == "train"]
    first, last = train[0], train[-1]
    steady = (last["step"] - first["step"]) / (last["seconds"] - first["seconds"])
    crops = nproc * speakers * args.utterances
    return {
        "label": label,
        "processes": nproc,
        "speakers_per_process": speakers,
        "global_crops_per_step": crops,
        "steps": args.steps,
        "steps_per_s": steady,
        "crops_per_s": steady * crops,
        "wall_seconds": wall,
        "final_loss": last["loss"],
        "losses": [r["loss"] for r in train],
    }


def _markdown(result: dict[str, Any]) -> str:
    runs = {r["label"]: r for r in result["runs"]}
    lines = [
        f"`{result['run']['command']}` -- {result['run'].get('date_utc')}, "
        f"{(result['run'].get('machine') or {}).get('logical_cpus')} logical CPUs, load average "
        f"{(result['run'].get('machine') or {}).get('load_average_1min')} at start.",
        "",
        f"GE2E LSTM ({result['model']}), {result['utterances']} crops of "
        f"{result['crop_seconds']} s per speaker, {result['steps']} steps per run, fixture "
        "speakers, CPU, one torch thread per process. Steady steps/s (start-up excluded).",
        "",
        "| run | processes | crops per step | steps/s | crops/s | wall s (with start-up) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['label']} | {r['processes']} | {r['global_crops_per_step']} | "
            f"{r['steps_per_s']:.2f} | {r['crops_per_s']:.1f} | {r['wall_seconds']:.1f} |"
        )
    same = runs["2xN"]["steps_per_s"] / runs["1x2N"]["steps_per_s"]
    weak = runs["2xN"]["steps_per_s"] / runs["1xN"]["steps_per_s"]
    lines += [
        "",
        f"- **same training on 2 processes vs 1 (2xN / 1x2N, steps/s): {same:.2f}x**",
        f"- steps/s of 2 processes with N speakers each vs 1 process with N: {weak:.2f}x "
        "(twice the crops per step)",
        f"- loss curves of 2xN and 1x2N: max difference {result['max_loss_diff_2xN_vs_1x2N']:.1e}",
        "",
        result.get("notes", ""),
    ]
    return "\n".join(lines).rstrip() + "\n"


def render(results: Path = DEFAULT_RESULTS) -> str:
    """Re-write ``train_ddp.md`` from ``train_ddp.json`` (after editing its ``notes``)."""
    text = _markdown(json.loads((results / "train_ddp.json").read_text()))
    (results / "train_ddp.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--speakers", type=int, default=3, help="N: speakers per process")
    parser.add_argument("--utterances", type=int, default=2)
    parser.add_argument("--crop-seconds", type=float, default=1.6)
    parser.add_argument("--model-config", default="", help="GE2E overrides (JSON); random init")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--notes", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    info = run_info(
        "train_ddp", command=["python", "-m", "benchmarks.scale.train_ddp", *(argv or sys.argv[1:])]
    )
    runs = []
    for label, nproc, speakers in (
        ("1xN", 1, args.speakers),
        ("2xN", 2, args.speakers),
        ("1x2N", 1, 2 * args.speakers),
    ):
        log.info("run %s", label)
        runs.append(_run(args.work, label, nproc, speakers, args))
        log.info("  %.2f steps/s", runs[-1]["steps_per_s"])
    by = {r["label"]: r for r in runs}
    result = {
        "run": info,
        "model": args.model_config or "bundled weights, 3 x 256",
        "utterances": args.utterances,
        "crop_seconds": args.crop_seconds,
        "steps": args.steps,
        "runs": runs,
        "ratio_same_training": by["2xN"]["steps_per_s"] / by["1x2N"]["steps_per_s"],
        "ratio_same_per_process_batch": by["2xN"]["steps_per_s"] / by["1xN"]["steps_per_s"],
        "max_loss_diff_2xN_vs_1x2N": max(
            abs(a - b) for a, b in zip(by["2xN"]["losses"], by["1x2N"]["losses"])
        ),
        "notes": args.notes,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "train_ddp.json").write_text(json.dumps(result, indent=1))
    (args.results / "train_ddp.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
