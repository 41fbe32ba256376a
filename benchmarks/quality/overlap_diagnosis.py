"""Why overlapped references still pull a speaker embedding: per-enrollment diagnosis.

For every enrollment set of one condition (e.g. ``overlap-sir0dB``, ``k = 3``) this combines the
prepared references of the quality benchmark (``--cache`` of :mod:`benchmarks.run`, so nothing is
re-encoded) with :class:`voxref.Embedder` defaults and reports, per set and per reference:

* the overlapped share of each reference and its interferer (the degradation's own record);
* the reference weight voxref gives it and how many of its windows it keeps (effective count of
  the window weights);
* the cosine of each reference's pooled vector and of the set's embedding to the target speaker
  (mean of the speaker's clean test clips) and to the reference's interferer (mean of the
  interferer's clean clips).

The summary counts enrollments whose embedding is closer to an interferer than to the target.
With ``--mixed-conditions`` (the run's condition list, in its order: a mixed bag's roles are drawn
among them) it also reports, per role of the mixed bags, the mean reference weight and cosine to
the target, and the pooled vector's cosine next to that of the clean reference alone.
Two oracles bound what a mechanism working on time or on reference weights could gain:

* ``solo``: each overlapped clip embedded from the speech *outside* the overlapped region only
  (the region the degradation drew; clips with at least 1 s of it), against the whole clip;
* ``weights``: the set's references pooled with weights from the true overlapped share
  (``1.05 - fraction``, and a sharp ``exp(-10 fraction)``), against voxref's weights and a
  plain mean (mean cosine of the pooled vector to the target).

Run (tuning voices only)::

    python -m benchmarks.quality.overlap_diagnosis --voice-group A --cache DIR \\
        --conditions overlap-sir0dB overlap-sir5dB --k 1 3 5 --out diagnosis.json \\
        --mixed-conditions clean white-10dB ... mixed
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .conditions import InterfererBank, condition_rng, corpus_clip, degrade, get_condition
from .harness import SAMPLE_RATE, QualityConfig, _mixed_plan, prepared_cache, run_split
from .methods import Failed, make_method
from .trials import enrollment_sets

__all__ = ["diagnose", "main"]

log = logging.getLogger(__name__)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _clip_vector(item: Any) -> np.ndarray | None:
    """Plain mean of a prepared clip's window embeddings (unit norm)."""
    if item is None or isinstance(item, Failed):
        return None
    return _unit(np.asarray(item.windows.embeddings, dtype=np.float64).mean(axis=0))


