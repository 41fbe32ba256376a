"""Ablation: does the timbre-consistency loss make a fine-tuned GE2E encoder more noise-robust?

Three encoders, scored on speakers held apart from training (never seen, not even as babble):

* ``untouched``: the bundled GE2E (Resemblyzer) weights;
* ``finetuned``: those weights fine-tuned with the GE2E loss on augmented crops (noise, babble,
  reverberation, telephone, gain);
* ``finetuned+timbre``: the same run (same seed, steps, batches and augmentation) plus the
  timbre-consistency loss (chunks of one degraded utterance agree with each other and with the
  clean utterance).

Trials: every held-out utterance (clean) against every other one degraded by a condition
(white noise / babble at 0, 5, 10 dB, synthetic reverberation); EER in %. The fine-tuned
encoders are evaluated after a round trip through their exported checkpoint
(``voxref.Embedder.from_pretrained`` path). A bootstrap over test utterances gives a 95 %
interval for the difference between the two fine-tuned encoders.

Usage (from the repository root; ~5-10 min on a shared 2-core CPU; one thread:
    with OpenMP threads oversubscribed, LSTM backward slows down several times)::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/ablation_timbre.py

It builds ``benchmarks/work/corpus`` first if missing (``python -m benchmarks.corpus.build``)
and writes ``benchmarks/results/ablation_timbre.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("ablation_timbre")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=REPO / "benchmarks/work/corpus")
    p.add_argument("--work", type=Path, default=REPO / "benchmarks/work/ablation_timbre")
    p.add_argument("--results", type=Path, default=REPO / "benchmarks/results")
    p.add_argument("--steps", type=int, default=80, help="fine-tuning steps per arm")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--timbre-weight", type=float, default=1.0)
    p.add_argument("--timbre-beta", type=float, default=1.0)
    p.add_argument("--timbre-noise", default="per_chunk", choices=("per_chunk", "shared"))
    p.add_argument("--eval-speakers", type=int, default=10)
    p.add_argument("--eval-utterances", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--tag", default="", help="suffix for the result files (exploration runs)")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="reuse an arm's encoder from --work when its config is unchanged (exploration)",
    )
    return p.parse_args(argv)


def ensure_corpus(folder: Path) -> None:
    if (folder / "manifest.csv").is_file():
        return
    log.info("building the synthetic corpus in %s", folder)
    subprocess.run(
        [sys.executable, "-m", "benchmarks.corpus.build", "--out", str(folder)],
        cwd=REPO,
        check=True,
    )


def eer_from_matrix(sim: np.ndarray, speakers: np.ndarray, cols: np.ndarray | None = None) -> float:
    """EER (%) of all (i, j) trials, i != j; ``cols`` resamples the test side (bootstrap)."""
    from voxref.train.evaluate import equal_error_rate

    cols = np.arange(sim.shape[1]) if cols is None else cols
    s = sim[:, cols]
    same = speakers[:, None] == speakers[cols][None, :]
    keep = np.arange(sim.shape[0])[:, None] != cols[None, :]
    return 100.0 * equal_error_rate(s[keep], same[keep])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    from voxref.embedder.ge2e import GE2EEncoder
    from voxref.embedder.loader import load_pretrained
    from voxref.train import SpeakerCorpus, TrainConfig, Trainer, standard_conditions
    from voxref.train.evaluate import degrade, embed_signals

    t_start = time.perf_counter()
    ensure_corpus(args.corpus)
    corpus = SpeakerCorpus.from_path(args.corpus).preload()
    train, held = corpus.split_speakers(args.eval_speakers, seed=args.seed)
    log.info(
        "%d training speakers (%d utterances, %.1f min), %d held-apart speakers",
        len(train.speakers),
        len(train),
        train.seconds() / 60,
        len(held.speakers),
    )
    signals, speakers = [], []
    for s in held.speakers:
        for i in held.indices(s)[: args.eval_utterances]:
            signals.append(held.audio(i)[: 6 * 16000])
            speakers.append(s)
    spk = np.asarray(speakers)
    babble_pool = [train.audio(i) for i in range(len(train))]
    conditions = standard_conditions(babble_pool)
    degraded = {
        c.name: (signals if c.transform is None else degrade(signals, c, 16000, args.seed + k))
        for k, c in enumerate(conditions)
    }

    base = dict(
        steps=args.steps,
        steps_per_epoch=args.steps,  # one checkpoint, at the end
        lr=args.lr,
        seed=args.seed,
        progress=args.progress,
        timbre_beta=args.timbre_beta,
        timbre_noise=args.timbre_noise,
    )
    arms = {
        "finetuned": TrainConfig(**base),
        "finetuned+timbre": TrainConfig(**base, timbre_weight=args.timbre_weight),
    }
    encoders = {"untouched": GE2EEncoder()}
    train_info = {}
    for name, cfg in arms.items():
        out = args.work / name.replace("+", "_")
        if name != "finetuned" and args.tag:
            out = out.with_name(out.name + "_" + args.tag)
        info_file = out / "ablation_info.json"
        if args.reuse and info_file.is_file() and TrainConfig.load(out / "config.json") == cfg:
            log.info("%s: reusing the encoder trained earlier in %s", name, out)
            train_info[name] = json.loads(info_file.read_text())
            encoders[name] = load_pretrained(out)
            continue
        t0 = time.perf_counter()
        c0 = time.process_time()
        result = Trainer(cfg, train_corpus=train, out=out).fit()
        train_info[name] = {
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(time.process_time() - c0, 1),
            "first_losses": [round(v, 4) for v in result.losses[:5]],
            "last_losses": [round(v, 4) for v in result.losses[-5:]],
            "config": cfg.to_dict(),
        }
        info_file.write_text(json.dumps(train_info[name], indent=1) + "\n")
        log.info("%s: trained in %.0f s", name, train_info[name]["wall_seconds"])
        encoders[name] = load_pretrained(result.encoder_path.parent)  # the exported checkpoint

    sims: dict[str, dict[str, np.ndarray]] = {}
    for name, enc in encoders.items():
        t0 = time.perf_counter()
        sims[name] = {}
        clean_emb = embed_signals(enc, signals)
        for c in conditions:
            test = clean_emb if c.transform is None else embed_signals(enc, degraded[c.name])
            sims[name][c.name] = clean_emb @ test.T
        log.info("%s: evaluated in %.0f s", name, time.perf_counter() - t0)

    cond_names = [c.name for c in conditions]
    noisy = [n for n in cond_names if n != "clean"]
    eers = {m: {c: eer_from_matrix(sims[m][c], spk) for c in cond_names} for m in sims}
    for m in eers:
        eers[m]["noisy_mean"] = float(np.mean([eers[m][c] for c in noisy]))

    rng = np.random.default_rng(args.seed)
    n = len(signals)
    diffs = []
    diffs_vs_untouched = []
    for _ in range(args.bootstrap):
        cols = rng.integers(0, n, size=n)
        per = {m: np.mean([eer_from_matrix(sims[m][c], spk, cols) for c in noisy]) for m in sims}
        diffs.append(per["finetuned+timbre"] - per["finetuned"])
        diffs_vs_untouched.append(per["finetuned"] - per["untouched"])
    ci = [float(np.percentile(diffs, q)) for q in (2.5, 97.5)]
    ci_ft = [float(np.percentile(diffs_vs_untouched, q)) for q in (2.5, 97.5)]

    given = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["OMP_NUM_THREADS=1 .venv/bin/python scripts/ablation_timbre.py", *given])
    report = {
        "command": command,
        "corpus": str(
            args.corpus.relative_to(REPO) if args.corpus.is_relative_to(REPO) else args.corpus
        ),
        "train_speakers": train.speakers,
        "eval_speakers": held.speakers,
        "eval_utterances": len(signals),
        "trials_per_condition": int(n * (n - 1)),
        "target_trials_per_condition": int(
            sum((spk == s).sum() * ((spk == s).sum() - 1) for s in set(speakers))
        ),
        "conditions": cond_names,
        "eer_percent": {m: {k: round(v, 2) for k, v in d.items()} for m, d in eers.items()},
        "timbre_minus_plain_noisy_mean": {
            "value": round(
                eers["finetuned+timbre"]["noisy_mean"] - eers["finetuned"]["noisy_mean"], 2
            ),
            "bootstrap_ci95": [round(v, 2) for v in ci],
        },
        "plain_minus_untouched_noisy_mean": {
            "value": round(eers["finetuned"]["noisy_mean"] - eers["untouched"]["noisy_mean"], 2),
            "bootstrap_ci95": [round(v, 2) for v in ci_ft],
        },
        "training": train_info,
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": args.threads,
            "cpus": os.cpu_count(),
        },
    }
    args.results.mkdir(parents=True, exist_ok=True)
    stem = "ablation_timbre" + (f"_{args.tag}" if args.tag else "")
    (args.results / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.results / f"{stem}.md").write_text(markdown(report, args))
    print(json.dumps(report["eer_percent"], indent=1))
    print("timbre - plain (noisy mean):", report["timbre_minus_plain_noisy_mean"])
    return 0


def markdown(r: dict, args: argparse.Namespace) -> str:
    models = list(r["eer_percent"])
    cols = r["conditions"] + ["noisy_mean"]
    lines = [
        "### Ablation: timbre-consistency loss (GE2E fine-tuning, synthetic corpus, CPU)",
        "",
        f"EER (%) on {len(r['eval_speakers'])} held-apart speakers ({r['eval_utterances']} "
        f"utterances, {r['trials_per_condition']} trials per condition, "
        f"{r['target_trials_per_condition']} of them target). Enrolment side clean, test side "
        "degraded; lower is better.",
        "",
        "| encoder | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(f"{r['eer_percent'][m][c]:.2f}" for c in cols) + " |")
    d = r["timbre_minus_plain_noisy_mean"]
    f = r["plain_minus_untouched_noisy_mean"]
    cfg = r["training"]["finetuned+timbre"]["config"]
    lo, hi = d["bootstrap_ci95"]
    if hi < 0:
        verdict = "**The timbre-consistency loss lowered the noisy EER** (interval below 0)."
    elif lo > 0:
        verdict = "**The timbre-consistency loss made the noisy EER worse** (interval above 0)."
    else:
        verdict = "**No measurable effect of the timbre-consistency loss** (interval spans 0)."
    lines += [
        "",
        verdict + " One training seed: the interval covers test-set sampling only, not "
        "training-run variance.",
        "",
        f"- finetuned+timbre − finetuned, mean noisy EER: **{d['value']:+.2f}** points "
        f"(bootstrap over test utterances, 95 %: [{d['bootstrap_ci95'][0]:+.2f}, "
        f"{d['bootstrap_ci95'][1]:+.2f}]).",
        f"- finetuned − untouched, mean noisy EER: {f['value']:+.2f} points "
        f"(95 %: [{f['bootstrap_ci95'][0]:+.2f}, {f['bootstrap_ci95'][1]:+.2f}]).",
        f"- Budget per arm: {cfg['steps']} steps of {cfg['speakers_per_batch']} speakers × "
        f"{cfg['utterances_per_speaker']} crops of {cfg['crop_seconds']} s, AdamW lr "
        f"{cfg['lr']} (cosine), same seed, batches and augmentation in both arms; the timbre "
        f"arm adds {cfg['timbre_chunks']} chunks × {cfg['speakers_per_batch']} utterances per "
        f"step (weight {cfg['timbre_weight']}, beta {cfg['timbre_beta']}, noise "
        f"{cfg['timbre_noise']}), i.e. about twice the compute per step "
        f"({r['training']['finetuned']['cpu_seconds']} vs "
        f"{r['training']['finetuned+timbre']['cpu_seconds']} CPU s).",
        f"- {len(r['train_speakers'])} training speakers; babble in training and evaluation is "
        "made of training speakers only.",
        f"- Command: `{r['command']}` ({r['wall_seconds'] / 60:.1f} min wall on a shared "
        f"{r['machine']['cpus']}-core CPU).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
