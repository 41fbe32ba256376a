"""Per-stage ablation of voxref's pipeline on the quality benchmark: which stage helps where.

Each method switches one stage of ``voxref.Embedder()`` off or to an alternative, on the same
degraded clips and trials as the quality benchmark (it *is* :func:`.harness.run_quality` with
other methods and fewer conditions). Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.quality.ablation \
        [--speakers 0] [--cache benchmarks/work/prepare-cache] [--results benchmarks/results]

It writes ``ablation.json`` (the harness's result) and ``ablation.md`` (EER tables, included in
``BENCHMARKS.md`` by :mod:`benchmarks.report`). With ``--cache``, per-clip work is reused across
runs (see :mod:`.cache`).

Examples
--------
>>> "voxref" in ABLATION_METHODS and "mean" in ABLATION_METHODS
True
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ABLATION_METHODS: dict[str, str] = {
    "voxref": "all defaults",
    "mean": "baseline: no cleaning, no guiding, plain mean (what other tools do)",
    "voxref-noclean": "no cleaning stage (no VAD, no denoiser, no quality report)",
    "voxref-nodenoise": "VAD and quality report, no denoiser",
    "voxref-dfn3": "DeepFilterNet3 on every clip instead of the 'auto' policy",
    "voxref-noguide": "no guided target activity (every window kept)",
    "voxref-nolevel": "no speech level normalisation (references embedded as recorded)",
    "voxref[pooling=mean]": "plain means instead of attention (windows and references)",
    "voxref[temperature=inf]": "reference weights from the quality prior only (no agreement)",
    "voxref[use_quality=false]": "reference weights from agreement only (no quality prior)",
    "voxref-trained": "the shipped trained pooling head instead of the parameter-free attention",
    "resemblyzer": "Resemblyzer embed_speaker (reference)",
}
"""Method (name or ``voxref[...]`` spec, see :func:`.methods.make_method`) -> what it isolates."""

ABLATION_CONDITIONS = (
    "clean",
    "white-5dB",
    "pink-10dB",
    "babble-5dB",
    "babble-10dB",
    "reverb-0.6s",
    "telephone",
    "overlap-sir0dB",
    "overlap-sir5dB",
    "conversation",
    "mixed",
)


def _group_note(result: dict[str, Any]) -> str:
    group = (result.get("config") or {}).get("voice_group")
    if not group:
        return ""
    from benchmarks.corpus.voice_split import GROUPS

    return f" of voice group {group} ({', '.join(GROUPS[group])})"


def _what(result: dict[str, Any], method: str) -> str:
    """What ``method`` isolates: :data:`ABLATION_METHODS`, else the description it recorded."""
    if method in ABLATION_METHODS:
        return ABLATION_METHODS[method]
    recorded = (result.get("methods") or {}).get(method)
    return recorded.get("description", method) if isinstance(recorded, dict) else method


def ablation_markdown(result: dict[str, Any], ks: Sequence[int] = (1, 3, 5)) -> str:
    """EER tables (one per ``k``) of an ablation result, methods as columns."""
    methods = list(result["methods"])
    conds = [c["name"] for c in result["conditions"]]
    idx = {(r["condition"], r["k"], r["method"]): r for r in result["results"]}
    run = result["run"]
    lines = [
        f"Command: `{run.get('command', '')}` ({run.get('mode')}, "
        f"{run.get('elapsed_seconds', '?')} s, commit `{str(run.get('git', {}).get('commit', '?'))[:12]}`), "
        f"{len(result['corpus']['trial_speakers'])} trial speakers"
        f"{_group_note(result)}. EER %; the best of each row in bold; ratio = method / mean.",
        "",
        "Methods: " + "; ".join(f"**{m}** = {_what(result, m)}" for m in methods) + ".",
        "",
    ]
    for k in ks:
        rows = [c for c in conds if any((c, k, m) in idx for m in methods)]
        if not rows:
            continue
        lines += [
            f"**k = {k}**",
            "",
            "| condition | " + " | ".join(methods) + " |",
            "| :--- |" + " ---: |" * len(methods),
        ]
        means = {m: [] for m in methods}
        for c in rows:
            eers = {m: idx[(c, k, m)]["eer"] for m in methods if (c, k, m) in idx}
            best = min(eers.values())
            cells = []
            for m in methods:
                if m not in eers:
                    cells.append("–")
                    continue
                if c != "clean":
                    means[m].append(eers[m])
                cell = f"{100 * eers[m]:.2f}"
                cells.append(f"**{cell}**" if eers[m] == best else cell)
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        base = means.get("mean")
        avg = {m: sum(v) / len(v) for m, v in means.items() if v}
        lines.append(
            "| mean of degraded | "
            + " | ".join(
                f"{100 * avg[m]:.2f}"
                + (f" ({avg[m] / avg['mean']:.2f}×)" if base and "mean" in avg else "")
                if m in avg
                else "–"
                for m in methods
            )
            + " |"
        )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    from benchmarks.quality import narrowband  # noqa: F401  (registers the voxref-nb* methods)
    from benchmarks.quality.harness import QualityConfig, run_quality
    from benchmarks.run import DEFAULT_CORPUS, ensure_corpus, set_thread_env, write_json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speakers", type=int, default=0, help="trial speakers (0 = all)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--cache", type=Path, help="prepared-items cache folder")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--methods", nargs="+", default=list(ABLATION_METHODS))
    ap.add_argument("--conditions", nargs="+", default=list(ABLATION_CONDITIONS))
    ap.add_argument(
        "--voice-group",
        choices=("A", "B"),
        help="only the voices of this group (benchmarks/corpus/voice_split.py): decide on the "
        "tuning group, confirm on the reporting group",
    )
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 3, 5], help="set sizes")
    ap.add_argument("--name", default="ablation", help="results file stem (NAME.json and NAME.md)")
    args = ap.parse_args(argv)
    set_thread_env(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("voxref").setLevel(logging.WARNING)
    ensure_corpus(args.corpus)
    config = QualityConfig.preset(
        False,
        args.corpus,
        mode="ablation",
        methods=tuple(args.methods),
        conditions=tuple(args.conditions),
        max_trial_speakers=args.speakers or None,
        workers=args.workers,
        diarization=False,
        cache_dir=args.cache,
        voice_group=args.voice_group,
        ks=tuple(args.ks),
    )
    import sys

    from benchmarks.run import recorded_command

    command = recorded_command(
        argv if argv is not None else sys.argv[1:], module="benchmarks.quality.ablation"
    )
    result = run_quality(config, command)
    write_json(args.results / f"{args.name}.json", result)
    md = args.results / f"{args.name}.md"
    md.write_text(ablation_markdown(result, ks=tuple(args.ks)) + "\n")
    log.info("wrote %s", md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
