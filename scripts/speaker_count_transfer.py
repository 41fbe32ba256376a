"""Does the frame-level speaker counter transfer to voices of other synthesis engines?

For each voice group of :mod:`benchmarks.corpus.voice_split` (``A``: the corpus's espeak-ng
voices, which no training run of the counter uses; ``B``: flite awb/slt/kal and festival's
non-English voices, with the voices derived from them) and for pyannote's real sample, it
measures with :class:`voxref.separation.overlap_detector.SpeakerCountNet`:

* **false overlap**: the share of speech frames of clean single-voice clips (two sentences of
  one voice, 0.3 s apart) called "two or more voices" (overlap probability above the
  threshold); the mean over voices, and the worst voice;
* **overlap recall / precision** on two-voice mixtures of the same group at SIR 0, 5 and 10 dB
  (the second voice that much weaker, RMS over its active frames): each voice of the group is
  the louder voice once, with a seeded partner of the same group whose sentence starts 30-60 %
  into its own, so each mixture has single-voice stretches and an overlap. Labels per 10 ms
  frame come from the dry tracks (:func:`voxref.separation.overlap_detector.source_activity`,
  as in training); frames are pooled over the mixtures;
* on pyannote's sample (real, report only): false overlap in frames where the reference names
  one speaker, and recall / precision of its ~1.9 s of overlap; and its DER with the default
  :class:`voxref.separation.Diarizer` using the checkpoint (2 speakers given / found).

Thresholds 0.5 (the audit's and prompting's) and 0.9 (the diarizer's). Rendered audio is cached
in ``benchmarks/work/speaker_count_transfer``. Several checkpoints can be measured in one run
(``--checkpoint NAME=PATH``, ``shipped`` is the shipped one); results are merged by name into
``--json``.

Run (about 5 min on one thread once the audio is cached)::

    OMP_NUM_THREADS=1 PYTHONPATH=src:. .venv/bin/python scripts/speaker_count_transfer.py \\
        --checkpoint shipped --json benchmarks/results/speaker_count_transfer.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

log = logging.getLogger("speaker_count_transfer")

SAMPLE_RATE = 16_000
SIRS = (0.0, 5.0, 10.0)
THRESHOLDS = (0.5, 0.9)
GROUPS = ("A", "B")
WORK = REPO / "benchmarks" / "work" / "speaker_count_transfer"


def group_voices(group: str) -> list:
    """Catalogue voices of ``group`` (reserved voices are in no group)."""
    from benchmarks.corpus.synth import voices
    from benchmarks.corpus.voice_split import family_group

    return [v for v in voices() if family_group(v.id) == group]


def render(group: str, n_utts: int, seed: int) -> dict[str, list[np.ndarray]]:
    """``n_utts`` sentences of every voice of ``group`` (cached)."""
    from benchmarks.corpus.build import sentence_pools
    from benchmarks.corpus.synth import synthesize

    cache = WORK / f"audio-{group}-{n_utts}-{seed}.npz"
    if cache.is_file():
        data = np.load(cache)
        out: dict[str, list[np.ndarray]] = {}
        for name in sorted(
            data.files, key=lambda s: (s.rpartition("#")[0], int(s.rpartition("#")[2]))
        ):
            out.setdefault(name.rpartition("#")[0], []).append(data[name])
        return out
    out = {}
    for i, voice in enumerate(group_voices(group)):
        _, test = sentence_pools(seed, voice.language)
        rng = np.random.default_rng([seed, i])
        texts = [test[j] for j in rng.choice(len(test), size=n_utts, replace=False)]
        out[voice.id] = [synthesize(voice, t, seed=seed + k)[0] for k, t in enumerate(texts)]
        log.info("rendered %s", voice.id)
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **{f"{k}#{i}": u for k, us in out.items() for i, u in enumerate(us)})
    return out


def _level(x: np.ndarray, hop: int) -> float:
    """RMS over the active frames of a dry track."""
    from voxref.separation.overlap_detector import source_activity

    a = source_activity(x, SAMPLE_RATE, hop)
    n = a.size * hop
    frames = x[:n].reshape(-1, hop)[a.astype(bool)]
    return float(np.sqrt(np.mean(frames**2))) if frames.size else 0.0


def clean_clip(utts: list[np.ndarray]) -> np.ndarray:
    """Two sentences of one voice, 0.3 s apart."""
    gap = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
    return np.concatenate([utts[0], gap, utts[1]]).astype(np.float32)


def mixture(
    target: np.ndarray, other: np.ndarray, sir: float, rng: np.random.Generator, hop: int
) -> tuple[np.ndarray, np.ndarray]:
    """(mixture, frame labels 0/1/2) of ``target`` and ``other`` starting 30-60 % into it,
    ``other`` ``sir`` dB weaker."""
    from voxref.separation.overlap_detector import count_labels, source_activity

    start = int(rng.uniform(0.3, 0.6) * target.size)
    n = max(target.size, start + other.size)
    a = np.zeros(n, np.float32)
    b = np.zeros(n, np.float32)
    a[: target.size] = target
    gain = _level(target, hop) / max(1e-9, _level(other, hop)) * 10 ** (-sir / 20)
    b[start : start + other.size] = other * gain
    labels = count_labels(np.stack([source_activity(t, SAMPLE_RATE, hop) for t in (a, b)]))
    mix = a + b
    return (mix / max(1.0, float(np.abs(mix).max()) / 0.9)).astype(np.float32), labels


def _counts(p2: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    pred = p2[: labels.size] > threshold
    lab = labels[: pred.size]
    return {
        "tp": int(np.sum(pred & (lab == 2))),
        "called": int(np.sum(pred)),
        "overlap": int(np.sum(lab == 2)),
        "single_called": int(np.sum(pred & (lab == 1))),
        "single": int(np.sum(lab == 1)),
    }


def _rates(c: dict) -> dict:
    recall, precision = c["tp"] / max(1, c["overlap"]), c["tp"] / max(1, c["called"])
    return {
        "recall": round(recall, 4),
        "precision": round(precision, 4),
        "f1": round(2 * recall * precision / max(1e-9, recall + precision), 4),
        "false_overlap_single": round(c["single_called"] / max(1, c["single"]), 4),
        "overlap_frames": c["overlap"],
    }


def _sum(cs: list[dict]) -> dict:
    return {k: sum(c[k] for c in cs) for k in cs[0]}


def evaluate_group(net, utts: dict[str, list[np.ndarray]], seed: int) -> dict:
    """False overlap on clean clips and recall / precision on mixtures of one group."""
    from benchmarks.corpus.voice_split import family_of

    from voxref.separation.overlap_detector import source_activity

    hop = net.config["hop"]
    names = sorted(utts)
    clean: dict[str, dict[str, float]] = {str(t): {} for t in THRESHOLDS}
    for name in names:
        x = clean_clip(utts[name])
        speech = source_activity(x, SAMPLE_RATE, hop).astype(bool)
        p2 = net.probabilities(x, SAMPLE_RATE)[: speech.size, 2]
        for t in THRESHOLDS:
            clean[str(t)][name] = round(float(np.mean(p2[speech[: p2.size]] > t)), 4)
    out: dict = {"voices": len(names), "false_overlap_clean": {}, "mixtures": {}}
    for t in THRESHOLDS:
        per = clean[str(t)]
        fams: dict[str, list[float]] = {}
        for name, v in per.items():
            fams.setdefault(family_of(name), []).append(v)
        worst = max(per, key=per.get)
        out["false_overlap_clean"][str(t)] = {
            "mean": round(float(np.mean(list(per.values()))), 4),
            "worst": per[worst],
            "worst_voice": worst,
            "voices_above_0.1": int(sum(v > 0.1 for v in per.values())),
            "by_family": {f: round(float(np.mean(v)), 4) for f, v in sorted(fams.items())},
            "by_voice": per,
        }
    for sir in SIRS:
        rng = np.random.default_rng([seed, int(sir)])
        counts: dict[str, list[dict]] = {str(t): [] for t in THRESHOLDS}
        for i, name in enumerate(names):
            j = int((i + 1 + rng.integers(len(names) - 1)) % len(names))
            mix, labels = mixture(utts[name][0], utts[names[j]][1], sir, rng, hop)
            p2 = net.probabilities(mix, SAMPLE_RATE)[:, 2]
            for t in THRESHOLDS:
                counts[str(t)].append(_counts(p2, labels, t))
        out["mixtures"][f"sir{sir:g}"] = {t: _rates(_sum(c)) for t, c in counts.items()}
    return out


def evaluate_sample(net) -> dict:
    """False overlap / recall / precision on pyannote's real sample against its reference."""
    import soundfile as sf

    from voxref.sample_data import pyannote_sample, read_rttm

    wav, rttm = pyannote_sample()
    x, sr = sf.read(wav, dtype="float32")
    p2 = net.probabilities(x, sr)[:, 2]
    step = net.frame_step
    t = (np.arange(p2.size) + 0.5) * step
    n = np.zeros(p2.size, np.int64)
    for turn in read_rttm(rttm):
        n += (t >= turn.start) & (t < turn.start + turn.duration)
    labels = np.minimum(n, 2)
    return {str(th): _rates(_counts(p2, labels, th)) for th in THRESHOLDS}


