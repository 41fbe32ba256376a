"""The one-screen summary at the top of ``BENCHMARKS.md``, generated from the results JSON.

Quality: voxref / plain mean EER ratios on the reporting voices (group B) with the tuning voices
(group A) beside them, computed by :mod:`benchmarks.quality.group_table` from
``quality_group_{B,A}.json`` (the same numbers as the "Headline per voice group" section). Cost:
voxref's time over Resemblyzer's from the interleaved part of ``speed.json``. One line each for
the prompt benchmark (``prompt.json``) and the audit (``audit.json``). Every number is read at
generation time; a missing file drops its line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.quality.group_table import (
    GroupRun,
    _ratio,
    _scope_label,
    family_key,
    verdict,
)

__all__ = ["SUMMARY_TITLE", "summary_scopes", "summary_rows", "summary_markdown"]

SUMMARY_TITLE = "## Summary"
KS = (1, 3)
"""Set sizes of the summary table: one reference, three references."""


def summary_scopes(run: GroupRun) -> list[str]:
    """The table's rows: the harness's whole-family scopes (noise, babble, overlap, each with its
    own interval) and the single-condition families, then the mean over every degraded one."""
    families = [c["family"] for c in run.result["conditions"] if c["name"] != "clean"]
    scopes: list[str] = []
    for family in dict.fromkeys(families):
        names = run.scope_conditions(f"family:{family}")
        whole = f"family:{family}"
        if len(names) > 1 and any(key[0] == whole for key in run.ci):
            scopes.append(whole)
        else:
            scopes += [n for n in names if n not in scopes]
    return [*scopes, "clean", "degraded"]


def _label(run: GroupRun, scope: str) -> str:
    if scope.startswith("family:"):
        names = run.scope_conditions(scope)
        family = scope.split(":", 1)[1]
        kinds = [k.split()[0] for k in dict.fromkeys(family_key(n) for n in names)]
        detail = "" if kinds == [family] else ": " + ", ".join(kinds)
        return f"{family}{detail} ({len(names)} conditions, pooled)"
    return _scope_label(scope)


def _verdicts(run: GroupRun, scope: str, ks: Sequence[int]) -> str:
    found = {}
    for k in ks:
        ours, _, row = run.cell(scope, k)
        if ours is not None:
            found[k] = verdict(row.get("ci") if row else None)
    if len(set(found.values())) == 1:
        return next(iter(found.values()))
    return ", ".join(f"k={k} {v}" for k, v in found.items())


def summary_rows(runs: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Rows of the summary table: scope, B ratio k=1, B ratio k=3, B verdict, A ratio k=3."""
    rep = GroupRun(runs["B"])
    tun = GroupRun(runs["A"]) if "A" in runs else None
    rows = []
    for scope in summary_scopes(rep):
        row = [_label(rep, scope)]
        row += [_ratio(*rep.cell(scope, k)) for k in KS]
        row.append(_verdicts(rep, scope, KS))
        row.append("–" if tun is None else _ratio(*tun.cell(scope, KS[-1])))
        rows.append(row)
    return rows


def _conditions_by_verdict(run: GroupRun) -> dict[str, list[str]]:
    """Each degraded condition of a group under the verdict of its interval at every k."""
    out: dict[str, list[str]] = {}
    for name in run.conditions:
        if name == "clean":
            continue
        found = {
            verdict(row.get("ci") if row else None)
            for k in KS
            for ours, _, row in [run.cell(name, k)]
            if ours is not None
        }
        if len(found) == 1:
            key = found.pop()
        elif found == {"lower", "no difference shown"}:
            key = "lower at one k"
        else:
            key = "differs by k"
        out.setdefault(key, []).append(name)
    return out


def _speed_line(speed: dict[str, Any]) -> str | None:
    inter = speed.get("interleaved")
    if not inter:
        return None
    from benchmarks.speed.interleaved import GOALS

    one = next((r for r in inter["runs"] if r["threads"] == 1), inter["runs"][0])
    cells = []
    for name, r in one["inputs"].items():
        goal = GOALS.get(name)
        met = (
            ""
            if goal is None
            else f" (goal <= {goal:g}: {'met' if r['ratio'] <= goal else 'not met'})"
        )
        cells.append(f"{name} ({r['audio_seconds']:g} s of audio) {r['ratio']:.2f}{met}")
    return (
        f"- **Cost**: voxref's time over Resemblyzer's, interleaved in one process, "
        f"{one['threads']} thread: " + ", ".join(cells) + " ([Speed](#speed))."
    )


