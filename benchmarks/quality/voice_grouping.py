"""``benchmarks/results/voice_grouping.md``: grouping references by voice, its thresholds and its
effect on the per-group quality benchmark.

Reads, from the results folder,

* ``quality_group_{A,B}_no_grouping.json``: the per-group headline run with grouping by voice
  switched off, on the code of the last grouping run (``--run-without-grouping A``, then ``B``);
  without it, ``quality_group_{A,B}.json`` (the headline run, older code);
* ``quality_group_{A,B}_voice_grouping.json``: the same run with grouping by one clean-speech
  threshold (every reference the clean stage let through votes);
* ``quality_group_{A,B}_voice_grouping_degraded.json``: the same run with degraded references
  (reverberant, overlapped, band-limited, noisy) grouped against their own threshold;
* ``quality_group_{A,B}_voice_grouping_best.json``: the same run where degraded references do not
  outvote the best-rated reference (``voxref.embedder.pooling.voices``);
* ``voice_grouping_thresholds_{A,B}.json``: the cosines measured by
  ``scripts/voice_grouping_thresholds.py`` (thresholds chosen on A, checked on B);
* ``voice_grouping_mixed_A.json``: which reference grouping sets apart in the mixed-bag sets of the
  tuning voices (``scripts/voice_grouping_mixed.py``) and the rules tried there.

Usage::

    python -m benchmarks.quality.voice_grouping [--results benchmarks/results]
    python -m benchmarks.quality.voice_grouping --run-without-grouping A  # then B
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
    ("_no_grouping", "no grouping"),
    ("_voice_grouping", "one threshold"),
    ("_voice_grouping_degraded", "degraded apart"),
    ("_voice_grouping_best", "best reference kept"),
)
CELLS = (("mixed", 3), ("mixed", 5), ("overlap-sir0dB", 3), ("overlap-sir0dB", 5))
#: The per-group headline conditions (the mixed-bag roles are drawn from them).
HEADLINE_CONDITIONS = (
    "clean white-5dB pink-5dB brown-5dB babble-5dB reverb-0.6s telephone overlap-sir0dB "
    "overlap-sir5dB mixed"
).split()


def _load_run(results: Path, group: str, suffix: str) -> dict[str, Any] | None:
    """A run's results; the no-grouping run falls back to the headline run of the group."""
    q = _load(results / f"quality_group_{group}{suffix}.json")
    if q is None and suffix == "_no_grouping":
        q = _load(results / f"quality_group_{group}.json")
    return q


def run_without_grouping(group: str, results: Path, corpus: Path) -> Path:
    """Run the per-group headline command with grouping by voice switched off (every usable
    reference pooled, as before grouping existed) on the current code, and write
    ``quality_group_{group}_no_grouping.json``: the baseline of the same code."""
    import tempfile

    import numpy as np

    from benchmarks import run as bench_run
    from voxref.embedder.pooling import voices

    def one_voice(references: Sequence, guide: Any = None) -> tuple[list, Any]:
        every = list(range(len(references)))
        return list(references), voices.VoiceGroups(
            [every], 0, "one voice", np.ones((1, 1), np.float32)
        )

    argv = [
        "--only", "quality", "--voice-group", group, "--speakers", "0",
        "--methods", "voxref", "resemblyzer", "--conditions", *HEADLINE_CONDITIONS,
        "--no-diarization", "--workers", "1", "--corpus", str(corpus),
    ]  # fmt: skip
    keep = voices.keep_one_voice
    voices.keep_one_voice = one_voice
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench_run.main([*argv, "--results", tmp, "--no-report"])
            q = json.loads((Path(tmp) / "quality.json").read_text())
    finally:
        voices.keep_one_voice = keep
    q["run"]["command"] = (
        f"python -m benchmarks.quality.voice_grouping --run-without-grouping {group} "
        f"--corpus {corpus}"
    )
    q["run"]["note"] = (
        "the headline command (" + " ".join(argv) + ") with grouping by voice switched off"
    )
    out = results / f"quality_group_{group}_no_grouping.json"
    out.write_text(json.dumps(q, indent=2) + "\n")
    log.info("wrote %s", out)
    return out


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
    changed: dict[tuple[int, int], list[str]] = {}
    for group in ("A", "B"):
        runs = [(name, _load_run(results, group, suffix)) for suffix, name in RUNS]
        for name, q in runs:
            if q is None:
                continue
            commit = q["run"]["git"].get("commit", "")[:7] or "-"
            cells = [_f(_eer(q, c, k)) for c, k in CELLS] + [_f(_mean_degraded(q, 3))]
            role = "tuning" if group == "A" else "reporting"
            lines.append(f"| {group} ({role}) | {name} | {commit} | " + " | ".join(cells) + " |")
        for a, b in ((1, 2), (2, 3)):
            main, new = runs[a][1], runs[b][1]
            if main is None or new is None:
                continue
            cells = changed.setdefault((a, b), [])
            for r in new["results"]:
                if r["method"] != "voxref" or r["eer"] is None:
                    continue
                before = _eer(main, r["condition"], r["k"])
                after = 100.0 * r["eer"]
                if before is None or abs(after - before) > 1e-9:
                    cells.append(
                        f"{group} {r['condition']} k={r['k']}: {_f(before)} -> {after:.2f}"
                    )
    out = lines + [""]
    for (a, b), cells in changed.items():
        out += [
            _para(
                f"Cells that differ between the {RUNS[a][1]} and the {RUNS[b][1]} runs (EER %): "
                + ("; ".join(cells) if cells else "none")
                + "."
            ),
            "",
        ]
    return out


