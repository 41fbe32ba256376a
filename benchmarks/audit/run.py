"""Planted-fault benchmark of ``voxref audit``: precision / recall per fault kind, throughput.

Usage (from the repository root)::

    python -m benchmarks.audit.run                  # tuning + reporting sets, 22 clips per voice
    python -m benchmarks.audit.run --split reporting
    python -m benchmarks.audit.sweep                # re-choose the thresholds on the tuning set
    python -m benchmarks.audit.run --rescore        # re-flag the stored measurements, no audio

Each split is one multi-speaker LJSpeech-style set (``id|text|normalized|speaker``, audited with
``--speaker-column 3``): per voice, 12 clean clips and one planted clip of every fault kind of
:mod:`voxref.audit.synthetic`, plus a second ``wrong_speaker`` and ``second_voice`` clip. The
borrowed voices of a split come from the same split. The voices follow the project's voice split
(:mod:`benchmarks.corpus.voice_split`, rotation ``A->B``):

* ``tuning``: group A, nine espeak-ng voices. The thresholds of :mod:`voxref.audit.flags` are
  chosen on this split only (:mod:`benchmarks.audit.sweep`).
* ``reporting``: group B, flite's awb, slt and kal (voices built from recordings of people):
  the headline, never looked at while choosing a threshold. festival's non-English voices and
  the pyannote sample are group B too but are not in this set: the planted-fault generator
  speaks English sentences through espeak-ng / flite only.

Per fault kind: recall (planted clips flagged with that reason), and the flags of that reason
on clean clips (false alarms) and on clips planted with another fault. Throughput: clips per
second of the audit's clip stage (one worker, start-up included) and of the whole audit.

Results: ``benchmarks/results/audit.json``, ``benchmarks/results/audit.md`` (the BENCHMARKS.md
section, with the decision per threshold from ``audit_sweep.json``) and
``benchmarks/results/audit_measures.json`` (every clip's measurements and planted kind, which
the sweep and ``--rescore`` read).
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


#: Candidate target voices (engine settings of :mod:`voxref.separation.synthetic`); the voice
#: split decides which side each one is on.
CANDIDATES = (
    ("espeak-us-m3", "espeak-ng", "en-us+m3", 40, 160),
    ("espeak-en-f4", "espeak-ng", "en+f4", 70, 175),
    ("espeak-gb-m7", "espeak-ng", "en-gb+m7", 30, 150),
    ("espeak-us-f3", "espeak-ng", "en-us+f3", 55, 170),
    ("espeak-scot-m4", "espeak-ng", "en-gb-scotland+m4", 45, 150),
    ("espeak-gb-anika", "espeak-ng", "en+anika", 60, 150),
    ("espeak-us-travis", "espeak-ng", "en-us+travis", 40, 170),
    ("espeak-029-m5", "espeak-ng", "en-029+m5", 50, 160),
    ("espeak-rp-f4", "espeak-ng", "en-gb-x-rp+f4", 65, 155),
    ("flite-slt", "flite", "slt", 50, 165),
    ("flite-awb", "flite", "awb", 50, 165),
    ("flite-kal", "flite", "kal", 50, 165),
)
SPLITS = ("tuning", "reporting")


def split_speakers(split: str) -> tuple[str, ...]:
    """Speaker ids of a split: the candidates' tuning or reporting side of rotation ``A->B``."""
    from benchmarks.corpus import voice_split

    if split not in SPLITS:
        raise SystemExit(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    rotation = voice_split.HEADLINE_ROTATION
    sides = voice_split.split_voices([c[0] for c in CANDIDATES], rotation)
    if split == "tuning":
        voice_split.require_tuning(sides.tuning, rotation)
        return sides.tuning
    return sides.reporting


def split_voices(split: str) -> list[Any]:
    """The target voices of a split (see the module docstring); no reserved voice."""
    from benchmarks.corpus.synth import check_not_reserved
    from voxref.separation.synthetic import SyntheticVoice

    ids = split_speakers(split)
    out = []
    for name, engine, voice, pitch, speed in CANDIDATES:
        if name in ids:
            check_not_reserved(engine, voice)
            out.append(SyntheticVoice(name, engine, voice, pitch=pitch, speed=speed))
    return out


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


def measure_split(split: str, work: Path, num_workers: int) -> dict[str, Any]:
    """Build a split's set, audit it; timing and every clip's measurements and planted kind."""
    from dataclasses import asdict

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
    clips = []
    for f in res.flags:
        d = asdict(f.measures)
        d.pop("embedding", None)
        d["path"] = Path(d["path"]).name  # no machine path in the results
        clips.append({**d, "planted": truth[f.clip_id][1]})
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
        "clip_measures": clips,
    }