def _prompt_line(prompt: dict[str, Any]) -> str | None:
    from benchmarks.prompt.report import set_summary

    rows = prompt.get("rows") or []
    if not rows:
        return None
    sets = list(dict.fromkeys(r["set"] for r in rows))
    s = {name: set_summary([r for r in rows if r["set"] == name]) for name in sets}
    only = {n: v["prompt_target_only"] for n, v in s.items() if v["prompt_target_only"] is not None}
    gain = {n: v["dnsmos_gain"] for n, v in s.items() if v["dnsmos_gain"] is not None}
    empty = sum(v["empty"] for v in s.values())
    worst = min(only, key=only.get)
    lo, hi = min(gain, key=gain.get), max(gain, key=gain.get)
    targets = len({r["target"] for r in rows})
    return (
        f"- **Prompt** ({targets} group-B targets, {len(sets)} sets): the target speaks alone in "
        f"{100 * only[worst]:.0f} % ({worst}) to {100 * max(only.values()):.0f} % of the "
        f"prompt's speech; DNSMOS OVRL of the prompt minus the best raw reference from "
        f"{gain[lo]:+.2f} ({lo}) to {gain[hi]:+.2f} ({hi}); {empty} empty prompt(s) "
        "([Reference prompts](#reference-prompts-voxrefprompt-on-truth-known-mixes))."
    )


def _audit_line(audit: dict[str, Any]) -> str | None:
    splits = {s["split"]: s for s in audit.get("splits", [])}
    rep, tun = splits.get("reporting"), splits.get("tuning")
    if rep is None:
        return None
    weakest = min(
        (k for k, v in rep["kinds"].items() if v.get("precision") is not None),
        key=lambda k: (rep["kinds"][k]["precision"], k),
    )
    tuned = f" (tuning A: {tun['clip_recall']:.2f} / {tun['clip_precision']:.2f})" if tun else ""
    return (
        f"- **Audit** (planted faults, reporting split B, thresholds chosen on A): clip recall "
        f"{rep['clip_recall']:.2f}, precision {rep['clip_precision']:.2f}{tuned}; lowest "
        f"precision on B: {weakest} {rep['kinds'][weakest]['precision']:.2f} "
        "([TTS dataset audit](#tts-dataset-audit-planted-faults-voxref-audit))."
    )


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def summary_markdown(results_dir: Path) -> str | None:
    """The summary section, or ``None`` without ``quality_group_B.json``."""
    b = _load(results_dir / "quality_group_B.json")
    if b is None:
        return None
    runs = {"B": b}
    a = _load(results_dir / "quality_group_A.json")
    if a is not None:
        runs["A"] = a
    rep = GroupRun(b)
    header = ["family", "B: ratio k=1", "B: ratio k=3", "B: verdict", "A: ratio k=3"]
    lines = [
        SUMMARY_TITLE,
        "",
        f"voxref's EER over the plain mean's (the same GE2E encoder, Resemblyzer's "
        f"`preprocess_wav` + mean) on the reporting voices (B, {rep.speakers()} speakers, chose "
        f"nothing), 95 % speaker-bootstrap interval; below 1 = voxref better; A = tuning voices "
        "(defaults chosen there). Details: "
        "[Headline per voice group](#headline-per-voice-group-tuning-voices-a-reporting-voices-b).",
        "",
        "| " + " | ".join(header) + " |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in summary_rows(runs)]
    by = _conditions_by_verdict(rep)
    lines.append("")
    if by.get("lower"):
        lines.append(
            "- **Better on B** (interval below 1 at k=1 and 3): " + ", ".join(by["lower"]) + "."
        )
    if by.get("lower at one k"):
        lines.append(
            "- **Better on B at one set size only** (no difference shown at the other): "
            + ", ".join(by["lower at one k"])
            + "."
        )
    if by.get("differs by k"):
        lines.append("- **Verdict differs by set size**: " + ", ".join(by["differs by k"]) + ".")
    if by.get("no difference shown"):
        lines.append(
            "- **No difference shown on B** (interval contains 1 at k=1 and 3): "
            + ", ".join(by["no difference shown"])
            + "."
        )
    lines.append(
        "- **Worse on B** (interval above 1): "
        + (", ".join(by["higher"]) if by.get("higher") else "none")
        + "."
    )
    speed = _load(results_dir / "speed.json")
    prompt = _load(results_dir / "prompt.json")
    audit = _load(results_dir / "audit.json")
    for line in (
        speed and _speed_line(speed),
        prompt and _prompt_line(prompt),
        audit and _audit_line(audit),
    ):
        if line:
            lines.append(line)
    lines.append(
        "- Decision records (why each default is what it is): [appendix](#appendix-decision-records)."
    )
    return "\n".join(lines)
