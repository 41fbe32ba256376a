"""Planted-fault benchmark of ``voxref audit``: precision / recall per fault kind, throughput.

Usage (from the repository root)::

    python -m benchmarks.audit.run                 # tuning + held-out sets, 22 clips per voice
    python -m benchmarks.audit.run --split heldout

Each split is one multi-speaker LJSpeech-style set (``id|text|normalized|speaker``, audited with
``--speaker-column 3``): per voice, 12 clean clips and one planted clip of every fault kind of
:mod:`voxref.audit.synthetic`, plus a second ``wrong_speaker`` and ``second_voice`` clip. The
borrowed voices of a split come from the same split.

* ``tuning``: the six espeak-ng / flite (awb, slt, kal) voices of
  :mod:`voxref.separation.synthetic`: the thresholds of :mod:`voxref.audit.flags` were chosen
  looking at these numbers (the ``measures`` table lists, per threshold, the worst clean clip
  and the planted clips).
* ``heldout``: six other espeak-ng voices (variants the tuning split does not use), never looked
  at while choosing thresholds: the headline.

Per fault kind: recall (planted clips flagged with that reason), and the flags of that reason
on clean clips (false alarms) and on clips planted with another fault. Throughput: clips per
second of the audit's clip stage (one worker, start-up included) and of the whole audit.

Results: ``benchmarks/results/audit.json`` and ``benchmarks/results/audit.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_WORK = REPO / "benchmarks" / "work" / "audit"
DEFAULT_RESULTS = REPO / "benchmarks" / "results"

log = logging.getLogger("benchmarks.audit")

N_CLEAN = 12
EXTRA_FAULTS = ("wrong_speaker", "second_voice")


def split_voices(split: str) -> list[Any]:
    """The target voices of a split (see the module docstring)."""
    from voxref.separation.synthetic import VOICES, SyntheticVoice

    if split == "tuning":
        return list(VOICES)
    if split == "heldout":
        return [
            SyntheticVoice("espeak-us-f3", "espeak-ng", "en-us+f3", pitch=55, speed=170),
            SyntheticVoice("espeak-scot-m4", "espeak-ng", "en-gb-scotland+m4", pitch=45, speed=150),
            SyntheticVoice("espeak-gb-anika", "espeak-ng", "en+anika", pitch=60, speed=150),
            SyntheticVoice("espeak-us-travis", "espeak-ng", "en-us+travis", pitch=40, speed=170),
            SyntheticVoice("espeak-029-m5", "espeak-ng", "en-029+m5", pitch=50, speed=160),
            SyntheticVoice("espeak-rp-f4", "espeak-ng", "en-gb-x-rp+f4", pitch=65, speed=155),
        ]
    raise SystemExit(f"unknown split {split!r}; use tuning or heldout")


def build_split(split: str, root: Path) -> dict[str, tuple[str, str]]:
    """Write the split's set under ``root``; ``{clip id: (speaker, planted kind or "")}``."""
    from voxref.audit.synthetic import FAULT_KINDS, planted_dataset

    voices = split_voices(split)
    truth: dict[str, tuple[str, str]] = {}
    lines: list[str] = []
    for i, v in enumerate(voices):
        others = [o for o in voices if o != v]
        sub = root / f"_{v.name}"
        t = planted_dataset(
            sub,
            v,
            others,
            n_clean=N_CLEAN,
            faults=FAULT_KINDS + EXTRA_FAULTS,
            speaker=v.name,
            seed=100 + i,
            prefix=f"{v.name}-",
        )
        (root / "wavs").mkdir(parents=True, exist_ok=True)
        for cid, kind in t.items():
            shutil.move(str(sub / "wavs" / f"{cid}.wav"), root / "wavs" / f"{cid}.wav")
            truth[cid] = (v.name, kind)
        lines += (sub / "metadata.csv").read_text(encoding="utf-8").splitlines()
        shutil.rmtree(sub)
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return truth