def diagnose(
    config: QualityConfig, condition: str, ks: Sequence[int], method: str = "voxref"
) -> dict[str, Any]:
    """Per-set diagnosis of ``condition`` (see the module docstring)."""
    split = run_split(config)
    m = make_method(method)
    cache = prepared_cache(config, split)
    items = cache.load(m.prepare_group, condition)
    clean = cache.load(m.prepare_group, "clean")
    if not items or not clean:
        raise SystemExit(f"no cached items of {condition!r}/clean under {cache.folder}")
    cond = get_condition(condition)
    bank = InterfererBank(split, SAMPLE_RATE, config.corpus_level_dbfs)
    info: dict[str, dict[str, Any]] = {}
    for c in split.enroll_clips():
        x = corpus_clip(c.path, SAMPLE_RATE, config.corpus_level_dbfs)
        _, info[c.key] = degrade(cond, x, SAMPLE_RATE, c, bank, config.seed)
    target = {
        s: _unit(np.mean([_clip_vector(clean[c.key]) for c in split.test[s]], axis=0))
        for s in split.trial_speakers
    }
    embedder = m.embedder
    interferer: dict[str, np.ndarray] = {}
    for s, clips in split.interferers.items():
        vecs = []
        for c in clips:
            x = corpus_clip(c.path, SAMPLE_RATE, config.corpus_level_dbfs)
            vecs.append(_clip_vector(embedder.prepare((x, SAMPLE_RATE))))
        interferer[s] = _unit(np.mean(vecs, axis=0))
    out: dict[str, Any] = {"condition": condition, "method": method, "ks": {}}
    if cond.family == "overlap":
        out["solo_oracle"] = _solo_oracle(split, cond, bank, embedder.encoder, target, config)
    for k in ks:
        rows = []
        for es in enrollment_sets(split, k, config.max_sets, config.seed):
            prepared = [items[c.key] for c in es.clips]
            res = embedder.combine(prepared)
            e = _unit(res.embedding)
            t = target[es.speaker]
            refs = []
            for c, r in zip(es.clips, res.references):
                inf = info[c.key].get("interferer")
                ww = None if r.window_weights is None else np.asarray(r.window_weights, np.float64)
                refs.append(
                    {
                        "clip": c.key,
                        "fraction": info[c.key].get("fraction"),
                        "interferer": inf,
                        "weight": round(float(r.weight), 3),
                        "windows": 0 if ww is None else int(ww.size),
                        "windows_kept": None if ww is None else round(1 / float(np.sum(ww**2)), 2),
                        "cos_target": None
                        if r.embedding is None
                        else round(float(_unit(r.embedding) @ t), 3),
                        "cos_interferer": None
                        if r.embedding is None or inf is None
                        else round(float(_unit(r.embedding) @ interferer[inf]), 3),
                    }
                )
            units = np.stack([_unit(r.embedding) for r in res.references])
            f = np.array([info[c.key].get("fraction") or 0.0 for c in es.clips])
            pooled = {
                "voxref": float(e @ t),
                "mean": float(_unit(units.mean(axis=0)) @ t),
                "oracle": float(_unit(((1.05 - f)[:, None] * units).sum(axis=0)) @ t),
                "oracle_sharp": float(_unit((np.exp(-10 * f)[:, None] * units).sum(axis=0)) @ t),
            }
            infs = [r["interferer"] for r in refs if r["interferer"]]
            worst = max((float(e @ interferer[i]) for i in infs), default=float("nan"))
            rows.append(
                {
                    "set": es.set_id,
                    "cos_target": round(float(e @ t), 3),
                    "cos_interferer_max": round(worst, 3),
                    "closer_to_interferer": bool(worst > float(e @ t)),
                    "pooled_cos_target": {n: round(v, 4) for n, v in pooled.items()},
                    "refs": refs,
                }
            )
        closer = [r["closer_to_interferer"] for r in rows]
        out["ks"][str(k)] = {
            "n_sets": len(rows),
            "closer_to_interferer": round(float(np.mean(closer)), 3),
            "mean_cos_target": round(float(np.mean([r["cos_target"] for r in rows])), 3),
            "mean_cos_interferer_max": round(
                float(np.mean([r["cos_interferer_max"] for r in rows])), 3
            ),
            "pooled_cos_target": {
                n: round(float(np.mean([r["pooled_cos_target"][n] for r in rows])), 4)
                for n in rows[0]["pooled_cos_target"]
            },
            "by_overlapped_share": _by_share([r for row in rows for r in row["refs"]]),
            "rows": rows,
        }
    return out


def diagnose_mixed(
    config: QualityConfig, conditions: Sequence[str], ks: Sequence[int], method: str = "voxref"
) -> dict[str, Any]:
    """Mixed bags of a run over ``conditions``: weight and cosine to the target per role."""
    split = run_split(config)
    m = make_method(method)
    cache = prepared_cache(config, split)
    regular = [get_condition(c) for c in conditions if get_condition(c).family != "mixed"]
    items = {c.name: cache.load(m.prepare_group, c.name) for c in regular}
    if not all(items.values()):
        missing = [c for c, v in items.items() if not v]
        raise SystemExit(f"no cached items of {missing} under {cache.folder}")
    clean = items["clean"]
    target = {
        s: _unit(np.mean([_clip_vector(clean[c.key]) for c in split.test[s]], axis=0))
        for s in split.trial_speakers
    }
    ks = [k for k in ks if k >= 3]
    sets = {k: enrollment_sets(split, k, config.max_sets, config.seed) for k in ks}
    plan = _mixed_plan(sets, regular, config.seed)
    out: dict[str, Any] = {"conditions": list(conditions), "method": method, "ks": {}}
    for k in ks:
        per_role: dict[str, list[tuple[float, float]]] = {}
        pooled, clean_alone = [], []
        for es, roles in zip(sets[k], plan[k]):
            res = m.embedder.combine([items[r][c.key] for r, c in zip(roles, es.clips)])
            t = target[es.speaker]
            for r, ref in zip(roles, res.references):
                family = get_condition(r).family if r != "clean" else "clean"
                per_role.setdefault(family, []).append(
                    (float(ref.weight), float(_unit(ref.embedding) @ t))
                )
                if r == "clean":
                    clean_alone.append(float(_unit(ref.embedding) @ t))
            pooled.append(float(_unit(res.embedding) @ t))
        out["ks"][str(k)] = {
            "n_sets": len(sets[k]),
            "pooled_cos_target": round(float(np.mean(pooled)), 4),
            "clean_reference_cos_target": round(float(np.mean(clean_alone)), 4),
            "roles": {
                fam: {
                    "n": len(v),
                    "weight": round(float(np.mean([w for w, _ in v])), 3),
                    "cos_target": round(float(np.mean([c for _, c in v])), 3),
                }
                for fam, v in sorted(per_role.items())
            },
        }
    return out


