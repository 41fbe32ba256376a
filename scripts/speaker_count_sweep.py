"""Automatic speaker count by the diarizer's merge threshold, on clean, noisy and reverberant audio.

Without a given number of speakers, :class:`voxref.separation.diarization.Diarizer` merges
clusters while their centroid cosine is at least ``merge_threshold`` (default 0.9). This sweep
measures, per threshold and condition, how often the count is right on multi-speaker recordings
(pyannote's sample + the 10 synthetic conversations of :mod:`voxref.separation.benchmark` + 3
more) and on 16 single-speaker recordings (the benchmark's 4 + each fixture voice at 2 more
seeds), with the DER (collar 0, speakers estimated) of the sample and the conversations' mean.
Conditions: as synthesised/recorded, pink noise at 15 dB SNR, white noise at 10 dB SNR,
reverberation (synthetic RIR, RT60 0.6 s). Everything is seeded.

Run (about 10 min on one thread)::

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 PYANNOTE_METRICS_ENABLED=false \\
        .venv/bin/python scripts/speaker_count_sweep.py \\
        --json benchmarks/results/speaker_count.json

``--denoise-sample`` instead diarizes pyannote's sample under each condition after each of the
denoisers ``off`` / ``gate`` / ``dfn3`` (about 2 min).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("speaker_count_sweep")

#: Conversations beyond the benchmark's: (voices, turns, overlap probability, seed).
EXTRA_CONVERSATIONS = (
    (("flite-awb", "flite-kal"), 8, 0.3, 500),
    (("espeak-en-f4", "espeak-gb-m7"), 8, 0.3, 501),
    (("flite-slt", "espeak-us-m3", "espeak-en-f4"), 10, 0.3, 502),
)
CONDITIONS = ("clean", "pink15", "white10", "reverb0.6")


def degrade(x: np.ndarray, sample_rate: int, condition: str, seed: int) -> np.ndarray:
    """``x`` under ``condition`` (seeded)."""
    from voxref.augment.noise import add_noise
    from voxref.augment.reverb import reverberate

    x = np.asarray(x, dtype=np.float32)
    if condition == "pink15":
        return add_noise(x, sample_rate, 15.0, "pink", seed=seed)
    if condition == "white10":
        return add_noise(x, sample_rate, 10.0, "white", seed=seed)
    if condition == "reverb0.6":
        return reverberate(x, sample_rate, 0.6, seed=seed)
    return x


def recordings() -> list[tuple[str, np.ndarray, int, list | None, int, int]]:
    """``(name, samples, rate, turns or None, speakers, seed)`` at 16 kHz."""
    import soundfile as sf

    from voxref.sample_data import pyannote_sample, read_rttm
    from voxref.separation.benchmark import (
        CONVERSATIONS,
        SINGLES,
        conversation_recording,
        single_speaker_recording,
    )
    from voxref.separation.synthetic import VOICES

    voices = {v.name: v for v in VOICES}
    wav, rttm = pyannote_sample()
    x, sr = sf.read(wav, dtype="float32")
    out = [("sample", x, sr, read_rttm(rttm), 2, 1)]
    for names, n_turns, ov, seed in CONVERSATIONS + EXTRA_CONVERSATIONS:
        c = conversation_recording(voices, names, n_turns, ov, seed)
        out.append(
            ("+".join(names) + f"@{seed}", c.samples, c.sample_rate, c.turns, len(names), seed)
        )
    singles = list(SINGLES) + [(v.name, s + i) for s in (400, 600) for i, v in enumerate(VOICES)]
    for name, seed in singles:
        samples, rate = single_speaker_recording(voices, name, seed)
        out.append((f"{name}@{seed}", samples, rate, None, 1, seed))
    return out


def denoise_sample(diarizer, conditions, policies=("off", "gate", "dfn3")) -> int:
    """Log speakers found and DER (collar 0) on pyannote's sample per condition and denoiser."""
    import soundfile as sf

    from voxref.cleaning.denoise import get_denoiser
    from voxref.sample_data import pyannote_sample, read_rttm
    from voxref.separation.benchmark import _der, _reference

    wav, rttm = pyannote_sample()
    x, sr = sf.read(wav, dtype="float32")
    ref = _reference(read_rttm(rttm))
    for cond in conditions:
        y = degrade(x, sr, cond, 1)
        for policy in policies:
            z = y if policy == "off" else get_denoiser(policy).denoise(y, sr)
            res = diarizer(z, sr)
            der = 100 * _der(ref, res.annotation, 0.0)
            log.info("%-9s %-5s %d speaker(s), DER %.1f %%", cond, policy, res.num_speakers, der)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--thresholds", type=float, nargs="+", default=[0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92]
    )
    p.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument(
        "--denoise-sample",
        action="store_true",
        help="instead: diarize pyannote's sample under each condition after each denoiser",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("voxref").setLevel(logging.WARNING)  # one line per diarized file otherwise

    from voxref.separation.benchmark import _der, _reference
    from voxref.separation.diarization import Diarizer, DiarizerTuning

    d = Diarizer()
    if args.denoise_sample:
        return denoise_sample(d, args.conditions)
    items = recordings()
    n_multi = sum(it[3] is not None for it in items)
    t0 = time.perf_counter()
    rows = []
    for cond in args.conditions:
        recs = [(it, d.analyse(degrade(it[1], it[2], cond, it[5]), it[2])) for it in items]
        for th in args.thresholds:
            # the same analysis (VAD, windows) clustered with another merge threshold
            clusterer = Diarizer(advanced=DiarizerTuning(merge_threshold=th))
            found = {}
            multi_ok = singles_ok = 0
            ders = []
            sample_der = float("nan")
            for (name, _, _, turns, n, _), rec in recs:
                res = clusterer.run(rec)
                found[name] = res.num_speakers
                if turns is None:
                    singles_ok += res.num_speakers == 1
                    continue
                multi_ok += res.num_speakers == n
                der = _der(_reference(turns), res.annotation, 0.0)
                ders.append(der)
                if name == "sample":
                    sample_der = der
            row = {
                "condition": cond,
                "merge_threshold": th,
                "multi_speaker_count_correct": f"{multi_ok}/{n_multi}",
                "single_speaker_count_correct": f"{singles_ok}/{len(items) - n_multi}",
                "sample_der_auto_collar0": round(sample_der, 4),
                "mean_der_auto_collar0": round(float(np.mean(ders)), 4),
                "found_speakers": found,
            }
            rows.append(row)
            log.info(
                "%-9s %.3f  multi %s  singles %s  sample DER %.1f %%  mean DER %.2f %%",
                cond,
                th,
                row["multi_speaker_count_correct"],
                row["single_speaker_count_correct"],
                100 * sample_der,
                100 * row["mean_der_auto_collar0"],
            )
    out = {"seconds": round(time.perf_counter() - t0, 1), "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
