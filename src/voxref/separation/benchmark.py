"""Reproducible measurements of the separation stage: ``python -m voxref.separation.benchmark``.

Prints (and with ``--json PATH`` writes) the numbers quoted in the docs and tests:

* diarization error rate (``pyannote.metrics``, overlap scored, collar 0 and 0.25 s) on
  pyannote's bundled 2-speaker sample, with the number of speakers given and estimated, and
  side by side the same diarizer without its overlap detector (``overlap_detector=None``: the
  fixed turn-change extension instead), on the same window embeddings;
* the same on a set of synthetic conversations (2–4 espeak-ng / flite voices with overlaps; the
  speaker count found; single-speaker recordings must come out as one speaker);
* purity of guided extraction on the sample (guide = every other long turn of a speaker);
* speed: real-time factor of the diarizer (CPU seconds of this process per second of audio, so
  other jobs on the machine do not inflate it) and the cost of :func:`.guide.target_activity`.

Everything is deterministic (fixed seeds); a run takes about a minute of CPU.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["conversation_recording", "main", "run", "single_speaker_recording"]

log = logging.getLogger(__name__)

#: (voice names, number of turns, overlap probability, seed) of the synthetic conversations.
CONVERSATIONS = (
    (("espeak-us-m3", "flite-slt"), 8, 0.3, 105),
    (("flite-awb", "espeak-en-f4"), 8, 0.3, 101),
    (("espeak-us-m3", "espeak-gb-m7"), 8, 0.3, 102),
    (("flite-slt", "flite-kal"), 8, 0.3, 103),
    (("flite-slt", "espeak-en-f4"), 10, 0.2, 200),
    (("flite-kal", "espeak-gb-m7"), 10, 0.2, 201),
    (("espeak-us-m3", "flite-slt", "flite-awb"), 10, 0.3, 104),
    (("espeak-en-f4", "flite-kal", "espeak-gb-m7"), 10, 0.3, 105),
    (("flite-slt", "flite-awb", "espeak-gb-m7"), 14, 0.2, 203),
    (("flite-awb", "espeak-en-f4", "flite-kal", "espeak-gb-m7"), 14, 0.2, 206),
)
#: Single-speaker recordings: (voice, seed).
SINGLES = (("espeak-us-m3", 7), ("flite-slt", 300), ("flite-awb", 301), ("flite-kal", 302))


def conversation_recording(voices: dict, names, num_turns: int, overlap_prob: float, seed: int):
    """The synthetic conversation of one :data:`CONVERSATIONS` entry (``voices``: name -> voice)."""
    from .synthetic import synthetic_conversation

    return synthetic_conversation(
        tuple(voices[n] for n in names), num_turns=num_turns, overlap_prob=overlap_prob, seed=seed
    )


def single_speaker_recording(voices: dict, name: str, seed: int) -> tuple[np.ndarray, int]:
    """``(samples, rate)`` of one :data:`SINGLES` entry: the voice's own track of a two-voice
    conversation without overlap (the other voice is flite-slt, or espeak-us-m3 for flite-slt)."""
    from .synthetic import synthetic_conversation

    other = voices["flite-slt" if name != "flite-slt" else "espeak-us-m3"]
    conv = synthetic_conversation((voices[name], other), num_turns=8, overlap_prob=0.0, seed=seed)
    return conv.tracks[name], conv.sample_rate


def _reference(turns):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, t in enumerate(turns):
        ann[Segment(t.start, t.end), i] = t.speaker
    return ann


def _der(ref, hyp, collar: float) -> float:
    from pyannote.metrics.diarization import DiarizationErrorRate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(DiarizationErrorRate(collar=collar, skip_overlap=False)(ref, hyp))


def _timed(fn, *args, **kwargs):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.process_time() - c0, time.perf_counter() - w0


def _purity(segments, turns, speaker, exclude, step=0.01):
    n = int((max(t.end for t in turns) + 5) / step)
    act, other, ex, got = (np.zeros(n, bool) for _ in range(4))
    for t in turns:
        (act if t.speaker == speaker else other)[int(t.start / step) : int(t.end / step)] = True
    for a, b in exclude:
        ex[int(a / step) : int(b / step)] = True
    for a, b in segments:
        got[int(a / step) : int(b / step)] = True
    got &= ~ex
    tot = max(int(got.sum()), 1)
    return {
        "active": round(float((got & act).sum() / tot), 3),
        "clean": round(float((got & act & ~other).sum() / tot), 3),
        "seconds": round(float(got.sum() * step), 2),
    }


def run(quick: bool = False) -> dict:
    """Run every measurement; returns a JSON-able dict."""
    import soundfile as sf

    from ..encoding import WindowEmbeddings
    from ..sample_data import exclusive_turns, pyannote_sample, read_rttm
    from .diarization import Diarizer
    from .guide import target_activity
    from .synthetic import VOICES
    from .target import extract_target

    out: dict = {}
    d = Diarizer()
    plain = Diarizer(overlap_detector=None)  # same windows; ignores the counter's output
    wav, rttm = pyannote_sample()
    x, sr = sf.read(wav, dtype="float32")
    turns = read_rttm(rttm)
    ref = _reference(turns)
    d.analyse(x[: 2 * sr], sr)  # load the models before timing
    rec, cpu, wall = _timed(d.analyse, x, sr)
    sample: dict = {"duration_s": len(x) / sr}
    for mode, k in (("given", 2), ("auto", None)):
        res, c2, w2 = _timed(d.run, rec, num_speakers=k)
        sample[mode] = {
            "num_speakers": res.num_speakers,
            "der_collar0": round(_der(ref, res.annotation, 0.0), 4),
            "der_collar0.25": round(_der(ref, res.annotation, 0.25), 4),
            "rtf_cpu": round((cpu + c2) / sample["duration_s"], 4),
            "rtf_wall": round((wall + w2) / sample["duration_s"], 4),
        }
    _, cpu0, _ = _timed(plain.analyse, x, sr)
    res = plain.run(rec, num_speakers=2)
    sample["without_overlap_detector"] = {
        "der_collar0": round(_der(ref, res.annotation, 0.0), 4),
        "der_collar0.25": round(_der(ref, res.annotation, 0.25), 4),
        "rtf_cpu": round(cpu0 / sample["duration_s"], 4),
    }
    sample["overlap_detector_rtf_wall"] = round(rec.timings["count"] / sample["duration_s"], 4)
    auto = d.run(rec)
    purity = {}
    for spk in sorted({t.speaker for t in turns}):
        own = [t for t in exclusive_turns(turns) if t.speaker == spk and t.duration > 1.0]
        guide_turns = own[::2]
        guide = np.concatenate([x[int(t.start * sr) : int(t.end * sr)] for t in guide_turns])
        r = extract_target(
            x, [guide], sample_rate=sr, diarizer=d, diarization=auto, min_guide_similarity=None
        )
        purity[spk] = _purity(r.segments, turns, spk, [(t.start, t.end) for t in guide_turns])
        purity[spk]["confidence"] = r.confidence
    sample["guided_extraction_purity"] = purity
    out["pyannote_sample"] = sample

    voices = {v.name: v for v in VOICES}
    rows = []
    convs = CONVERSATIONS[:3] if quick else CONVERSATIONS
    total_audio = total_cpu = 0.0
    for names, n_turns, ov, seed in convs:
        conv = conversation_recording(voices, names, n_turns, ov, seed)
        r_ref = _reference(conv.turns)
        rec, cpu, _ = _timed(d.analyse, conv.samples, conv.sample_rate)
        given = d.run(rec, num_speakers=len(names))
        given0 = plain.run(rec, num_speakers=len(names))
        au = d.run(rec)
        total_audio += conv.duration
        total_cpu += cpu
        rows.append(
            {
                "voices": list(names),
                "seed": seed,
                "duration_s": round(conv.duration, 1),
                "overlap_s": round(conv.overlap_seconds(), 2),
                "der_given_collar0": round(_der(r_ref, given.annotation, 0.0), 4),
                "der_given_collar0.25": round(_der(r_ref, given.annotation, 0.25), 4),
                "der_given_collar0_without_overlap_detector": round(
                    _der(r_ref, given0.annotation, 0.0), 4
                ),
                "found_speakers": au.num_speakers,
                "der_auto_collar0.25": round(_der(r_ref, au.annotation, 0.25), 4),
            }
        )
    singles = []
    for name, seed in SINGLES[: 2 if quick else None]:
        res = d(*single_speaker_recording(voices, name, seed))
        singles.append({"voice": name, "found_speakers": res.num_speakers})
    arr = lambda key: np.array([r[key] for r in rows])  # noqa: E731
    out["synthetic"] = {
        "conversations": rows,
        "mean_der_given_collar0": round(float(arr("der_given_collar0").mean()), 4),
        "mean_der_given_collar0.25": round(float(arr("der_given_collar0.25").mean()), 4),
        "mean_der_given_collar0_without_overlap_detector": round(
            float(arr("der_given_collar0_without_overlap_detector").mean()), 4
        ),
        "mean_der_auto_collar0.25": round(float(arr("der_auto_collar0.25").mean()), 4),
        "speaker_count_correct": f"{sum(r['found_speakers'] == len(r['voices']) for r in rows)}/{len(rows)}",
        "single_speaker": singles,
        "single_speaker_correct": f"{sum(s['found_speakers'] == 1 for s in singles)}/{len(singles)}",
        "embedding_rtf_cpu": round(total_cpu / max(total_audio, 1e-9), 4),
    }

    rng = np.random.default_rng(0)
    wins = []
    for n in (100, 150, 80):
        e = rng.standard_normal((n, 256)).astype(np.float32) + 3.0
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        t = np.arange(n) * 0.4
        wins.append(WindowEmbeddings(e, t, t + 1.6))
    target_activity(wins)
    _, cpu, _ = _timed(target_activity, wins)
    out["target_activity_cpu_ms_330_windows"] = round(1000 * cpu, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m voxref.separation.benchmark", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer synthetic recordings")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    res = run(quick=args.quick)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
