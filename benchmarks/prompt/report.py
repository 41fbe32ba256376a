"""Markdown of the prompt benchmark (``prompt.md``, included in BENCHMARKS.md) from its JSON.

Run: ``python -m benchmarks.prompt.report [--results DIR]`` (``benchmarks.prompt.run`` calls it);
then ``python -m benchmarks.report`` regenerates BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from .sets import BABBLE_TALKERS, MIXED_ROLES, REFERENCE_SECONDS

NOISY = ("white-5dB", "pink-5dB", "babble-5dB")
"""Sets the DNSMOS goal (+0.3 over the best raw reference) applies to."""
NO_LOSS = ("clean", "mixed")
"""Sets whose best raw reference is clean: the goal there is no DNSMOS loss."""

THRESHOLD_A = Path(__file__).resolve().parents[1] / "results" / "prompt_similarity_threshold_A.json"
"""Output of ``scripts/prompt_similarity_threshold.py --voice-group A`` (quoted in the text)."""

GOALS = {
    "target_only": 0.98,
    "interferer": 0.01,
    "dnsmos_gain_noisy": 0.3,
    "cuts_in_sound": 0.0,
}


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _pct(x, nd: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{nd}f}%"


def _f(x, nd: int = 2, sign: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def set_summary(rows: list[dict]) -> dict:
    """Means over the targets of one set (cut shares pooled over all cut points)."""
    cuts = sum(r["prompt"]["cuts"] for r in rows)

    def pooled(key):
        if not cuts:
            return None
        return sum((r["prompt"][key] or 0.0) * r["prompt"]["cuts"] for r in rows) / cuts

    out = {
        "n": len(rows),
        "prompt_seconds": _mean([r["prompt_seconds"] for r in rows]),
        "too_short": sum(r["too_short_warning"] is not None for r in rows),
        "cuts": cuts,
        "cuts_in_sound": pooled("cuts_in_sound"),
        "cuts_in_utterance": pooled("cuts_in_utterance"),
        "cuts_audible": pooled("cuts_audible"),
        "seconds": statistics.median(r["seconds"] for r in rows),
    }
    scored = [r for r in rows if r["prompt"]["dnsmos_ovrl"] is not None]
    for who in ("prompt", "naive"):
        for key in ("target_only", "interferer", "pause"):
            out[f"{who}_{key}"] = _mean([r[who][key] for r in rows])
        for key in ("dnsmos_ovrl", "similarity"):
            out[f"{who}_{key}"] = _mean([r[who][key] for r in scored])
        out[f"{who}_min_target_only"] = _extreme(min, [r[who]["target_only"] for r in rows])
        out[f"{who}_max_interferer"] = _extreme(max, [r[who]["interferer"] for r in rows])
    out["empty"] = len(rows) - len(scored)
    for key in ("dnsmos_ovrl", "similarity"):
        # the oracle over the same targets as the prompt's mean (an empty prompt is not scored)
        out[f"best_raw_{key}"] = _mean([r["best_raw"][key] for r in scored])
        out[f"{key}_gain"] = _mean([r["prompt"][key] - r["best_raw"][key] for r in scored])
    out["dnsmos_gain"] = out.pop("dnsmos_ovrl_gain")
    return out


def _extreme(fn, xs):
    xs = [x for x in xs if x is not None]
    return fn(xs) if xs else None


def _threshold_lines(festival: list[str], threshold_json: Path) -> list[str]:
    """Where the similarity threshold used by the run comes from."""
    held_out = (
        f"; the {'targets' if len(festival) > 1 else 'target'} {', '.join(festival)} "
        f"{'are' if len(festival) > 1 else 'is'}."
        if festival
        else "."
    )
    text = (
        "The similarity threshold of `voxref.prompt` in this run (0.66) was chosen by an earlier "
        "form of `scripts/prompt_similarity_threshold.py` on pairs of espeak-ng and flite voices;"
        " flite slt / awb / kal are group-B voices, so flite targets and interferers are not "
        "strictly held out from it" + held_out
    )
    if threshold_json.exists():
        a = json.loads(threshold_json.read_text())
        c = a["confusion"]
        right = c["right_accepted"] + c["right_rejected"]
        wrong = c["wrong_accepted"] + c["wrong_rejected"]
        text += (
            f" On tuning voices only (group A: {a['pairs']} ordered pairs of "
            f"{len(a['voices'])} espeak-ng voices, clean and in white noise at 10 dB; "
            f"`benchmarks/results/{threshold_json.name}`) the script chooses "
            f"{a['threshold']:.2f} ({c['right_rejected']} of {right} pieces of the target "
            f"rejected, {c['wrong_accepted']} of {wrong} pieces of the other voice accepted). "
            "That value is not adopted: GE2E hardly separates some espeak-ng variants, so "
            "the cost is lowest where most pieces of the target are lost, and with it the "
            "pyannote-sample check in `tests/prompting` keeps no piece of one speaker. The "
            "shipped threshold is therefore still not a group-A choice."
        )
    return [text]


def markdown(data: dict, threshold_json: Path = THRESHOLD_A) -> str:
    """The prompt section (without its heading); ``threshold_json``: see :data:`THRESHOLD_A`."""
    rows = data["rows"]
    run = data["run"]
    targets = sorted({r["target"] for r in rows}, key=[r["target"] for r in rows].index)
    sets = sorted({r["set"] for r in rows}, key=[r["set"] for r in rows].index)
    commit = (run.get("git") or {}).get("commit") or "?"
    dirty = " (uncommitted changes)" if (run.get("git") or {}).get("dirty") else ""
    festival = [t for t in targets if t.startswith("festival-")]
    speeds = [r["seconds"] for r in rows]
    loads = [r["load_average_before"] for r in rows]
    partial = (
        f" **Cut short: {len(rows)} of {run['planned_prompts']} prompts measured.**"
        if run.get("complete") is False
        else ""
    )
    # a --rerun run measured some rows again; the rows before it came from the earlier run(s)
    how = ["continued with `--resume`" for _ in run.get("resumed", [])]
    if how and "--rerun" in run["command"]:
        how[0] = "the other rows"
    earlier = "".join(
        f"; {h} from `{r['command']}` at {((r.get('git') or {}).get('commit') or '?')[:7]}"
        for h, r in zip(how, run.get("resumed", []))
    )
    lines = [
        f"`{run['command']}` at {commit[:7]}{dirty}{earlier}{partial} (results: `benchmarks/results/prompt.json`; "
        "this text is generated by `python -m benchmarks.prompt.report`).",
        "",
        f"Reporting voices only (group B): targets {', '.join(targets)} ({len(targets)} per set);"
        " every interferer and babble talker is a group-B voice too. Each set is three "
        f"references of {REFERENCE_SECONDS:g} s of one target under one condition, built from "
        "separately kept tracks, so the truth is known per sample (`benchmarks/prompt/sets.py`):"
        " clean; white / pink noise at 5 dB SNR; babble of "
        f"{BABBLE_TALKERS} talkers at 5 dB (counted as noise, not as an interferer); "
        "an interferer over 40-60 % of each reference at SIR 0 / 5 dB; a conversation "
        "(turn-taking, no overlap, pauses of 0.3-0.8 s); a mixed bag "
        f"({' + '.join(MIXED_ROLES)}). A different interferer in each reference. Preset "
        f"`{data['preset']}`, defaults otherwise (DNSMOS of the chosen pieces on, since "
        "`speechmos` is installed).",
        "",
        *_threshold_lines(festival, threshold_json),
        "",
        "Columns: *target only* = share of the prompt's speech samples (on the references' "
        "timelines, cut margins included) where the target speaks alone (mean over targets; "
        "worst in brackets); *interferer* = share of all its samples where an interferer "
        "speaks (mean; worst); *cuts in a sound / audible* = share of cut points where the clean "
        "speech (all voices, no noise) within 10 ms of the cut is within 30 / 40 dB of its "
        "active level (pooled over targets; in brackets: inside an utterance, which includes "
        "the pauses between words, where every piece boundary of a prompt made of phrases lies; "
        "both levels are given because the synthesisers leave a residue 35-50 dB below the "
        "active level in some pauses between words, and the 30 dB line was drawn after seeing "
        "it); *OVRL* = DNSMOS P.835 overall, "
        "everything levelled to the prompt's level first; *best raw* = the best single whole "
        "raw reference (an oracle: chosen with the truth); *naive* = the first N s of the "
        "first reference, N = the prompt's length; *similarity* = cosine of `voxref.embed` of "
        "it to `voxref.embed` of held-out clean speech of the target.",
        "",
        "| set | prompt s | target only: prompt / naive | interferer: prompt / naive "
        "| cuts in a sound / audible (in an utterance) | OVRL: prompt / naive / best raw (prompt − best) "
        "| similarity: prompt / naive / best raw | s per prompt (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summaries = {}
    for name in sets:
        s = set_summary([r for r in rows if r["set"] == name])
        summaries[name] = s
        short = f" ({s['too_short']} short)" if s["too_short"] else ""
        if s["empty"]:
            short += f" ({s['empty']} empty: not scored)"
        lines.append(
            f"| {name} | {_f(s['prompt_seconds'], 1)}{short} "
            f"| {_pct(s['prompt_target_only'])} ({_pct(s['prompt_min_target_only'])}) / "
            f"{_pct(s['naive_target_only'])} "
            f"| {_pct(s['prompt_interferer'])} ({_pct(s['prompt_max_interferer'])}) / "
            f"{_pct(s['naive_interferer'])} "
            f"| {_pct(s['cuts_in_sound'], 0)} / {_pct(s['cuts_audible'], 0)} "
            f"({_pct(s['cuts_in_utterance'], 0)}) of {s['cuts']} "
            f"| {_f(s['prompt_dnsmos_ovrl'])} / {_f(s['naive_dnsmos_ovrl'])} / "
            f"{_f(s['best_raw_dnsmos_ovrl'])} ({_f(s['dnsmos_gain'], sign=True)}) "
            f"| {_f(s['prompt_similarity'], 3)} / {_f(s['naive_similarity'], 3)} / "
            f"{_f(s['best_raw_similarity'], 3)} "
            f"| {_f(s['seconds'], 0)} |"
        )
    lines += ["", "Per target:", ""]
    lines += [
        "| target | set | prompt s | pieces | target only | interferer | pause | cuts in a sound "
        "| OVRL prompt (best raw) | similarity prompt (best raw) | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["prompt"]
        lines.append(
            f"| {r['target']} | {r['set']} | {_f(r['prompt_seconds'], 1)} | {r['pieces']} "
            f"| {_pct(p['target_only'])} | {_pct(p['interferer'])} | {_pct(p['pause'])} "
            f"| {_pct(p['cuts_in_sound'], 0)} of {p['cuts']} "
            f"| {_f(p['dnsmos_ovrl'])} ({_f(r['best_raw']['dnsmos_ovrl'])}) "
            f"| {_f(p['similarity'], 3)} ({_f(r['best_raw']['similarity'], 3)}) "
            f"| {_f(r['seconds'], 0)} |"
        )
    lines += ["", "Goals:", ""]
    lines += _goal_lines(summaries)
    lines += [
        "",
        f"Speed: median {statistics.median(speeds):.0f} s per prompt from 3 x "
        f"{REFERENCE_SECONDS:g} s references (range {min(speeds):.0f}-{max(speeds):.0f} s over "
        f"{len(speeds)} prompts; models loaded before timing), one thread "
        f"(OMP_NUM_THREADS={(run.get('threads') or {}).get('OMP_NUM_THREADS')}), on a shared "
        f"{run['machine'].get('logical_cpus')}-core machine ({run['machine'].get('cpu')}) with "
        f"a 1-minute load average of {min(loads):.1f}-{max(loads):.1f} before the calls "
        "(other jobs running): indicative only. Whole run: "
        f"{sum(r.get('total_seconds', 0) for r in [run, *run.get('resumed', [])]) / 60:.0f} min"
        + (" (both parts)." if run.get("resumed") else "."),
    ]
    return "\n".join(lines)


def _goal_lines(s: dict) -> list[str]:
    out = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    worst_t = _extreme(min, [s[n]["prompt_min_target_only"] for n in s])
    worst_i = _extreme(max, [s[n]["prompt_max_interferer"] for n in s])
    missed_t = [n for n in s if (s[n]["prompt_min_target_only"] or 1.0) < GOALS["target_only"]]
    missed_i = [n for n in s if (s[n]["prompt_max_interferer"] or 0.0) > GOALS["interferer"]]
    empty = [n for n in s if s[n]["empty"]]
    if empty:
        out.append(
            "- a prompt for every set: **missed** (empty prompt, no usable piece fitted the "
            f"preset's maximum length, in: {', '.join(empty)}; such a prompt is left out of "
            "the means and goals below)."
        )
    out.append(
        f"- target only >= 98 % in every prompt: {verdict(not missed_t)} (worst "
        f"{_pct(worst_t)}{'; below in: ' + ', '.join(missed_t) if missed_t else ''})."
    )
    out.append(
        f"- interferer <= 1 % in every prompt: {verdict(not missed_i)} (worst "
        f"{_pct(worst_i)}{'; above in: ' + ', '.join(missed_i) if missed_i else ''})."
    )
    noisy = [n for n in NOISY if n in s]
    missed_d = [n for n in noisy if (s[n]["dnsmos_gain"] or 0.0) < GOALS["dnsmos_gain_noisy"]]
    if noisy:
        out.append(
            "- DNSMOS OVRL >= best raw reference + 0.3 on the noisy sets (mean per set): "
            f"{verdict(not missed_d)} ("
            + ", ".join(f"{n} {_f(s[n]['dnsmos_gain'], sign=True)}" for n in noisy)
            + ")."
        )
    clean = [n for n in NO_LOSS if n in s]
    if clean:
        lost = [n for n in clean if (s[n]["dnsmos_gain"] or 0.0) < -0.05]
        out.append(
            "- no DNSMOS loss where the best raw reference is clean: "
            f"{verdict(not lost)} ("
            + ", ".join(f"{n} {_f(s[n]['dnsmos_gain'], sign=True)}" for n in clean)
            + "; differences within 0.05 taken as no loss). Overlap and conversation sets have "
            "no DNSMOS goal (their raw references' scores include the interferer's voice)."
        )
    worse = [n for n in s if (s[n]["similarity_gain"] or 0.0) < 0]
    out.append(
        "- similarity of the prompt >= the best raw reference's (mean per set): "
        f"{verdict(not worse)} ("
        + ", ".join(f"{n} {_f(s[n]['similarity_gain'], 3, sign=True)}" for n in s)
        + ")."
    )
    cut_sets = [n for n in s if (s[n]["cuts_in_sound"] or 0) > 0]
    out.append(
        f"- no cut inside a sound (within 30 dB of the active level): {verdict(not cut_sets)}"
        + (
            " (" + ", ".join(f"{n} {_pct(s[n]['cuts_in_sound'], 0)}" for n in cut_sets) + ")."
            if cut_sets
            else "."
        )
    )
    return out


def write_markdown(data: dict, path: Path) -> Path:
    """Write :func:`markdown` of ``data`` to ``path``."""
    path.write_text(markdown(data).rstrip() + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: regenerate ``prompt.md`` from ``prompt.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    args = ap.parse_args(argv)
    data = json.loads((args.results / "prompt.json").read_text())
    write_markdown(data, args.results / "prompt.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
