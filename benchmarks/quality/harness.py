"""Quality benchmark: verification EER / minDCF of every method under every degradation condition.

Flow of :func:`run_quality`:

1. Split the corpus (:mod:`.split`): trial speakers with enrollment/test clips, interferers.
2. Build enrollment sets for each ``k`` and one balanced trial list per ``k`` (:mod:`.trials`).
3. Condition by condition (``clean`` first): degrade every enrollment clip (:mod:`.conditions`)
   and run each method's per-clip :meth:`~.methods.Method.prepare` in a process pool; on
   ``clean`` also the test clips, then let methods :meth:`~.methods.Method.fit` on clean clips.
4. For each ``k``: :meth:`~.methods.Method.combine` every set, score its trials by cosine
   against the method's own single-file embedding of the clean test clip, compute EER / minDCF /
   mean cosines (:mod:`.metrics`) and the cosine between each set's embedding and the same set's
   clean embedding.
5. The ``mixed`` condition reuses prepared clips of the other conditions (kept in memory only
   where a mixed set needs them).
6. How sure the ratios are: a paired bootstrap over trial speakers (:mod:`.bootstrap`) gives
   the interval of ours / baseline EER per condition, per family and over all degraded
   conditions (``"uncertainty"`` in the JSON).

Examples
--------
>>> cfg = QualityConfig.preset(quick=True, corpus="benchmarks/work/corpus")
>>> cfg.ks, len(cfg.conditions) < len(QualityConfig.preset(False, "x").conditions)
((1, 3, 5), True)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..speed.machine import portable_path
from .conditions import (
    CORPUS_LEVEL_DBFS,
    QUICK_CONDITIONS,
    Condition,
    InterfererBank,
    corpus_clip,
    degrade,
    get_condition,
    known_conditions,
    mixed_roles,
    standard_conditions,
)
from .methods import DEFAULT_METHODS, Failed, Method, make_method
from .metrics import summarize_scores
from .split import Clip, CorpusSplit, load_manifest, split_corpus
from .trials import EnrollmentSet, Trials, enrollment_sets, make_trials

__all__ = ["QualityConfig", "run_quality", "SAMPLE_RATE"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000

MAX_FAILURE_EXAMPLES = 40
"""Rejected clips listed with their reason in the results (the counts cover all of them)."""


@dataclass(frozen=True)
class QualityConfig:
    """What the quality benchmark runs.

    Attributes
    ----------
    corpus
        Corpus folder (``manifest.json`` inside).
    mode
        Label stored in the results (``quick`` / ``full`` / anything).
    conditions, methods, ks
        Condition names, method names (the first is "ours" in ratios), set sizes.
    n_enroll, n_test
        Enrollment pool / test clips per trial speaker.
    n_interferers
        Interferer speakers (at least ``n_enroll``: one distinct interferer per reference).
    max_trial_speakers
        Cap on trial speakers (``None``: all that qualify).
    max_sets
        Enrollment sets per speaker and ``k``.
    workers, threads
        Processes for per-clip work, and torch/BLAS threads in each.
    seed
        Seed of every choice and degradation.
    diarization
        Also run the DER benchmark.
    cache_dir
        Folder of the prepared-items cache (:mod:`.cache`; ``None``: no cache). For ablations
        of combine-only options; published runs use none.
    corpus_level_dbfs
        Active level every corpus clip is scaled to before degradation
        (:data:`.conditions.CORPUS_LEVEL_DBFS`; ``None``: as rendered, the runs
        before the corpus was levelled).
    voice_group
        Keep only the corpus voices of this group of :mod:`benchmarks.corpus.voice_split`
        (``"A"``: espeak-ng; ``"B"``: flite, festival's non-English voices, pyannote's sample),
        trial speakers and interferers alike; ``None``: every voice. A run on ``"B"`` gives the
        reporting-set numbers of rotation ``A->B`` and the tuning-set numbers of ``B->A``.
    """

    corpus: Path
    mode: str = "full"
    conditions: tuple[str, ...] = field(
        default_factory=lambda: tuple(c.name for c in standard_conditions())
    )
    methods: tuple[str, ...] = DEFAULT_METHODS
    ks: tuple[int, ...] = (1, 3, 5)
    n_enroll: int = 6
    n_test: int = 6
    n_interferers: int = 6
    max_trial_speakers: int | None = None
    max_sets: int = 10
    workers: int = 2
    threads: int = 1
    seed: int = 0
    diarization: bool = True
    cache_dir: Path | None = None
    corpus_level_dbfs: float | None = CORPUS_LEVEL_DBFS
    voice_group: str | None = None

    @classmethod
    def preset(cls, quick: bool, corpus: str | Path, **overrides: Any) -> QualityConfig:
        """``--quick``: 10 speakers, 5+4 clips each, 7 conditions; full: all conditions and every
        speaker with 6+6 clips (26 of the default corpus; ~0.7 s CPU per clip and condition with
        all four default methods, so ~25 min on 2 idle cores)."""
        if quick:
            base = cls(
                corpus=Path(corpus),
                mode="quick",
                conditions=QUICK_CONDITIONS,
                n_enroll=5,
                n_test=4,
                n_interferers=5,
                max_trial_speakers=10,
                max_sets=5,
            )
        else:
            base = cls(corpus=Path(corpus))
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["corpus"] = portable_path(self.corpus)
        d["cache_dir"] = None if self.cache_dir is None else portable_path(self.cache_dir)
        return d


# ----------------------------------------------------------------------------- worker side
_WORKER: dict[str, Any] = {}


def _init_worker(config: QualityConfig, split: CorpusSplit) -> None:
    """Build the methods (one per prepare group) and the interferer audio in this process."""
    import torch

    torch.set_num_threads(max(1, config.threads))
    logging.getLogger("voxref").setLevel(logging.ERROR)  # rejected clips are counted, not logged
    preparers: dict[str, Method] = {}
    for name in config.methods:
        m = make_method(name)
        preparers.setdefault(m.prepare_group, m)
    for m in preparers.values():
        m.setup()
    _WORKER.update(
        preparers=preparers,
        bank=InterfererBank(split, SAMPLE_RATE, config.corpus_level_dbfs),
        corpus_level_dbfs=config.corpus_level_dbfs,
        seed=config.seed,
        conditions=known_conditions(),
    )


def _prepare_job(
    job: tuple[str, Clip, tuple[str, ...]],
) -> tuple[str, dict[str, Any], dict[str, float], dict]:
    """Degrade one clip and prepare it with the method groups ``job[2]``."""
    cond_name, clip, wanted = job
    c0 = time.process_time()
    x = corpus_clip(clip.path, SAMPLE_RATE, _WORKER["corpus_level_dbfs"])
    y, info = degrade(
        _WORKER["conditions"][cond_name], x, SAMPLE_RATE, clip, _WORKER["bank"], _WORKER["seed"]
    )
    cpu_seconds = {"degrade": time.process_time() - c0}
    items: dict[str, Any] = {}
    for group in wanted:
        method = _WORKER["preparers"][group]
        c = time.process_time()
        items[group] = method.prepare(y, SAMPLE_RATE, clip.key)
        cpu_seconds[group] = time.process_time() - c
    return clip.key, items, cpu_seconds, info


class _Runner:
    """Maps jobs in a process pool (or in this process when ``workers <= 1``)."""

    def __init__(self, config: QualityConfig, split: CorpusSplit) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if config.workers > 1:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                config.workers, mp_context=ctx, initializer=_init_worker, initargs=(config, split)
            )
        else:
            _init_worker(config, split)

    def map(
        self, jobs: list[tuple[str, Clip, tuple[str, ...]]]
    ) -> Iterable[tuple[str, dict, dict, dict]]:
        if self._pool is None:
            return map(_prepare_job, jobs)
        return self._pool.map(_prepare_job, jobs, chunksize=4)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


# ----------------------------------------------------------------------------- main side
def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def _stack(vectors: list[np.ndarray | None], dim: int) -> np.ndarray:
    out = np.full((len(vectors), dim), np.nan, dtype=np.float64)
    for i, v in enumerate(vectors):
        if v is not None:
            out[i] = v
    return out


def _score(
    set_emb: np.ndarray, test_emb: dict[str, np.ndarray | None], trials: Trials, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of each trial, and which trials could be scored."""
    tests = _stack([test_emb[k] for k in trials.test_keys], dim)
    scores = _cosines(set_emb[trials.set_index], tests)
    return scores, np.isfinite(scores)


