"""Turn ``benchmarks/results/{quality,speed}.json`` into ``BENCHMARKS.md`` and PNG plots.

Usage::

    python -m benchmarks.report [--results benchmarks/results] [--out BENCHMARKS.md]

Order: the one-screen summary (:mod:`benchmarks.summary`), the per-voice-group headline, the
earlier quality corpus, speed, the other benchmark fragments, and an appendix of decision records.

Plots (matplotlib, Agg backend) are written next to the JSON files: ``quality_eer_k<k>.png`` (EER
per condition, one bar per method) and ``speed_rtf.png`` (real-time factor per stage and system).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT

log = logging.getLogger(__name__)


__all__ = ["write_report", "quality_section", "speed_section", "anchor"]


# --------------------------------------------------------------------------- formatting
def _pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}"


def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    align = align or ("l" + "r" * (len(header) - 1))
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _commit_label(run: dict[str, Any]) -> str:
    git = run.get("git") or {}
    return (git.get("commit") or "unknown")[:12] + (
        " (uncommitted changes)" if git.get("dirty") else ""
    )


def _run_lines(run: dict[str, Any]) -> list[str]:
    commit = _commit_label(run)
    m = run.get("machine") or {}
    v = run.get("versions") or {}
    versions = ", ".join(
        f"{k} {v[k]}"
        for k in (
            "voxref",
            "torch",
            "numpy",
            "scikit-learn",
            "resemblyzer",
            "speechbrain",
            "pyannote.metrics",
        )
        if v.get(k)
    )
    threads = (run.get("threads") or {}).get("OMP_NUM_THREADS")
    return [
        f"- mode **{run.get('mode')}**, {run.get('date_utc')}, commit `{commit}`, "
        f"{run.get('elapsed_seconds')} s",
        f"- command: `{run.get('command')}`",
        f"- machine: {m.get('cpu')}, {m.get('logical_cpus')} logical CPUs, {m.get('memory_gb')} GB, "
        f"load average {m.get('load_average_1min')} at start; OMP_NUM_THREADS={threads}"
        + (f", {run['workers']} worker processes" if run.get("workers") else ""),
        f"- python {v.get('python')}; {versions}",
    ]


# --------------------------------------------------------------------------- quality
def _index(results: list[dict[str, Any]]) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(r["condition"], r["k"], r["method"]): r for r in results}


def _plot_quality(q: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    idx = _index(q["results"])
    methods = list(q["methods"])
    conditions = [c["name"] for c in q["conditions"]]
    paths = []
    for k in q["config"]["ks"]:
        conds = [c for c in conditions if any((c, k, m) in idx for m in methods)]
        if not conds:
            continue
        fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(conds) * len(methods) / 2 + 3), 4.2))
        width = 0.8 / len(methods)
        x = np.arange(len(conds))
        for j, m in enumerate(methods):
            vals = [100 * (idx.get((c, k, m), {}).get("eer") or 0.0) for c in conds]
            ax.bar(x + (j - (len(methods) - 1) / 2) * width, vals, width, label=m)
        ax.set_xticks(x)
        ax.set_xticklabels(conds, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel("EER (%)")
        ax.set_title(f"Verification EER per condition, {k} enrollment reference(s)")
        ax.legend(fontsize=8, ncol=len(methods))
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"quality_eer_k{k}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def uncertainty_lines(q: dict[str, Any], ks: Sequence[int]) -> list[str]:
    """Markdown table: ours / baseline EER ratio with its speaker-bootstrap interval, per scope."""
    u = q.get("uncertainty")
    if not u or not u.get("rows"):
        return []
    rows_in = u["rows"]
    ours = rows_in[0]["method"]
    pairs = list(dict.fromkeys((r["baseline"], r["k"]) for r in rows_in))
    cell = {(r["scope"], r["baseline"], r["k"]): r for r in rows_in}
    ratio_idx = {(r["condition"], r["k"], r["baseline"]): r for r in q.get("ratios", [])}
    idx = _index(q["results"])
    scopes = [s for s in dict.fromkeys(r["scope"] for r in rows_in) if s == "degraded"]
    scopes += [s for s in dict.fromkeys(r["scope"] for r in rows_in) if s.startswith("family:")]
    shown = {"clean", "mixed"} | {c["name"] for c in q["conditions"] if c["family"] == "overlap"}
    scopes += [s for s in dict.fromkeys(r["scope"] for r in rows_in) if s in shown]

    def point(scope: str, b: str, k: int) -> float | None:
        if scope in {c["name"] for c in q["conditions"]}:
            return ratio_idx.get((scope, k, b), {}).get("eer_ratio")
        names = [
            c["name"]
            for c in q["conditions"]
            if (scope == "degraded" and c["family"] != "clean")
            or (scope.startswith("family:") and c["family"] == scope.split(":", 1)[1])
        ]
        a = [idx.get((n, k, ours), {}).get("eer") for n in names]
        bb = [idx.get((n, k, b), {}).get("eer") for n in names]
        pairs_ok = [(x, y) for x, y in zip(a, bb) if x is not None and y is not None]
        if not pairs_ok or not sum(y for _, y in pairs_ok):
            return None
        return sum(x for x, _ in pairs_ok) / sum(y for _, y in pairs_ok)

    rows = []
    for scope in scopes:
        row = [scope.replace("family:", "") + (" (all degraded)" if scope == "degraded" else "")]
        for b, k in pairs:
            r = cell.get((scope, b, k))
            if r is None:
                row.append("")
                continue
            lo, hi = r["ci"]
            row.append(
                f"{_ratio(point(scope, b, k))} [{_ratio(lo)}–{_ratio(hi)}] p="
                + ("–" if r["p_better"] is None else f"{r['p_better']:.2f}")
            )
        rows.append(row)
    level = int(round(100 * rows_in[0].get("level", 0.95)))
    return [
        "### How sure: EER ratios with speaker-bootstrap intervals",
        "",
        f"{ours}'s EER divided by the baseline's (a family or 'all degraded': mean EER over its "
        f"conditions), [{level} % interval] from {u['n_boot']} paired resamples of the trial "
        f"speakers, and p = share of resamples in which {ours} has the lower EER. An interval "
        "that contains 1 is a difference these speakers cannot show.",
        "",
        _table(["scope"] + [f"{ours} / {b}, k={k}" for b, k in pairs], rows),
        "",
    ]


def _corpus_level_line(level: float | None) -> str:
    """How the corpus clips were scaled before degradation (``None``: as rendered, also for runs
    made before the option existed)."""
    if level is None:
        return (
            "- corpus clips as rendered (speaker-specific gains: their level is a speaker cue for "
            "methods that keep the level as recorded; later runs scale every clip to one "
            "level, `--corpus-level`)"
        )
    return (
        f"- every corpus clip scaled to {level:g} dBFS active level before degradation "
        "(the synthetic voices are rendered at speaker-specific gains, a speaker cue for methods "
        "that keep the level as recorded; `--corpus-level off` reads them as rendered)"
    )


def quality_section(q: dict[str, Any], plots: list[Path], md_dir: Path) -> str:
    """Markdown for the quality results."""
    idx = _index(q["results"])
    methods = list(q["methods"])
    ours = methods[0]
    baselines = methods[1:]
    ks = q["config"]["ks"]
    conditions = [c["name"] for c in q["conditions"]]
    corpus = q["corpus"]
    genders = corpus.get("genders", {})
    trial = corpus["trial_speakers"]
    n_f = sum(genders.get(s) == "f" for s in trial)
    out = ["## Quality: speaker verification under degradations", ""]
    out += _run_lines(q["run"])
    out += [
        f"- corpus `{q['config']['corpus']}`: {len(trial)} trial speakers ({n_f} f, {len(trial) - n_f} m), "
        f"{corpus['n_enroll']} enrollment + {corpus['n_test']} test clips each; "
        f"{len(corpus['interferer_speakers'])} interferer speakers (babble / overlap only, never in a trial): "
        + ", ".join(f"`{s}`" for s in corpus["interferer_speakers"]),
        _corpus_level_line(q["config"].get("corpus_level_dbfs")),
        "- trials per condition: "
        + "; ".join(
            f"k={k}: {t['n_sets']} sets, {t['n_trials']} trials ({t['n_target']} target, "
            f"{t['n_nontarget_same_gender']} same-gender non-target)"
            for k, t in q["trials"].items()
        ),
        "- scores: cosine between the enrollment-set embedding and the method's own embedding of one "
        "clean test clip; EER from `sklearn.metrics.roc_curve`, minDCF with p_target = 0.01, "
        "C_miss = C_fa = 1",
        "",
        "Methods:",
        "",
    ]
    out += [f"- **{m}**: {d.get('description', '')}" for m, d in q["methods"].items()]
    out.append("")
    cost = q.get("prepare_cpu_seconds")
    if cost:
        per_clip = cost["per_clip"]
        groups = cost.get("method_groups", {})
        cells = [f"{m} {per_clip[g]:.3f} s" for m, g in groups.items() if g in per_clip]
        out += [
            f"Per-clip CPU cost ({cost['n_clips']} degraded clips prepared): "
            + ", ".join(cells)
            + (f"; degradation {per_clip['degrade']:.3f} s" if "degrade" in per_clip else "")
            + " (methods sharing per-clip work show the same figure).",
            "",
        ]

    # summary: mean over degraded conditions
    degraded = [c for c in conditions if c != "clean"]
    rows = []
    for k in ks:
        for m in methods:
            eers = [
                idx[(c, k, m)]["eer"]
                for c in degraded
                if (c, k, m) in idx and idx[(c, k, m)].get("eer") is not None
            ]
            dcfs = [
                idx[(c, k, m)]["min_dcf"]
                for c in degraded
                if (c, k, m) in idx and idx[(c, k, m)].get("min_dcf") is not None
            ]
            clean = idx.get(("clean", k, m), {})
            if not eers:
                continue
            rows.append(
                [
                    str(k),
                    m,
                    _pct(clean.get("eer")),
                    _pct(sum(eers) / len(eers)),
                    _num(sum(dcfs) / len(dcfs)),
                    str(len(eers)),
                ]
            )
    out += [
        "### Summary (mean over the degraded conditions)",
        "",
        _table(
            ["k", "method", "clean EER %", "mean EER %", "mean minDCF", "conditions"],
            rows,
            "rlrrrr",
        ),
        "",
    ]

    out += uncertainty_lines(q, ks)

    ratio_idx = {(r["condition"], r["k"], r["baseline"]): r for r in q.get("ratios", [])}
    compared = [b for b in ("mean", "resemblyzer") if b in baselines] or baselines[:1]
    for k in ks:
        header = ["condition"] + [f"{m}" for m in methods]
        header += [f"{ours} / {b}" for b in compared]
        rows = []
        for c in conditions:
            if not any((c, k, m) in idx for m in methods):
                continue
            row = [c]
            for m in methods:
                r = idx.get((c, k, m), {})
                row.append(f"{_pct(r.get('eer'))} ({_num(r.get('min_dcf'))})")
            for b in compared:
                r = ratio_idx.get((c, k, b), {})
                row.append(f"{_ratio(r.get('eer_ratio'))} ({_ratio(r.get('min_dcf_ratio'))})")
            rows.append(row)
        out += [
            f"### k = {k} enrollment reference{'s' if k > 1 else ''}: EER % (minDCF)",
            "",
            f"Ratio columns: {ours}'s EER (minDCF) divided by the baseline's; below 1 = {ours} is "
            "better, – = the baseline made no error.",
            "",
            _table(header, rows),
            "",
        ]
        plot = next((p for p in plots if p.name == f"quality_eer_k{k}.png"), None)
        if plot is not None:
            out += [f"![EER per condition, k={k}]({plot.relative_to(md_dir).as_posix()})", ""]

    kc = 3 if 3 in ks else ks[len(ks) // 2]
    header = ["condition"] + [f"{m} tgt / non / vs-clean" for m in methods]
    rows = []
    for c in conditions:
        if not any((c, kc, m) in idx for m in methods):
            continue
        row = [c]
        for m in methods:
            r = idx.get((c, kc, m), {})
            row.append(
                f"{_num(r.get('mean_target'), 2)} / {_num(r.get('mean_nontarget'), 2)} / "
                f"{_num(r.get('degraded_vs_clean_cos'), 2)}"
            )
        rows.append(row)
    out += [
        f"### Cosines, k = {kc}",
        "",
        "Mean target-trial cosine / mean non-target cosine / mean cosine between each set's embedding "
        "under the condition and the same set's clean embedding.",
        "",
        _table(header, rows),
        "",
    ]

    failed = {c: f for c, f in q.get("failed_clips", {}).items() if any(f.values())}
    if failed:
        out += ["Clips a method could not prepare (left out of their sets):", ""]
        out += [
            f"- {c}: " + ", ".join(f"{m} {n}" for m, n in f.items() if n) for c, f in failed.items()
        ]
        out.append("")
        examples = q.get("failure_examples", [])
        if examples:
            out += [
                "<details><summary>Examples with reasons</summary>",
                "",
                *[
                    f"- {e['condition']} `{e['clip']}` ({e['group']}): {e['reason']}"
                    for e in examples[:15]
                ],
                "",
                "</details>",
                "",
            ]

    d = q.get("diarization", {})
    out += ["### Diarization (pyannote sample.wav, 30 s, 2 speakers)", ""]
    if d.get("status") == "ok":
        rows = [
            [
                r.get("setting", "default"),
                f"{r.get('gain_db', 0.0):+g}",
                str(r.get("num_speakers") or "estimated"),
                _pct(r.get("der"), 1),
                _pct(r.get("missed"), 1),
                _pct(r.get("false_alarm"), 1),
                _pct(r.get("confusion"), 1),
                str(r.get("speakers_found", "–")),
                _num(r.get("seconds"), 2),
            ]
            if r.get("status") == "ok"
            else [
                r.get("setting", "default"),
                f"{r.get('gain_db', 0.0):+g}",
                str(r.get("num_speakers") or "estimated"),
                "error",
                "",
                "",
                "",
                "",
                r.get("error", ""),
            ]
            for r in d["results"]
        ]
        refreshed = d.get("run")
        if refreshed:  # refreshed on its own by `benchmarks.run --only diarization`
            out += [
                f"Refreshed separately: {refreshed.get('date_utc', '')}, commit "
                f"`{_commit_label(refreshed)}`, command `{refreshed.get('command', '')}`.",
                "",
            ]
        out += [
            "`voxref.diarize` vs `sample.rttm`, `pyannote.metrics` DER, no collar, overlap scored. "
            "Gain: the file as recorded (+0) or scaled down; the default diarizer scales every "
            "recording to one speech level before analysis, `no levelling` analyses it as given.",
            "",
            _table(
                [
                    "diarizer",
                    "gain dB",
                    "speakers given",
                    "DER %",
                    "missed %",
                    "false alarm %",
                    "confusion %",
                    "found",
                    "seconds",
                ],
                rows,
            ),
            "",
        ]
    else:
        out += [f"Skipped: {d.get('reason', d.get('status'))}", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- speed
def _plot_speed(s: dict[str, Any], out_dir: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [r for r in s["scenarios"] if r.get("status") == "ok" and r.get("rtf") is not None]
    if not recs:
        return None
    order = {
        "load": 0,
        "clean": 1,
        "diarize": 2,
        "guide": 3,
        "encode": 4,
        "pool": 5,
        "prepare": 6,
        "embed": 7,
        "batch": 8,
    }
    recs.sort(key=lambda r: (r["audio"], order.get(r["stage"], 9), r["system"]))
    labels = [r["name"] for r in recs]
    colors = {"voxref": "tab:blue", "resemblyzer": "tab:orange", "ecapa": "tab:green"}
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(recs) + 1.5))
    ax.barh(
        range(len(recs)),
        [r["rtf"] for r in recs],
        color=[colors.get(r["system"], "gray") for r in recs],
    )
    ax.set_yticks(range(len(recs)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("real-time factor (processing time / audio duration, log scale)")
    threads = (s["run"].get("threads") or {}).get("OMP_NUM_THREADS")
    ax.set_title(f"Speed per stage and system (OMP_NUM_THREADS={threads})")
    ax.grid(axis="x", alpha=0.3, which="both")
    fig.tight_layout()
    path = out_dir / "speed_rtf.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def speed_section(s: dict[str, Any], plot: Path | None, md_dir: Path) -> str:
    """Markdown for the speed results."""
    from benchmarks.speed.scenarios import STAGES

    out = ["## Speed", ""]
    out += _run_lines(s["run"])
    a = s.get("audio", {})
    cfg = s["config"]
    out += [
        f"- audio: {a.get('source')}; references {a.get('ref_seconds')} s, long recording "
        f"{a.get('long_seconds')} s",
        f"- each scenario in its own process (peak RSS = that process's `VmHWM`, models included); "
        f"one warm-up call, then the median of up to {cfg['repeats']} timed calls "
        f"(fewer once {cfg['budget_seconds']} s are spent)",
        "",
    ]
    loads = [
        r["load_average_1min"] for r in s["scenarios"] if r.get("load_average_1min") is not None
    ]
    cpus = (s["run"].get("machine") or {}).get("logical_cpus") or 1
    if loads and max(loads) > cpus:
        out += [
            f"> **Shared machine**: the 1-min load average reached {max(loads):.1f} on {cpus} CPUs "
            "during this run, so wall times are inflated; the CPU-seconds column is the steadier "
            "figure (RTF uses wall time).",
            "",
        ]
    imp = s.get("imports", {})
    rows = [
        [f"`{k}`", _num(v.get("median_seconds"), 3), _num(v.get("minus_python_seconds"), 3)]
        if v.get("status") == "ok"
        else [f"`{k}`", "error", ""]
        for k, v in imp.items()
    ]
    out += [
        "### Import time (`python -c ...`, median wall seconds)",
        "",
        _table(["statement", "seconds", "minus `python -c pass`"], rows),
        "",
    ]

    recs = {r["name"]: r for r in s["scenarios"]}
    by_stage: dict[tuple[str, str], dict[str, Any]] = {}
    for r in s["scenarios"]:
        if r["system"] == "voxref":
            by_stage[(r["stage"], r["audio"])] = r

    def cells(r: dict[str, Any] | None) -> list[str]:
        if r is None:
            return ["not run", "", "", "", ""]
        if r.get("status") != "ok":
            return ["n/a" if r.get("status") == "n/a" else "error", "", "", "", ""]
        return [
            _num(r["median_seconds"], 4),
            _num(r.get("median_cpu_seconds"), 4),
            _num(r.get("rtf"), 4),
            _num(r.get("x_realtime"), 1),
            _num(r.get("peak_rss_mb"), 0),
        ]

    rows = []
    for stage in (*STAGES, "prepare"):
        for audio in ("ref5", "3x5s", "long"):
            r = by_stage.get((stage, audio))
            if r is None and audio == "3x5s":
                continue
            if r is None and stage == "pool":
                continue
            rows.append([stage, audio, *cells(r)])
    out += [
        "### voxref per-reference stages",
        "",
        "`ref5` = one 5 s reference, `long` = the long recording; n/a = the stage does not exist in "
        "this voxref yet; `prepare` = everything `Embedder.prepare` runs per reference today.",
        "",
        _table(
            ["stage", "audio", "median s", "CPU s", "RTF", "× real time", "peak RSS MB"],
            rows,
            "llrrrrr",
        ),
        "",
    ]
    reasons = [
        f"- `{r['name']}`: {r.get('reason')}"
        for r in s["scenarios"]
        if r.get("status") in ("n/a", "error")
    ]
    if reasons:
        out += ["Not measured:", "", *reasons, ""]

    groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in s["scenarios"]:
        if r.get("compare"):
            groups[r["compare"]][r["system"]] = r
    systems = ["voxref", "resemblyzer", "ecapa"]
    rows = []
    for g, by_sys in groups.items():
        row = [g]
        base = by_sys.get("voxref")
        for sys_name in systems:
            r = by_sys.get(sys_name)
            if r is None or r.get("status") != "ok":
                row.append("–")
                continue
            cell = f"{r['median_seconds']:.3f} s"
            if r.get("peak_rss_mb") is not None:
                cell += f", {r['peak_rss_mb']:.0f} MB"
            if sys_name != "voxref" and base is not None and base.get("status") == "ok":
                cell += f" ({r['median_seconds'] / base['median_seconds']:.2f}×)"
            row.append(cell)
        rows.append(row)
    out += [
        "### Side by side (median seconds, peak RSS; in brackets: time relative to voxref)",
        "",
        "`embed@N`: one speaker embedding from N files (read from disk, model already loaded); "
        "`utterance@…`: the encoder alone on samples in memory (voxref `embed_windows`, Resemblyzer "
        "`embed_utterance(preprocess_wav(x))`, ECAPA-TDNN `Fbank` + forward with random weights); "
        "`model_load`: building the model in a process where its package is already imported.",
        "",
        _table(["comparison", *systems], rows, "llll"),
        "",
    ]
    batch = recs.get("voxref.batch@20files")
    if batch and batch.get("status") == "ok":
        out += [
            f"Batch: `Embedder.embed_many` over 10 speakers × 2 files of 5 s: "
            f"**{batch['files_per_second']:.1f} files/s** ({batch['x_realtime']:.0f}× real time).",
            "",
        ]
    if plot is not None:
        out += [f"![RTF per stage]({plot.relative_to(md_dir).as_posix()})", ""]
    if s.get("interleaved"):
        from benchmarks.speed.interleaved import markdown as interleaved_markdown

        out += [
            "### voxref vs Resemblyzer, interleaved in one process (the speed goals)",
            "",
            interleaved_markdown(s["interleaved"]),
            "",
        ]
    if s.get("voice_gate"):
        from benchmarks.speed.voice_gate import markdown as voice_gate_markdown

        out += [voice_gate_markdown(s["voice_gate"]), ""]
    if s.get("quality_check"):
        from benchmarks.speed.quality_check import markdown as quality_check_markdown

        out += [quality_check_markdown(s["quality_check"]), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- fragments
# sections written by other benchmark scripts (each .md states the command that made it)
HEADLINE_FRAGMENTS = (
    ("quality_group.md", "Headline per voice group: tuning voices (A), reporting voices (B)"),
)
SECTION_FRAGMENTS = (
    ("ablation.md", "Pipeline ablation: which stage helps where"),
    ("voice_split.md", "Tuning and reporting voices: telephone band, denoiser start"),
    ("voice_grouping.md", "Grouping references by voice"),
    ("pooling_head.md", "Trained pooling head vs parameter-free attention (held-apart speakers)"),
    ("target_extractor.md", "Target-speaker extractor (trained; held-apart speakers)"),
    ("separation.md", "Overlapped references: two-talker separation and its headroom"),
    ("speaker_count_transfer.md", "Speaker counter on voices of other engines (overlap frames)"),
    ("scale.md", "Scale-out benchmark: `voxref embed-dataset`"),
    ("prompt.md", "Reference prompts (`voxref.prompt`) on truth-known mixes"),
    ("audit.md", "TTS dataset audit: planted faults (`voxref audit`)"),
    ("ablation_timbre.md", "Training ablation"),
    ("train_ddp.md", "Data-parallel training: steps/s on 1 and 2 processes"),
)
DECISION_FRAGMENTS = (
    ("level_decision.md", "Speech level normalisation on by default: the run that decided it"),
    ("telephone_level.md", "Telephone band: narrowband level target sweep"),
    ("denoise_decision.md", "Denoising policy: per-clip evidence"),
    ("denoise_babble.md", "Denoising policy: babble (attenuation limit)"),
    (
        "overlap_pooling.md",
        "Overlapped references and mixed bags: pooling variants (tuning voices)",
    ),
    (
        "harmonic_separation.md",
        "Overlapped references: pitch-comb separation (tuning voices)",
    ),
    (
        "separator_diversity.md",
        "Overlapped references: a separator trained on more voice diversity (tuning voices)",
    ),
)
"""Fragments that record why a default is what it is: the appendix, after every result."""
DECISION_ELSEWHERE = (
    ("docs/decisions.md", "Decision records: why a default is what it is (every pipeline default)"),
)
"""Decision records kept outside ``benchmarks/results``, linked from the appendix."""


def anchor(title: str) -> str:
    """The GitHub anchor of a Markdown heading (lower case, punctuation dropped, spaces to -)."""
    text = title.strip().lower()
    return "".join(c for c in text if c.isalnum() or c in " -_").replace(" ", "-")


def _fragment_body(path: Path) -> str:
    """A fragment's text without a top-level ``# `` title of its own (the report gives one)."""
    text = path.read_text().rstrip()
    first, _, rest = text.partition("\n")
    return rest.lstrip("\n") if first.startswith("# ") else text


