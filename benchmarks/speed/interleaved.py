"""voxref vs Resemblyzer, interleaved in one process, with a per-stage profile of voxref.

Three inputs, all cut from pyannote's bundled sample (:mod:`.audio`), decoded before the timing
and handed to both systems as ``(samples, 16000)`` arrays:

* ``3x5s``: three 5 s references;
* ``3x5s-white5``: the same with seeded white noise at 5 dB SNR (voxref's denoiser runs);
* ``long``: one 60 s file (``--long-seconds``);
* ``batch 8x3x5s``: eight enrollments of three 5 s references each (the ten references in
  turn), one ``Embedder().embed_many`` call (Resemblyzer: one enrollment after the other): the
  throughput of a batch, shown beside the single calls above, per reference as well.

voxref: ``Embedder().embed(refs)`` with its defaults. Resemblyzer: ``preprocess_wav`` +
``embed_utterance`` per reference, then the normalised mean (what ``embed_speaker`` does), with
the same GE2E weights. The calls alternate (voxref, Resemblyzer, voxref, ...) after one warm-up
each, so both see the same machine load; the median of ``--repeats`` calls is reported. One
process per thread count (``torch.set_num_threads`` + ``OMP_NUM_THREADS``): the ratios compare
the two systems at the same thread count.

``two_over_one`` is voxref's wall time with 2 threads over its wall time with 1, each timed
*alone*: before any Resemblyzer call in the process, voxref's calls run back to back (one warm-up,
then the median of ``--repeats``). Timed interleaved, a voxref call follows a Resemblyzer call,
whose numpy (OpenBLAS) worker thread keeps spinning after its matrix products and holds one of the
two cores through voxref's next call: that measures the coupling of two libraries in one process,
not voxref's use of two cores. The interleaved 2/1 ratio is kept beside it
(``two_over_one_interleaved``).

The profile is one extra voxref call per input under :mod:`cProfile`, summed per stage (the
cumulative time of the function that implements it).

Run (adds the result to ``results/speed.json`` under ``"interleaved"``, which the speed section
of ``BENCHMARKS.md`` shows after ``python -m benchmarks.report``; without a ``speed.json`` it
writes ``speed_interleaved.json``)::

    python -m benchmarks.speed.interleaved --repeats 5

Each thread count runs in its own process with ``OMP_WAIT_POLICY=PASSIVE`` unless set: on a
shared, overloaded machine OpenMP threads that spin at barriers while their peer is descheduled
made both systems 10-50x slower with 2 threads than with 1, which measured the machine, not
the code. The 2-thread process also times a trivially parallel workload on one thread and on
two (:func:`machine_two_over_one`) before and after the inputs: near 0.5 when it had two cores,
near 1 when the machine (or the scheduler's share for its process group) gave it one, in which case
no 2/1 ratio of that run says anything about the program.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "INPUTS",
    "GOALS",
    "STAGE_FUNCTIONS",
    "machine_two_over_one",
    "measure",
    "run_interleaved",
    "markdown",
    "main",
]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
BATCH = "batch 8x3x5s"
BATCH_SPEAKERS = 8
INPUTS = ("3x5s", "3x5s-white5", "long", BATCH)
GOALS = {"3x5s": 2.0, "3x5s-white5": 5.0, "long": 2.0}
"""Goal per input: voxref's time over Resemblyzer's, at most (none for the batch row)."""
TWO_OVER_ONE_GOAL = 0.6
"""voxref's wall time with 2 threads over 1 thread, at most."""
NOISE_SNR_DB = 5.0
DENOISER_ALONE = ("3x5s-white5",)
"""Inputs on which DeepFilterNet3 alone (``DeepFilterNet3().denoise`` of each reference) is
timed too: the denoiser's share of the floor, against Resemblyzer's whole call."""
NOISE_SEED = 27

