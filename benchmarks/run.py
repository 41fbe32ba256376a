"""One command for the voxref scoreboard: quality and speed benchmarks, then BENCHMARKS.md.

Usage (from the repository root)::

    python -m benchmarks.run --quick                 # < 5 min quality + a few min speed
    python -m benchmarks.run                         # full mode (~30 min on 2 cores)
    python -m benchmarks.run --only quality --methods voxref mean resemblyzer mfcc

Writes ``benchmarks/results/quality.json`` and ``speed.json`` (with versions, machine, git commit,
command line, mode and thread settings), then regenerates ``BENCHMARKS.md`` and the PNG plots
with :mod:`benchmarks.report`. The corpus is built first if ``--corpus`` has no manifest
(``python -m benchmarks.corpus.build``). ``OMP_NUM_THREADS`` (and the other BLAS thread
variables) are set to ``--threads`` for this process and every child.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_CORPUS, DEFAULT_RESULTS, REPO_ROOT, write_json
from benchmarks.quality.conditions import CORPUS_LEVEL_DBFS
from benchmarks.speed.machine import set_thread_env
from voxref.cli.options import level_option

log = logging.getLogger("benchmarks.run")


def ensure_corpus(corpus: Path) -> None:
    """Build the benchmark corpus in ``corpus`` unless its manifest exists."""
    if (corpus / "manifest.json").is_file():
        return
    log.info("building the corpus in %s (python -m benchmarks.corpus.build)", corpus)
    subprocess.run(
        [sys.executable, "-m", "benchmarks.corpus.build", "--out", str(corpus)],
        cwd=REPO_ROOT,
        check=True,
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.run``."""
    parser = argparse.ArgumentParser(description="Run the voxref quality and speed benchmarks.")
    parser.add_argument("--quick", action="store_true", help="small run (< 5 min for quality)")
    parser.add_argument(
        "--only",
        choices=("quality", "speed", "diarization"),
        help="run one benchmark only (diarization: refresh the DER section of an existing "
        "quality.json, with its own commit and command)",
    )
    parser.add_argument("--threads", type=int, default=1, help="OMP/torch threads per process (1)")
    parser.add_argument(
        "--workers", type=int, default=2, help="quality: processes for per-clip work"
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--methods", nargs="+", help="quality: method names (first = ours)")
    parser.add_argument("--conditions", nargs="+", help="quality: condition names")
    parser.add_argument(
        "--speakers",
        type=int,
        help="quality: cap on trial speakers (quick: 10, full: all; 0 = all)",
    )
    parser.add_argument("--no-diarization", action="store_true", help="quality: skip the DER run")
    parser.add_argument(
        "--cache",
        type=Path,
        help="quality: prepared-items cache folder, for ablations of combine-only options "
        "(see benchmarks/quality/cache.py; not for published runs)",
    )
    parser.add_argument(
        "--corpus-level",
        type=level_option,
        default=CORPUS_LEVEL_DBFS,
        metavar="DBFS|off",
        help=f"quality: active level every corpus clip is scaled to before degradation "
        f"(default {CORPUS_LEVEL_DBFS:g}; 'off' = as rendered, the runs before the corpus was levelled)",
    )
    parser.add_argument(
        "--voice-group",
        choices=("A", "B"),
        help="quality: only the voices of this group (benchmarks/corpus/voice_split.py; "
        "A: espeak-ng, B: flite, festival's non-English voices, pyannote's sample)",
    )
    parser.add_argument("--scenarios", nargs="+", help="speed: scenario names")
    parser.add_argument("--no-report", action="store_true", help="do not regenerate BENCHMARKS.md")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def quality_config(args: argparse.Namespace) -> Any:
    """The :class:`~benchmarks.quality.harness.QualityConfig` parsed arguments ask for."""
    from benchmarks.quality.harness import QualityConfig

    overrides: dict = {"workers": args.workers, "threads": args.threads}
    if args.methods:
        overrides["methods"] = tuple(args.methods)
    if args.conditions:
        overrides["conditions"] = tuple(args.conditions)
    if args.speakers is not None:
        overrides["max_trial_speakers"] = args.speakers or None
    if args.no_diarization:
        overrides["diarization"] = False
    if args.cache is not None:
        overrides["cache_dir"] = args.cache
    overrides["corpus_level_dbfs"] = args.corpus_level
    if args.voice_group is not None:
        overrides["voice_group"] = args.voice_group
    return QualityConfig.preset(args.quick, args.corpus, **overrides)


OUTPUT_ONLY_OPTIONS = {"--results": 1, "--no-report": 0, "-v": 0, "--verbose": 0}


def recorded_command(argv: Sequence[str], module: str = "benchmarks.run") -> list[str]:
    """The command a result records: ``argv`` without the options that only say where results go
    or how much is logged (``--results DIR``, ``--no-report``, ``-v``), so results copied out of
    a scratch folder do not carry its path.

    Examples
    --------
    >>> " ".join(recorded_command(["--only", "speed", "--results", "results-r", "--no-report"]))
    'python -m benchmarks.run --only speed'
    >>> recorded_command(["--results=results-r", "--quick"])[-1]
    '--quick'
    """
    kept: list[str] = []
    skip = 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in OUTPUT_ONLY_OPTIONS:
            skip = OUTPUT_ONLY_OPTIONS[name] if "=" not in arg else 0
            continue
        kept.append(arg)
    return ["python", "-m", module, *kept]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)

    set_thread_env(args.threads)  # before torch / numpy start their thread pools
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("voxref").setLevel(logging.WARNING)
    command = recorded_command(argv if argv is not None else sys.argv[1:])
    t0 = time.perf_counter()

    if args.only in (None, "quality"):
        from benchmarks.quality.harness import run_quality

        ensure_corpus(args.corpus)
        config = quality_config(args)
        result = run_quality(config, command)
        write_json(args.results / "quality.json", result)
        log.info(
            "quality done in %.0f s -> %s", time.perf_counter() - t0, args.results / "quality.json"
        )

    if args.only == "diarization":
        from benchmarks.quality.diarization import diarization_benchmark
        from benchmarks.speed.machine import run_info

        path = args.results / "quality.json"
        if not path.exists():
            parser.error(f"{path} does not exist: run the quality benchmark first")
        quality = json.loads(path.read_text())
        quality["diarization"] = {
            **diarization_benchmark(),
            "run": run_info("diarization", command),
        }
        write_json(path, quality)
        log.info("diarization done in %.0f s -> %s", time.perf_counter() - t0, path)

    if args.only in (None, "speed"):
        from benchmarks.speed.harness import SpeedConfig, run_speed

        t1 = time.perf_counter()
        sconfig = SpeedConfig.preset(
            args.quick, **({"scenarios": tuple(args.scenarios)} if args.scenarios else {})
        )
        result = run_speed(sconfig, command)
        if (
            not args.scenarios
        ):  # the speed goals: voxref vs Resemblyzer interleaved, 1 and 2 threads
            from benchmarks.speed.interleaved import run_interleaved

            result["interleaved"] = run_interleaved(
                " ".join(command or []),
                repeats=sconfig.repeats,
                audio_dir=sconfig.audio_dir,
                long_seconds=60.0,
            )
        write_json(args.results / "speed.json", result)
        log.info(
            "speed done in %.0f s -> %s", time.perf_counter() - t1, args.results / "speed.json"
        )

    if not args.no_report:
        from benchmarks.report import write_report

        write_report(args.results, REPO_ROOT / "BENCHMARKS.md")
    log.info("all done in %.0f s", time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