def score(truth: dict[str, tuple[str, str]], flags: list[Any]) -> dict[str, Any]:
    """Recall and false alarms per kind; clip-level precision / recall."""
    from voxref.audit.flags import REASONS

    by_id = {f.clip_id: f for f in flags}
    kinds: dict[str, Any] = {}
    for r in REASONS:
        planted = [c for c, (_, k) in truth.items() if k == r]
        flagged = [c for c, f in by_id.items() if r in f.reasons]
        if not planted and not flagged:
            continue
        hits = [c for c in planted if r in by_id[c].reasons]
        kinds[r] = {
            "planted": len(planted),
            "found": len(hits),
            "recall": len(hits) / len(planted) if planted else None,
            "flagged": len(flagged),
            "precision": len([c for c in flagged if truth[c][1] == r]) / len(flagged)
            if flagged
            else None,
            "on_clean": len([c for c in flagged if not truth[c][1]]),
            "on_other_fault": len([c for c in flagged if truth[c][1] not in ("", r)]),
            "missed": sorted(set(planted) - set(hits)),
        }
    bad = {c for c, (_, k) in truth.items() if k}
    flagged = {c for c, f in by_id.items() if f.flagged}
    return {
        "kinds": kinds,
        "clips": len(truth),
        "planted": len(bad),
        "flagged": len(flagged),
        "clip_precision": len(bad & flagged) / len(flagged) if flagged else None,
        "clip_recall": len(bad & flagged) / len(bad) if bad else None,
        "clean_flagged": sorted(flagged - bad),
        "planted_missed": sorted(bad - flagged),
    }


def measures_table(truth: dict[str, tuple[str, str]], flags: list[Any]) -> dict[str, Any]:
    """Per measurement: the worst clean clip and each planted kind's values (the tuning view)."""
    import numpy as np

    def val(f: Any, key: str) -> float | None:
        m = f.measures
        if m is None or m.status != "ok":
            return None
        if key == "cosine_drop":
            same = [
                g.measures.cosine
                for g in flags
                if g.speaker == f.speaker and g.measures and g.measures.cosine is not None
            ]
            return None if m.cosine is None else float(np.median(same) - m.cosine)
        if key == "window_spread":
            return m.window_spread
        if key == "level_dev":
            same = [
                g.measures.level_dbfs
                for g in flags
                if g.speaker == f.speaker and g.measures and g.measures.level_dbfs is not None
            ]
            return None if m.level_dbfs is None else float(abs(m.level_dbfs - np.median(same)))
        return getattr(m, key)

    out: dict[str, Any] = {}
    for key, worst, kind in (
        ("speech_s", min, "too_short"),
        ("cosine_drop", max, "wrong_speaker"),
        ("overlap_ratio", max, "second_voice"),
        ("window_spread", max, "second_voice"),
        ("snr_db", min, "noisy"),
        ("clipping_ratio", max, "clipped"),
        ("bandwidth_hz", min, "narrowband"),
        ("level_dev", max, "level_outlier"),
    ):
        clean = [v for f in flags if not truth[f.clip_id][1] if (v := val(f, key)) is not None]
        planted = [
            v for f in flags if truth[f.clip_id][1] == kind if (v := val(f, key)) is not None
        ]
        out[key] = {
            "kind": kind,
            "clean_worst": worst(clean) if clean else None,
            "planted": sorted(round(v, 4) for v in planted),
        }
    return out


def run_split(split: str, work: Path, num_workers: int) -> dict[str, Any]:
    from voxref.audit import audit_dataset

    root = work / split / "dataset"
    out = work / split / "audit"
    for p in (root, out):
        if p.exists():
            shutil.rmtree(p)
    t0 = time.monotonic()
    truth = build_split(split, root)
    synth_s = time.monotonic() - t0
    t1 = time.monotonic()
    res = audit_dataset(root, out, speaker_column=3, num_workers=num_workers, progress=False)
    wall = time.monotonic() - t1
    b = res.batch
    return {
        "split": split,
        "voices": [v.name for v in split_voices(split)],
        "synthesis_seconds": round(synth_s, 2),
        "audit_seconds": round(wall, 2),
        "clip_stage_seconds": round(b.clip_stage_seconds, 2),
        "clips_per_second_clip_stage": round(b.clips_computed / b.clip_stage_seconds, 3)
        if b.clip_stage_seconds
        else None,
        "clips_per_second_audit": round(len(truth) / wall, 3),
        "audio_seconds": round(b.audio_seconds_computed, 1),
        "num_workers": num_workers,
        **score(truth, res.flags),
        "measures": measures_table(truth, res.flags),
    }


