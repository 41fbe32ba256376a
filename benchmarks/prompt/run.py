"""Prompt benchmark: ``voxref.prompt`` on truth-known reference sets of reporting voices.

For every target voice of :data:`benchmarks.prompt.sets.TARGETS` (group B only) and every set of
:data:`benchmarks.prompt.sets.SETS` (three ~30 s references under one condition), it runs
``voxref.prompt`` (preset ``generic``, defaults otherwise) and measures on the truth:

* ``target_only``: share of the prompt's *speech* samples (on the references' timelines, cut
  margins included) where the target speaks and no interferer does; ``interferer``: share of all
  its samples where an interferer speaks; ``pause``: share where nobody does. Babble is noise,
  not an interferer;
* ``cuts_in_utterance`` / ``cuts_in_sound`` / ``cuts_audible``: share of cut points inside an
  utterance of anybody (which includes the pauses between its words: the truth has no word
  boundaries) / where the clean speech within 10 ms of the cut is within
  :data:`SOUND_BELOW_ACTIVE_DB` (the "inside a word" measure) / :data:`AUDIBLE_BELOW_ACTIVE_DB`
  of its active level; ``cut_levels_db``: that level at every cut;
* ``dnsmos_ovrl``: DNSMOS P.835 OVRL (``speechmos``) of the prompt, of the naive prompt (the
  first N seconds of the first reference, N = the prompt's length) and of every whole raw
  reference (the best of them: the best-raw-reference oracle), all levelled to the prompt's
  level first;
* ``similarity``: cosine of ``voxref.embed`` of the prompt / the naive prompt / every raw
  reference to ``voxref.embed`` of held-out clean speech of the target;
* ``seconds``: wall time of the ``voxref.prompt`` call (3 references of 30 s), with the 1-minute
  load average before it.

Run: ``python -m benchmarks.prompt.run [--targets ...] [--sets ...] [--results DIR]``; writes
``prompt.json`` and the generated ``prompt.md`` (:mod:`benchmarks.prompt.report`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .sets import SETS, SR, TARGETS, TUNING_TARGETS, Reference, held_out_clean, reference_set

log = logging.getLogger("benchmarks.prompt")

SOUND_BELOW_ACTIVE_DB = 30.0
"""A cut is *in a sound* when the clean speech within 10 ms of it is within this many dB of its
active level (the span the active level itself is measured over)."""
AUDIBLE_BELOW_ACTIVE_DB = 40.0
"""A cut is *in audible speech* when that level is within this many dB (includes the soft
residue the synthesisers leave between words)."""


def _share_above(levels: list[float], db: float) -> float | None:
    return sum(x > db for x in levels) / len(levels) if levels else None


PRESET = "generic"
REPO_ROOT = Path(__file__).resolve().parents[2]


def cut_spans(res) -> list[tuple[int, float, float]]:
    """``(reference, start, end)`` seconds of every stretch of a reference the prompt holds."""
    from voxref.prompting.render import CUT_MARGIN_S

    def margins(first, last):
        return (
            first.reference,
            first.start - min(CUT_MARGIN_S, 0.5 * first.pause_before),
            last.end + min(CUT_MARGIN_S, 0.5 * last.pause_after),
        )

    pieces = res.pieces
    if res.preset["contiguous"] and pieces:
        return [margins(pieces[0], pieces[-1])]
    return [margins(p, p) for p in pieces]


def _mask(spans: list[tuple[float, float]], a: int, b: int) -> np.ndarray:
    m = np.zeros(b - a, dtype=bool)
    for s, e in spans:
        lo, hi = max(a, int(s * SR)), min(b, int(e * SR))
        if hi > lo:
            m[lo - a : hi - a] = True
    return m


def cut_level_db(ref: Reference, t: float) -> float:
    """Level of the clean speech (all voices, no noise) within 10 ms of ``t``, in dB re its
    active level (:func:`voxref.audio.level.active_frame_powers`)."""
    from voxref.audio.level import active_frame_powers

    act = active_frame_powers(np.asarray(ref.speech, np.float32), SR)
    level = float(act.mean()) if act.size else 1.0
    c = int(t * SR)
    w = ref.speech[max(0, c - SR // 100) : c + SR // 100]
    p = float(np.mean(w**2)) if len(w) else 0.0
    return float(10 * np.log10(max(p, 1e-12) / level))


def purity(spans, refs: list[Reference]) -> dict:
    """Target / interferer / pause shares and cut points of ``spans`` on the truth."""
    tgt = itf = speech = total = 0
    cuts = in_utt = 0
    levels: list[float] = []
    for k, s, e in spans:
        ref = refs[k]
        a, b = max(0, int(s * SR)), min(len(ref.samples), int(e * SR))
        t = _mask(ref.target_spans, a, b)
        o = _mask(ref.interferer_spans, a, b)
        tgt += int((t & ~o).sum())
        itf += int(o.sum())
        speech += int((t | o).sum())
        total += b - a
        for c in (s, e):
            if 0.0 < c < len(ref.samples) / SR:
                cuts += 1
                in_utt += any(u < c < v for u, v in ref.target_spans + ref.interferer_spans)
                levels.append(cut_level_db(ref, c))
    return {
        "target_only": tgt / speech if speech else None,
        "interferer": itf / total if total else None,
        "pause": 1.0 - speech / total if total else None,
        "cuts": cuts,
        "cuts_in_utterance": in_utt / cuts if cuts else None,
        "cuts_in_sound": _share_above(levels, -SOUND_BELOW_ACTIVE_DB),
        "cuts_audible": _share_above(levels, -AUDIBLE_BELOW_ACTIVE_DB),
        "cut_levels_db": [round(x, 1) for x in levels],
        "seconds_of_audio": total / SR,
    }


class Scorer:
    """DNSMOS and target similarity, everything levelled to the prompt's level first."""

    def __init__(self) -> None:
        from voxref import Embedder

        self.embedder = Embedder()

    def _level(self, x: np.ndarray, sr: int) -> np.ndarray:
        from voxref.audio.level import normalize_level
        from voxref.prompting.presets import PROMPT_LEVEL_DBFS

        return np.asarray(normalize_level(x, sr, PROMPT_LEVEL_DBFS, band=None)[0], np.float32)

    def dnsmos(self, x: np.ndarray, sr: int) -> float:
        from voxref.cleaning.dnsmos import dnsmos_scores

        return float(dnsmos_scores(self._level(x, sr), sr)["ovrl_mos"])

    def embed(self, x: np.ndarray, sr: int) -> np.ndarray:
        e = np.asarray(self.embedder.embed([(np.asarray(x, np.float32), sr)]), dtype=np.float64)
        return e / np.linalg.norm(e)


