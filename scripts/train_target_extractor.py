"""Train and evaluate voxref's guide-conditioned target-speaker extractor.

Re-runnable and seeded; one CPU thread, ~20-25 minutes in all. Stages:

1. **Data.** The synthetic benchmark corpus (``benchmarks/work/corpus/manifest.json``; built
   by ``python -m benchmarks.corpus.build`` if missing): 16 kHz clips of synthetic voices and two
   real speakers. Speakers are split (seeded) into *train* and *held-apart* speakers; held-apart
   speakers never appear in training, neither as targets nor as interferers. The GE2E
   embedding (``GE2EEncoder.embed_utterance``) of every clean clip is computed once and cached in
   ``--work`` (``guides-<corpus hash>.npz``).
2. **Training** of :class:`voxref.separation.extractor.TargetExtractor`. Each example is drawn on
   the fly (seeded): a random ``--crop`` second crop of a train speaker's utterance, another train
   speaker's utterance overlapped with ``voxref.augment.overlap.add_overlap`` at an SIR uniform
   in [-5, 10] dB over 30-100 % of the crop (10 % of examples have no interferer), and as guide
   the GE2E embedding of a *different* clean utterance of the target speaker (half of the time
   contaminated by up to 0.6 x another speaker's embedding, as a guide estimated from overlapped
   references would be). STFTs are computed per batch (cheap next to the network). Loss: MSE
   between power-law compressed (0.3) magnitudes of the masked mixture and of the clean target,
   plus ``--embedding-weight`` x (1 - cosine) between the frozen GE2E embeddings of a 1.6 s
   window of the extracted waveform and of the clean target (differentiable through the iSTFT,
   GE2E's mel front end and network): the quantity that matters downstream.
   Adam, cosine learning-rate decay, a fixed number of ``--steps`` (cut short at
   ``--max-minutes``; the steps done are recorded). Checkpoint: ``--work/model.pt``.
3. **Evaluation** on held-apart speakers (each utterance mixed with another held-apart speaker's
   utterance over 30-100 % of it, SIR 0 and 5 dB; guide = GE2E of another clean utterance of the
   target):

   (a) SI-SDR of the mixture and of the extractor's output, vs the clean target;
   (b) cosine between the GE2E embedding of the clean target and that of (i) the mixture,
       (ii) the extractor's output, (iii) the mixture's windows weighted by
       ``voxref.separation.guide.target_activity(..., attribute_only=True)`` with the guide
       (selection), (iv) selection on the extractor's output;
   (c) verification: 3-reference enrollment sets of a held-apart speaker's enrollment clips,
       each overlapped at SIR 0 dB (30-100 %) by another held-apart speaker, scored against the
       clean test clips of every held-apart speaker; EER of the mean of mixture embeddings, of
       guided selection (guide = the mean of the mixture embeddings) and of the mean of
       extracted embeddings with that *self-estimated* guide (realistic: no clean audio) and with
       an *oracle* guide (a clean enrollment clip outside the set; upper bound only);
   (d) extraction real-time factor on one CPU thread.

   Printed as markdown, written to ``--results`` (JSON).

Ship rule (``--ship``): the checkpoint is copied to ``src/voxref/data/target_extractor.pt`` ONLY
if, on held-apart speakers at SIR 0 dB, the extractor's output embedding is closer to the clean
target (mean cosine) than both the mixture's and selection's, AND the verification EER with
self-guided extraction is lower than with the mixtures. Otherwise nothing is shipped and the
script says why.

Usage (repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_target_extractor.py --ship
    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_target_extractor.py --eval-only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("train_target_extractor")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16_000
SHIP_PATH = REPO / "src" / "voxref" / "data" / "target_extractor.pt"


# ---------------------------------------------------------------------------------------- data
def load_corpus(corpus: Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Manifest entries and their clips (float32, 16 kHz), building the corpus if missing."""
    import soundfile as sf

    manifest = corpus / "manifest.json"
    if not manifest.is_file():
        log.info("corpus missing: building it with benchmarks.corpus.build")
        subprocess.run([sys.executable, "-m", "benchmarks.corpus.build"], cwd=REPO, check=True)
    meta = json.loads(manifest.read_text())
    utts = sorted(meta["utterances"], key=lambda u: u["path"])
    audio = {}
    for u in utts:
        x, sr = sf.read(corpus / u["path"], dtype="float32")
        if x.ndim > 1:
            x = x.mean(axis=1)
        if sr != SAMPLE_RATE:
            from voxref.audio.resample import resample

            x = resample(x, sr, SAMPLE_RATE).astype(np.float32)
        audio[u["key"]] = x
    return utts, audio