def flag_split(record: dict[str, Any], thresholds: dict[str, float] | None = None) -> tuple:
    """``(truth, flags)`` of a measured split, flagged with ``thresholds`` (None: the defaults)."""
    from voxref.audit.flags import flag_clips
    from voxref.audit.measure import ClipMeasures

    measures, truth = [], {}
    for c in record["clip_measures"]:
        d = dict(c)
        kind = d.pop("planted")
        measures.append(ClipMeasures(**d))
        truth[d["clip_id"]] = (d["speaker"], kind)
    return truth, flag_clips(measures, thresholds=thresholds)


def evaluate_split(
    record: dict[str, Any], thresholds: dict[str, float] | None = None
) -> dict[str, Any]:
    """Scores of a measured split (the audit's own flags: same measurements, same rules)."""
    truth, flags = flag_split(record, thresholds)
    info = {k: v for k, v in record.items() if k != "clip_measures"}
    return {**info, **score(truth, flags), "measures": measures_table(truth, flags)}


def _f(x: Any, spec: str = ".2f") -> str:
    return "–" if x is None else format(x, spec)


_SPLIT_TITLES = {
    "tuning": "tuning split (group A, thresholds chosen here)",
    "reporting": "reporting split (group B: the headline)",
}


def _decisions(sweep: dict[str, Any]) -> list[str]:
    """The decision record: one line per threshold (where and how it was chosen)."""
    lines = [
        "**Decision record** (`python -m benchmarks.audit.sweep`, `audit_sweep.json`; rule: "
        f"{sweep['rule']}). Tuning voices: {', '.join(sweep['speakers'])}.",
        "",
        "| threshold | reason | value | chosen on | best range on A | at the value on A: "
        "recall / on clean / on other faults | decision |",
        "|---|---|---:|---|---|---|---|",
    ]
    for name, d in sweep["thresholds"].items():
        c = d["at_chosen"]
        lines.append(
            f"| {name} | {d['reason']} | {d['chosen']:g} | group A (tuning split) | "
            f"{d['best_range'][0]:g}-{d['best_range'][1]:g} | {_f(c['recall'])} / "
            f"{c['on_clean']} / {c['on_other_fault']} | {d['decision']} |"
        )
    lines.append("")
    return lines