def _evaluate(
    condition: Condition,
    k: int,
    method: Method,
    set_emb: np.ndarray,
    clean_emb: np.ndarray | None,
    test_emb: dict[str, np.ndarray | None],
    trials: Trials,
    keep_scores: dict[tuple[str, int, str], np.ndarray] | None = None,
) -> dict[str, Any]:
    dim = set_emb.shape[1]
    scores, ok = _score(set_emb, test_emb, trials, dim)
    if keep_scores is not None:
        keep_scores[(condition.name, k, method.name)] = np.where(ok, scores, np.nan)
    rec: dict[str, Any] = {
        "condition": condition.name,
        "family": condition.family,
        "k": k,
        "method": method.name,
        "n_sets": int(set_emb.shape[0]),
        "n_failed_sets": int(np.sum(~np.isfinite(set_emb).all(axis=1))),
        "n_failed_trials": int(np.sum(~ok)),
    }
    try:
        summary = summarize_scores(scores[ok], trials.target[ok], trials.same_gender[ok])
        rec.update(summary.to_dict())
    except ValueError as exc:
        rec.update(eer=None, min_dcf=None, error=str(exc))
    if clean_emb is not None:
        c = _cosines(set_emb, clean_emb)
        rec["degraded_vs_clean_cos"] = float(np.nanmean(c)) if np.isfinite(c).any() else None
    return rec