def _fragments(results_dir: Path, table: Sequence[tuple[str, str]], level: str = "##") -> list[str]:
    parts: list[str] = []
    for name, title in table:
        fragment = results_dir / name
        if fragment.is_file():
            parts += [f"{level} {title}", "", _fragment_body(fragment), ""]
    return parts


def _decision_subsections(results_dir: Path) -> list[tuple[str, str]]:
    """(section title, sub-heading) of every heading in the result sections marked as a
    decision record by the script that wrote it."""
    found = []
    for name, title in SECTION_FRAGMENTS:
        fragment = results_dir / name
        if not fragment.is_file():
            continue
        for line in fragment.read_text().splitlines():
            if line.startswith("#") and "decision record" in line.lower():
                found.append((title, line.lstrip("#").strip()))
            elif line.startswith("**Decision record**"):
                found.append((title, f"{title}: decision record"))
    return found


def _appendix(results_dir: Path) -> list[str]:
    title = "Appendix: Decision records"
    present = [(n, t) for n, t in DECISION_FRAGMENTS if (results_dir / n).is_file()]
    lines = [
        f"## {title}",
        "",
        "Why a default is what it is: each record names the run that decided it. The records "
        "below are kept in full here; the others stay with the results they belong to:",
        "",
    ]
    lines += [
        f"- [{heading}](#{anchor(section if heading.startswith(section) else heading)}) "
        f"(in *{section}*)"
        for section, heading in _decision_subsections(results_dir)
    ]
    lines += [
        f"- [{label}]({path})" for path, label in DECISION_ELSEWHERE if (REPO_ROOT / path).is_file()
    ]
    lines.append("")
    lines += _fragments(results_dir, present, level="###")
    return lines


