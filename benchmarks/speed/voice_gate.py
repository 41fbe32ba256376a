"""Can the encoder's own windows tell that a long reference holds one voice? (the voice-split gate)

A reference used alone is searched for a second voice with short windows (0.8 s every 0.2 s,
:func:`voxref.separation.dominant.split_voices`): on a 60 s file that pass is a quarter of the
call. The reference's encoder windows (1.6 s every 0.4 s), already computed, give a free first
look: the cosine between the centroids of their two-way Ward clusters. When that cosine is high,
the short-window pass finds one voice anyway, and can be skipped.

This script measures, on long references built from the corpus (``--clips`` clips of one
speaker joined, then left clean, noisy, reverberant, or with another speaker's turns spliced in
as the quality benchmark's ``conversation`` condition does), the long-window cosine and the
short-window pass's answer. The gate's threshold is the highest long-window cosine of a
reference where the short-window pass found two voices, on the tuning voices (group A) only,
plus a margin; the reporting voices (group B) show how often the gate would have skipped a
reference the short-window pass splits (it should be never) and how often it skips.

Run (rows to a file, then the summary at the chosen threshold into ``results/speed.json``)::

    python -m benchmarks.speed.voice_gate --group A --out benchmarks/results/voice_gate_A.json
    python -m benchmarks.speed.voice_gate --group A --rows benchmarks/results/voice_gate_A.json \
        --threshold 0.863 --out benchmarks/results/voice_gate_A.json --results benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["long_window_cosine", "measure", "summary", "markdown", "main"]

log = logging.getLogger(__name__)

VARIANTS = ("clean", "white-5dB", "reverb-0.6s", "turns-20", "turns-35", "turns-45")
"""How each long reference is rendered: as is, white noise at 5 dB, reverberation 0.6 s, or
another speaker taking 20 / 35 / 45 % of the speech in turns."""


def long_window_cosine(embeddings: np.ndarray) -> float:
    """Cosine between the centroids of the two Ward clusters of window embeddings."""
    from voxref.separation.clustering import cluster_centroids, ward_clusters

    e = np.asarray(embeddings, dtype=np.float64)
    labels, _ = ward_clusters(e, num_speakers=2)
    c = cluster_centroids(e, labels)
    return float(c[0] @ c[1])


def _turns(x: np.ndarray, other: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` with ``other`` speaking ``share`` of the result in 3 turns, 0.25 s pauses around."""
    sr = 16_000
    n_other = int(len(x) * share / (1 - share))
    loop = np.tile(other, int(np.ceil(n_other / len(other))) + 1)[:n_other]
    gain = np.sqrt(np.mean(x**2) / max(np.mean(loop**2), 1e-12))
    turns = np.array_split(loop * gain, 3)
    cuts = np.sort(rng.choice(np.arange(1, 10), 3, replace=False)) * len(x) // 10
    gap = np.zeros(sr // 4, np.float32)
    parts, last = [], 0
    for c, t in zip(cuts, turns):
        parts += [x[last:c], gap, t.astype(np.float32), gap]
        last = c
    parts.append(x[last:])
    return np.concatenate(parts).astype(np.float32)


def measure(corpus: Path, group: str, clips: int, limit: int | None) -> list[dict[str, Any]]:
    """One row per (speaker, variant): the long-window cosine and the short-window answer."""
    import soundfile as sf

    from benchmarks.corpus.voice_split import family_group
    from benchmarks.quality.split import load_manifest
    from voxref.augment.noise import add_noise
    from voxref.augment.reverb import reverberate
    from voxref.pipeline import Embedder
    from voxref.separation.dominant import lone_reference_target, split_voices

    by_speaker: dict[str, list[Path]] = {}
    for c in load_manifest(corpus):
        try:
            g = family_group(c.speaker)
        except KeyError:
            continue
        if g == group:
            by_speaker.setdefault(c.speaker, []).append(c.path)
    speakers = sorted(s for s, p in by_speaker.items() if len(p) >= clips)[:limit]
    emb = Embedder()
    rows = []
    for i, spk in enumerate(speakers):
        x = np.concatenate([sf.read(str(p), dtype="float32")[0] for p in by_speaker[spk][:clips]])
        other_spk = speakers[(i + 1) % len(speakers)]
        other = np.concatenate([sf.read(str(p), dtype="float32")[0] for p in by_speaker[other_spk]])
        for variant in VARIANTS:
            rng = np.random.default_rng([zlib.crc32(spk.encode()), zlib.crc32(variant.encode())])
            if variant == "clean":
                y = x
            elif variant == "white-5dB":
                y = add_noise(x, 16_000, 5.0, "white", seed=int(rng.integers(2**31)))
            elif variant == "reverb-0.6s":
                y = reverberate(x, 16_000, 0.6, drr_db=3.0, rng=rng)
            else:
                y = _turns(x, other, int(variant.split("-")[1]) / 100, rng)
            p = emb.prepare((np.asarray(y, np.float32), 16_000))
            split = split_voices(p.speech.samples, p.speech.sample_rate, emb.encoder)
            rows.append(
                {
                    "speaker": spk,
                    "variant": variant,
                    "speech_seconds": round(p.speech_seconds, 2),
                    "windows": len(p.windows),
                    "long_cosine": round(long_window_cosine(p.windows.embeddings), 4),
                    "split": split is not None,
                    "short_cosine": None if split is None else round(split.centroid_cosine, 4),
                    "lone_target": lone_reference_target(split) is not None,
                }
            )
            log.info("%s", rows[-1])
    return rows


def summary(rows: list[dict[str, Any]], threshold: float | None) -> dict[str, Any]:
    """Highest long-window cosine of a split reference; what a gate at ``threshold`` skips."""
    split = [r["long_cosine"] for r in rows if r["split"]]
    one = [r["long_cosine"] for r in rows if not r["split"]]
    out: dict[str, Any] = {
        "references": len(rows),
        "split_by_short_windows": len(split),
        "max_long_cosine_of_split": max(split) if split else None,
        "min_long_cosine_of_one_voice": min(one) if one else None,
    }
    if threshold is not None:
        out["threshold"] = threshold
        out["skipped"] = sum(r["long_cosine"] >= threshold for r in rows)
        out["skipped_one_voice"] = sum(
            r["long_cosine"] >= threshold for r in rows if not r["split"]
        )
        out["wrongly_skipped"] = sum(r["long_cosine"] >= threshold for r in rows if r["split"])
    return out


def markdown(gate: dict[str, Any]) -> str:
    """The Markdown fragment for ``BENCHMARKS.md`` (``gate``: ``{group: result}``)."""
    out = [
        "Voice-split gate of a long lone reference (`benchmarks/speed/voice_gate.py`; "
        "threshold chosen on group A, `voxref.pipeline.voice_keeping.ONE_VOICE_COSINE`): "
        "references of 6 corpus clips per voice, clean, white 5 dB, reverb 0.6 s, or another "
        "voice's turns (20/35/45 %); *split* = the short-window search finds two voices.",
        "",
        "| group | references | split | highest long-window cosine of a split one | "
        "skipped by the gate | skipped although split |",
        "|---|---|---|---|---|---|",
    ]
    for group, r in sorted(gate.items()):
        m = r["summary"]
        out.append(
            f"| {group} | {m['references']} | {m['split_by_short_windows']} | "
            f"{m['max_long_cosine_of_split']:.3f} | {m.get('skipped', '?')} | "
            f"{m.get('wrongly_skipped', '?')} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("benchmarks/work/corpus"))
    parser.add_argument("--group", choices=("A", "B"), required=True)
    parser.add_argument("--clips", type=int, default=6, help="clips joined per reference")
    parser.add_argument("--speakers", type=int, help="at most this many speakers")
    parser.add_argument("--threshold", type=float, help="report what a gate at this cosine skips")
    parser.add_argument("--out", type=Path, help="write the rows and summary (JSON)")
    parser.add_argument(
        "--rows", type=Path, help="summarise the rows of an earlier --out instead of measuring"
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="results folder: add the summary to its speed.json under 'voice_gate' "
        "(BENCHMARKS.md shows it after python -m benchmarks.report)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.rows:
        rows = json.loads(args.rows.read_text())["rows"]
    else:
        rows = measure(args.corpus, args.group, args.clips, args.speakers)
    result = {"group": args.group, "clips": args.clips, "summary": summary(rows, args.threshold)}
    result["rows"] = rows
    from benchmarks.run import write_json

    if args.out:
        write_json(args.out, result)
    if args.results:
        speed = args.results / "speed.json"
        whole = json.loads(speed.read_text()) if speed.is_file() else {}
        whole.setdefault("voice_gate", {})[args.group] = {
            "summary": result["summary"],
            "clips": args.clips,
        }
        write_json(speed, whole)
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
