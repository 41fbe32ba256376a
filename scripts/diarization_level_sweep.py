"""Diarization DER and speaker counts by the level the Diarizer scales recordings to.

The offline diarizer's GE2E windows depend on level, so ``Diarizer(level_dbfs=...)`` scales every
recording to one active level first; this sweep chose :data:`voxref.separation.diarization.
DIARIZATION_LEVEL_DBFS` (lowest mean DER, collar 0, over pyannote's sample + the 10 synthetic
conversations of :mod:`voxref.separation.benchmark`). Also counted: speakers found without a
given number on the conversations and on the benchmark's 4 single-speaker recordings.

Run (about 15 min on one thread)::

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 PYANNOTE_METRICS_ENABLED=false \\
        .venv/bin/python scripts/diarization_level_sweep.py \\
        --levels off -26 -24 -23 -22 -21 -20 -19 -18 \\
        --json benchmarks/results/diarization_level.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("diarization_level_sweep")


def recordings() -> tuple[list, list]:
    """``(conversations, singles)``: ``(name, samples, rate, reference, speakers)`` and
    ``(name, samples)`` at 16 kHz."""
    import soundfile as sf

    from voxref.sample_data import pyannote_sample, read_rttm
    from voxref.separation.benchmark import (
        CONVERSATIONS,
        SINGLES,
        _reference,
        conversation_recording,
        single_speaker_recording,
    )
    from voxref.separation.synthetic import VOICES

    voices = {v.name: v for v in VOICES}
    wav, rttm = pyannote_sample()
    x, sr = sf.read(wav, dtype="float32")
    convs = [("pyannote-sample", x, sr, _reference(read_rttm(rttm)), 2)]
    for names, n_turns, ov, seed in CONVERSATIONS:
        conv = conversation_recording(voices, names, n_turns, ov, seed)
        convs.append(
            ("+".join(names), conv.samples, conv.sample_rate, _reference(conv.turns), len(names))
        )
    singles = [(name, single_speaker_recording(voices, name, seed)[0]) for name, seed in SINGLES]
    return convs, singles


def sweep(levels: list[float | None]) -> dict:
    """DER (collar 0 and 0.25 s, speakers given) and counts, per level (``None``: unscaled)."""
    from voxref.audio.level import SPEECH_BAND_HZ, active_level_db
    from voxref.separation.benchmark import _der
    from voxref.separation.diarization import Diarizer

    convs, singles = recordings()
    out: dict = {
        "recording_levels_dbfs": {
            name: round(active_level_db(y, r, SPEECH_BAND_HZ), 1) for name, y, r, _, _ in convs
        },
        "by_level": {},
    }
    for level in levels:
        t0 = time.perf_counter()
        d = Diarizer(level_dbfs=level)
        der0, der25, counted = [], [], []
        for _, y, r, ref, k in convs:
            rec = d.analyse(y, r)
            ann = d.run(rec, num_speakers=k).annotation
            der0.append(_der(ref, ann, 0.0))
            der25.append(_der(ref, ann, 0.25))
            counted.append(d.run(rec).num_speakers)
        found = [d(y, 16000).num_speakers for _, y in singles]
        key = "off" if level is None else f"{level:g}"
        out["by_level"][key] = {
            "sample_der_collar0": round(der0[0], 4),
            "sample_der_collar0.25": round(der25[0], 4),
            "synthetic_mean_der_collar0": round(float(np.mean(der0[1:])), 4),
            "synthetic_mean_der_collar0.25": round(float(np.mean(der25[1:])), 4),
            "all_mean_der_collar0": round(float(np.mean(der0)), 4),
            "speaker_count_correct": int(sum(c == k for c, (*_, k) in zip(counted, convs))),
            "conversations": len(convs),
            "single_speaker_found": found,
        }
        log.info("level %s: %s (%.0f s)", key, out["by_level"][key], time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", nargs="+", default=["off", "-24", "-22", "-21", "-20", "-18"])
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    levels = [None if v == "off" else float(v) for v in args.levels]
    result = sweep(levels)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