def _ratios(results: list[dict[str, Any]], ours: str) -> list[dict[str, Any]]:
    """EER and minDCF of ``ours`` divided by each other method's, per condition and k."""
    index = {(r["condition"], r["k"], r["method"]): r for r in results}
    out = []
    for (cond, k, method), base in index.items():
        mine = index.get((cond, k, ours))
        if method == ours or mine is None:
            continue
        row: dict[str, Any] = {"condition": cond, "k": k, "method": ours, "baseline": method}
        for metric in ("eer", "min_dcf"):
            a, b = mine.get(metric), base.get(metric)
            row[f"{metric}_ratio"] = (a / b) if (a is not None and b) else None
        out.append(row)
    return out


UNCERTAINTY_BASELINES = ("mean", "resemblyzer", "voxref-nolevel", "voxref")
"""Baselines whose EER ratio to ours gets a bootstrap interval (when they are in the run after
ours; ``voxref``: a variant run first gets its interval against the defaults;
BENCHMARKS.md tables show mean and resemblyzer, the JSON holds every one)."""


def _uncertainty(
    scores: dict[tuple[str, int, str], np.ndarray],
    conditions: list[Condition],
    sets: dict[int, list[EnrollmentSet]],
    trials: dict[int, Trials],
    ours: str,
    baselines: list[str],
    seed: int,
) -> dict[str, Any]:
    """Speaker-bootstrap intervals of ours / baseline EER: per condition, family and overall.

    One resample of the trial speakers per draw is shared by every condition and method of a
    ``k`` (paired), see :mod:`.bootstrap`. A method's EER uses the trials it could score, as in
    its reported EER.
    """
    from .bootstrap import N_BOOT, ratio_summary, speaker_bootstrap_eers, speaker_weights

    rows: list[dict[str, Any]] = []
    for k, tr in trials.items():
        speakers = np.array([sets[k][i].speaker for i in tr.set_index])
        draw = speaker_weights(speakers, N_BOOT, seed)
        boot: dict[tuple[str, str], np.ndarray] = {}
        for c in conditions:
            for m in (ours, *baselines):
                s = scores.get((c.name, k, m))
                if s is None:
                    continue
                ok = np.isfinite(s)  # the trials this method could score, as in its EER
                if (ok & tr.target).any() and (ok & ~tr.target).any():
                    boot[(c.name, m)] = speaker_bootstrap_eers(
                        {m: s[ok]}, tr.target[ok], speakers[ok], counts=draw
                    )[m]
        scopes: dict[str, list[str]] = {c.name: [c.name] for c in conditions}
        for fam in dict.fromkeys(c.family for c in conditions if c.family != "clean"):
            scopes[f"family:{fam}"] = [c.name for c in conditions if c.family == fam]
        scopes["degraded"] = [c.name for c in conditions if c.family != "clean"]
        for scope, names in scopes.items():
            for b in baselines:
                got = [n for n in names if (n, ours) in boot and (n, b) in boot]
                if not got or (scope.startswith("family:") and len(names) == 1):
                    continue
                # mean EER over the scope's conditions, per draw
                mean_a = np.mean(np.stack([boot[(n, ours)] for n in got]), axis=0)
                mean_b = np.mean(np.stack([boot[(n, b)] for n in got]), axis=0)
                rows.append(
                    {
                        "k": k,
                        "scope": scope,
                        "method": ours,
                        "baseline": b,
                        "n_conditions": len(got),
                    }
                    | ratio_summary(mean_a, mean_b)
                )
    return {
        "method": "paired bootstrap over trial speakers (percentile interval of the EER ratio; "
        "scopes with several conditions use the mean EER over them)",
        "n_boot": N_BOOT,
        "seed": seed,
        "rows": rows,
    }


