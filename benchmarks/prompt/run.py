"""Prompt benchmark: ``voxref.prompt`` on truth-known mixes vs the naive prompt.

Each case: two references, each a seeded two-voice conversation (with interruptions) of one
target voice and a different interferer (``voxref.separation.synthetic``: espeak-ng / flite
voices), clean or in seeded white noise at 10 dB SNR. The truth is known per sample (every
voice's track and turns, and the noise). For the prompt (its pieces' cut spans on the references'
timelines) and for the naive prompt (the first N seconds of the first reference, N = the prompt's
length) it reports:

* ``target_only``: share of prompt samples where the target speaks and no interferer does;
* ``interferer``: share where an interferer speaks;
* ``cuts_in_speech``: share of cut points that fall inside somebody's turn;
* ``snr_db``: true SNR of the prompt's speech (tracks vs added noise, inside its spans) and of the
  best reference (noisy cases only);
* ``seconds``: wall time of the ``voxref.prompt`` call (shared machine: indicative only).

Run: ``python -m benchmarks.prompt.run [--quick] [--out benchmarks/results/prompt.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


def _spans(res) -> list[tuple[int, float, float]]:
    from voxref.prompting.make import CUT_MARGIN_S

    out = []
    pieces = res.pieces
    if res.preset["contiguous"] and pieces:
        a, b = pieces[0], pieces[-1]
        out.append(
            (
                a.reference,
                a.start - min(CUT_MARGIN_S, 0.5 * a.pause_before),
                b.end + min(CUT_MARGIN_S, 0.5 * b.pause_after),
            )
        )
    else:
        for p in pieces:
            out.append(
                (
                    p.reference,
                    p.start - min(CUT_MARGIN_S, 0.5 * p.pause_before),
                    p.end + min(CUT_MARGIN_S, 0.5 * p.pause_after),
                )
            )
    return out


def _measure(spans, convs, noises, target: str) -> dict:
    sr = convs[0].sample_rate
    tgt = itf = total = 0
    cuts_in = cuts = 0
    sp_pow = no_pow = 0.0
    for ref, s, e in spans:
        conv = convs[ref]
        a, b = max(0, int(s * sr)), min(len(conv.samples), int(e * sr))
        n = b - a
        t_act = np.zeros(n, bool)
        o_act = np.zeros(n, bool)
        for t in conv.turns:
            lo, hi = max(a, int(t.start * sr)), min(b, int(t.end * sr))
            if hi > lo:
                (t_act if t.speaker == target else o_act)[lo - a : hi - a] = True
        tgt += int((t_act & ~o_act).sum())
        itf += int(o_act.sum())
        total += n
        for c in (s, e):
            cuts += 1
            cuts_in += any(t.start < c < t.end for t in conv.turns)
        speech = conv.samples[a:b].astype(np.float64) - noises[ref][a:b]
        sp_pow += float(np.sum(speech**2))
        no_pow += float(np.sum(noises[ref][a:b] ** 2))
    return {
        "target_only": tgt / max(total, 1),
        "interferer": itf / max(total, 1),
        "cuts_in_speech": cuts_in / max(cuts, 1),
        "snr_db": 10 * np.log10(sp_pow / no_pow) if no_pow > 0 else None,
        "seconds_of_audio": total / sr,
    }


def run_case(target, interferers, noise_db, preset: str, seed: int) -> dict:
    import voxref
    from voxref.separation.synthetic import synthetic_conversation

    rng = np.random.default_rng(seed)
    convs, noises, refs = [], [], []
    for k, other in enumerate(interferers):
        conv = synthetic_conversation((target, other), num_turns=8, overlap_prob=0.4, seed=seed + k)
        x = conv.samples.astype(np.float64)
        noise = np.zeros(len(x))
        if noise_db is not None:
            p = float(np.mean(x[np.abs(x) > 1e-4] ** 2))
            noise = np.sqrt(p / 10 ** (noise_db / 10)) * rng.standard_normal(len(x))
        conv.samples = (x + noise).astype(np.float32)
        convs.append(conv)
        noises.append(noise)
        refs.append((conv.samples, conv.sample_rate))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = voxref.prompt(refs, preset=preset, dnsmos=False)
    wall = time.perf_counter() - t0
    mine = _measure(_spans(res), convs, noises, target.name)
    naive = _measure([(0, 0.0, max(res.duration, 1.0))], convs, noises, target.name)
    best_ref = None
    if noise_db is not None:
        best_ref = max(
            10 * np.log10(np.sum((c.samples - n) ** 2) / np.sum(n**2))
            for c, n in zip(convs, noises)
        )
    return {
        "target": target.name,
        "interferers": [v.name for v in interferers],
        "noise_db": noise_db,
        "preset": preset,
        "prompt_seconds": round(res.duration, 2),
        "pieces": len(res.pieces),
        "prompt": mine,
        "naive_first_seconds": naive,
        "best_reference_snr_db": best_ref,
        "seconds": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 cases instead of 6")
    ap.add_argument("--out", default="benchmarks/results/prompt.json")
    args = ap.parse_args()
    from voxref.separation.synthetic import VOICES

    v = {x.name: x for x in VOICES}
    cases = [
        (v["espeak-us-m3"], (v["flite-slt"], v["flite-awb"]), None, "generic", 100),
        (v["espeak-us-m3"], (v["flite-slt"], v["flite-awb"]), 10.0, "generic", 100),
        (v["flite-slt"], (v["espeak-en-f4"], v["flite-kal"]), None, "f5", 200),
        (v["flite-slt"], (v["espeak-en-f4"], v["flite-kal"]), 10.0, "f5", 200),
        (v["espeak-gb-m7"], (v["flite-awb"], v["espeak-us-m3"]), None, "xtts", 300),
        (v["espeak-gb-m7"], (v["flite-awb"], v["espeak-us-m3"]), 10.0, "xtts", 300),
    ]
    if args.quick:
        cases = cases[:2]
    rows = [run_case(*c) for c in cases]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cases": rows}, indent=2, default=float) + "\n")
    for r in rows:
        print(json.dumps(r, default=float))


if __name__ == "__main__":
    main()