def sample_der(net) -> dict:
    """DER of pyannote's sample (2 speakers given and found automatically, collar 0 and
    0.25 s) with the default :class:`voxref.separation.Diarizer` using the counter ``net``."""
    import warnings

    import soundfile as sf
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    from voxref.sample_data import pyannote_sample, read_rttm
    from voxref.separation.diarization import Diarizer

    wav, rttm = pyannote_sample()
    x, sr = sf.read(wav, dtype="float32")
    ref = Annotation()
    for i, t in enumerate(read_rttm(rttm)):
        ref[Segment(t.start, t.end), i] = t.speaker
    d = Diarizer(overlap_detector=net)
    rec = d.analyse(x, sr)
    out = {}
    for mode, k in (("given", 2), ("auto", None)):
        res = d.run(rec, num_speakers=k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for collar in (0.0, 0.25):
                der = DiarizationErrorRate(collar=collar, skip_overlap=False)(ref, res.annotation)
                out[f"{mode}_der_collar{collar:g}"] = round(float(der), 4)
        out[f"{mode}_speakers"] = res.num_speakers
    return out


def measure(net, n_utts: int, seed: int, groups: tuple[str, ...]) -> dict:
    out: dict = {}
    for g in groups:
        out[g] = evaluate_group(net, render(g, n_utts, seed), seed)
        log.info(
            "group %s: %s", g, json.dumps({k: out[g][k] for k in ("false_overlap_clean",)})[:400]
        )
    if "B" in groups:
        out["pyannote-sample"] = evaluate_sample(net)
    return out


def summary(result: dict) -> dict:
    """The headline numbers at threshold 0.5: false overlap (mean / worst) and recall per SIR."""
    out = {}
    for g in GROUPS:
        if g not in result:
            continue
        r = result[g]
        fo = r["false_overlap_clean"]["0.5"]
        out[g] = {
            "false_overlap_mean": fo["mean"],
            "false_overlap_worst": fo["worst"],
            **{f"recall_{s}": r["mixtures"][s]["0.5"]["recall"] for s in r["mixtures"]},
            **{f"precision_{s}": r["mixtures"][s]["0.5"]["precision"] for s in r["mixtures"]},
            "mean_f1": round(float(np.mean([m["0.5"]["f1"] for m in r["mixtures"].values()])), 4),
        }
    if "pyannote-sample" in result:
        out["pyannote-sample"] = {
            **result["pyannote-sample"]["0.5"],
            **result["pyannote-sample"].get("diarization", {}),
        }
    return out


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f} %"


