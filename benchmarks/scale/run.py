"""Throughput of ``voxref embed-dataset`` for 1 vs 2 local workers, Ray and multiprocessing.

Usage (from the repository root)::

    python -m benchmarks.scale.run                      # 192 clips of the benchmark corpus
    python -m benchmarks.scale.run --max-clips 64 --backends multiprocessing

The corpus is ``benchmarks/work/corpus`` (built with ``python -m benchmarks.corpus.build --out
benchmarks/work/corpus --quick`` when missing). Each configuration embeds the same manifest into a
fresh output folder. Reported per configuration:

* ``wall``: clip-stage wall time (worker start-up and model loading included), giving clips/s
  and audio-hours per hour as a user sees them on this corpus size;
* ``steady``: the same throughput without start-up: clips / (compute time of the busiest
  worker), from the per-clip ``seconds`` each worker records;
* ``rtf_per_worker``: compute seconds per audio second of one single-threaded worker -- the
  per-clip cost the capacity plan in ``docs/scaling.md`` scales up.

Results: ``benchmarks/results/scale.json`` and ``benchmarks/results/scale.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..speed.machine import run_info, set_thread_env
from .capacity import CORPORA, capacity_plan

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = REPO / "benchmarks" / "work" / "corpus"
DEFAULT_WORK = REPO / "benchmarks" / "work" / "scale"
DEFAULT_RESULTS = REPO / "benchmarks" / "results"

log = logging.getLogger("benchmarks.scale")


def _ensure_corpus(corpus: Path) -> Path:
    manifest = corpus / "manifest.csv"
    if not manifest.exists():
        log.info("building the quick benchmark corpus in %s", corpus)
        subprocess.run(
            [sys.executable, "-m", "benchmarks.corpus.build", "--out", str(corpus), "--quick"],
            cwd=REPO,
            check=True,
        )
    return manifest


def _subset_manifest(corpus_manifest: Path, out: Path, max_clips: int) -> tuple[Path, int, float]:
    """Every k-th row (all speakers represented), paths made absolute."""
    with open(corpus_manifest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    step = max(1, len(rows) // max_clips)
    rows = rows[::step][:max_clips]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "speaker"])
        for r in rows:
            w.writerow([str((corpus_manifest.parent / r["path"]).resolve()), r["speaker"]])
    seconds = sum(float(r.get("duration") or 0.0) for r in rows)
    return out, len(rows), seconds


def _measure(manifest: Path, out: Path, backend: str, workers: int, shard_size: int) -> dict:
    from voxref.scale import embed_dataset, read_clips

    if out.exists():
        shutil.rmtree(out)
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    s = embed_dataset(
        manifest,
        out,
        backend=backend,
        num_workers=workers,
        shard_size=shard_size,
        speakers_per_bucket=1000,
        progress=False,
    )
    total = time.monotonic() - t0
    columns = ["status", "seconds", "cpu_seconds", "duration_s", "worker"]
    clips = read_clips(out, columns=columns).to_pylist()
    per_worker: dict[str, float] = {}
    for c in clips:
        per_worker[c["worker"]] = per_worker.get(c["worker"], 0.0) + (c["seconds"] or 0.0)
    compute = sum(per_worker.values())
    cpu = sum(c["cpu_seconds"] or 0.0 for c in clips)
    audio = sum(c["duration_s"] or 0.0 for c in clips)
    busiest = max(per_worker.values()) if per_worker else 0.0
    n = len(clips)
    return {
        "backend": backend,
        "workers": workers,
        "clips": n,
        "clips_ok": s.clips_ok,
        "audio_seconds": round(audio, 2),
        "clip_stage_seconds": round(s.clip_stage_seconds, 2),
        "speaker_stage_seconds": round(s.speaker_stage_seconds, 2),
        "total_seconds": round(total, 2),
        "wall_clips_per_second": round(n / s.clip_stage_seconds, 3),
        "wall_audio_hours_per_hour": round(audio / s.clip_stage_seconds, 2),
        "steady_clips_per_second": round(n / busiest, 3) if busiest else None,
        "steady_audio_hours_per_hour": round(audio / busiest, 2) if busiest else None,
        "compute_seconds": round(compute, 2),
        "rtf_per_worker": round(compute / audio, 4) if audio else None,
        "cpu_seconds": round(cpu, 2),
        "cpu_rtf": round(cpu / audio, 4) if audio else None,
        "mean_clip_seconds_compute": round(compute / n, 4) if n else None,
        "processes_seen": len(per_worker),
        "startup_and_overhead_seconds": round(s.clip_stage_seconds - busiest, 2),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "speakers_ok": s.speakers_ok,
    }


def _max_diff(work: Path, labels: list[str]) -> tuple[float, float]:
    """Largest |difference| between runs: of speaker embeddings, of clip embeddings."""
    import numpy as np

    from voxref.scale import read_clips, read_speaker_embeddings
    from voxref.scale.storage import list_arrays

    embs = [read_speaker_embeddings(work / label) for label in labels]
    clips = [list_arrays(read_clips(work / label).column("embedding")) for label in labels]
    speaker_diff = clip_diff = 0.0
    for other in embs[1:]:
        for spk, v in embs[0].items():
            speaker_diff = max(speaker_diff, float(np.max(np.abs(v - other[spk]))))
    for other in clips[1:]:
        for a, b in zip(clips[0], other):
            if a is not None and b is not None:
                clip_diff = max(clip_diff, float(np.max(np.abs(a - b))))
    return speaker_diff, clip_diff


def _markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Scale-out benchmark: `voxref embed-dataset`",
        "",
        f"Command: `{result['info']['command']}`  ",
        f"Machine: {result['info']['machine']['cpu']}, {result['info']['machine']['logical_cpus']} "
        f"logical CPUs, shared (1-min load average before each run is in the table). "
        f"Corpus: {result['clips']} clips, {result['audio_seconds'] / 60:.1f} min of synthetic "
        f"speech (benchmark corpus), default Embedder (silero VAD + cleaning + GE2E), "
        f"one torch thread per worker.",
        "",
        "| backend | workers | clip stage s | clips/s (wall) | audio h/h (wall) | clips/s (steady) "
        "| audio h/h (steady) | wall RTF/worker | CPU RTF | start-up+overhead s | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['backend']} | {r['workers']} | {r['clip_stage_seconds']} | "
            f"{r['wall_clips_per_second']} | {r['wall_audio_hours_per_hour']} | "
            f"{r['steady_clips_per_second']} | {r['steady_audio_hours_per_hour']} | "
            f"{r['rtf_per_worker']} | {r['cpu_rtf']} | {r['startup_and_overhead_seconds']} | "
            f"{r['load_average_before']} |"
        )
    lines += ["", "2 workers vs 1 (throughput ratio; 2.0 = perfect scaling):", ""]
    for b, ratio in result["ratios"].items():
        lines.append(f"- {b}: wall {ratio['wall']}, steady {ratio['steady']}")
    lines += [
        "",
        f"Across all runs, max |difference| of clip embeddings = "
        f"{result['max_clip_embedding_difference']:.3g}, of speaker embeddings = "
        f"{result['max_embedding_difference']:.3g}.",
        "",
        "## Capacity plan (derived; see docs/scaling.md for the assumptions)",
        "",
        f"Per-clip cost used: {result['capacity_inputs']['cpu_rtf']} CPU-seconds per audio "
        f"second (median of the runs' CPU RTF), one single-threaded worker per core, assumed "
        f"parallel efficiency {result['capacity_inputs']['efficiency']} (measured here: "
        f"{result['capacity_inputs']['measured_efficiency']}, on a shared machine), "
        f"{result['capacity_inputs']['cores_per_node']} cores per node.",
        "",
        "| corpus | clips | core-hours | wall h, 1 node | 4 nodes | 16 nodes | 64 nodes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, plan in result["capacity"].items():
        walls = " | ".join(str(r["wall_hours"]) for r in plan["rows"])
        lines.append(f"| {name} | {plan['clips']:,} | {plan['core_hours']:,} | {walls} |")
    if result.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def render(results: Path) -> str:
    """Re-write ``scale.md`` from ``scale.json`` (after editing its ``notes``)."""
    result = json.loads((results / "scale.json").read_text())
    text = _markdown(result)
    (results / "scale.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--max-clips", type=int, default=192)
    parser.add_argument("--shard-size", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backends", nargs="+", default=["multiprocessing", "ray"])
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per configuration; the fastest clip stage is kept (the machine is shared)",
    )
    parser.add_argument(
        "--efficiency",
        type=float,
        default=0.9,
        help="parallel efficiency assumed by the capacity plan (default 0.9)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    set_thread_env(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    corpus_manifest = _ensure_corpus(args.corpus)
    manifest, n, _ = _subset_manifest(corpus_manifest, args.work / "manifest.csv", args.max_clips)
    runs, labels = [], []
    for backend in args.backends:
        for w in args.workers:
            label = f"{backend}-{w}"
            log.info("running %s on %d clips", label, n)
            tries = [
                _measure(manifest, args.work / label, backend, w, args.shard_size)
                for _ in range(max(1, args.repeat))
            ]
            best = min(tries, key=lambda r: r["clip_stage_seconds"])
            best["repeats_clip_stage_seconds"] = [r["clip_stage_seconds"] for r in tries]
            runs.append(best)
            labels.append(label)
            log.info("%s: %s", label, runs[-1])
    ratios = {}
    for backend in args.backends:
        one = next((r for r in runs if r["backend"] == backend and r["workers"] == 1), None)
        two = next((r for r in runs if r["backend"] == backend and r["workers"] == 2), None)
        if one and two:
            ratios[backend] = {
                "wall": round(two["wall_clips_per_second"] / one["wall_clips_per_second"], 3),
                "steady": round(two["steady_clips_per_second"] / one["steady_clips_per_second"], 3),
            }
    import statistics

    rtf = round(statistics.median(r["cpu_rtf"] for r in runs), 4)
    measured = max((v["steady"] / 2 for v in ratios.values()), default=None)
    eff = args.efficiency
    capacity = {
        name: capacity_plan(
            c["audio_hours"], rtf, c["mean_clip_seconds"], cores_per_node=16, efficiency=eff
        )
        for name, c in CORPORA.items()
    }
    diffs = _max_diff(args.work, labels)
    result = {
        "info": run_info(mode="scale", workers=args.workers, backends=args.backends),
        "clips": n,
        "audio_seconds": runs[0]["audio_seconds"],
        "runs": runs,
        "ratios": ratios,
        "max_embedding_difference": diffs[0],
        "max_clip_embedding_difference": diffs[1],
        "capacity_inputs": {
            "cpu_rtf": rtf,
            "efficiency": eff,
            "measured_efficiency": None if measured is None else round(measured, 3),
            "cores_per_node": 16,
        },
        "capacity": capacity,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "scale.json").write_text(json.dumps(result, indent=1))
    (args.results / "scale.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