def _before_after(result: dict[str, Any]) -> list[str]:
    prev = result["previous_thresholds"]
    changed = {k: v for k, v in prev.items() if result["thresholds"].get(k) != v}
    lines = [
        "Before / after the sweep's changes ("
        + ", ".join(f"{k} {v:g} -> {result['thresholds'][k]:g}" for k, v in changed.items())
        + "), same measurements:",
        "",
        "| split | reason | recall before | recall after | precision before | precision after |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for old, new in zip(result["splits_with_previous_thresholds"], result["splits"]):
        for r, k in new["kinds"].items():
            o = old["kinds"].get(r, {})
            lines.append(
                f"| {new['split']} | {r} | {_f(o.get('recall'))} | {_f(k['recall'])} | "
                f"{_f(o.get('precision'))} | {_f(k['precision'])} |"
            )
        lines.append(
            f"| {new['split']} | clips | {_f(old['clip_recall'])} | {_f(new['clip_recall'])} | "
            f"{_f(old['clip_precision'])} | {_f(new['clip_precision'])} |"
        )
    lines.append("")
    return lines


def markdown(result: dict[str, Any]) -> str:
    thresholds = result.get("thresholds")
    if thresholds is None:
        from voxref.audit.flags import DEFAULT_THRESHOLDS as thresholds
    run = result["run"]
    cmd = run["command"]
    lines = [
        f"Command: `{cmd if isinstance(cmd, str) else ' '.join(cmd)}` (measurements), then "
        "`python -m benchmarks.audit.sweep` and `python -m benchmarks.audit.run --rescore`; "
        f"measured at commit `{(run.get('git') or {}).get('commit', '?')[:12]}`, "
        f"{run.get('date_utc')}.",
        "Each split is one multi-speaker LJSpeech-style set: per voice 12 clean clips and one "
        "planted clip of each fault kind, plus a second wrong-speaker and second-voice clip "
        "(22 clips per voice, `voxref.audit.synthetic`; the borrowed voices come from the same "
        "split). The splits follow the voice split (`benchmarks/corpus/voice_split.py`, "
        "rotation A->B): every threshold is chosen on the **tuning** split (group A, espeak-ng "
        "voices) by the sweep below; the **reporting** split (group B: flite awb, slt, kal, "
        "voices built from recordings of people) is the headline and chose nothing. festival's "
        "non-English voices and the pyannote sample (also group B) are not in it: the "
        "planted-fault sets speak English through espeak-ng / flite only. Thresholds "
        f"(`voxref.audit.flags`): {', '.join(f'{k} {v:g}' for k, v in thresholds.items())}.",
        "",
    ]
    if result.get("sweep"):
        lines += _decisions(result["sweep"])
    if result.get("previous_thresholds"):
        lines += _before_after(result)
    for s in result["splits"]:
        lines += [
            f"### {_SPLIT_TITLES.get(s['split'], s['split'])}: {len(s['voices'])} voices, "
            f"{s['clips']} clips, {s['planted']} planted",
            "",
            f"Voices: {', '.join(s['voices'])}.",
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
            "Clean clips flagged, per reason: "
            + (
                ", ".join(f"{r} {k['on_clean']}" for r, k in s["kinds"].items() if k["on_clean"])
                or "none"
            )
            + (f" ({', '.join(s['clean_flagged'])})." if s["clean_flagged"] else "."),
            "",
            f"Throughput ({s['num_workers']} worker(s), "
            f"{(run.get('machine') or {}).get('logical_cpus')} shared CPUs with a 1-min "
            f"load average of {(run.get('machine') or {}).get('load_average_1min')} at "
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


MEASURES_FILE = "audit_measures.json"
SWEEP_FILE = "audit_sweep.json"


def write_results(results: Path) -> dict[str, Any]:
    """Flag the stored measurements with the current thresholds; write audit.json / audit.md."""
    from voxref.audit.flags import DEFAULT_THRESHOLDS

    stored = json.loads((results / MEASURES_FILE).read_text())
    sweep_path = results / SWEEP_FILE
    sweep = json.loads(sweep_path.read_text()) if sweep_path.is_file() else None
    previous = None
    if sweep is not None:
        previous = {k: d["previous"] for k, d in sweep["thresholds"].items()}
        previous = {k: v for k, v in previous.items() if k in DEFAULT_THRESHOLDS}
        if all(previous[k] == DEFAULT_THRESHOLDS[k] for k in previous):
            previous = None
    result = {
        "run": stored["run"],
        "thresholds": dict(DEFAULT_THRESHOLDS),
        "splits": [evaluate_split(stored["splits"][s]) for s in SPLITS if s in stored["splits"]],
        "sweep": None
        if sweep is None
        else {
            **sweep,
            "thresholds": {
                k: {f: v for f, v in d.items() if f != "grid"}
                for k, d in sweep["thresholds"].items()
            },
        },
    }
    if previous is not None:
        result["previous_thresholds"] = previous
        result["splits_with_previous_thresholds"] = [
            evaluate_split(stored["splits"][s], previous) for s in SPLITS if s in stored["splits"]
        ]
    (results / "audit.json").write_text(json.dumps(result, indent=1) + "\n")
    (results / "audit.md").write_text(markdown(result) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=(*SPLITS, "both"), default="both")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--num-workers", type=int, default=1)
    parser.add_argument(
        "--rescore",
        action="store_true",
        help=f"re-flag {MEASURES_FILE} with the current thresholds (no synthesis, no audit)",
    )
    parser.add_argument(
        "--markdown-only", action="store_true", help="rewrite audit.md from audit.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.markdown_only:
        result = json.loads((args.results / "audit.json").read_text())
        (args.results / "audit.md").write_text(markdown(result) + "\n")
        return 0
    if not args.rescore:
        from benchmarks.speed.machine import run_info

        splits = list(SPLITS) if args.split == "both" else [args.split]
        path = args.results / MEASURES_FILE
        stored = json.loads(path.read_text()) if path.is_file() and args.split != "both" else {}
        stored["run"] = run_info(
            mode=args.split,
            command=["python", "-m", "benchmarks.audit.run", *(argv or sys.argv[1:])],
        )
        stored.setdefault("splits", {})
        for s in splits:
            stored["splits"][s] = measure_split(s, args.work, args.num_workers)
        args.results.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=1) + "\n")
    result = write_results(args.results)
    log.info("%s", markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