COMMAND = (
    "OMP_NUM_THREADS=1 PYTHONPATH=src:. python scripts/speaker_count_transfer.py "
    "--checkpoint NAME=PATH ... --json benchmarks/results/speaker_count_transfer.json "
    "--md benchmarks/results/speaker_count_transfer.md"
)
"""How the committed results were made (the section's first line)."""


def markdown(doc: dict) -> str:
    """The BENCHMARKS.md section of a results document (every checkpoint in it, in order)."""
    lines = [
        f"Command: `{COMMAND}`.",
        "",
        "Frame-level speaker counter (`voxref.separation.overlap_detector.SpeakerCountNet`) on "
        "voices no training run of it uses. **False overlap**: share of the speech frames of "
        "clean single-voice clips (two sentences of one voice) called two or more voices, mean "
        "over voices (worst voice in brackets). **Recall / precision** of overlap frames in "
        "two-voice mixtures of the same group (the second voice starts 30-60 % into the first "
        "one's sentence, SIR dB weaker). Threshold 0.5 on the overlap probability (the audit's "
        "and prompting's; the diarizer uses 0.9 near changes of speaker). Group A: the corpus's "
        "espeak-ng voices (tuning: the checkpoint and its calibration are chosen here); "
        "group B: flite awb/slt/kal and festival's non-English voices with their derived voices "
        "(reporting, chose nothing); the pyannote sample (real, reporting) scored against its "
        "reference turns, with its DER (collar 0, 2 speakers given) by the default diarizer "
        "using that counter.",
        "",
        "| counter | group | voices | false overlap | recall SIR 0 / 5 / 10 dB "
        "| precision SIR 0 / 5 / 10 dB | mean F1 |",
        "|---|---|---:|---:|---|---|---:|",
    ]
    sample_rows = []
    for name, r in doc["checkpoints"].items():
        for g in GROUPS:
            if g not in r:
                continue
            fo = r[g]["false_overlap_clean"]["0.5"]
            mx = r[g]["mixtures"]
            rec = " / ".join(_pct(mx[f"sir{s:g}"]["0.5"]["recall"]) for s in SIRS)
            prec = " / ".join(_pct(mx[f"sir{s:g}"]["0.5"]["precision"]) for s in SIRS)
            f1 = np.mean([mx[f"sir{s:g}"]["0.5"].get("f1", np.nan) for s in SIRS])
            lines.append(
                f"| {name} | {g} | {r[g]['voices']} | {_pct(fo['mean'])} "
                f"({_pct(fo['worst'])}, {fo['worst_voice']}) | {rec} | {prec} | {f1:.3f} |"
            )
        if "pyannote-sample" in r:
            ps = r["pyannote-sample"]
            der = ps.get("diarization", {}).get("given_der_collar0")
            sample_rows.append(
                f"| {name} | {_pct(ps['0.5']['false_overlap_single'])} | "
                f"{_pct(ps['0.5']['recall'])} | {_pct(ps['0.5']['precision'])} | {_pct(der, 2)} |"
            )
    if sample_rows:
        lines += [
            "",
            "| counter | pyannote sample: false overlap (one speaker) | recall | precision "
            "| DER collar 0 |",
            "|---|---:|---:|---:|---:|",
            *sample_rows,
        ]
    if doc.get("decision"):
        lines += ["", f"**Decision record**: {doc['decision']}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--checkpoint", action="append", default=[],
        help="NAME=PATH of a checkpoint, or 'shipped' (repeatable; default: shipped)",
    )  # fmt: skip
    p.add_argument("--groups", default="A,B", help="comma-separated voice groups (A, B)")
    p.add_argument(
        "--overlap-bias",
        type=float,
        default=0.0,
        help="add this to the overlap logit of every checkpoint (a calibration to choose on A)",
    )
    p.add_argument("--utts", type=int, default=2, help="sentences per voice (at least 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, help="merge the results (by checkpoint name) into this")
    p.add_argument("--md", type=Path, help="write the BENCHMARKS.md section of --json here")
    p.add_argument("--decision", help="the decision record to store in --json (and --md)")
    p.add_argument(
        "--drop", action="append", default=[], help="remove this checkpoint name from --json"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.utts < 2:
        p.error("--utts must be at least 2 (clean clips take two sentences, mixtures two voices)")
    groups = tuple(g for g in args.groups.split(",") if g)
    if not set(groups) <= set(GROUPS):
        p.error(f"--groups takes {', '.join(GROUPS)}; got {args.groups}")

    import torch

    from voxref.separation.overlap_detector import SpeakerCountNet, default_checkpoint

    torch.set_num_threads(args.threads)
    results = {}
    for spec in args.checkpoint or ["shipped"]:
        name, _, path = spec.partition("=")
        ckpt = Path(path) if path else default_checkpoint()
        net = SpeakerCountNet.load(ckpt)
        if args.overlap_bias:
            with torch.no_grad():
                net.out.bias[2] += args.overlap_bias
            name = f"{name}{args.overlap_bias:+g}"
        res = measure(net, args.utts, args.seed, groups)
        if "B" in groups:
            res["pyannote-sample"]["diarization"] = sample_der(net)
        where = ckpt.resolve()
        results[name] = {
            "checkpoint": str(where.relative_to(REPO))
            if where.is_relative_to(REPO)
            else where.name,
            "training": {k: net.metadata.get(k) for k in ("steps_done", "minutes", "validation")},
            "overlap_bias": args.overlap_bias,
            "summary": summary(res),
            **res,
        }
        log.info("%s: %s", name, json.dumps(results[name]["summary"]))
    if args.json:
        old = json.loads(args.json.read_text()) if args.json.is_file() else {}
        merged = {k: v for k, v in old.get("checkpoints", {}).items() if k not in args.drop}
        for name, r in results.items():
            merged.setdefault(name, {}).update(r)
        doc = {
            "what": __doc__.splitlines()[0],
            "settings": {"utts": args.utts, "seed": args.seed, "sirs": list(SIRS),
                         "thresholds": list(THRESHOLDS)},
            "checkpoints": merged,
            "decision": args.decision or old.get("decision"),
        }  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
        if args.md:
            args.md.write_text(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
