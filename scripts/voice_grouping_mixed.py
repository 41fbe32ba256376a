"""Which reference grouping by voice sets apart in the quality benchmark's mixed-bag sets.

A mixed-bag set (``benchmarks.quality.conditions.mixed_roles``) is one clean reference of a
speaker and degraded references of the same speaker, so every reference set apart as "another
voice" is a wrong call. This script rebuilds the mixed sets of one voice group exactly as the
quality benchmark does (same split, sets and roles), reads the per-clip prepared items from the
benchmark's prepared-items cache (``python -m benchmarks.run --only quality ... --cache DIR``
must have run first with the same corpus and conditions), combines every set with the default
``voxref.Embedder()`` and, for every set where grouping sets a reference apart, records which
reference, its condition (the benchmark's truth), what its quality report says, whether grouping
called it degraded, the activity of the guided masking and the cosines between the references.
It also scores each set's embedding with and without grouping against the centroid of the
speaker's clean test clips.

Usage::

    python scripts/voice_grouping_mixed.py --voice-group A --cache benchmarks/work/cache \
        --runs "no grouping=RESULTS/quality.json" ... --notes FINDINGS.json

``--runs`` quotes the EER of voxref on the mixed and overlap-sir0dB cells of quality-benchmark
results of the same group (the code on main, without grouping, with a rule tried); ``--notes``
stores a JSON object of written findings beside the measurements. Writes
``benchmarks/results/voice_grouping_mixed_{group}.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "src"))

log = logging.getLogger("voice_grouping_mixed")

#: The conditions of the per-group headline run (the mixed roles are drawn from them).
HEADLINE_CONDITIONS = (
    "clean white-5dB pink-5dB brown-5dB babble-5dB reverb-0.6s telephone overlap-sir0dB "
    "overlap-sir5dB mixed"
).split()
QUALITY_FIELDS = (
    "verdict",
    "reasons",
    "snr_db",
    "overlap_ratio",
    "bandwidth_hz",
    "decay_s",
    "speech_s",
)


def _r(x: Any, nd: int = 3) -> Any:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return x
    return round(v, nd) if np.isfinite(v) else None


def _unit(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), 1e-12)


def build(voice_group: str, corpus: Path, cache_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Rebuild the mixed sets of ``voice_group`` and diagnose grouping on each."""
    from benchmarks.quality.cache import PreparedCache, code_fingerprint
    from benchmarks.quality.conditions import get_condition
    from benchmarks.quality.harness import QualityConfig, _mixed_plan, group_clips
    from benchmarks.quality.methods import Failed, make_method
    from benchmarks.quality.split import load_manifest, split_corpus
    from benchmarks.quality.trials import enrollment_sets, make_trials

    from voxref.embedder.pooling import voices as voices_mod

    config = QualityConfig.preset(False, corpus, voice_group=voice_group, seed=seed)
    split = split_corpus(
        group_clips(load_manifest(config.corpus), voice_group),
        n_enroll=config.n_enroll,
        n_test=config.n_test,
        n_interferers=config.n_interferers,
        max_trial_speakers=config.max_trial_speakers,
        seed=seed,
    )
    regular = [get_condition(n) for n in HEADLINE_CONDITIONS if n != "mixed"]
    sets = {k: enrollment_sets(split, k, config.max_sets, seed) for k in (3, 5)}
    plan = _mixed_plan(sets, regular, seed)
    extra = [seed, config.corpus.resolve(), config.corpus_level_dbfs, *sorted(split.interferers)]
    manifest = config.corpus / "manifest.json"
    extra.append(manifest.read_text() if manifest.is_file() else "")
    cache = PreparedCache(cache_dir, code_fingerprint(map(str, extra)))
    method = make_method("voxref")
    group = method.prepare_group
    items = {c.name: cache.load(group, c.name) for c in regular}
    missing = [n for n, v in items.items() if not v]
    if missing:
        raise SystemExit(f"no cached items for {missing} in {cache.folder}: run the benchmark")
    emb = method.embedder
    test_clip = {c.key: method.combine([items["clean"][c.key]]) for c in split.test_clips()}
    test = {}
    for spk in split.trial_speakers:
        vecs = [test_clip[c.key] for c in split.test_clips() if c.speaker == spk]
        test[spk] = _unit(np.mean([v for v in vecs if v is not None], axis=0))
    trials = {k: make_trials(sets[k], split, seed) for k in sets}

    def trial_scores(k: int, index: int, vec: np.ndarray) -> dict[str, Any]:
        t = trials[k]
        mine = [j for j, i in enumerate(t.set_index) if i == index]
        sc = [
            (bool(t.target[j]), float(_unit(vec) @ test_clip[t.test_keys[j]]))
            for j in mine
            if test_clip[t.test_keys[j]] is not None
        ]
        tgt = [x for is_t, x in sc if is_t]
        imp = [x for is_t, x in sc if not is_t]
        return {
            "target_min": _r(min(tgt)),
            "target_mean": _r(np.mean(tgt)),
            "impostor_max": _r(max(imp)),
            "impostor_mean": _r(np.mean(imp)),
        }

    real_keep = voices_mod.keep_one_voice

    def no_grouping(references, guide=None):
        every = list(range(len(references)))
        return list(references), voices_mod.VoiceGroups(
            [every], 0, "one voice", np.ones((1, 1), np.float32)
        )

    rows: list[dict[str, Any]] = []
    totals = {"sets": 0, "split": 0, "clean_set_apart": 0}
    for k, roles in plan.items():
        for index, (es, r) in enumerate(zip(sets[k], roles)):
            prepared = [items[cond][c.key] for cond, c in zip(r, es.clips)]
            if any(isinstance(p, Failed) for p in prepared):
                from voxref.errors import InputFate

                prepared = [
                    InputFate(f"<ref {i}>", "rejected", p.reason) if isinstance(p, Failed) else p
                    for i, p in enumerate(prepared)
                ]
            res = emb.combine(prepared)
            voices_mod.keep_one_voice = no_grouping
            try:
                flat = emb.combine(prepared)
            finally:
                voices_mod.keep_one_voice = real_keep
            totals["sets"] += 1
            v = res.voices
            if v is None or not v.mixed:
                continue
            totals["split"] += 1
            refs = res.references
            e = {i: _unit(rr.embedding) for i, rr in enumerate(refs) if rr.embedding is not None}
            cos = {f"{i}-{j}": _r(e[i] @ e[j]) for i in e for j in e if i < j}
            per_ref = []
            for i, rr in enumerate(refs):
                q = rr.quality
                act = rr.activity
                per_ref.append(
                    {
                        "index": i,
                        "condition": r[i],
                        "set_apart": voices_mod.ANOTHER_VOICE in (rr.fate.reason or ""),
                        "fate": f"{rr.fate.status}: {rr.fate.reason}",
                        "weight": _r(rr.weight),
                        "quality": None
                        if q is None
                        else {f: _r(getattr(q, f, None)) for f in QUALITY_FIELDS},
                        "judged_sound": voices_mod._judged(rr),
                        "degraded": voices_mod.degraded_report(q),
                        "activity": None
                        if act is None
                        else {
                            "other_speakers": int(act.other_speakers),
                            "overlap_ratio": _r(act.overlap_ratio),
                            "mixed_ratio": _r(act.mixed_ratio),
                            "confidence": _r(act.confidence),
                        },
                        "cos_to_speaker_test": None if i not in e else _r(e[i] @ test[es.speaker]),
                    }
                )
            if any(p["set_apart"] and p["condition"] == "clean" for p in per_ref):
                totals["clean_set_apart"] += 1
            rows.append(
                {
                    "set": es.set_id,
                    "k": k,
                    "groups": v.groups,
                    "how": v.how,
                    "group_cosines": np.round(v.cosines, 3).tolist(),
                    "references": per_ref,
                    "cosines": cos,
                    "cos_to_speaker_test": {
                        "grouped": _r(_unit(res.embedding) @ test[es.speaker]),
                        "no_grouping": _r(_unit(flat.embedding) @ test[es.speaker]),
                    },
                    "trial_scores": {
                        "grouped": trial_scores(k, index, res.embedding),
                        "no_grouping": trial_scores(k, index, flat.embedding),
                    },
                }
            )
    apart = [ref for row in rows for ref in row["references"] if ref["set_apart"]]
    totals["set_apart_by_condition"] = {
        c: sum(ref["condition"] == c for ref in apart)
        for c in sorted({a["condition"] for a in apart})
    }
    totals["set_apart_read_as_sound"] = sum(not ref["degraded"] for ref in apart)
    totals["set_apart_with_other_speaker_found"] = sum(
        bool(ref["activity"] and ref["activity"]["other_speakers"] > 0) for ref in apart
    )
    return {
        "voice_group": voice_group,
        "conditions": HEADLINE_CONDITIONS,
        "totals": totals,
        "sets": rows,
    }