def _mixed_plan(
    sets: dict[int, list[EnrollmentSet]], conditions: list[Condition], seed: int
) -> dict[int, list[list[str]]]:
    """For every k >= 3 and every set: the condition of each reference."""
    return {
        k: [mixed_roles(k, es.set_id, conditions, seed) for es in sk]
        for k, sk in sets.items()
        if k >= 3
    }


def group_clips(clips: list[Clip], voice_group: str | None) -> list[Clip]:
    """The clips whose speaker belongs to ``voice_group`` (all of them for ``None``)."""
    if voice_group is None:
        return clips
    from benchmarks.corpus.voice_split import GROUPS, family_group

    if voice_group not in GROUPS:
        raise ValueError(f"unknown voice group {voice_group!r}; use one of {', '.join(GROUPS)}")
    kept = [c for c in clips if family_group(c.speaker) == voice_group]
    if not kept:
        raise ValueError(f"the corpus has no voice of group {voice_group}; build a larger corpus")
    return kept


def run_split(config: QualityConfig) -> Any:
    """The speakers and clips of a run (its voice group's clips, split by ``config``)."""
    return split_corpus(
        group_clips(load_manifest(config.corpus), config.voice_group),
        n_enroll=config.n_enroll,
        n_test=config.n_test,
        n_interferers=config.n_interferers,
        max_trial_speakers=config.max_trial_speakers,
        seed=config.seed,
    )