STAGE_FUNCTIONS = (
    ("load (validate, resample)", "voxref/audio/load.py", "load_audio"),
    ("clean: VAD + analysis", "voxref/cleaning/pipeline.py", "_analyse"),
    ("... of which VAD (Silero)", "voxref/cleaning/vad.py", "detect_speech"),
    ("... of which SNR estimate", "voxref/cleaning/snr.py", "measure_snr"),
    ("... of which quality report", "voxref/cleaning/quality.py", "assess"),
    (
        "clean: noise modulation (auto policy)",
        "voxref/cleaning/noise_profile.py",
        "noise_modulation",
    ),
    ("clean: denoise (DFN3)", "voxref/cleaning/dfn3.py", "denoise"),
    ("... of which the model at 48 kHz", "voxref/cleaning/dfn3.py", "process_48k"),
    ("... of which resampling (16k <-> 48k)", "voxref/audio/resample.py", "resample"),
    ("level", "voxref/audio/level.py", "level_audio"),
    (
        "encode (GE2E windows)",
        "voxref/embedder/ge2e.py",
        ("plan_windows", "run_batch"),
    ),
    ("guide (target activity)", "voxref/separation/guide.py", "target_activity"),
    ("voice split (short windows)", "voxref/separation/dominant.py", "split_voices"),
    ("pool", "voxref/embedder/pooling/select.py", "pool_references"),
)
"""(stage, file suffix, function or functions): the profile row is their cumulative time
(encode: every pass of GE2E windows, the voice split's short windows included). Rows starting with
"... of which" are parts of the row above them (their shares overlap it). The inputs are at
16 kHz, so resampling is the denoiser's round trip to its 48 kHz model and back."""


def _white(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    n = rng.standard_normal(len(x))
    n *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(n**2) / 10 ** (snr_db / 10))
    return (x + n).astype(np.float32)


Refs = list[tuple[np.ndarray, int]]


def _inputs(audio_dir: Path, long_seconds: float) -> dict[str, Refs | dict[str, Refs]]:
    import soundfile as sf

    from .audio import make_speed_audio

    audio = make_speed_audio(audio_dir, long_seconds)

    def read(p: Path) -> tuple[np.ndarray, int]:
        x, sr = sf.read(str(p), dtype="float32", always_2d=False)
        return x, sr

    refs = [read(p) for p in audio.paths("3x5s")]
    rng = np.random.default_rng(NOISE_SEED)
    ten = [read(p) for p in audio.paths("10x5s")]
    batch = {
        f"speaker{k}": [ten[(3 * k + j) % len(ten)] for j in range(3)]
        for k in range(BATCH_SPEAKERS)
    }
    return {
        "3x5s": refs,
        "3x5s-white5": [(_white(x, NOISE_SNR_DB, rng), sr) for x, sr in refs],
        "long": [read(audio.long)],
        BATCH: batch,
    }


def _profile(fn: Any) -> tuple[float, list[dict[str, Any]]]:
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    fn()
    prof.disable()
    total = time.perf_counter() - t
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    cum: dict[str, float] = {}
    for label, suffix, func in STAGE_FUNCTIONS:
        names = (func,) if isinstance(func, str) else func
        cum[label] = sum(
            v[3] for (path, _, name), v in stats.items() if path.endswith(suffix) and name in names
        )
    rows = [
        {"stage": k, "seconds": round(v, 4), "share": round(v / total, 3) if total else None}
        for k, v in cum.items()
    ]
    return total, rows


def machine_two_over_one(rounds: int = 5) -> float:
    """Wall time of a fixed, trivially parallel workload on two threads over one thread.

    The same matrix products (torch, one intra-op thread each) run one after the other, then
    half on each of two Python threads; the median over ``rounds`` interleaved rounds. About
    0.5 when two cores are free for this process; near 1 when the machine (or the scheduler's
    share for this process group) gives it one core's worth: then no program can show a
    2-thread speed-up, and the voxref ratios measure the machine.
    """
    import threading

    import torch

    a = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))

    def work() -> None:
        torch.set_num_threads(1)  # this thread only (a fresh one each time)
        for _ in range(120):
            a @ a

    def on(n: int) -> float:
        ts = [threading.Thread(target=work) for _ in range(n)]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        return time.perf_counter() - t

    on(1)
    ratios = [on(2) / (2 * on(1)) for _ in range(rounds)]
    return float(statistics.median(ratios))


