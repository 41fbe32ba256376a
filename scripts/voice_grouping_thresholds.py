"""Choose the thresholds of grouping references by voice for degraded references (tuning voices).

:mod:`voxref.embedder.pooling.voices` sets a reference apart as "another voice" when its
embedding is far from the other references'. Reverberation, a second talker or a telephone band
move an embedding away from its voice too, so the threshold chosen on clean utterances sets a
degraded copy of the target apart. This script measures, with the default pipeline
(``voxref.Embedder()``: ``prepare`` per clip, ``combine`` per set), on the corpus voices of one
group:

* per degradation (reverberation RT60 0.3/0.6/0.9 s, overlap SIR 0/5 dB, telephone, babble and
  white noise at 5/10 dB), the cosine of a degraded reference to the centroid of two clean
  references of **its own voice** and of **another voice** (the set ``[clean, clean,
  degraded]`` combined as the pipeline does), and what the clean stage reported (verdict,
  overlap, bandwidth, decay time);
* the decay time (:func:`voxref.cleaning.reverb.decay_time`) of clean and reverberant clips.

On the tuning group (``--voice-group A``) it chooses

* ``REVERBERANT_DECAY_S``: halfway between the largest decay time of a clean clip and the
  smallest of a clip under RT60 0.3 s reverberation, to 0.01 s;
* ``DEGRADED_VOICES_BELOW``: the cosine threshold for pairs with a degraded reference, the
  largest multiple of 0.01 at which at most :data:`MAX_SPLIT_SHARE` of the same-voice degraded
  references that grouping sees (not judged weak) fall below it;

and writes everything to ``benchmarks/results/voice_grouping_thresholds_A.json``. With
``--voice-group B`` it measures the reporting voices and checks the shipped constants on them
(nothing is chosen there).

Usage::

    python scripts/voice_grouping_thresholds.py --voice-group A
    python scripts/voice_grouping_thresholds.py --voice-group B
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "src"))

log = logging.getLogger("voice_grouping_thresholds")

SR = 16_000
SEED = 0
#: Utterances per voice: the first ``N_CLEAN`` are the clean references, the next ``N_DEGRADED``
#: are degraded.
N_CLEAN = 2
N_DEGRADED = 3
#: Largest share of same-voice degraded references a chosen threshold may set apart.
MAX_SPLIT_SHARE = 0.02
CONDITIONS: dict[str, dict[str, Any]] = {
    "reverb-0.3s": {"family": "reverb", "rt60": 0.3},
    "reverb-0.6s": {"family": "reverb", "rt60": 0.6},
    "reverb-0.9s": {"family": "reverb", "rt60": 0.9},
    "overlap-sir0dB": {"family": "overlap", "sir_db": 0.0},
    "overlap-sir5dB": {"family": "overlap", "sir_db": 5.0},
    "telephone": {"family": "telephone"},
    "babble-5dB": {"family": "babble", "snr_db": 5.0},
    "babble-10dB": {"family": "babble", "snr_db": 10.0},
    "white-5dB": {"family": "noise", "snr_db": 5.0},
    "white-10dB": {"family": "noise", "snr_db": 10.0},
}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), 1e-12)


def corpus_voices(corpus: Path, group: str) -> dict[str, list[Path]]:
    """The corpus's voices of ``group`` and their clips (sorted)."""
    from benchmarks.corpus.voice_split import family_group, require_tuning

    manifest = json.loads((corpus / "manifest.json").read_text())
    voices = {}
    for spk in sorted(manifest["speakers"]):
        try:
            if family_group(spk) != group:
                continue
        except KeyError:
            continue
        clips = sorted((corpus / spk).glob("*.wav"))
        if len(clips) >= N_CLEAN + N_DEGRADED:
            voices[spk] = clips
    if group == "A":
        require_tuning(voices)
    return voices