def _fmt(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def run_set(target: str, condition: str, scorer: Scorer, truth: np.ndarray) -> dict:
    """One prompt from one set, measured against the truth and the two baselines."""
    import voxref

    refs = reference_set(target, condition)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = voxref.prompt([(r.samples, SR) for r in refs], preset=PRESET)
    wall = time.perf_counter() - t0
    short = [str(w.message) for w in caught if w.category.__name__ == "PromptTooShortWarning"]
    mine = purity(cut_spans(res), refs)
    n = max(res.duration, 1.0)
    naive = purity([(0, 0.0, n)], refs)
    naive_audio = refs[0].samples[: int(n * SR)]
    raw = [
        {
            "dnsmos_ovrl": scorer.dnsmos(r.samples, SR),
            "similarity": float(scorer.embed(r.samples, SR) @ truth),
            "condition": r.condition,
        }
        for r in refs
    ]
    empty = res.duration < 1.0  # no usable piece fitted: nothing to score (speechmos loops
    # forever on empty audio)
    mine |= {
        "dnsmos_ovrl": None if empty else scorer.dnsmos(res.audio, res.sample_rate),
        "similarity": None if empty else float(scorer.embed(res.audio, res.sample_rate) @ truth),
    }
    naive |= {
        "dnsmos_ovrl": scorer.dnsmos(naive_audio, SR),
        "similarity": float(scorer.embed(naive_audio, SR) @ truth),
    }
    row = {
        "target": target,
        "set": condition,
        "interferers": [r.interferer for r in refs],
        "preset": PRESET,
        "prompt_seconds": round(res.duration, 2),
        "pieces": len(res.pieces),
        "references_used": sorted({p.reference for p in res.pieces}),
        "too_short_warning": short[0] if short else None,
        "prompt": mine,
        "naive": naive,
        "raw_references": raw,
        "best_raw": {
            "dnsmos_ovrl": max(r["dnsmos_ovrl"] for r in raw),
            "similarity": max(r["similarity"] for r in raw),
        },
        "seconds": round(wall, 2),
        "load_average_before": round(load, 2),
    }
    log.info(
        "%s %s: %.1f s prompt, target-only %s, interferer %s, OVRL %s (best raw %.2f), "
        "sim %s (best raw %.3f), %.1f s",
        target,
        condition,
        res.duration,
        _fmt(mine["target_only"], 3),
        _fmt(mine["interferer"], 3),
        _fmt(mine["dnsmos_ovrl"], 2),
        row["best_raw"]["dnsmos_ovrl"],
        _fmt(mine["similarity"], 3),
        row["best_raw"]["similarity"],
        wall,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--voice-group",
        choices=("A", "B"),
        default="B",
        help="B: reporting voices (prompt.json); A: tuning voices (espeak-ng, prompt_A.json), "
        "the sets rules and thresholds are chosen on",
    )
    ap.add_argument(
        "--targets", nargs="+", choices=[*TARGETS, *TUNING_TARGETS], help="default: the group's"
    )
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--resume", action="store_true", help="keep the rows of the prompt.json there, run the rest"
    )
    ap.add_argument(
        "--rerun",
        action="store_true",
        help="keep the rows of the prompt.json there except those of --targets x --sets, which "
        "are run again (after a change that touches only some sets)",
    )
    ap.add_argument("--results", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    group = TARGETS if args.voice_group == "B" else TUNING_TARGETS
    if args.targets is None:
        args.targets = list(group)
    wrong = [t for t in args.targets if t not in group]
    if wrong:
        ap.error(f"targets {wrong} are not voices of group {args.voice_group}")
    name = "prompt" if args.voice_group == "B" else "prompt_A"
    from benchmarks.speed.machine import run_info, set_thread_env

    set_thread_env(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("voxref").setLevel(logging.ERROR)
    import torch

    torch.set_num_threads(args.threads)
    import voxref
    from benchmarks.run import recorded_command, write_json

    from .report import write_markdown

    command = recorded_command(argv if argv is not None else sys.argv[1:], "benchmarks.prompt.run")
    info = run_info("prompt", command)
    scorer = Scorer()
    t_start = time.perf_counter()
    # warm-up (model loading is not part of the per-prompt time)
    warm = reference_set(args.targets[0], "clean")[0].samples[: 8 * SR]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        voxref.prompt([(warm, SR)], preset=PRESET)
    rows: list[dict] = []
    args.results.mkdir(parents=True, exist_ok=True)
    planned = len(args.targets) * len(args.sets)
    if (args.resume or args.rerun) and (args.results / f"{name}.json").is_file():
        # continue a run cut short (or run some sets again): the other rows are kept, the
        # commands of both runs are recorded
        old = json.loads((args.results / f"{name}.json").read_text())
        rows = list(old["rows"])
        if args.rerun:
            again = {(t, c) for t in args.targets for c in args.sets}
            rows = [r for r in rows if (r["target"], r["set"]) not in again]
            planned = len(old["rows"])
        info["resumed"] = [old["run"], *old["run"].get("resumed", [])]
        info["resumed"][0].pop("resumed", None)
    done = {(r["target"], r["set"]) for r in rows}
    order = {
        t: k for k, t in enumerate(dict.fromkeys([*(r["target"] for r in rows), *args.targets]))
    }
    for target in args.targets:
        truth = scorer.embed(held_out_clean(target), SR)
        clean_dnsmos = scorer.dnsmos(held_out_clean(target), SR)
        for condition in args.sets:
            if (target, condition) in done:
                continue
            row = run_set(target, condition, scorer, truth)
            row["clean_speech_dnsmos_ovrl"] = clean_dnsmos
            rows.append(row)
            rows.sort(key=lambda r: (order.get(r["target"], len(order)), SETS.index(r["set"])))
            # written after every set: a run cut short keeps what it measured (and says so)
            info["load_average_1min_after"] = round(os.getloadavg()[0], 2)
            info["total_seconds"] = round(time.perf_counter() - t_start, 1)
            info["complete"] = len(rows) == planned
            info["planned_prompts"] = planned
            data = {"run": info, "preset": PRESET, "rows": rows}
            write_json(args.results / f"{name}.json", data)
            write_markdown(data, args.results / f"{name}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