def _timed_rounds(fns: list[Any], repeats: int) -> list[list[float]]:
    """One warm-up call of each of ``fns``, then ``repeats`` rounds calling them in turn: the
    seconds of each one's calls."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, acc in zip(fns, times):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return times


def measure(
    threads: int, repeats: int, audio_dir: Path, long_seconds: float, profile: bool = True
) -> dict[str, Any]:
    """Time every input in this process at ``threads`` torch threads (see the module docstring)."""
    import torch

    torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder, preprocess_wav
    from voxref.pipeline import Embedder

    with contextlib.redirect_stdout(io.StringIO()):
        res = VoiceEncoder("cpu", verbose=False)
    emb = Embedder()
    _ = emb.encoder

    from voxref.cleaning.dfn3 import DeepFilterNet3

    dfn3 = DeepFilterNet3()

    def denoiser(refs: list[tuple[np.ndarray, int]]) -> None:
        for x, sr in refs:
            dfn3.denoise(x, sr)

    def resemblyzer(refs: list[tuple[np.ndarray, int]]) -> np.ndarray:
        v = np.mean([res.embed_utterance(preprocess_wav(x, source_sr=sr)) for x, sr in refs], 0)
        return v / np.linalg.norm(v)

    out: dict[str, Any] = {"threads": threads, "inputs": {}}
    if threads > 1:  # what this process could get out of two threads at all
        out["machine_two_over_one_before"] = machine_two_over_one()

    def ours_for(refs: Refs | dict[str, Refs]) -> Any:  # a batch: one embed_many call
        if isinstance(refs, dict):
            return lambda: emb.embed_many(refs)
        return lambda: emb.embed(refs)

    inputs = _inputs(audio_dir, long_seconds)
    # voxref alone, before any Resemblyzer call in this process
    alone = {name: _timed_rounds([ours_for(refs)], repeats)[0] for name, refs in inputs.items()}
    for name, refs in inputs.items():
        ours_fn = ours_for(refs)
        if isinstance(refs, dict):
            every = [r for rs in refs.values() for r in rs]
            theirs_fn = lambda r=refs: {k: resemblyzer(v) for k, v in r.items()}  # noqa: E731
        else:
            every, theirs_fn = refs, (lambda r=refs: resemblyzer(r))
        seconds = sum(len(x) / sr for x, sr in every)
        fns = [ours_fn, theirs_fn]
        if name in DENOISER_ALONE:  # the floor: the denoiser alone, timed in the same rounds
            fns.append(lambda r=refs: denoiser(r))
        times = _timed_rounds(fns, repeats)
        ours, theirs = times[0], times[1]
        rec: dict[str, Any] = {
            "audio_seconds": round(seconds, 3),
            "references": len(every),
            "voxref_seconds": statistics.median(ours),
            "resemblyzer_seconds": statistics.median(theirs),
            "voxref_times": [round(t, 4) for t in ours],
            "voxref_alone_seconds": statistics.median(alone[name]),
            "voxref_alone_times": [round(t, 4) for t in alone[name]],
            "resemblyzer_times": [round(t, 4) for t in theirs],
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
        rec["ratio"] = rec["voxref_seconds"] / rec["resemblyzer_seconds"]
        rec["voxref_seconds_per_reference"] = rec["voxref_seconds"] / len(every)
        if len(times) > 2:
            rec["denoiser_seconds"] = statistics.median(times[2])
            rec["denoiser_ratio"] = rec["denoiser_seconds"] / rec["resemblyzer_seconds"]
        if profile and name != BATCH:
            rec["profile_seconds"], rec["profile"] = _profile(ours_fn)
        out["inputs"][name] = rec
        log.info("%d thread(s) %-12s ratio %.2f", threads, name, rec["ratio"])
    if threads > 1:
        out["machine_two_over_one_after"] = machine_two_over_one()
    return out


def _child(threads: int, repeats: int, audio_dir: Path, long_seconds: float) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    cmd = [sys.executable, "-m", "benchmarks.speed.interleaved", "--child", str(threads)]
    cmd += ["--repeats", str(repeats), "--audio-dir", str(audio_dir)]
    cmd += ["--long-seconds", str(long_seconds)]
    proc = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{threads}-thread run failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


def run_interleaved(
    command: str,
    *,
    repeats: int = 5,
    threads: tuple[int, ...] = (1, 2),
    audio_dir: Path = REPO_ROOT / "benchmarks/work/speed",
    long_seconds: float = 60.0,
) -> dict[str, Any]:
    """Measure every thread count in its own process; the JSON-ready result."""
    from .machine import run_info

    info = run_info("interleaved", [command])
    runs = [_child(t, repeats, audio_dir, long_seconds) for t in threads]
    by = {r["threads"]: r["inputs"] for r in runs}
    both = 1 in by and 2 in by

    def over(key: str) -> dict[str, float]:
        return {k: by[2][k][key] / by[1][k][key] for k in by[1]} if both else {}

    two_over_one = over("voxref_alone_seconds")
    return {
        "benchmark": "speed_interleaved",
        "command": command,
        "commit": ((info.get("git") or {}).get("commit") or "?")[:10],
        "date": info.get("date_utc") or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "repeats": repeats,
        "goals": GOALS,
        "run": info,
        "runs": runs,
        "two_over_one": two_over_one,
        "two_over_one_interleaved": over("voxref_seconds"),
        "two_over_one_goal": TWO_OVER_ONE_GOAL,
    }


def markdown(result: dict[str, Any]) -> str:
    """The Markdown fragment for ``BENCHMARKS.md``."""
    runs = {r["threads"]: r for r in result["runs"]}
    one, two = runs[1], runs.get(2)
    out = [
        f"Command: `{result['command']}` (commit `{result.get('commit', '?')}`, "
        f"{result['date']}; median of {result['repeats']} interleaved calls each; "
        "inputs decoded before the timing; see `benchmarks/speed/interleaved.py`).",
        "",
        "| input | threads | voxref s | Resemblyzer s | ratio | goal | x real time (voxref) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        for name, r in run["inputs"].items():
            goal = GOALS.get(name)
            ok = (
                "-"
                if goal is None
                else f"<= {goal:g} ({'met' if r['ratio'] <= goal else 'not met'})"
            )
            out.append(
                f"| {name} | {run['threads']} | {r['voxref_seconds']:.3f} | "
                f"{r['resemblyzer_seconds']:.3f} | {r['ratio']:.2f} | {ok} "
                f"| {r['audio_seconds'] / r['voxref_seconds']:.0f} |"
            )
    if two is not None:
        out += [
            "",
            f"voxref wall time with 2 threads over 1 thread (goal <= {TWO_OVER_ONE_GOAL:g}), "
            "voxref timed alone (back to back, before any Resemblyzer call in the process); in "
            "brackets the same ratio from the interleaved calls, where the Resemblyzer call "
            "before each voxref call leaves a spinning numpy (OpenBLAS) thread on one of the two "
            "cores; the single calls first, then the batch:",
            "",
        ]
        for name in one["inputs"]:
            o, t = one["inputs"][name], two["inputs"][name]
            a = o.get("voxref_alone_seconds", o["voxref_seconds"])
            b = t.get("voxref_alone_seconds", t["voxref_seconds"])
            inter = t["voxref_seconds"] / o["voxref_seconds"]
            ra = one["inputs"][name]["resemblyzer_seconds"]
            rb = two["inputs"][name]["resemblyzer_seconds"]
            ok = "met" if b / a <= TWO_OVER_ONE_GOAL else "not met"
            n = one["inputs"][name].get("references", 1)
            what = (
                f"one embed_many call, {n} references; per reference {1000 * b / n:.1f} ms vs "
                f"{1000 * a / n:.1f} ms"
                if name == BATCH
                else f"one embed call, {b:.3f} s vs {a:.3f} s"
            )
            out.append(
                f"- {name}: **{b / a:.2f}** ({ok}; {what}; interleaved: {inter:.2f}; "
                f"Resemblyzer's own, same processes: {rb / ra:.2f})"
            )
        busiest = max(r["load_average_1min"] for r in two["inputs"].values())
        cores = ((result.get("run") or {}).get("machine") or {}).get("logical_cpus") or 0
        probe = [two.get(f"machine_two_over_one_{k}") for k in ("before", "after")]
        probe = [p for p in probe if p is not None]
        note = (
            "(Each thread count runs in its own process, one after the other, on a shared "
            f"machine; 1-min load average up to {busiest:.1f} on {cores} cores during the "
            "2-thread process."
        )
        if probe:
            note += (
                " A trivially parallel workload (the same matrix products on one thread, then "
                "on two) took "
                + " and ".join(f"{p:.2f}" for p in probe)
                + " of its 1-thread time in the 2-thread process, before and after the inputs "
                "(0.5: two free cores)."
            )
        if (probe and max(probe) > 0.65) or (not probe and busiest >= cores):
            note += (
                " The process did not get two cores' worth of the machine (the probe above "
                "0.65, or without a probe a load at or above the core count): these 2/1 ratios "
                "measure the machine as much as the program.)"
            )
        else:
            note += " These ratios are the programs', not the machine's.)"
        out += ["", note]
    floors = [
        f"- {name}, {run['threads']} thread(s): {r['denoiser_seconds']:.3f} s = "
        f"{r['denoiser_ratio']:.2f}x Resemblyzer's whole call"
        for run in result["runs"]
        for name, r in run["inputs"].items()
        if "denoiser_seconds" in r
    ]
    if floors:
        out += [
            "",
            "DeepFilterNet3 alone (`DeepFilterNet3().denoise` of each reference, timed in "
            "the same rounds): the part of the noisy call no pipeline change removes:",
            "",
        ]
        out += floors
    loads = [r["load_average_1min"] for run in result["runs"] for r in run["inputs"].values()]
    out += [
        "",
        f"1-min load average during the run: up to {max(loads):.1f} (shared machine: the ratios, "
        "measured interleaved, are steadier than the absolute times).",
        "",
        "Per-stage profile of one voxref call (1 thread, cProfile, cumulative seconds):",
        "",
        "| stage | " + " | ".join(k for k, r in one["inputs"].items() if "profile" in r) + " |",
        "|---|" + "---|" * sum("profile" in r for r in one["inputs"].values()),
    ]
    profiled = {k: r for k, r in one["inputs"].items() if "profile" in r}
    stages = [row["stage"] for row in next(iter(profiled.values()))["profile"]]
    for i, stage in enumerate(stages):
        cells = []
        for r in profiled.values():
            row = r["profile"][i]
            cells.append(f"{row['seconds']:.3f} ({row['share']:.0%})")
        out.append(f"| {stage} | " + " | ".join(cells) + " |")
    out.append(
        "| total (profiled call) | "
        + " | ".join(f"{r['profile_seconds']:.3f}" for r in profiled.values())
        + " |"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="voxref vs Resemblyzer, interleaved.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--audio-dir", type=Path, default=REPO_ROOT / "benchmarks/work/speed")
    parser.add_argument("--long-seconds", type=float, default=60.0)
    parser.add_argument("--results", type=Path, default=REPO_ROOT / "benchmarks/results")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.child:
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(sys.stderr):
            rec = measure(args.child, args.repeats, args.audio_dir, args.long_seconds)
        print(json.dumps(rec))
        return 0
    command = "python -m benchmarks.speed.interleaved " + " ".join(argv or sys.argv[1:])
    result = run_interleaved(
        command.strip(),
        repeats=args.repeats,
        threads=tuple(args.threads),
        audio_dir=args.audio_dir,
        long_seconds=args.long_seconds,
    )
    from benchmarks.common import write_json

    speed = args.results / "speed.json"
    if speed.is_file():  # the speed section of BENCHMARKS.md shows it (benchmarks.report)
        whole = json.loads(speed.read_text())
        whole["interleaved"] = result
        write_json(speed, whole)
    else:
        write_json(args.results / "speed_interleaved.json", result)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
