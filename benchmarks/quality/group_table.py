"""The per-voice-group headline: tuning voices (A) and reporting voices (B) side by side.

Reads the quality benchmark's results of one run per voice group (``quality_group_A.json`` and
``quality_group_B.json``, each made by ``python -m benchmarks.run --only quality --voice-group G``)
and writes ``quality_group.md``, the fragment :mod:`benchmarks.report` puts into BENCHMARKS.md::

    python -m benchmarks.quality.group_table [--results benchmarks/results] [--ks 1 3]

Every number in the fragment comes from the two JSON files: EER of voxref and of the plain mean
(Resemblyzer's ``preprocess_wav`` + ``embed_utterance`` + mean, the same GE2E weights), and the
paired speaker-bootstrap interval of their ratio (:mod:`.bootstrap`), per condition and per family
(families with several conditions use the mean EER over them). The per-family summary states the
reporting group's ratio with a verdict read off its interval: *lower* when the interval lies below
1, *higher* when above, *no difference shown* otherwise.

Examples
--------
>>> verdict([0.5, 0.9]), verdict([0.8, 1.2]), verdict([1.05, 1.4]), verdict(None)
('lower', 'no difference shown', 'higher', 'no interval')
>>> verdict([0.5, 0.996])  # printed as [0.50-1.00]
'no difference shown'
>>> family_key("white-20dB"), family_key("babble-5dB"), family_key("overlap-sir0dB")
('white noise', 'babble', 'overlap')
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

GROUPS = ("B", "A")
"""Column order: the reporting group first (headline rotation ``A->B``), then the tuning group."""

BASELINE = "resemblyzer"
OURS = "voxref"

FAMILY_ORDER = (
    "white noise",
    "pink noise",
    "brown noise",
    "babble",
    "reverberation",
    "telephone",
    "overlap",
    "mixed bag",
    "clean",
)

_PREFIX_FAMILY = {
    "white": "white noise",
    "pink": "pink noise",
    "brown": "brown noise",
    "babble": "babble",
    "reverb": "reverberation",
    "telephone": "telephone",
    "overlap": "overlap",
    "mixed": "mixed bag",
    "clean": "clean",
}

# families the harness's bootstrap covers as a whole (its ``family:*`` scopes)
_HARNESS_SCOPE = {"babble": "family:babble", "overlap": "family:overlap"}


def family_key(condition: str) -> str:
    """The family (as named in the tables) of a quality-benchmark condition name."""
    return _PREFIX_FAMILY.get(condition.split("-")[0], condition)


def _table_position(condition: str) -> int:
    """Position of a condition in the tables: that of a full run (noise from 20 to 0 dB...)."""
    from .conditions import standard_conditions

    order = [c.name for c in standard_conditions()]
    return order.index(condition) if condition in order else len(order)


def verdict(ci: Sequence[float] | None) -> str:
    """``lower`` / ``higher`` / ``no difference shown`` from a ratio's interval."""
    if not ci:
        return "no interval"
    low, high = round(ci[0], 2), round(ci[1], 2)  # as the tables print them
    if high < 1.0:
        return "lower"
    if low > 1.0:
        return "higher"
    return "no difference shown"


