"""Choose the thresholds of ``voxref audit`` on the tuning voices (group A) only.

Usage (from the repository root, after ``python -m benchmarks.audit.run``)::

    python -m benchmarks.audit.sweep

It reads the tuning split's stored measurements (``benchmarks/results/audit_measures.json``,
group A of :mod:`benchmarks.corpus.voice_split`; a reporting voice there stops it), re-flags
them with :func:`voxref.audit.flags.flag_clips` for every value of a grid per threshold and
applies one rule to each threshold, one at a time in the order of :data:`GRIDS` (the others at
their latest values):

1. no clean clip of A may be flagged for the threshold's reason (or as few as any value allows);
2. then the highest F1 of the reason: recall of its planted clips, precision of its flags (a
   clip planted with *another* fault and flagged for this reason counts as a wrong flag);
3. the values that tie on 1-2 are the *best range*. The current value is kept when it is in the
   best range (the sweep agrees); otherwise the median of the best range is chosen.

Passes repeat until one changes nothing (the thresholds of one reason move together). A value
that differs from :mod:`voxref.audit.flags` is then set there by hand; the JSON records both.

``channel_factor`` (:data:`voxref.audit.flags.CHANNEL_FACTOR`, not a ``thresholds=`` entry)
is swept the same way, by setting the module constant for the sweep.

Result: ``benchmarks/results/audit_sweep.json`` (the grid's counts per value, the best range,
the decision); ``python -m benchmarks.audit.run --rescore`` then puts the decision per threshold
into the BENCHMARKS.md section.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.audit.run import DEFAULT_RESULTS, MEASURES_FILE, SWEEP_FILE, flag_split

log = logging.getLogger("benchmarks.audit.sweep")

#: Threshold -> (the reason it decides, its grid).
GRIDS: dict[str, tuple[str, list[float]]] = {
    "too_short": ("too_short", [round(v, 2) for v in np.arange(0.25, 2.51, 0.25)]),
    "wrong_speaker": ("wrong_speaker", [round(v, 2) for v in np.arange(0.03, 0.501, 0.01)]),
    "channel_factor": ("wrong_speaker", [round(v, 2) for v in np.arange(1.0, 4.01, 0.25)]),
    "second_voice_drop": ("second_voice", [round(v, 2) for v in np.arange(0.03, 0.301, 0.01)]),
    "second_voice_overlap": (
        "second_voice",
        [round(v, 2) for v in np.arange(0.2, 0.901, 0.05)],
    ),
    "second_voice_spread": (
        "second_voice",
        [round(v, 2) for v in np.arange(0.05, 0.351, 0.01)],
    ),
    "noisy": ("noisy", [float(v) for v in range(0, 26)]),
    "clipped": ("clipped", [round(v, 4) for v in np.arange(0.0005, 0.01001, 0.0005)]),
    "narrowband": ("narrowband", [float(v) for v in range(3000, 8001, 250)]),
    "level_outlier": ("level_outlier", [float(v) for v in range(3, 31)]),
}

RULE = (
    "one threshold at a time, on the tuning split (group A) only, the others at their latest "
    "values: fewest clean clips flagged for its reason, then "
    "highest F1 of the reason (a clip of another planted fault flagged for it counts as a "
    "wrong flag); the values tying on both are the best range; the current value is kept if "
    "it lies in the best range, else the range's median is chosen; passes repeat until one "
    "changes nothing"
)


def _counts(
    truth: dict[str, tuple[str, str]], flags: list[Any], reason: str
) -> dict[str, int | float | None]:
    planted = [f for f in flags if truth[f.clip_id][1] == reason]
    flagged = [f for f in flags if reason in f.reasons]
    found = sum(reason in f.reasons for f in planted)
    right = sum(truth[f.clip_id][1] == reason for f in flagged)
    f1 = 2 * right / (len(planted) + len(flagged)) if planted or flagged else 0.0
    return {
        "planted": len(planted),
        "found": found,
        "recall": round(found / len(planted), 4) if planted else None,
        "flagged": len(flagged),
        "on_clean": sum(not truth[f.clip_id][1] for f in flagged),
        "on_other_fault": sum(truth[f.clip_id][1] not in ("", reason) for f in flagged),
        "f1": round(f1, 4),
    }


def _evaluate(
    record: dict[str, Any], chosen: dict[str, float], name: str, value: float, reason: str
) -> dict[str, Any]:
    from voxref.audit import flags as flags_module

    values = {**chosen, name: value}
    factor = values.pop("channel_factor", flags_module.CHANNEL_FACTOR)
    saved = flags_module.CHANNEL_FACTOR
    flags_module.CHANNEL_FACTOR = factor
    try:
        truth, flags = flag_split(record, values)
    finally:
        flags_module.CHANNEL_FACTOR = saved
    return {"value": value, **_counts(truth, flags, reason)}


def _key(row: dict[str, Any]) -> tuple:
    return (row["on_clean"], -row["f1"])


def current_values() -> dict[str, float]:
    """The values :mod:`voxref.audit.flags` holds now, for every swept threshold."""
    from voxref.audit import flags as flags_module

    return {
        name: float(flags_module.CHANNEL_FACTOR)
        if name == "channel_factor"
        else float(flags_module.DEFAULT_THRESHOLDS[name])
        for name in GRIDS
    }


def sweep_threshold(record: dict[str, Any], name: str, values: dict[str, float]) -> dict[str, Any]:
    """The grid of one threshold on a measured split, its best range and the decision.

    ``values``: every swept threshold's value; ``values[name]`` is the one to keep if it is in
    the best range.
    """
    reason, grid = GRIDS[name]
    current = float(values[name])
    rows = [_evaluate(record, values, name, v, reason) for v in sorted(set(grid) | {current})]
    best_key = min(_key(r) for r in rows)
    best = [r["value"] for r in rows if _key(r) == best_key]
    chosen = current if current in best else float(best[(len(best) - 1) // 2])
    at = {r["value"]: r for r in rows}
    return {
        "reason": reason,
        "chosen": chosen,
        "best_range": [min(best), max(best)],
        "best_values": best,
        "at_chosen": at[chosen],
        "grid": rows,
    }


def sweep(record: dict[str, Any], max_passes: int = 6) -> tuple[dict[str, Any], int]:
    """Sweep every threshold in turn, pass after pass, until a pass changes none.

    Returns the last pass's record per threshold (with ``previous``: the value of
    :mod:`voxref.audit.flags`, and the decision) and the number of passes.
    """
    start = current_values()
    values = dict(start)
    passes, changed = 0, True
    swept: dict[str, Any] = {}
    while changed:
        if passes == max_passes:
            raise RuntimeError(f"the sweep did not settle in {max_passes} passes: {values}")
        passes += 1
        changed = False
        for name in GRIDS:
            swept[name] = sweep_threshold(record, name, values)
            if swept[name]["chosen"] != values[name]:
                values[name] = swept[name]["chosen"]
                changed = True
    for name, d in swept.items():
        d["previous"] = start[name]
        d["decision"] = (
            "kept: the sweep on A agrees"
            if d["chosen"] == start[name]
            else f"changed from {start[name]:g} (outside the best range on A)"
        )
    return swept, passes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from benchmarks.corpus.voice_split import HEADLINE_ROTATION, require_tuning

    stored = json.loads((args.results / MEASURES_FILE).read_text())
    record = stored["splits"]["tuning"]
    speakers = sorted({c["speaker"] for c in record["clip_measures"]})
    require_tuning(speakers, HEADLINE_ROTATION)  # a group-B voice here chooses nothing
    swept, passes = sweep(record)
    out = {
        "rule": RULE,
        "split": "tuning",
        "rotation": HEADLINE_ROTATION,
        "speakers": speakers,
        "measured": stored["run"].get("date_utc"),
        "passes": passes,
        "thresholds": swept,
    }
    (args.results / SWEEP_FILE).write_text(json.dumps(out, indent=1) + "\n")
    for name, d in out["thresholds"].items():
        log.info(
            "%-21s %-8g best range %g..%g -> %g (%s)",
            name,
            d["previous"],
            *d["best_range"],
            d["chosen"],
            d["decision"],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
