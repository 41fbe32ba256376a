"""Narrowband level target: methods that level telephone-band references to another target.

Speech levelling (:func:`voxref.audio.level.level_audio`, -22 dBFS active level in the speech
band) is the one pipeline stage whose removal moved the ``telephone`` numbers, with opposite
signs on the two voice groups (``benchmarks/results/voice_split.md``). These methods ask whether
a *narrowband-only* target helps: ``voxref-nb{T}`` is ``voxref.Embedder()`` with every default,
except that a clip whose effective bandwidth (:func:`voxref.cleaning.quality.estimate_bandwidth`
on the clip as given) is below :data:`voxref.cleaning.quality.WEAK_BANDWIDTH_HZ` is prepared with
``level_dbfs=T``; ``voxref-nboff`` prepares such clips without levelling. Wideband clips are
prepared exactly as by ``voxref``, so a condition without narrowband clips gives the same numbers.

Run on the tuning voices first, then on the reporting voices (``--voice-group A`` / ``B``)::

    python -m benchmarks.quality.ablation --voice-group A --ks 1 3 \
        --conditions clean telephone --methods voxref resemblyzer voxref-nb-28 voxref-nb-25 \
        voxref-nb-19 voxref-nb-16 voxref-nboff --workers 1 --name telephone_level_A

Importing this module registers the methods (:mod:`.ablation` imports it).

Examples
--------
>>> m = make_method("voxref-nb-25")
>>> m.nb_level_dbfs, m.prepare_group != make_method("voxref").prepare_group
(-25.0, True)
>>> make_method("voxref-nboff").nb_level_dbfs is None
True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .methods import VoxrefMethod, make_method, register_method

__all__ = [
    "NB_TARGETS_DBFS",
    "NarrowbandLevelMethod",
    "is_narrowband",
    "make_method",
    "narrowband_counts",
]

NB_TARGETS_DBFS = (-28.0, -25.0, -19.0, -16.0)
"""Narrowband targets of the registered ``voxref-nb{T}`` methods (default target: -22 dBFS)."""


def is_narrowband(samples: np.ndarray, sample_rate: int) -> bool:
    """Whether a clip's effective bandwidth is below the quality report's narrowband threshold.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(32000)
    >>> spectrum = np.fft.rfft(x)
    >>> spectrum[np.fft.rfftfreq(32000, 1 / 16000) > 3400] = 0
    >>> is_narrowband(np.fft.irfft(spectrum, 32000), 16000), is_narrowband(x, 16000)
    (True, False)
    """
    from voxref.cleaning.quality import WEAK_BANDWIDTH_HZ, estimate_bandwidth

    bw = estimate_bandwidth(np.asarray(samples, dtype=np.float64), sample_rate)
    return 0.0 < bw < WEAK_BANDWIDTH_HZ


class NarrowbandLevelMethod(VoxrefMethod):
    """``voxref.Embedder()`` defaults; narrowband clips prepared with ``level_dbfs=nb_level_dbfs``.

    Parameters
    ----------
    name
        Method name in the results.
    nb_level_dbfs
        Target of narrowband clips (dBFS, speech band); ``None``: narrowband clips not levelled.
    """

    def __init__(self, name: str, nb_level_dbfs: float | None) -> None:
        target = "off" if nb_level_dbfs is None else f"{nb_level_dbfs:g} dBFS"
        super().__init__(
            name,
            {},
            description=f"voxref.Embedder() defaults; narrowband clips levelled to {target}",
        )
        self.nb_level_dbfs = nb_level_dbfs
        self._narrow = VoxrefMethod(f"{name}:narrowband", {"level_dbfs": nb_level_dbfs})

    @property
    def prepare_group(self) -> str:
        """Its own group: narrowband clips are prepared differently from ``voxref``."""
        return f"{super().prepare_group}+nb_level_dbfs={self.nb_level_dbfs}"

    def setup(self) -> None:
        super().setup()
        self._narrow.setup()

    def prepare(self, samples: np.ndarray, sample_rate: int, source: str) -> Any:
        if is_narrowband(samples, sample_rate):
            return self._narrow.prepare(samples, sample_rate, source)
        return super().prepare(samples, sample_rate, source)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["nb_level_dbfs"] = self.nb_level_dbfs
        return d


for _target in NB_TARGETS_DBFS:
    register_method(
        f"voxref-nb{_target:g}",
        lambda t=_target: NarrowbandLevelMethod(f"voxref-nb{t:g}", t),
    )
register_method("voxref-nboff", lambda: NarrowbandLevelMethod("voxref-nboff", None))


def narrowband_counts(
    corpus: Path, voice_group: str | None, conditions: Sequence[str], seed: int = 0
) -> dict[str, dict[str, int]]:
    """How many clips of each condition the narrowband methods treat differently.

    The clips are those of a full quality run on ``voice_group`` (enrollment clips degraded by
    each condition, plus the clean test clips under ``clean``); no embedding is computed. A
    condition with no narrowband clip gives ``voxref-nb*`` the numbers of ``voxref``.

    Returns
    -------
    dict
        condition -> ``{"clips": n, "narrowband": m}``.
    """
    from .conditions import CORPUS_LEVEL_DBFS, InterfererBank, corpus_clip, degrade, get_condition
    from .harness import SAMPLE_RATE, QualityConfig, group_clips
    from .split import load_manifest, split_corpus

    config = QualityConfig.preset(False, corpus, voice_group=voice_group)
    split = split_corpus(
        group_clips(load_manifest(corpus), voice_group),
        n_enroll=config.n_enroll,
        n_test=config.n_test,
        n_interferers=config.n_interferers,
        max_trial_speakers=None,
        seed=seed,
    )
    bank = InterfererBank(split, SAMPLE_RATE, CORPUS_LEVEL_DBFS)
    out: dict[str, dict[str, int]] = {}
    for name in conditions:
        cond = get_condition(name)
        if cond.family == "mixed":
            continue  # its references are those of the other conditions
        clips = split.enroll_clips() + (split.test_clips() if name == "clean" else [])
        n = 0
        for clip in clips:
            x = corpus_clip(clip.path, SAMPLE_RATE, CORPUS_LEVEL_DBFS)
            y, _ = degrade(cond, x, SAMPLE_RATE, clip, bank, seed)
            n += is_narrowband(y, SAMPLE_RATE)
        out[name] = {"clips": len(clips), "narrowband": n}
    return out


def sweep_markdown(runs: Sequence[dict[str, Any]], counts: dict[str, Any] | None = None) -> str:
    """EER tables of ablation runs with narrowband methods (one table per run), generated.

    Each run's table has one row per condition and ``k``: EER % of every method, and, when the
    run holds the paired interval of its first method against ``voxref`` (the harness computes
    it when ``voxref`` follows), that ratio with its 95 % interval. ``counts``
    (:func:`narrowband_counts` per group) adds how many clips each condition had narrowband.
    """
    lines: list[str] = [
        "EER %. `nb{T}`: voxref's defaults with narrowband clips (effective bandwidth below "
        "4.5 kHz) levelled to T dBFS instead of -22; `nboff`: such clips not levelled; plain "
        "mean: Resemblyzer's `preprocess_wav` + `embed_utterance` + mean. The decision is in "
        '"Tuning and reporting voices" above.',
        "",
    ]
    for res in runs:
        run, cfg = res["run"], res["config"]
        methods = [m for m in res["methods"] if m != "resemblyzer"]
        names = ["voxref" if m == "voxref" else m.removeprefix("voxref-") for m in methods]
        eer = {(r["condition"], r["k"], r["method"]): r["eer"] for r in res["results"]}
        first = next(iter(res["methods"]))
        paired = {
            (r["scope"], r["k"]): r
            for r in res["uncertainty"]["rows"]
            if r["baseline"] == "voxref" and r["method"] == first
        }
        group = cfg.get("voice_group")
        nb = (counts or {}).get(group, {})
        lines += [
            f"Group {group}, {len(res['corpus']['trial_speakers'])} trial speakers "
            f"(commit `{str(run.get('git', {}).get('commit', '?'))[:7]}`):",
            "",
            f"    {run.get('command', '')}",
            "",
        ]
        header = ["condition", "k", "plain mean", *names]
        if paired:
            header.append(f"{first} / voxref [95 %]")
        if nb:
            header.append("narrowband clips")
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for cond in [c["name"] for c in res["conditions"]]:
            for k in cfg["ks"]:
                if (cond, k, "resemblyzer") not in eer:
                    continue
                cells = [cond, str(k), f"{100 * eer[(cond, k, 'resemblyzer')]:.2f}"]
                cells += [
                    f"{100 * eer[(cond, k, m)]:.2f}" if (cond, k, m) in eer else "–"
                    for m in methods
                ]
                if paired:
                    row = paired.get((cond, k))
                    a, b = eer.get((cond, k, first)), eer.get((cond, k, "voxref"))
                    cells.append(
                        f"{a / b:.2f} [{row['ci'][0]:.2f}-{row['ci'][1]:.2f}]"
                        if row and a is not None and b
                        else "–"
                    )
                if nb:
                    c = nb.get(cond)
                    cells.append(f"{c['narrowband']} / {c['clips']}" if c else "–")
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip()


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print :func:`narrowband_counts` as JSON, or (``--table``) write the sweep tables."""
    import argparse
    import json

    from benchmarks.run import DEFAULT_CORPUS, DEFAULT_RESULTS

    ap = argparse.ArgumentParser(description="Narrowband clips per condition; sweep tables.")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--voice-group", choices=("A", "B"))
    ap.add_argument("--conditions", nargs="+")
    ap.add_argument(
        "--table",
        nargs="+",
        metavar="NAME",
        help="write RESULTS/telephone_level.md from RESULTS/NAME.json (ablation runs) and "
        "RESULTS/narrowband_counts.json when present",
    )
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    args = ap.parse_args(argv)
    if args.table:
        runs = [json.loads((args.results / f"{n}.json").read_text()) for n in args.table]
        counts_path = args.results / "narrowband_counts.json"
        counts = json.loads(counts_path.read_text()) if counts_path.is_file() else None
        out = args.results / "telephone_level.md"
        out.write_text(sweep_markdown(runs, counts) + "\n")
        print(f"wrote {out}")
        return 0
    if not args.conditions:
        ap.error("--conditions is required (or --table)")
    counts = narrowband_counts(args.corpus, args.voice_group, args.conditions)
    print(json.dumps({"voice_group": args.voice_group, "counts": counts}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