def _earlier_corpus_note(q: dict[str, Any]) -> str:
    """The line that opens the earlier quality section: which voice groups its corpus mixes."""
    from benchmarks.corpus.synth import ReservedVoiceError, check_not_reserved
    from benchmarks.corpus.voice_split import family_group

    counts: dict[str, int] = defaultdict(int)
    reserved = 0
    for speaker in q["corpus"]["trial_speakers"]:
        engine, _, rest = speaker.partition("-")
        engine = {"espeak": "espeak-ng"}.get(engine, engine)
        voice = rest if engine == "espeak-ng" else rest.split("-")[0]
        try:
            check_not_reserved(engine, voice)
        except ReservedVoiceError:
            reserved += 1
        try:
            counts[family_group(speaker)] += 1
        except KeyError:
            counts["no group"] += 1
    mix = ", ".join(
        f"{n} of group {g}" if g != "no group" else f"{n} of no group"
        for g, n in sorted(counts.items())
    )
    return (
        f"> An earlier corpus: its {sum(counts.values())} trial speakers mix tuning and reporting "
        f"voices ({mix}), so it does not hold the reporting voices apart"
        + (
            f", and {reserved} of them are voices now reserved for independent checks (kept here "
            "as the record of earlier decisions, never re-run with them)"
            if reserved
            else ""
        )
        + "; the headline is "
        "[Headline per voice group](#headline-per-voice-group-tuning-voices-a-reporting-voices-b)."
    )


