"""When does denoising help a speaker embedding? Per-clip evidence on the quality-benchmark corpus.

Not a test. Run from the repository root (the corpus is built by ``python -m benchmarks.run``)::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.clean.denoise_decision \
        [--speakers 8] [--clips 2] [--json benchmarks/results/denoise_decision.json]

For each chosen enrollment clip and each degradation of the quality benchmark (same bytes as the
benchmark: :func:`benchmarks.quality.conditions.degrade`), the clip is cleaned with VAD only
(``denoise="off"``) and with each denoiser, encoded with GE2E (mean of window embeddings), and
compared by cosine with the embedding of the *clean* clip processed without denoising (the voice
the TTS should reproduce). ``gain`` = cosine(denoised) - cosine(off). The features the cleaning
stage can see without the clean signal (blind SNR estimate, noise modulation depth) are recorded
next to it, so a policy ("denoise when ...") can be read off the table.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.quality.conditions import InterfererBank, degrade, get_condition
from benchmarks.quality.split import load_manifest, split_corpus

log = logging.getLogger("denoise_decision")

SR = 16_000
CONDITIONS = (
    "clean",
    "white-20dB",
    "white-10dB",
    "white-5dB",
    "white-0dB",
    "pink-20dB",
    "pink-10dB",
    "pink-5dB",
    "pink-0dB",
    "brown-20dB",
    "brown-5dB",
    "brown-0dB",
    "babble-20dB",
    "babble-10dB",
    "babble-5dB",
    "babble-0dB",
    "reverb-0.3s",
    "reverb-0.9s",
    "telephone",
    "overlap-sir0dB",
    "overlap-sir10dB",
)
DENOISERS = ("dfn3", "gate")


def _embedding(cleaned, encoder) -> np.ndarray:  # noqa: ANN001
    w = encoder.embed_windows(cleaned.speech.samples)
    v = w.embeddings.mean(axis=0)
    return v / np.linalg.norm(v)


def main(argv: list[str] | None = None) -> int:
    from voxref.cleaning.noise_profile import noise_modulation
    from voxref.cleaning.pipeline import clean
    from voxref.embedder.ge2e import GE2EEncoder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("benchmarks/work/corpus"))
    ap.add_argument("--speakers", type=int, default=8)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    ap.add_argument("--denoisers", nargs="+", default=list(DENOISERS))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("voxref").setLevel(logging.ERROR)

    split = split_corpus(
        load_manifest(args.corpus), 6, 6, 6, max_trial_speakers=args.speakers, seed=0
    )
    bank = InterfererBank(split, SR, level_dbfs=None)  # as rendered, as when it was run
    enc = GE2EEncoder()
    from voxref.audio.load import load_audio

    clips = [c for s in split.trial_speakers for c in split.enroll[s][: args.clips]]
    rows = []
    t0 = time.perf_counter()
    for clip in clips:
        x = load_audio(clip.path, SR).samples
        ref = _embedding(clean((x, SR), denoise="off"), enc)
        for name in args.conditions:
            y, _ = degrade(get_condition(name), x, SR, clip, bank, 0)
            off = clean((y, SR), denoise="off")
            if off.report.verdict == "reject" or off.speech.duration < 0.5:
                continue
            row = {
                "clip": clip.key,
                "condition": name,
                "snr_db": float(off.report.snr_db),
                "modulation": float(noise_modulation(y, SR, off.regions)),
                "cos_off": float(ref @ _embedding(off, enc)),
            }
            for d in args.denoisers:
                den = clean((y, SR), denoise=d)
                row[f"gain_{d}"] = float(ref @ _embedding(den, enc)) - row["cos_off"]
            rows.append(row)
        log.info("%s done (%.0f s)", clip.key, time.perf_counter() - t0)

    by = defaultdict(list)
    for r in rows:
        by[r["condition"]].append(r)
    header = (
        "| condition | n | est. SNR dB (median) | modulation (median) | cos off | "
        + " | ".join(f"gain {d} (mean) | {d} helps" for d in args.denoisers)
        + " |"
    )
    lines = [header, "| " + " | ".join(["---"] * (5 + 2 * len(args.denoisers))) + " |"]
    for name in args.conditions:
        rs = by.get(name, [])
        if not rs:
            continue
        cells = [
            name,
            str(len(rs)),
            f"{np.median([r['snr_db'] for r in rs]):.1f}",
            f"{np.median([r['modulation'] for r in rs]):.2f}",
            f"{np.mean([r['cos_off'] for r in rs]):.3f}",
        ]
        for d in args.denoisers:
            g = np.array([r[f"gain_{d}"] for r in rs])
            cells += [f"{g.mean():+.3f}", f"{np.mean(g > 0):.0%}"]
        lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.json:
        import sys

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "table": lines}, indent=1) + "\n")
        command = " ".join(
            [
                "python -m benchmarks.clean.denoise_decision",
                *(argv if argv is not None else sys.argv[1:]),
            ]
        )
        intro = [
            f"Command: `{command}` ({len(clips)} enrollment clips of {len(split.trial_speakers)} "
            "speakers). `cos off`: cosine between the GE2E embedding of the degraded clip after VAD "
            "and that of the clean clip; `gain`: how much a denoiser raises it. The blind features "
            "(estimated SNR, noise modulation) are what `denoise='auto'` decides on "
            "(`voxref.cleaning.denoise`). A higher cosine to one's own clean voice is not the whole "
            "story: see the ablation above for what each policy does to verification.",
            "",
        ]
        args.json.with_suffix(".md").write_text("\n".join(intro + lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