def split_speakers(speakers: list[str], held_fraction: float, seed: int) -> tuple[list, list]:
    rng = np.random.default_rng([seed, 11])
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    n_held = max(2, int(round(held_fraction * len(speakers))))
    return sorted(order[n_held:]), sorted(order[:n_held])


def guide_embeddings(utts: list[dict], audio: dict, work: Path, encoder) -> dict[str, np.ndarray]:
    """GE2E ``embed_utterance`` of every clean clip, cached by the corpus' keys."""
    keys = [u["key"] for u in utts]
    digest = hashlib.sha1("".join(keys).encode()).hexdigest()[:10]
    path = work / f"guides-{digest}.npz"
    if path.is_file():
        z = np.load(path)
        return dict(zip(z["keys"].tolist(), z["embeddings"]))
    t0 = time.time()
    emb = np.stack([encoder.embed_utterance(audio[k]) for k in keys]).astype(np.float32)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(path, keys=np.array(keys), embeddings=emb)
    log.info("embedded %d clean clips in %.0f s -> %s", len(keys), time.time() - t0, path)
    return dict(zip(keys, emb))


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def make_example(
    rng: np.random.Generator,
    by_speaker: dict[str, list[str]],
    speakers: list[str],
    audio: dict,
    guides: dict,
    crop: int,
    guide_noise_prob: float = 0.5,
    guide_noise_max: float = 0.6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training example: (mixture, clean target, guide)."""
    from voxref.augment.overlap import add_overlap

    spk = speakers[int(rng.integers(len(speakers)))]
    own = by_speaker[spk]
    t_key, g_key = rng.choice(len(own), size=2, replace=False)
    x = audio[own[t_key]]
    if x.size > crop:
        s = int(rng.integers(0, x.size - crop + 1))
        x = x[s : s + crop]
    else:
        x = np.pad(x, (0, crop - x.size))
    x = x * np.float32(10 ** (rng.uniform(-10, 6) / 20))
    others = [s for s in speakers if s != spk]
    other = others[int(rng.integers(len(others)))]
    guide = guides[own[g_key]]
    if rng.random() < guide_noise_prob:
        o_emb = guides[by_speaker[other][int(rng.integers(len(by_speaker[other])))]]
        guide = unit(guide + rng.uniform(0.0, guide_noise_max) * o_emb)
    if rng.random() < 0.1:
        return x.astype(np.float32), x.astype(np.float32), guide
    interferer = audio[by_speaker[other][int(rng.integers(len(by_speaker[other])))]]
    res = add_overlap(
        x,
        SAMPLE_RATE,
        interferer,
        float(rng.uniform(-5, 10)),
        float(rng.uniform(0.3, 1.0)),
        rng=rng,
    )
    mix = res.samples.astype(np.float32)
    peak = float(np.abs(mix).max())
    if peak > 0.99:
        mix, x = mix * (0.99 / peak), x * (0.99 / peak)
    return mix, x.astype(np.float32), guide


# ---------------------------------------------------------------------------------------- training
def differentiable_ge2e():
    """``(embed, window)``: frozen GE2E on ``(B, window)`` waveforms, differentiable w.r.t. them.

    The same mel front end and network as ``GE2EEncoder`` (one 1.6 s partial per row).
    """
    import torch

    from voxref.embedder import ge2e as ge2e_module

    enc = ge2e_module.GE2EEncoder()
    model = enc.model
    for p in model.parameters():
        p.requires_grad_(False)
    n_fft, hop, frames = ge2e_module.N_FFT, ge2e_module.HOP, ge2e_module.PARTIAL_FRAMES

    def embed(w: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            w,
            n_fft,
            hop,
            n_fft,
            window=enc._window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        mel = (enc._fbank @ (spec.real**2 + spec.imag**2)).transpose(1, 2)
        return model(mel[:, :frames])

    return embed, (frames - 1) * hop


def train(args, by_speaker, train_speakers, audio, guides) -> Path:
    import torch

    from voxref.separation.extractor import TargetExtractor

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    if args.init is not None:
        net = TargetExtractor.load(args.init)
        net.train()
        log.info("fine-tuning %s", args.init)
    else:
        net = TargetExtractor(hop=args.hop, hidden=args.hidden, layers=args.layers, seed=args.seed)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    rng = np.random.default_rng([args.seed, 23])
    crop = int(args.crop * SAMPLE_RATE)
    t0 = time.time()
    running, running_emb, done = [], [], 0
    ge2e, ge2e_window = differentiable_ge2e()
    for step in range(args.steps):
        if time.time() - t0 > args.max_minutes * 60:
            log.warning("time budget reached after %d steps", step)
            break
        lr = args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for group in opt.param_groups:
            group["lr"] = lr
        batch = [
            make_example(
                rng,
                by_speaker,
                train_speakers,
                audio,
                guides,
                crop,
                args.guide_noise_prob,
                args.guide_noise_max,
            )
            for _ in range(args.batch)
        ]
        mix = torch.from_numpy(np.stack([b[0] for b in batch]))
        clean = torch.from_numpy(np.stack([b[1] for b in batch]))
        guide = torch.from_numpy(np.stack([b[2] for b in batch]))
        spec_mix = net.stft(mix)
        mag_mix = spec_mix.abs()
        mag_clean = net.stft(clean).abs()
        mask = net(mag_mix, guide)
        mag_loss = ((mask * mag_mix + 1e-8) ** 0.3 - (mag_clean + 1e-8) ** 0.3).pow(2).mean()
        loss = mag_loss
        if args.embedding_weight > 0:
            est = net.istft(spec_mix * mask, mix.shape[-1])
            s = int(rng.integers(0, max(1, crop - ge2e_window) + 1))
            e_est = ge2e(est[:, s : s + ge2e_window])
            with torch.no_grad():
                e_ref = ge2e(clean[:, s : s + ge2e_window])
            emb_loss = (1.0 - (e_est * e_ref).sum(-1)).mean()
            loss = mag_loss + args.embedding_weight * emb_loss
            running_emb.append(float(emb_loss.detach()))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        running.append(float(mag_loss.detach()))
        done = step + 1
        if done % 50 == 0:
            log.info(
                "step %d  magnitude loss %.5f  embedding loss %.4f  lr %.2e  %.0f s",
                done,
                np.mean(running),
                np.mean(running_emb) if running_emb else float("nan"),
                lr,
                time.time() - t0,
            )
            running, running_emb = [], []
    minutes = (time.time() - t0) / 60
    path = args.work / "model.pt"
    net.save(
        path,
        metadata={
            "seed": args.seed,
            "steps": done,
            "batch": args.batch,
            "crop_seconds": args.crop,
            "train_minutes": round(minutes, 2),
            "train_speakers": train_speakers,
            "init": str(args.init) if args.init is not None else None,
            "init_metadata": (
                TargetExtractor.load(args.init).metadata if args.init is not None else None
            ),
            "guide_noise": [args.guide_noise_prob, args.guide_noise_max],
            "lr": args.lr,
            "guide_encoder": "ge2e",
            "loss": "mse of 0.3-compressed magnitudes + "
            f"{args.embedding_weight} * (1 - cos) of GE2E 1.6 s windows",
            "script": "scripts/train_target_extractor.py",
        },
    )
    log.info("trained %d steps in %.1f min -> %s", done, minutes, path)
    return path


# ---------------------------------------------------------------------------------------- evaluation
def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    est = est.astype(np.float64) - est.mean()
    ref = ref.astype(np.float64) - ref.mean()
    a = float(est @ ref) / max(float(ref @ ref), 1e-12)
    proj = a * ref
    noise = est - proj
    return 10 * math.log10(max(float(proj @ proj), 1e-12) / max(float(noise @ noise), 1e-12))


def eer(target: np.ndarray, nontarget: np.ndarray) -> float:
    scores = np.concatenate([target, nontarget])
    labels = np.concatenate([np.ones(len(target)), np.zeros(len(nontarget))])
    order = np.argsort(-scores, kind="stable")
    labels = labels[order]
    tp = np.cumsum(labels) / len(target)
    fp = np.cumsum(1 - labels) / len(nontarget)
    fnr = 1 - tp
    i = int(np.argmin(np.abs(fnr - fp)))
    return float((fnr[i] + fp[i]) / 2)


def selected(encoder, samples: np.ndarray, guide: np.ndarray | None) -> np.ndarray:
    """Guided window selection of one reference (as the Embedder's separation stage)."""
    from voxref.separation.guide import target_activity

    w = encoder.embed_windows(samples)
    act = target_activity([w], guide, attribute_only=True)[0]
    weights = act.clean_weights
    return w.mean(weights if weights.sum() > 1e-6 else None)


def evaluate(args, net, encoder, by_speaker, held, utts, audio, guides) -> dict:
    from voxref.augment.overlap import add_overlap

    info = {u["key"]: u for u in utts}
    rng = np.random.default_rng([args.seed, 37])
    rows: dict[str, dict[str, list[float]]] = {}
    extract_seconds, audio_seconds = 0.0, 0.0
    for sir in args.eval_sir:
        acc: dict[str, list[float]] = {
            k: []
            for k in (
                "sisdr_mix",
                "sisdr_ext",
                "cos_mix",
                "cos_ext",
                "cos_sel",
                "cos_ext_sel",
                "cos_guide",
            )
        }
        for spk in held:
            others = [s for s in held if s != spk]
            for key in by_speaker[spk][: args.eval_utts]:
                x = audio[key]
                g_key = [k for k in by_speaker[spk] if k != key][
                    int(rng.integers(len(by_speaker[spk]) - 1))
                ]
                guide = guides[g_key]
                other = others[int(rng.integers(len(others)))]
                interferer = audio[by_speaker[other][int(rng.integers(len(by_speaker[other])))]]
                res = add_overlap(
                    x, SAMPLE_RATE, interferer, float(sir), float(rng.uniform(0.3, 1.0)), rng=rng
                )
                mix = res.samples.astype(np.float32)
                t = time.perf_counter()
                ext = net.extract(mix, SAMPLE_RATE, guide)
                extract_seconds += time.perf_counter() - t
                audio_seconds += mix.size / SAMPLE_RATE
                clean_emb = guides[key]
                acc["sisdr_mix"].append(si_sdr(mix, x))
                acc["sisdr_ext"].append(si_sdr(ext, x))
                acc["cos_mix"].append(float(clean_emb @ encoder.embed_utterance(mix)))
                acc["cos_ext"].append(float(clean_emb @ encoder.embed_utterance(ext)))
                acc["cos_sel"].append(float(clean_emb @ selected(encoder, mix, guide)))
                acc["cos_ext_sel"].append(float(clean_emb @ selected(encoder, ext, guide)))
                acc["cos_guide"].append(float(clean_emb @ guide))
        rows[f"{sir:g}"] = {k: float(np.mean(v)) for k, v in acc.items()} | {
            "n": len(acc["cos_mix"]),
            "sisdr_improvement": float(np.mean(acc["sisdr_ext"]) - np.mean(acc["sisdr_mix"])),
            "ext_beats_mix_fraction": float(np.mean(np.array(acc["cos_ext"]) > acc["cos_mix"])),
        }
        log.info("SIR %g dB: %s", sir, rows[f"{sir:g}"])
    out = {"mixtures": rows, "rtf": extract_seconds / max(audio_seconds, 1e-9)}
    if args.verification:
        out["verification"] = verification(
            args, net, encoder, by_speaker, held, info, audio, guides
        )
    return out


def verification(args, net, encoder, by_speaker, held, info, audio, guides) -> dict:
    """EER of 3-reference overlapped enrollment sets vs clean tests (held-apart speakers)."""
    from itertools import combinations

    from voxref.augment.overlap import add_overlap

    rng = np.random.default_rng([args.seed, 41])
    tests = [(s, k) for s in held for k in by_speaker[s] if info[k]["split"] == "test"]
    test_emb = np.stack([guides[k] for _, k in tests])
    test_spk = np.array([s for s, _ in tests])
    methods = (
        "mixture",
        "selection",
        "extracted_self_guide",
        "extracted_self_guide_2pass",
        "mix_plus_extracted",
        "extracted_oracle_guide",
    )
    scores = {m: ([], []) for m in methods}
    for spk in held:
        enroll = [k for k in by_speaker[spk] if info[k]["split"] == "enroll"]
        if len(enroll) < 4:
            continue
        others = [s for s in held if s != spk]
        combos = list(combinations(range(len(enroll)), 3))[: args.sets_per_speaker]
        for combo in combos * args.verify_repeats:
            keys = [enroll[i] for i in combo]
            oracle = guides[[enroll[i] for i in range(len(enroll)) if i not in combo][0]]
            mixes = []
            for j, key in enumerate(keys):
                other = others[(int(rng.integers(len(others))) + j) % len(others)]
                intf = audio[by_speaker[other][int(rng.integers(len(by_speaker[other])))]]
                res = add_overlap(
                    audio[key],
                    SAMPLE_RATE,
                    intf,
                    args.verify_sir,
                    float(rng.uniform(0.3, 1.0)),
                    rng=rng,
                )
                mixes.append(res.samples.astype(np.float32))
            mix_embs = [encoder.embed_utterance(m) for m in mixes]
            self_guide = unit(np.mean(mix_embs, axis=0))
            ext_embs = [
                encoder.embed_utterance(net.extract(m, SAMPLE_RATE, self_guide)) for m in mixes
            ]
            enrolled = {
                "mixture": unit(np.mean(mix_embs, axis=0)),
                "selection": unit(
                    np.mean([selected(encoder, m, self_guide) for m in mixes], axis=0)
                ),
                "extracted_self_guide": unit(np.mean(ext_embs, axis=0)),
                # second pass: guide = the mean of the first pass' extracted embeddings
                "extracted_self_guide_2pass": unit(
                    np.mean(
                        [
                            encoder.embed_utterance(
                                net.extract(m, SAMPLE_RATE, unit(np.mean(ext_embs, axis=0)))
                            )
                            for m in mixes
                        ],
                        axis=0,
                    )
                ),
                "mix_plus_extracted": unit(np.mean(ext_embs, axis=0) + np.mean(mix_embs, axis=0)),
                "extracted_oracle_guide": unit(
                    np.mean(
                        [
                            encoder.embed_utterance(net.extract(m, SAMPLE_RATE, oracle))
                            for m in mixes
                        ],
                        axis=0,
                    )
                ),
            }
            for m in methods:
                s = test_emb @ enrolled[m]
                scores[m][0].extend(s[test_spk == spk].tolist())
                scores[m][1].extend(s[test_spk != spk].tolist())
    out = {
        m: {
            "eer": eer(np.array(t), np.array(n)),
            "mean_target_score": float(np.mean(t)),
            "n_target": len(t),
            "n_nontarget": len(n),
        }
        for m, (t, n) in scores.items()
    }
    log.info("verification: %s", {m: round(v["eer"], 4) for m, v in out.items()})
    return out


def markdown(results: dict) -> str:
    lines = [
        "| SIR | n | SI-SDR mix | SI-SDR extracted | SI-SDRi | cos mix | cos selection | "
        "cos extracted | cos extracted+selection | cos guide | extracted > mix |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for sir, r in results["mixtures"].items():
        lines.append(
            f"| {sir} dB | {r['n']} | {r['sisdr_mix']:.2f} | {r['sisdr_ext']:.2f} | "
            f"{r['sisdr_improvement']:+.2f} | {r['cos_mix']:.4f} | {r['cos_sel']:.4f} | "
            f"{r['cos_ext']:.4f} | {r['cos_ext_sel']:.4f} | {r['cos_guide']:.4f} | "
            f"{100 * r['ext_beats_mix_fraction']:.0f} % |"
        )
    lines.append(f"\nExtraction RTF (1 CPU thread): {results['rtf']:.4f}")
    if "verification" in results:
        lines += [
            "",
            "| enrollment (3 refs, SIR 0 dB overlap) | EER | mean target score |",
            "|---|---|---|",
        ]
        for m, v in results["verification"].items():
            lines.append(f"| {m} | {100 * v['eer']:.2f} % | {v['mean_target_score']:.4f} |")
    return "\n".join(lines)


def report_fragment(results: dict) -> str:
    """The markdown section for BENCHMARKS.md: what was trained, the tables, the ship verdict."""
    meta = results.get("model", {}).get("metadata", {})
    args = results.get("args", {})
    flags = " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in args.items()
        if k in {"steps", "max_minutes", "seed", "hidden", "layers"}
    )
    head = [
        f"Command: `OMP_NUM_THREADS=1 python scripts/train_target_extractor.py --ship {flags}` "
        f"({meta.get('steps', '?')} steps in {meta.get('train_minutes', '?')} min on one CPU thread; "
        f"{len(results.get('train_speakers', []))} train speakers, "
        f"{len(results.get('held_apart_speakers', []))} held-apart speakers never seen in training).",
        "",
        "Guide-conditioned BiGRU mask estimator (`voxref.separation.extractor.TargetExtractor`), "
        f"loss: {meta.get('loss', '?')}. Evaluated on held-apart speakers: mixtures at SIR 0 / 5 dB "
        "(SI-SDR and cosine to the clean target's GE2E embedding), and verification with "
        "3-reference sets overlapped at SIR 0 dB.",
        "",
        markdown(results),
        "",
        f"**Ship rule: {'passed' if results.get('ship_rule_passed') else 'failed'}** "
        f"({results.get('ship_rule', '')}). "
        + (
            "The checkpoint ships as `voxref/data/target_extractor.pt`."
            if results.get("ship_rule_passed")
            else "Nothing ships: `embed` keeps guided window selection, and the extractor stays a "
            "trainable class for users with more data and compute."
        ),
    ]
    return "\n".join(head)


def ship_decision(results: dict) -> tuple[bool, str]:
    """The ship rule of the module docstring."""
    r0 = results["mixtures"].get("0")
    if r0 is None:
        return False, "no SIR 0 dB evaluation"
    reasons = []
    if not r0["cos_ext"] > r0["cos_mix"]:
        reasons.append(f"cos extracted {r0['cos_ext']:.4f} <= mixture {r0['cos_mix']:.4f}")
    if not r0["cos_ext"] > r0["cos_sel"]:
        reasons.append(f"cos extracted {r0['cos_ext']:.4f} <= selection {r0['cos_sel']:.4f}")
    v = results.get("verification")
    if v is not None:
        e_ext, e_mix = v["extracted_self_guide"]["eer"], v["mixture"]["eer"]
        if not e_ext < e_mix:
            reasons.append(
                f"verification EER self-guided extraction {e_ext:.4f} >= mixture {e_mix:.4f}"
            )
    if reasons:
        return False, "; ".join(reasons)
    return True, "extracted embeddings beat mixture and selection at SIR 0 dB" + (
        " and lower the verification EER" if v is not None else ""
    )


# ---------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", type=Path, default=REPO / "benchmarks/work/corpus")
    p.add_argument("--work", type=Path, default=REPO / "benchmarks/work/extractor")
    p.add_argument(
        "--results", type=Path, default=REPO / "benchmarks/results/target_extractor.json"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--held-fraction", type=float, default=0.3)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--hop", type=int, default=160)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--max-minutes", type=float, default=20.0)
    p.add_argument(
        "--embedding-weight",
        type=float,
        default=0.5,
        help="weight of 1 - cos(GE2E(extracted), GE2E(clean)) on a 1.6 s window (0: off)",
    )
    p.add_argument("--guide-noise-prob", type=float, default=0.5)
    p.add_argument(
        "--guide-noise-max",
        type=float,
        default=0.6,
        help="a contaminated guide is unit(g + U(0, max) * another speaker's embedding)",
    )
    p.add_argument("--init", type=Path, default=None, help="fine-tune this checkpoint")
    p.add_argument("--verify-repeats", type=int, default=3, help="overlap draws per enrollment set")
    p.add_argument("--eval-sir", type=float, nargs="+", default=[0.0, 5.0])
    p.add_argument("--eval-utts", type=int, default=12, help="utterances per held-apart speaker")
    p.add_argument("--verify-sir", type=float, default=0.0)
    p.add_argument("--sets-per-speaker", type=int, default=4)
    p.add_argument("--no-verification", dest="verification", action="store_false")
    p.add_argument("--eval-only", action="store_true", help="evaluate --work/model.pt")
    p.add_argument("--ship", action="store_true", help="apply the ship rule")
    p.add_argument(
        "--markdown-only",
        action="store_true",
        help="only rewrite the .md fragment next to --results from its JSON",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.markdown_only:
        args.results.with_suffix(".md").write_text(
            report_fragment(json.loads(args.results.read_text())) + "\n"
        )
        return 0

    import torch

    torch.set_num_threads(1)
    from voxref.embedder.ge2e import GE2EEncoder
    from voxref.separation.extractor import TargetExtractor

    utts, audio = load_corpus(args.corpus)
    by_speaker: dict[str, list[str]] = {}
    for u in utts:
        by_speaker.setdefault(u["speaker"], []).append(u["key"])
    speakers = sorted(s for s, k in by_speaker.items() if len(k) >= 3)
    train_speakers, held = split_speakers(speakers, args.held_fraction, args.seed)
    log.info("%d train speakers, %d held-apart: %s", len(train_speakers), len(held), held)
    encoder = GE2EEncoder()
    guides = guide_embeddings(utts, audio, args.work, encoder)

    model_path = args.work / "model.pt"
    if not args.eval_only:
        model_path = train(args, by_speaker, train_speakers, audio, guides)
    net = TargetExtractor.load(model_path)
    results = evaluate(args, net, encoder, by_speaker, held, utts, audio, guides)
    ok, why = ship_decision(results)
    results.update(
        {
            "held_apart_speakers": held,
            "train_speakers": train_speakers,
            "model": {"config": net.config, "metadata": net.metadata},
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "ship_rule_passed": ok,
            "ship_rule": why,
        }
    )
    table = markdown(results)
    print(table)
    print(f"\nship rule: {'PASSED' if ok else 'FAILED'} - {why}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    args.results.with_suffix(".md").write_text(report_fragment(results) + "\n")
    if args.ship:
        if ok:
            SHIP_PATH.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(model_path, SHIP_PATH)
            print(f"shipped {model_path} -> {SHIP_PATH}")
        else:
            print("nothing shipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