class GroupRun:
    """One voice group's quality result, indexed for the tables."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.group = result["config"].get("voice_group")
        self.conditions = sorted((c["name"] for c in result["conditions"]), key=_table_position)
        self.eer = {
            (r["condition"], r["k"], r["method"]): r["eer"]
            for r in result["results"]
            if r.get("eer") is not None
        }
        self.n_sets = {(r["condition"], r["k"]): r["n_sets"] for r in result["results"]}
        self.ci = {
            (r["scope"], r["k"]): r
            for r in result["uncertainty"]["rows"]
            if r["method"] == OURS and r["baseline"] == BASELINE
        }

    def cell(self, scope: str, k: int) -> tuple[float | None, float | None, dict | None]:
        """(voxref EER, plain-mean EER, interval row) of a condition or a scope of several."""
        names = self.scope_conditions(scope)
        if scope == "degraded":  # the mixed bag only where k allows it
            names = [n for n in names if (n, k, OURS) in self.eer]
        ours = [self.eer.get((n, k, OURS)) for n in names]
        base = [self.eer.get((n, k, BASELINE)) for n in names]
        if not names or None in ours or None in base:
            return None, None, None
        return sum(ours) / len(ours), sum(base) / len(base), self.ci.get((scope, k))

    def scope_conditions(self, scope: str) -> list[str]:
        """The conditions a scope (a condition, ``family:*`` or ``degraded``) averages over."""
        if scope == "degraded":
            return [n for n in self.conditions if n != "clean"]
        if scope.startswith("family:"):
            fam = scope.split(":", 1)[1]
            return [c["name"] for c in self.result["conditions"] if c["family"] == fam]
        return [scope] if scope in self.conditions else []

    def speakers(self) -> int:
        return len(self.result["corpus"]["trial_speakers"])


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}"


def _ratio(ours: float | None, base: float | None, row: dict | None) -> str:
    if ours is None or base is None:
        return "–"
    if base == 0:
        return "–" if ours == 0 else "inf"
    text = f"{ours / base:.2f}"
    if row and row.get("ci"):
        text += f" [{row['ci'][0]:.2f}-{row['ci'][1]:.2f}]"
    return text


def _family_scopes(run: GroupRun, family: str) -> list[str]:
    """The rows of a family in the summary: its whole-family scope when the harness has one,
    else each of its conditions."""
    names = [n for n in run.conditions if family_key(n) == family]
    scope = _HARNESS_SCOPE.get(family)
    if scope and len(names) > 1 and any(key[0] == scope for key in run.ci):
        return [scope, *names]
    return names


def _scope_label(scope: str) -> str:
    if scope == "degraded":
        return "**mean of degraded**"
    if scope.startswith("family:"):
        return f"{scope.split(':', 1)[1]} (all)"
    return scope


def headline_markdown(runs: dict[str, dict[str, Any]], ks: Sequence[int] = (1, 3)) -> str:
    """The fragment: how the runs were made, the side-by-side table, the per-family summary."""
    g = {name: GroupRun(res) for name, res in runs.items()}
    groups = [name for name in GROUPS if name in g]
    lines: list[str] = []
    lines += [
        "voxref (defaults) against the plain mean (Resemblyzer's `preprocess_wav` + "
        "`embed_utterance` + mean, the same GE2E weights) on the reporting voices (group B, "
        "rotation `A->B`) and the tuning voices (group A), one run per group. EER %; ratio = "
        "voxref / plain mean with its 95 % paired bootstrap interval over trial speakers "
        "(families with several conditions: ratio of the mean EERs).",
        "",
    ]
    for name in groups:
        res = g[name].result
        run = res["run"]
        commit = str(run.get("git", {}).get("commit", "?"))[:7]
        dirty = " (uncommitted changes)" if run.get("git", {}).get("dirty") else ""
        sets = ", ".join(
            f"k={k}: {res['trials'][str(k)]['n_sets']} sets / "
            f"{res['trials'][str(k)]['n_target']} target trials"
            for k in ks
            if str(k) in res["trials"]
        )
        lines += [
            f"Group {name}: {g[name].speakers()} trial speakers, "
            f"{res['config']['n_enroll']} enrollment + {res['config']['n_test']} test clips each, "
            f"{res['config']['n_interferers']} interferers; {sets}; commit `{commit}`{dirty}, "
            f"{run.get('elapsed_seconds', '?')} s on {run.get('workers', '?')} worker(s):",
            "",
            f"    {run.get('command', '')}",
            "",
        ]
    header = ["condition", "k"]
    for name in groups:
        header += [f"{name}: voxref", f"{name}: plain mean", f"{name}: ratio [95 %]"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    first = g[groups[0]]
    scopes = [*first.conditions, "degraded"]
    for scope in scopes:
        for k in ks:
            cells = [_scope_label(scope), str(k)]
            any_value = False
            for name in groups:
                ours, base, row = g[name].cell(scope, k)
                any_value |= ours is not None
                cells += [_pct(ours), _pct(base), _ratio(ours, base, row)]
            if any_value:
                lines.append("| " + " | ".join(cells) + " |")
    failed = []
    for name in groups:
        res = g[name].result
        for cond, per_method in res.get("failed_clips", {}).items():
            n = per_method.get(OURS, 0)
            if not n:
                continue
            unscored = [
                f"k={r['k']}: {r['n_failed_sets']} set(s), {r['n_failed_trials']} trials"
                for r in res["results"]
                if r["condition"] == cond and r["method"] == OURS and r["n_failed_sets"]
            ]
            failed.append(
                f"{name} {cond} {n} clip(s)"
                + (f" (not scored: {'; '.join(unscored)})" if unscored else "")
            )
    lines += [
        "",
        '"Mean of degraded": mean EER over every condition but clean (with the mixed bag where '
        "k allows it). Clips voxref rejected (a set left with no usable reference is not scored; "
        "larger sets are embedded from their other references): "
        + (", ".join(failed) if failed else "none")
        + ".",
        "",
        "Per family, the ratio on the reporting voices (B; A in brackets) and what its interval "
        "shows:",
        "",
    ]
    lines += summary_lines(g, ks)
    return "\n".join(lines)


def summary_lines(g: dict[str, GroupRun], ks: Sequence[int]) -> list[str]:
    """One bullet per family: B's ratio per condition and k, its verdict, A's ratio."""
    out: list[str] = []
    rep = g.get("B")
    tun = g.get("A")
    if rep is None:
        return out
    for family in FAMILY_ORDER:
        parts: list[str] = []
        for scope in _family_scopes(rep, family):
            per_k: list[str] = []
            for k in ks:
                ours, base, row = rep.cell(scope, k)
                if ours is None:
                    continue
                text = f"k={k} {_ratio(ours, base, row)}"
                text += f" ({verdict(row.get('ci') if row else None)})"
                if tun is not None:
                    a_ours, a_base, a_row = tun.cell(scope, k)
                    if a_ours is not None:
                        text += f" [A {_ratio(a_ours, a_base, None)}]"
                per_k.append(text)
            if per_k:
                parts.append(f"{_scope_label(scope)}: " + ", ".join(per_k))
        if parts:
            out.append(f"- **{family}**: " + "; ".join(parts) + ".")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    from benchmarks.run import DEFAULT_RESULTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 3], help="set sizes in the tables")
    ap.add_argument("--out", type=Path, help="fragment path (default RESULTS/quality_group.md)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runs = {}
    for name in GROUPS:
        path = args.results / f"quality_group_{name}.json"
        if not path.is_file():
            ap.error(
                f"{path} is missing: run python -m benchmarks.run --only quality "
                f"--voice-group {name} first"
            )
        runs[name] = json.loads(path.read_text())
        if runs[name]["config"].get("voice_group") != name:
            ap.error(f"{path} is not a run of voice group {name}")
    out = args.out or args.results / "quality_group.md"
    out.write_text(headline_markdown(runs, ks=tuple(args.ks)) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
