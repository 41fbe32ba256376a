"""``benchmarks/results/voice_grouping.md``: grouping references by voice, its thresholds and its
effect on the per-group quality benchmark.

Reads, from the results folder,

* ``quality_group_{A,B}.json``: the per-group headline run (code without grouping by voice);
* ``quality_group_{A,B}_voice_grouping.json``: the same run with grouping by one clean-speech
  threshold (every reference the clean stage let through votes);
* ``quality_group_{A,B}_voice_grouping_degraded.json``: the same run with degraded references
  (reverberant, overlapped, band-limited, noisy) grouped against their own threshold;
* ``voice_grouping_thresholds_{A,B}.json``: the cosines measured by
  ``scripts/voice_grouping_thresholds.py`` (thresholds chosen on A, checked on B).

Usage::

    python -m benchmarks.quality.voice_grouping [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)

RUNS = (
    ("", "no grouping"),
    ("_voice_grouping", "one threshold"),
    ("_voice_grouping_degraded", "degraded apart"),
)
CELLS = (("mixed", 3), ("mixed", 5), ("overlap-sir0dB", 3), ("overlap-sir0dB", 5))


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _eer(q: dict[str, Any], condition: str, k: int, method: str = "voxref") -> float | None:
    for r in q["results"]:
        if r["condition"] == condition and r["k"] == k and r["method"] == method:
            return 100.0 * r["eer"]
    return None


def _mean_degraded(q: dict[str, Any], k: int) -> float | None:
    vals = [
        100.0 * r["eer"]
        for r in q["results"]
        if r["k"] == k and r["method"] == "voxref" and r["family"] != "clean"
    ]
    return sum(vals) / len(vals) if vals else None


def _para(text: str) -> str:
    """``text`` wrapped like the other sections of BENCHMARKS.md (tables stay on one line)."""
    return textwrap.fill(text, 99, break_long_words=False, break_on_hyphens=False)


def _f(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def effect_table(results: Path) -> list[str]:
    """EER % of voxref per run and group, on the cells grouping changes."""
    head = ["group", "run", "commit"] + [f"{c} k={k}" for c, k in CELLS] + ["mean of degraded k=3"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    changed: list[str] = []
    compared = False
    for group in ("A", "B"):
        runs = [
            (name, _load(results / f"quality_group_{group}{suffix}.json")) for suffix, name in RUNS
        ]
        for name, q in runs:
            if q is None:
                continue
            commit = q["run"]["git"].get("commit", "")[:7] or "-"
            cells = [_f(_eer(q, c, k)) for c, k in CELLS] + [_f(_mean_degraded(q, 3))]
            role = "tuning" if group == "A" else "reporting"
            lines.append(f"| {group} ({role}) | {name} | {commit} | " + " | ".join(cells) + " |")
        main, new = runs[1][1], runs[2][1]
        if main is not None and new is not None:
            compared = True
            for r in new["results"]:
                if r["method"] != "voxref":
                    continue
                before = _eer(main, r["condition"], r["k"])
                after = 100.0 * r["eer"]
                if before is None or abs(after - before) > 1e-9:
                    changed.append(
                        f"{group} {r['condition']} k={r['k']}: {_f(before)} -> {after:.2f}"
                    )
    out = lines + [""]
    if compared:
        out.append(
            _para(
                "Cells that differ between the one-threshold and the degraded-apart runs (EER %): "
                + ("; ".join(changed) if changed else "none")
                + "."
            )
        )
    return out


def thresholds_table(results: Path) -> list[str]:
    """Cosine of a degraded reference to two clean references of its own / another voice."""
    out: list[str] = []
    for group in ("A", "B"):
        t = _load(results / f"voice_grouping_thresholds_{group}.json")
        if t is None:
            continue
        check = t["check"]
        role = "tuning: thresholds chosen here" if group == "A" else "reporting: checked only"
        out += [
            f"Group {group} ({role}; {len(t['measured']['voices'])} voices, "
            f"{t['n_degraded_per_condition']} utterances per voice and condition):",
            "",
            "| condition | same voice: cos mean (5th pct) | other voice: cos mean (95th pct) | "
            "judged sound | of those degraded | same voice set apart (one threshold) | "
            "other voice set apart (one threshold) |",
            "|---|---|---|---|---|---|---|",
        ]
        for cname, cell in t["summary"].items():
            same, other = cell["same"]["cosine_grouped"], cell["other"]["cosine_grouped"]
            ck = check["per_condition"][cname]
            out.append(
                f"| {cname} | {_f(same.get('mean'), '.3f')} ({_f(same.get('p05'), '.3f')}) | "
                f"{_f(other.get('mean'), '.3f')} ({_f(other.get('p95'), '.3f')}) | "
                f"{cell['same']['judged_share']:.0%} | "
                f"{_f(ck['same']['degraded_share'], '.0%')} | "
                f"{_f(ck['same']['set_apart_share'], '.0%')} "
                f"({_f(ck['same'].get('set_apart_share_one_threshold'), '.0%')}) | "
                f"{_f(ck['other']['set_apart_share'], '.0%')} "
                f"({_f(ck['other'].get('set_apart_share_one_threshold'), '.0%')}) |"
            )
        out.append("")
        if "chosen" in t:
            c = t["chosen"]
            out += [
                _para(
                    f"Chosen on A: reverberant from a decay time of {c['REVERBERANT_DECAY_S']:.3f} s "
                    f"(halfway between the largest clean clip, {c['clean_decay_max']:.3f} s, and the "
                    f"smallest RT60 0.3 s clip, {c['reverb_0.3s_decay_min']:.3f} s); degraded "
                    f"references are another voice below cosine {c['DEGRADED_VOICES_BELOW']:.2f} "
                    f"({c['rule']}; {c['n_degraded_same']} same-voice and {c['n_degraded_other']} "
                    "other-voice degraded references)."
                ),
                "",
            ]
    return out


def write(results: Path) -> Path:
    """Write ``voice_grouping.md`` in ``results``."""
    a = _load(results / "voice_grouping_thresholds_A.json") or {}
    shipped = a.get("check", {})
    parts = [
        "References that hold another voice are set apart (`voxref.embedder.pooling.voices`). "
        "Sound references are two voices below centroid cosine "
        f"{_f(shipped.get('DISTINCT_VOICES_BELOW'))} (chosen on clean fixture utterances); "
        "references the clean stage let through but that are degraded (reverberant by the "
        "decay-time estimate, overlapped, band-limited, or below 20 dB SNR) do not vote on "
        "which sound references are another voice, and a group of them is another voice below "
        f"cosine {_f(shipped.get('DEGRADED_VOICES_BELOW'))}.",
        "",
        "### Cosines per degradation",
        "",
        "Commands: `python scripts/voice_grouping_thresholds.py --voice-group A` (then `B`). A "
        "set is two clean utterances of a voice and one degraded utterance of the same voice "
        "(same) or of the next voice of the group (other), combined by `voxref.Embedder()`; "
        "cos = the degraded reference's embedding to the centroid of the two clean ones. "
        "Statistics over the references the clean stage judged sound (the others are not "
        "grouped); set apart = cosine below the threshold that applies to it.",
        "",
        *thresholds_table(results),
        "Limits: a reference overlapped by another talker over part of its length is seldom "
        "flagged as degraded (after the guided masking its measured overlap is near zero and "
        "its SNR estimate stays high), so it is grouped as a sound reference; band-limited "
        "(telephone) and strongly noisy references are judged weak by the clean stage and are "
        "not grouped at all.",
        "",
        "### Effect on the per-group quality benchmark",
        "",
        "The per-group headline command (`--conditions clean white-5dB pink-5dB brown-5dB "
        "babble-5dB reverb-0.6s telephone overlap-sir0dB overlap-sir5dB mixed`, voxref and the "
        "plain mean, `--no-diarization --workers 1`), on the code without grouping "
        "(`quality_group_{A,B}.json`), with one clean-speech threshold "
        "(`quality_group_{A,B}_voice_grouping.json`) and with degraded references apart "
        "(`quality_group_{A,B}_voice_grouping_degraded.json`). EER % of voxref:",
        "",
        *effect_table(results),
    ]
    parts = [line if line.startswith(("|", "#")) else _para(line) for line in parts]
    out = results / "voice_grouping.md"
    out.write_text("\n".join(parts).rstrip() + "\n")
    log.info("wrote %s", out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
