"""Did a speed change move the quality benchmark? Two ``quality.json`` runs, row by row.

Compares the ``voxref`` rows (condition x k) of a quick quality run before and after a change
and adds the summary to ``results/speed.json`` under ``"quality_check"`` (one entry per voice
group), which the speed section of ``BENCHMARKS.md`` shows::

    python -m benchmarks.speed.quality_check --group A --before BEFORE/quality.json \\
        --after AFTER/quality.json --change "what changed" --results benchmarks/results

where BEFORE and AFTER are ``python -m benchmarks.run --quick --only quality --voice-group A
--speakers 0 --methods voxref resemblyzer --no-diarization --workers 1 --results DIR --no-report``
on the two commits.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["compare", "markdown", "main"]


def compare(before: dict[str, Any], after: dict[str, Any], method: str = "voxref") -> dict:
    """Rows of ``method`` in both runs, how many changed EER or minDCF, the largest changes."""

    def rows(run: dict[str, Any]) -> dict[tuple, dict]:
        return {(r["condition"], r["k"]): r for r in run["results"] if r["method"] == method}

    a, b = rows(before), rows(after)
    common = sorted(set(a) & set(b))
    d_eer = [b[k]["eer"] - a[k]["eer"] for k in common]
    d_dcf = [b[k]["min_dcf"] - a[k]["min_dcf"] for k in common]
    d_score = [
        max(
            abs(b[k]["mean_target"] - a[k]["mean_target"]),
            abs(b[k]["mean_nontarget"] - a[k]["mean_nontarget"]),
        )
        for k in common
    ]
    return {
        "rows": len(common),
        "changed": sum(abs(x) > 1e-12 or abs(y) > 1e-12 for x, y in zip(d_eer, d_dcf)),
        "max_abs_eer_change": max(map(abs, d_eer), default=0.0),
        "max_abs_min_dcf_change": max(map(abs, d_dcf), default=0.0),
        "max_abs_mean_score_change": max(d_score, default=0.0),
        "before_commit": ((before["run"].get("git") or {}).get("commit") or "?")[:10],
        "after_commit": ((after["run"].get("git") or {}).get("commit") or "?")[:10],
        "command": after["run"].get("command", "?"),
    }


def markdown(check: dict[str, Any]) -> str:
    """The Markdown fragment for ``BENCHMARKS.md`` (``check``: ``{group: entry}``)."""
    out = [
        "Quick quality benchmark before and after the speed changes "
        "(`benchmarks/speed/quality_check.py`; voxref rows, condition x k):",
        "",
        "| group | change | commits | rows | EER or minDCF changed | largest EER change | "
        "largest mean-score change |",
        "|---|---|---|---|---|---|---|",
    ]
    for group, c in sorted(check.items()):
        out.append(
            f"| {group} | {c['change']} | `{c['before_commit']}` -> `{c['after_commit']}` | "
            f"{c['rows']} | {c['changed']} | {c['max_abs_eer_change']:.4f} | "
            f"{c['max_abs_mean_score_change']:.1e} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=("A", "B"), required=True)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--change", required=True, help="what changed, for the table")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--commits",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="the two commits, for runs made outside a git checkout",
    )
    args = parser.parse_args(argv)
    entry = compare(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    if args.commits:
        entry["before_commit"], entry["after_commit"] = (c[:10] for c in args.commits)
    entry["change"] = args.change
    from benchmarks.run import write_json

    speed = args.results / "speed.json"
    whole = json.loads(speed.read_text()) if speed.is_file() else {}
    whole.setdefault("quality_check", {})[args.group] = entry
    write_json(speed, whole)
    print(json.dumps(entry, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