def _by_share(refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """References grouped by overlapped share: mean weight, windows, cosines."""
    out = []
    for low, high in ((0.0, 0.5), (0.5, 0.75), (0.75, 1.01)):
        sel = [r for r in refs if r["fraction"] is not None and low <= r["fraction"] < high]
        if not sel:
            continue

        def mean(key: str, sel: list = sel) -> float:
            return round(float(np.mean([r[key] for r in sel if r[key] is not None])), 3)

        out.append(
            {
                "share": [low, min(high, 1.0)],
                "n": len(sel),
                "weight": mean("weight"),
                "windows": mean("windows"),
                "windows_kept": mean("windows_kept"),
                "cos_target": mean("cos_target"),
                "cos_interferer": mean("cos_interferer"),
                "closer_to_interferer": round(
                    float(np.mean([r["cos_interferer"] > r["cos_target"] for r in sel])), 3
                ),
            }
        )
    return out


def _solo_oracle(
    split: Any, cond: Any, bank: InterfererBank, encoder: Any, target: dict, config: QualityConfig
) -> dict[str, Any]:
    """Cosine to the target of each overlapped enrollment clip, whole and outside the overlap."""
    from voxref.augment.overlap import add_overlap

    p = cond.params
    rows = []
    for c in split.enroll_clips():
        x = corpus_clip(c.path, SAMPLE_RATE, config.corpus_level_dbfs)
        rng = condition_rng(p.get("seed_as", cond.name), c.key, config.seed)
        low, high = p["fraction"]
        fraction = float(rng.uniform(low, high))  # the draws of benchmarks.quality.conditions
        _, interferer = bank.interferer_for(c, rng)
        res = add_overlap(x, SAMPLE_RATE, interferer, p["sir_db"], fraction, rng=rng)
        y = res.samples
        solo = np.concatenate([y[: res.start], y[res.end :]])
        t = target[c.speaker]
        whole = float(_unit(encoder.embed_windows(y).embeddings.mean(axis=0)) @ t)
        alone = None
        if solo.size >= SAMPLE_RATE:
            alone = float(_unit(encoder.embed_windows(solo).embeddings.mean(axis=0)) @ t)
        rows.append({"clip": c.key, "fraction": res.fraction, "whole": whole, "solo": alone})
    both = [r for r in rows if r["solo"] is not None]
    return {
        "n_clips": len(rows),
        "n_with_1s_solo": len(both),
        "cos_whole": round(float(np.mean([r["whole"] for r in both])), 4) if both else None,
        "cos_solo": round(float(np.mean([r["solo"] for r in both])), 4) if both else None,
        "solo_better": round(float(np.mean([r["solo"] > r["whole"] for r in both])), 3)
        if both
        else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("benchmarks/work/corpus"))
    parser.add_argument("--voice-group", default="A")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--conditions", nargs="+", default=["overlap-sir0dB"])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--method", default="voxref")
    parser.add_argument(
        "--mixed-conditions", nargs="+", help="the run's conditions, in order (mixed bags)"
    )
    parser.add_argument("--out", type=Path, help="JSON of the summaries")
    parser.add_argument("--rows", action="store_true", help="also store every set in --out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = QualityConfig.preset(
        False, args.corpus, voice_group=args.voice_group, cache_dir=args.cache
    )
    results = []
    for condition in args.conditions:
        res = diagnose(config, condition, args.k, args.method)
        print(condition)
        for k, v in res["ks"].items():
            print(
                f"  k={k}: {v['n_sets']} sets, closer to an interferer "
                f"{100 * v['closer_to_interferer']:.1f} %, cos target {v['mean_cos_target']:.3f}, "
                f"cos interferer {v['mean_cos_interferer_max']:.3f}; pooled cos to target "
                f"{v['pooled_cos_target']}"
            )
            if not args.rows:
                del v["rows"]
        if "solo_oracle" in res:
            so = res["solo_oracle"]
            print(
                f"  solo oracle: {so['n_with_1s_solo']}/{so['n_clips']} clips with >= 1 s outside "
                f"the overlap; cos to target whole {so['cos_whole']}, solo {so['cos_solo']}, "
                f"solo better in {so['solo_better']}"
            )
        results.append(res)
    mixed = None
    if args.mixed_conditions:
        mixed = diagnose_mixed(config, args.mixed_conditions, args.k, args.method)
        for k, v in mixed["ks"].items():
            print(
                f"mixed k={k}: pooled cos to target {v['pooled_cos_target']}, clean reference "
                f"alone {v['clean_reference_cos_target']}; by role {v['roles']}"
            )
    if args.out:
        out = {"voice_group": args.voice_group, "results": results, "mixed": mixed}
        args.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