def run_quality(config: QualityConfig, command: list[str] | None = None) -> dict[str, Any]:
    """Run the quality benchmark; return the JSON-ready result (see the module docstring)."""
    from benchmarks.speed.machine import run_info

    t_start = time.perf_counter()
    split = run_split(config)
    if len(split.interferers) < max(config.ks):
        raise ValueError(
            f"{len(split.interferers)} interferer speakers for sets of up to {max(config.ks)} "
            "references: each reference needs its own interferer; raise n_interferers."
        )
    conditions = [get_condition(n) for n in config.conditions]
    if not conditions or conditions[0].name != "clean":
        conditions = [get_condition("clean")] + [c for c in conditions if c.name != "clean"]
    regular = [c for c in conditions if c.family != "mixed"]
    mixed = next((c for c in conditions if c.family == "mixed"), None)
    methods = [make_method(n) for n in config.methods]
    groups = {m.name: m.prepare_group for m in methods}
    log.info(
        "quality: %d trial speakers, %d interferers, %d conditions, methods %s, k %s",
        len(split.trial_speakers),
        len(split.interferers),
        len(conditions),
        config.methods,
        config.ks,
    )

    sets = {k: enrollment_sets(split, k, config.max_sets, config.seed) for k in config.ks}
    trials = {k: make_trials(sets[k], split, config.seed) for k in config.ks}
    plan = _mixed_plan(sets, regular, config.seed) if mixed is not None else {}
    keep_for_mixed = {
        (cond, clip.key)
        for k, roles in plan.items()
        for es, r in zip(sets[k], roles)
        for cond, clip in zip(r, es.clips)
    }

    results: list[dict[str, Any]] = []
    trial_scores: dict[tuple[str, int, str], np.ndarray] = {}
    test_emb: dict[str, dict[str, np.ndarray | None]] = {}
    clean_emb: dict[tuple[str, int], np.ndarray] = {}
    retained: dict[tuple[str, str], dict[str, Any]] = {}
    cpu_seconds: dict[str, float] = defaultdict(float)
    n_computed: dict[str, int] = defaultdict(int)
    n_prepared = 0
    cache = None
    if config.cache_dir is not None:
        cache = prepared_cache(config, split)
        log.info("prepared-items cache: %s", cache.folder)
    all_groups = tuple(dict.fromkeys(groups.values()))
    condition_info: dict[str, dict[str, Any]] = {}
    failed_clips: dict[str, dict[str, int]] = {}
    failure_examples: list[dict[str, str]] = []
    dim_of: dict[str, int] = {}

    def combine_sets(method: Method, k: int, items_of: Any) -> np.ndarray:
        vecs = [method.combine(items_of(es)) for es in sets[k]]
        if method.name not in dim_of:
            sizes = [v.size for v in vecs if v is not None]
            if not sizes:
                raise RuntimeError(f"{method.name}: no enrollment set could be embedded")
            dim_of[method.name] = sizes[0]
        return _stack(vecs, dim_of[method.name])

    runner = _Runner(config, split)
    try:
        for cond in regular:
            t_cond = time.perf_counter()
            clips = split.enroll_clips() + (split.test_clips() if cond.name == "clean" else [])
            prepared: dict[str, dict[str, Any]] = {c.key: {} for c in clips}
            cached = {g: cache.load(g, cond.name) if cache else {} for g in all_groups}
            for g, stored in cached.items():
                for c in clips:
                    if c.key in stored:
                        prepared[c.key][g] = stored[c.key]
            jobs = [
                (cond.name, c, tuple(g for g in all_groups if g not in prepared[c.key]))
                for c in clips
            ]
            jobs = [j for j in jobs if j[2]]
            fresh: dict[str, dict[str, Any]] = defaultdict(dict)
            peak_scaled = 0
            for key, items, secs, info in runner.map(jobs):
                prepared[key].update(items)
                for g, item in items.items():
                    fresh[g][key] = item
                    n_computed[g] += 1
                peak_scaled += "peak_scaled" in info
                n_prepared += 1
                for g, s in secs.items():
                    cpu_seconds[g] += s
            if cache is not None:
                for g, items in fresh.items():
                    cache.save(g, cond.name, items)
            failed_clips[cond.name] = {
                m.name: sum(isinstance(prepared[c.key][groups[m.name]], Failed) for c in clips)
                for m in methods
            }
            for g in dict.fromkeys(groups.values()):
                for c in clips:
                    item = prepared[c.key][g]
                    if isinstance(item, Failed) and len(failure_examples) < MAX_FAILURE_EXAMPLES:
                        failure_examples.append(
                            {
                                "condition": cond.name,
                                "clip": c.key,
                                "group": g,
                                "reason": item.reason,
                            }
                        )
            if cond.name == "clean":
                for m in methods:
                    m.fit([prepared[c.key][groups[m.name]] for c in clips])
                    test_emb[m.name] = {
                        c.key: m.combine([prepared[c.key][groups[m.name]]])
                        for c in split.test_clips()
                    }
            for k in config.ks:
                for m in methods:
                    g = groups[m.name]
                    emb = combine_sets(
                        m, k, lambda es, g=g, p=prepared: [p[c.key][g] for c in es.clips]
                    )
                    if cond.name == "clean":
                        clean_emb[(m.name, k)] = emb
                    results.append(
                        _evaluate(
                            cond,
                            k,
                            m,
                            emb,
                            clean_emb[(m.name, k)],
                            test_emb[m.name],
                            trials[k],
                            trial_scores,
                        )
                    )
            for key in [ck for ck in keep_for_mixed if ck[0] == cond.name]:
                retained[key] = prepared[key[1]]
            condition_info[cond.name] = {
                **cond.to_dict(),
                "n_clips": len(clips),
                "peak_scaled_clips": peak_scaled,
                "seconds": round(time.perf_counter() - t_cond, 2),
            }
            log.info(
                "%-16s %4d clips in %6.1f s (total %6.1f s)",
                cond.name,
                len(clips),
                time.perf_counter() - t_cond,
                time.perf_counter() - t_start,
            )
    finally:
        runner.close()

    if mixed is not None:
        for k, roles in plan.items():
            for m in methods:
                g = groups[m.name]
                role_of = {es.set_id: r for es, r in zip(sets[k], roles)}
                emb = combine_sets(
                    m,
                    k,
                    lambda es, g=g, r=role_of: [
                        retained[(cond, c.key)][g] for cond, c in zip(r[es.set_id], es.clips)
                    ],
                )
                results.append(
                    _evaluate(
                        mixed,
                        k,
                        m,
                        emb,
                        clean_emb[(m.name, k)],
                        test_emb[m.name],
                        trials[k],
                        trial_scores,
                    )
                )
        condition_info[mixed.name] = {
            **mixed.to_dict(),
            "ks": sorted(plan),
            "role_conditions_used": sorted({c for r in plan.values() for rr in r for c in rr}),
        }

    diar = {"status": "disabled"}
    if config.diarization:
        from .diarization import diarization_benchmark

        diar = diarization_benchmark()

    elapsed = time.perf_counter() - t_start
    ours = config.methods[0]
    return {
        "benchmark": "quality",
        "schema": 1,
        "run": run_info(
            config.mode, command, workers=config.workers, elapsed_seconds=round(elapsed, 1)
        ),
        "config": config.to_dict(),
        "corpus": split.describe(),
        "methods": {m.name: m.describe() for m in methods},
        "conditions": [condition_info[c.name] for c in conditions],
        "trials": {
            str(k): {
                "n_sets": len(sets[k]),
                "n_trials": len(trials[k]),
                "n_target": int(trials[k].target.sum()),
                "n_nontarget_same_gender": int((~trials[k].target & trials[k].same_gender).sum()),
            }
            for k in config.ks
        },
        "metric_settings": {"p_target": 0.01, "c_miss": 1.0, "c_fa": 1.0, "score": "cosine"},
        "results": results,
        "ratios": _ratios(results, ours),
        "uncertainty": _uncertainty(
            trial_scores,
            [*regular, *([mixed] if mixed is not None else [])],
            sets,
            trials,
            ours,
            [b for b in UNCERTAINTY_BASELINES if b in config.methods[1:]],
            config.seed,
        ),
        "failed_clips": failed_clips,
        "failure_examples": failure_examples,
        "prepare_cpu_seconds": {
            "n_clips": n_prepared,
            "total": {g: round(s, 2) for g, s in cpu_seconds.items()},
            "per_clip": {
                g: round(s / max(1, n_computed[g] if g in n_computed else n_prepared), 4)
                for g, s in cpu_seconds.items()
            },
            "n_computed": dict(n_computed),
            "method_groups": groups,
        },
        "diarization": diar,
        "environment": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
    }


def prepared_cache(config: QualityConfig, split: Any) -> Any:
    """The prepared-items cache of a run (``config.cache_dir``): its folder is named by the code
    fingerprint plus the run's seed, corpus, corpus level, interferers and corpus manifest."""
    from .cache import PreparedCache, code_fingerprint

    extra = [
        config.seed,
        config.corpus.resolve(),
        config.corpus_level_dbfs,
        *sorted(split.interferers),
    ]
    manifest = config.corpus / "manifest.json"
    extra.append(manifest.read_text() if manifest.is_file() else "")
    return PreparedCache(config.cache_dir, code_fingerprint(map(str, extra)))