def eer_cells(path: Path) -> dict[str, float | None]:
    """EER % of voxref on the cells grouping changes, from a quality-benchmark JSON."""
    q = json.loads(path.read_text())
    return {
        f"{r['condition']} k={r['k']}": _r(100.0 * r["eer"], 2) if r["eer"] is not None else None
        for r in q["results"]
        if r["method"] == "voxref" and r["k"] > 1 and r["condition"] in ("mixed", "overlap-sir0dB")
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voice-group", choices=("A", "B"), default="A")
    ap.add_argument("--corpus", type=Path, default=REPO_ROOT / "benchmarks" / "work" / "corpus")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--runs",
        nargs="*",
        default=[],
        metavar="NAME=QUALITY_JSON",
        help="quality-benchmark results of the same group to quote (EER of voxref per cell)",
    )
    ap.add_argument(
        "--notes", type=Path, default=None, help="JSON object of findings stored as 'findings'"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = args.out or REPO_ROOT / "benchmarks" / "results" / (
        f"voice_grouping_mixed_{args.voice_group}.json"
    )
    result = build(args.voice_group, args.corpus, args.cache)
    runs = dict(spec.split("=", 1) for spec in args.runs)
    result["eer_percent"] = {name: eer_cells(Path(path)) for name, path in runs.items()}
    if args.notes is not None:
        result["findings"] = json.loads(args.notes.read_text())
    order = ("voice_group", "findings", "eer_percent", "totals", "conditions", "sets")
    result = {k: result[k] for k in order if k in result}
    out.write_text(json.dumps(result, indent=1) + "\n")
    log.info("wrote %s: %s", out, result["totals"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