# --------------------------------------------------------------------------- main
def write_report(results_dir: str | Path, out: str | Path) -> Path:
    """Regenerate ``out`` (Markdown) and the plots from the JSON files in ``results_dir``."""
    results_dir = Path(results_dir).resolve()
    out = Path(out).resolve()
    md_dir = out.parent
    parts = [
        "# voxref benchmarks",
        "",
        "Generated by `python -m benchmarks.report` from `benchmarks/results/*.json` "
        "(produced by `python -m benchmarks.run`); do not edit by hand. "
        "Corpus: synthetic espeak-ng / flite speakers, so absolute numbers are not comparable "
        "with VoxCeleb results; the comparison between methods on identical audio is the point.",
        "",
    ]
    from benchmarks.summary import summary_markdown

    summary = summary_markdown(results_dir)
    if summary is not None:
        parts += [summary, ""]
    parts += _fragments(results_dir, HEADLINE_FRAGMENTS)
    qpath, spath = results_dir / "quality.json", results_dir / "speed.json"
    if qpath.is_file():
        q = json.loads(qpath.read_text())
        section = quality_section(q, _plot_quality(q, results_dir), md_dir)
        title, _, body = section.partition("\n")
        parts += [title, "", _earlier_corpus_note(q), body, ""]
    else:
        parts += [
            "## Quality",
            "",
            "No `quality.json` yet: run `python -m benchmarks.run --only quality`.",
            "",
        ]
    if spath.is_file():
        s = json.loads(spath.read_text())
        parts += [speed_section(s, _plot_speed(s, results_dir), md_dir), ""]
    else:
        parts += [
            "## Speed",
            "",
            "No `speed.json` yet: run `python -m benchmarks.run --only speed`.",
            "",
        ]
    parts += _fragments(results_dir, SECTION_FRAGMENTS)
    parts += _appendix(results_dir)
    out.write_text("\n".join(parts).rstrip() + "\n")
    log.info("wrote %s", out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description="Regenerate BENCHMARKS.md from benchmark JSON.")
    parser.add_argument("--results", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_report(args.results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
