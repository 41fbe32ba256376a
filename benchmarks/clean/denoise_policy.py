"""Benchmark of the denoisers: real-time factor, output SNR, and GE2E embedding shift.

Not a test (pytest does not collect it). Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.clean.denoise_policy [--speakers 4] [--json out.json]

For each of ``--speakers`` fixture speakers, a clean signal is two of its utterances with 0.4 s
pauses around them. Seeded white noise and babble (four other fixture speakers talking at once) are
added at 0/5/10/20 dB active-speech SNR. Each denoiser processes every noisy signal (and the clean
one); we report the scale-invariant SNR of its output against the clean signal and the cosine
between the GE2E embedding of the clean signal and that of the processed one ("off" = the noisy
signal itself). Numbers are means over speakers.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from voxref.audio import load_audio
from voxref.cleaning.denoise import NoDenoiser, SpectralGate
from voxref.cleaning.dfn3 import DeepFilterNet3
from voxref.cleaning.snr import snr_against_reference
from voxref.embedder.ge2e import GE2EEncoder

SPEECH_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "speech"
SR = 16_000
SNRS = (0, 5, 10, 20)


def load_speakers() -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    with (SPEECH_DIR / "manifest.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["speaker"], []).append(
                load_audio(SPEECH_DIR / row["path"], SR).samples
            )
    return out


def with_pauses(utts: list[np.ndarray], pause: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    gap = np.zeros(int(pause * SR), np.float32)
    parts, mask = [gap], [np.zeros(len(gap), bool)]
    for u in utts:
        parts += [u, gap]
        mask += [np.ones(len(u), bool), np.zeros(len(gap), bool)]
    return np.concatenate(parts), np.concatenate(mask)


def babble(others: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n, np.float64)
    for u in others:
        loop = np.tile(u, int(np.ceil(n / len(u))) + 1)
        start = int(rng.integers(0, len(u)))
        seg = loop[start : start + n]
        out += seg / (np.sqrt(np.mean(seg**2)) + 1e-12)
    return out


def mix(clean: np.ndarray, speech_mask: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    p_speech = np.mean(clean[speech_mask].astype(np.float64) ** 2)
    g = np.sqrt(p_speech / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return (clean + g * noise).astype(np.float32)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument(
        "--snrs", default=",".join(map(str, SNRS)), help="comma-separated input SNRs (dB)"
    )
    ap.add_argument("--methods", default=None, help="comma-separated subset of the methods")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    snrs = tuple(float(v) for v in args.snrs.split(","))

    speakers = load_speakers()
    names = sorted(speakers)[: args.speakers]
    encoder = GE2EEncoder()
    methods = {
        "off": NoDenoiser(),
        "gate": SpectralGate(stationary=False),
        "gate-stationary": SpectralGate(stationary=True),
        "dfn3": DeepFilterNet3(),
        "dfn3-lim20": DeepFilterNet3(atten_lim_db=20.0),
    }
    if args.methods:
        methods = {m: methods[m] for m in args.methods.split(",")}
    busy = {m: 0.0 for m in methods}
    audio_s = {m: 0.0 for m in methods}
    rows: list[dict] = []
    clean_embs = {}
    for k, spk in enumerate(names):
        clean, speech_mask = with_pauses(speakers[spk][:2])
        e_clean = encoder.embed_utterance(clean)
        clean_embs[spk] = e_clean
        others = [speakers[o][0] for o in sorted(speakers) if o != spk][:4]
        conditions = [("clean", None, clean)]
        for noise_kind in ("white", "babble"):
            for snr in snrs:
                rng = np.random.default_rng(
                    int(1000 * k + snr + (0 if noise_kind == "white" else 500))
                )
                noise = (
                    rng.standard_normal(len(clean))
                    if noise_kind == "white"
                    else babble(others, len(clean), rng)
                )
                conditions.append((noise_kind, snr, mix(clean, speech_mask, noise, snr)))
        for noise_kind, snr, noisy in conditions:
            for name, den in methods.items():
                t0 = time.perf_counter()
                out = den.denoise(noisy, SR)
                busy[name] += time.perf_counter() - t0
                audio_s[name] += len(noisy) / SR
                rows.append(
                    {
                        "speaker": spk,
                        "noise": noise_kind,
                        "snr_in": snr,
                        "method": name,
                        "si_snr_out": snr_against_reference(out, clean),
                        "cos": cos(e_clean, encoder.embed_utterance(out)),
                    }
                )
        print(f"done {spk}", flush=True)

    inter = [cos(clean_embs[a], clean_embs[b]) for i, a in enumerate(names) for b in names[i + 1 :]]
    print(
        f"\nGE2E cosine between different speakers' clean signals: mean {np.mean(inter):.3f}, max {np.max(inter):.3f}"
    )
    print("\nreal-time factor (processing s / audio s, one thread, incl. DFN3 state setup):")
    for m in methods:
        print(f"  {m:16s} {busy[m] / audio_s[m]:.3f}")

    def mean(noise: str, snr, method: str, key: str) -> float:
        return float(
            np.mean(
                [
                    r[key]
                    for r in rows
                    if r["noise"] == noise and r["snr_in"] == snr and r["method"] == method
                ]
            )
        )

    for key, title in (
        ("cos", "cosine(GE2E clean, GE2E processed)"),
        ("si_snr_out", "SI-SNR of the output vs clean (dB)"),
    ):
        print(f"\n{title}")
        print(f"| noise | SNR in | {' | '.join(methods)} |")
        print("|---|---|" + "---|" * len(methods))
        for noise_kind in ("clean", "white", "babble"):
            for snr in (None,) if noise_kind == "clean" else snrs:
                cells = " | ".join(
                    f"{mean(noise_kind, snr, m, key):.3f}"
                    if key == "cos"
                    else f"{mean(noise_kind, snr, m, key):.1f}"
                    for m in methods
                )
                print(f"| {noise_kind} | {'-' if snr is None else snr} | {cells} |")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"rows": rows, "rtf": {m: busy[m] / audio_s[m] for m in methods}}, indent=1)
        )


if __name__ == "__main__":
    main()