def degrade(
    name: str, x: np.ndarray, others: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """``x`` under condition ``name`` (``others``: utterances of other voices, for overlap and
    babble)."""
    from voxref.augment.babble import add_babble
    from voxref.augment.bandlimit import telephone
    from voxref.augment.noise import add_noise
    from voxref.augment.overlap import add_overlap
    from voxref.augment.reverb import reverberate

    c = CONDITIONS[name]
    if c["family"] == "reverb":
        y = reverberate(x, SR, rt60=c["rt60"], drr_db=3.0, rng=rng)
    elif c["family"] == "overlap":
        interferer = others[int(rng.integers(len(others)))]
        y = add_overlap(
            x, SR, interferer, c["sir_db"], float(rng.uniform(0.3, 1.0)), rng=rng
        ).samples
    elif c["family"] == "telephone":
        y = telephone(x, SR)
    elif c["family"] == "babble":
        talkers = [others[int(i)] for i in rng.choice(len(others), 4, replace=False)]
        y = add_babble(x, SR, c["snr_db"], talkers, rng=rng)
    else:
        y = add_noise(x, SR, c["snr_db"], "white", rng=rng)
    y = np.asarray(y, dtype=np.float32)
    peak = float(np.max(np.abs(y)))
    return y * np.float32(0.99 / peak) if peak > 0.99 else y


def measure(corpus: Path, group: str, max_voices: int | None) -> dict[str, Any]:
    """Per-reference rows: condition, same/other voice, cosine to the clean pair, report."""
    from benchmarks.quality.conditions import corpus_clip

    from voxref.errors import VoxrefError
    from voxref.pipeline import Embedder

    voices = corpus_voices(corpus, group)
    names = sorted(voices)[: max_voices or None]
    emb = Embedder()
    audio = {s: [corpus_clip(p, SR) for p in voices[s][: N_CLEAN + N_DEGRADED]] for s in names}
    prepared: dict[tuple[str, str, int], Any] = {}
    t0 = time.perf_counter()

    def prep(key: tuple[str, str, int], x: np.ndarray) -> None:
        try:
            prepared[key] = emb.prepare((x, SR))
            emb.voice_split(prepared[key])
        except VoxrefError as exc:
            log.info("%s: %s", key, exc)

    for vi, s in enumerate(names):
        others = [u for o in names if o != s for u in audio[o]]
        for u in range(N_CLEAN + N_DEGRADED):
            prep((s, "clean", u), audio[s][u])
        for cname in CONDITIONS:
            for u in range(N_CLEAN, N_CLEAN + N_DEGRADED):
                rng = np.random.default_rng([SEED, vi, u, sorted(CONDITIONS).index(cname)])
                prep((s, cname, u), degrade(cname, audio[s][u], others, rng))
        log.info("%s prepared (%.0f s)", s, time.perf_counter() - t0)

    rows = []
    for vi, s in enumerate(names):
        anchors = [prepared.get((s, "clean", u)) for u in range(N_CLEAN)]
        if any(a is None for a in anchors):
            continue
        # the other voice: the next voice in the list (another voice of the same engine)
        w = names[(vi + 1) % len(names)]
        for cname in ["clean", *CONDITIONS]:
            for u in range(N_CLEAN, N_CLEAN + N_DEGRADED):
                for who, spk in (("same", s), ("other", w)):
                    item = prepared.get((spk, cname, u))
                    if item is None:
                        continue
                    res = emb.combine([*anchors, item])
                    refs = [r for r in res.references if r.embedding is not None]
                    if len(refs) != 3:
                        continue
                    centre = _unit(refs[0].embedding + refs[1].embedding)
                    q = refs[2].quality
                    rows.append(
                        {
                            "voice": s,
                            "ref_voice": spk,
                            "pair": who,
                            "condition": cname,
                            "utt": u,
                            "cosine": float(_unit(refs[2].embedding) @ centre),
                            "anchors_cosine": float(
                                _unit(refs[0].embedding) @ _unit(refs[1].embedding)
                            ),
                            "verdict": q.verdict,
                            "reasons": list(q.reasons),
                            "judged": _judged(q),
                            "overlap_ratio": q.overlap_ratio,
                            "bandwidth_hz": q.bandwidth_hz,
                            "snr_db": q.snr_db,
                            "decay_s": q.decay_s,
                        }
                    )
    return {"voices": names, "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}


def _judged(q: Any) -> bool:
    from voxref.embedder.pooling.voices import _judged as judged

    class _R:
        quality = q

    return judged(_R())


def _stats(v: list[float]) -> dict[str, Any]:
    if not v:
        return {"n": 0}
    a = np.asarray(v, dtype=float)
    return {
        "n": int(a.size),
        "mean": round(float(a.mean()), 3),
        "min": round(float(a.min()), 3),
        "p05": round(float(np.percentile(a, 5)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "max": round(float(a.max()), 3),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cosine and decay-time statistics per condition and pair kind."""
    out: dict[str, Any] = {}
    for cname in ["clean", *CONDITIONS]:
        cell: dict[str, Any] = {}
        for who in ("same", "other"):
            sel = [r for r in rows if r["condition"] == cname and r["pair"] == who]
            grouped = [r for r in sel if r["judged"]]
            cell[who] = {
                "cosine_all": _stats([r["cosine"] for r in sel]),
                "cosine_grouped": _stats([r["cosine"] for r in grouped]),
                "judged_share": round(len(grouped) / max(len(sel), 1), 3),
            }
        sel = [r for r in rows if r["condition"] == cname and r["pair"] == "same"]
        cell["decay_s"] = _stats([r["decay_s"] for r in sel if r["decay_s"] is not None])
        out[cname] = cell
    return out


def degraded_of(row: dict[str, Any], decay_s: float) -> bool:
    """The rule of :func:`voxref.embedder.pooling.voices.degraded` on a measured row."""
    from voxref.embedder.pooling.voices import degraded_report

    class _Q:
        pass

    q = _Q()
    q.decay_s, q.overlap_ratio, q.bandwidth_hz, q.snr_db = (
        row["decay_s"],
        row["overlap_ratio"],
        row["bandwidth_hz"],
        row["snr_db"],
    )
    return degraded_report(q, decay_s=decay_s)


def choose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The decay-time and cosine thresholds (tuning voices only)."""
    clean_decay = [r["decay_s"] for r in rows if r["condition"] == "clean" and r["pair"] == "same"]
    rev_decay = [
        r["decay_s"] for r in rows if r["condition"] == "reverb-0.3s" and r["pair"] == "same"
    ]
    decay = round(0.5 * (max(clean_decay) + min(rev_decay)), 2)
    deg = [r for r in rows if r["judged"] and r["condition"] != "clean" and degraded_of(r, decay)]
    same = np.asarray([r["cosine"] for r in deg if r["pair"] == "same"])
    other = np.asarray([r["cosine"] for r in deg if r["pair"] == "other"])
    sweep = []
    for t in np.arange(0.40, 0.81, 0.01):
        sweep.append(
            {
                "threshold": round(float(t), 2),
                "same_set_apart": round(float(np.mean(same < t)), 3),
                "other_set_apart": round(float(np.mean(other < t)), 3),
            }
        )
    ok = [s for s in sweep if s["same_set_apart"] <= MAX_SPLIT_SHARE]
    chosen = max(s["threshold"] for s in ok) if ok else min(s["threshold"] for s in sweep)
    return {
        "REVERBERANT_DECAY_S": decay,
        "clean_decay_max": round(max(clean_decay), 3),
        "reverb_0.3s_decay_min": round(min(rev_decay), 3),
        "DEGRADED_VOICES_BELOW": chosen,
        "rule": f"largest threshold setting apart <= {MAX_SPLIT_SHARE:.0%} of same-voice degraded "
        "references grouping sees",
        "n_degraded_same": int(same.size),
        "n_degraded_other": int(other.size),
        "sweep": sweep,
    }


def check(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the shipped constants do on these rows, per condition: share of degraded references
    of the same voice / of another voice whose cosine is below the threshold that applies (and
    below :data:`DISTINCT_VOICES_BELOW`, the one threshold used for every reference before)."""
    from voxref.embedder.pooling.voices import (
        DEGRADED_VOICES_BELOW,
        DISTINCT_VOICES_BELOW,
        REVERBERANT_DECAY_S,
    )

    out: dict[str, Any] = {
        "DISTINCT_VOICES_BELOW": DISTINCT_VOICES_BELOW,
        "DEGRADED_VOICES_BELOW": DEGRADED_VOICES_BELOW,
        "REVERBERANT_DECAY_S": REVERBERANT_DECAY_S,
        "per_condition": {},
    }
    for cname in ["clean", *CONDITIONS]:
        cell = {}
        for who in ("same", "other"):
            sel = [r for r in rows if r["condition"] == cname and r["pair"] == who and r["judged"]]
            flags = [degraded_of(r, REVERBERANT_DECAY_S) for r in sel]
            below = [
                r["cosine"] < (DEGRADED_VOICES_BELOW if d else DISTINCT_VOICES_BELOW)
                for r, d in zip(sel, flags)
            ]
            one = [r["cosine"] < DISTINCT_VOICES_BELOW for r in sel]
            cell[who] = {
                "n_grouped": len(sel),
                "degraded_share": round(float(np.mean(flags)), 3) if sel else None,
                "set_apart_share": round(float(np.mean(below)), 3) if sel else None,
                "set_apart_share_one_threshold": round(float(np.mean(one)), 3) if sel else None,
            }
        out["per_condition"][cname] = cell
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voice-group", choices=("A", "B"), default="A")
    ap.add_argument("--corpus", type=Path, default=REPO_ROOT / "benchmarks" / "work" / "corpus")
    ap.add_argument("--max-voices", type=int, default=None)
    ap.add_argument("--rows", type=Path, default=None, help="reuse measured rows (JSON)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(1)
    if args.rows is not None:
        measured = json.loads(args.rows.read_text())["measured"]
        for r in measured["rows"]:
            r.pop("set_apart_shipped", None)  # written by an earlier version of this script
    else:
        measured = measure(args.corpus, args.voice_group, args.max_voices)
        rows_out = (
            REPO_ROOT / "benchmarks" / "work" / f"voice_grouping_rows_{args.voice_group}.json"
        )
        rows_out.write_text(json.dumps({"measured": measured}) + "\n")
    result: dict[str, Any] = {
        "command": "python scripts/voice_grouping_thresholds.py --voice-group " + args.voice_group,
        "voice_group": args.voice_group,
        "role": "tuning" if args.voice_group == "A" else "reporting",
        "n_clean_anchors": N_CLEAN,
        "n_degraded_per_condition": N_DEGRADED,
        "conditions": CONDITIONS,
        "summary": summarise(measured["rows"]),
    }
    if args.voice_group == "A":
        result["chosen"] = choose(measured["rows"])
    result["check"] = check(measured["rows"])
    result["measured"] = measured
    out = args.out or REPO_ROOT / "benchmarks" / "results" / (
        f"voice_grouping_thresholds_{args.voice_group}.json"
    )
    out.write_text(json.dumps(result, indent=1) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