def _f(x: Any, spec: str = ".2f") -> str:
    return "–" if x is None else format(x, spec)


def markdown(result: dict[str, Any]) -> str:
    from voxref.audit.flags import DEFAULT_THRESHOLDS

    lines = [
        f"Command: `{result['run']['command']}`, commit `{(result['run'].get('git') or {}).get('commit', '?')[:12]}`, "
        f"{result['run'].get('date_utc')}.",
        "Each split is one multi-speaker LJSpeech-style set: per voice 12 clean clips and one "
        "planted clip of each fault kind, plus a second wrong-speaker and second-voice clip "
        "(22 clips per voice, `voxref.audit.synthetic`). Thresholds "
        f"(`voxref.audit.flags`): {', '.join(f'{k} {v:g}' for k, v in DEFAULT_THRESHOLDS.items())}; "
        "chosen on the **tuning** split (six espeak-ng / flite awb, slt, kal voices); the "
        "**held-out** split (six other espeak-ng voices) was not looked at while choosing them.",
        "",
    ]
    for s in result["splits"]:
        lines += [
            f"### {s['split']} ({len(s['voices'])} voices, {s['clips']} clips, {s['planted']} planted)",
            "",
            "| reason | planted | found | recall | flagged | precision | on clean clips | on other planted clips |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r, k in s["kinds"].items():
            lines.append(
                f"| {r} | {k['planted']} | {k['found']} | {_f(k['recall'])} | {k['flagged']} | "
                f"{_f(k['precision'])} | {k['on_clean']} | {k['on_other_fault']} |"
            )
        lines += [
            "",
            f"Clip level: precision {_f(s['clip_precision'])}, recall {_f(s['clip_recall'])} "
            f"({s['flagged']} flagged; clean clips flagged: {len(s['clean_flagged'])}; planted "
            f"clips missed: {', '.join(s['planted_missed']) or 'none'}).",
            "",
            f"Throughput ({s['num_workers']} worker(s), "
            f"{(result['run'].get('machine') or {}).get('logical_cpus')} shared CPUs with a 1-min "
            f"load average of {(result['run'].get('machine') or {}).get('load_average_1min')} at "
            "the start, start-up included): clip stage "
            f"{_f(s['clips_per_second_clip_stage'])} clips/s, whole audit "
            f"{_f(s['clips_per_second_audit'])} clips/s ({s['clips']} clips, "
            f"{s['audio_seconds']} s of audio, {s['audit_seconds']} s).",
            "",
        ]
        cd = s["measures"]["cosine_drop"]
        if cd["clean_worst"] is not None:
            inside = sum(v <= cd["clean_worst"] for v in cd["planted"])
            lines += [
                f"{inside} of {len(cd['planted'])} wrong-speaker clips lie no farther from their "
                "speaker's centroid than the farthest clean clip of the split (drop <= "
                f"{cd['clean_worst']:.3f}): the encoder (GE2E) hears those voices as the target, "
                "and no threshold on the distance can find them without dropping clean clips.",
                "",
            ]
        lines += [
            "| measurement | fault | worst clean clip | planted clips |",
            "|---|---|---:|---|",
        ]
        for key, m in s["measures"].items():
            lines.append(
                f"| {key} | {m['kind']} | {_f(m['clean_worst'], '.4g')} | "
                f"{', '.join(format(v, '.4g') for v in m['planted'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("tuning", "heldout", "both"), default="both")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--num-workers", type=int, default=1)
    parser.add_argument(
        "--markdown-only", action="store_true", help="rewrite audit.md from audit.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.markdown_only:
        result = json.loads((args.results / "audit.json").read_text())
        (args.results / "audit.md").write_text(markdown(result) + "\n")
        return 0
    from benchmarks.speed.machine import run_info

    splits = ["tuning", "heldout"] if args.split == "both" else [args.split]
    result = {
        "run": run_info(
            mode=args.split,
            command=["python", "-m", "benchmarks.audit.run", *(argv or sys.argv[1:])],
        ),
        "splits": [run_split(s, args.work, args.num_workers) for s in splits],
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "audit.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.results / "audit.md").write_text(markdown(result) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