def mixed_bag_section(results: Path) -> list[str]:
    """What grouping sets apart in the tuning voices' mixed-bag sets, and the rules tried."""
    m = _load(results / "voice_grouping_mixed_A.json")
    if m is None:
        return []
    t = m["totals"]
    apart = ", ".join(f"{n} {c}" for c, n in t["set_apart_by_condition"].items())
    f = m.get("findings", {})
    out = [
        "### The mixed bag on the tuning voices",
        "",
        "Command: `python scripts/voice_grouping_mixed.py --voice-group A --cache DIR` (the "
        "benchmark's mixed sets rebuilt from its prepared-items cache; every reference of a set "
        "is the same speaker, so every reference set apart is a wrong call by the truth). "
        f"Measured on {f.get('measured_on', 'the shipped grouping')}. Grouping changes "
        f"{t['split']} of {t['sets']} sets (k=3 and k=5); references set apart: {apart} "
        f"({t['set_apart_read_as_sound']} of them read as sound, "
        f"{t['set_apart_with_other_speaker_found']} with another speaker found by the guided "
        f"activity). {f.get('summary', '')}",
        "",
        f.get("eer_gap", ""),
        "",
    ]
    runs = m.get("eer_percent", {})
    if runs:
        cells = list(next(iter(runs.values())))
        out += [
            "| run (group A, prepared-items cache) | " + " | ".join(cells) + " |",
            "|---|" + "---|" * len(cells),
            *(
                f"| {name} | " + " | ".join(_f(v.get(c)) for c in cells) + " |"
                for name, v in runs.items()
            ),
            "",
        ]
    for name, text in f.get("rules_tried_on_A", {}).items():
        out += [f"Rule tried, {name.replace('_', ' ')}: {text}", ""]
    if f.get("conclusion"):
        out += [f["conclusion"], ""]
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
        f"cosine {_f(shipped.get('DEGRADED_VOICES_BELOW'))}. A group holding a reference the "
        "clean stage rated best (nothing wrong with it, not degraded) is not outvoted by a larger "
        "group holding no such reference and no more sound references: the result is a blend.",
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
        "babble-5dB reverb-0.6s telephone overlap-sir0dB overlap-sir5dB mixed`, voxref and "
        "Resemblyzer, `--no-diarization --workers 1`) without grouping "
        "(`quality_group_{A,B}_no_grouping.json`: grouping switched off on the code of the last "
        "grouping run), with one clean-speech threshold "
        "(`quality_group_{A,B}_voice_grouping.json`) and with degraded references apart "
        "(`quality_group_{A,B}_voice_grouping_degraded.json`) and with the best-rated reference "
        "kept from being outvoted (`quality_group_{A,B}_voice_grouping_best.json`). EER % of "
        "voxref:",
        "",
        *effect_table(results),
        *mixed_bag_section(results),
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
    ap.add_argument(
        "--run-without-grouping",
        choices=("A", "B"),
        help="first run the headline command of this voice group with grouping switched off",
    )
    ap.add_argument("--corpus", type=Path, default=Path("benchmarks/work/corpus"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.run_without_grouping:
        run_without_grouping(args.run_without_grouping, args.results, args.corpus)
    write(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
