"""Choose ``voxref.prompting.pieces.MIN_TARGET_SIMILARITY`` on tuning voices (group A, espeak-ng).

Voices: the espeak-ng voices of ``voxref.separation.synthetic.VOICES`` plus the espeak-ng
voices of :data:`EXTRA_TUNING_VOICES` (taken from the corpus catalogue,
``benchmarks.corpus.synth``). Every voice is checked with
:func:`benchmarks.corpus.voice_split.require_tuning` (group A = tuning group of the headline
rotation ``A->B``) and :func:`benchmarks.corpus.synth.check_not_reserved`; a reporting voice
(flite, festival, the pyannote sample) or a reserved voice stops the script.

For every ordered pair (target, other) of those voices, a seeded two-voice conversation (with
interruptions) is cut into pieces between pauses as ``voxref.prompt`` cuts a reference
(:func:`voxref.prompting.select.pause_frames` on the diarizer's speech regions; here with the
true noise power, where ``voxref.prompt`` estimates it), clean and with seeded white noise at
10 dB SNR. Each piece of at least the encoder's minimum length whose truth is one voice alone
(no other turn within it) is embedded (GE2E, levelled to -22 dBFS) and compared with the
target's embedding from two clean utterances of the target (``voxref.embed``). Pieces of the
target alone are "right", pieces of the other voice alone "wrong".

The threshold chosen is the one that minimises ``rejected right + 3 x accepted wrong`` over a
0.01 grid (a wrong voice in a prompt costs more than a lost piece); ties go to the higher value.

Run: ``python scripts/prompt_similarity_threshold.py [--voice-group A] [--pairs N]``; prints a
JSON summary and writes it to ``benchmarks/results/prompt_similarity_threshold_A.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("prompt_similarity_threshold")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

#: espeak-ng voices of the corpus catalogue (``benchmarks.corpus.synth``) added to the three
#: espeak-ng voices of ``voxref.separation.synthetic.VOICES`` (plain engine settings only: no
#: sox effects), so that there are as many ordered pairs as before without any group-B voice.
EXTRA_TUNING_VOICES = ("espeak-us-m1", "espeak-us-f1", "espeak-scot-f5")

#: Voice group -> rotation whose tuning group it is.
ROTATION_OF_GROUP = {"A": "A->B"}


def tuning_voices(group: str) -> list:
    """Synthetic voices (``SyntheticVoice``) of tuning group ``group``; raises on any other."""
    from benchmarks.corpus.synth import check_not_reserved, voice_by_id
    from benchmarks.corpus.voice_split import require_tuning

    from voxref.separation.synthetic import VOICES, SyntheticVoice

    rotation = ROTATION_OF_GROUP[group]
    base = [v for v in VOICES if v.engine == "espeak-ng"]
    extra = []
    for vid in EXTRA_TUNING_VOICES:
        cv = voice_by_id(vid)
        if cv.engine != "espeak-ng" or cv.effects:
            raise ValueError(f"{vid}: only plain espeak-ng catalogue voices can be added here")
        extra.append(
            SyntheticVoice(
                vid,
                "espeak-ng",
                str(cv.params["voice"]),
                pitch=int(cv.params.get("pitch", 50)),
                speed=int(cv.params.get("speed", 165)),
            )
        )
    voices = base + extra
    require_tuning([v.name for v in voices], rotation)
    for v in voices:
        check_not_reserved(v.engine, v.voice)
    return voices


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--voice-group",
        default="A",
        choices=sorted(ROTATION_OF_GROUP),
        help="tuning group the pairs come from (A: espeak-ng, the only group a shipped "
        "threshold is chosen on)",
    )
    ap.add_argument("--pairs", type=int, default=0, help="only the first N ordered pairs")
    ap.add_argument("--seed", type=int, default=0)
    given = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(given)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import voxref
    from voxref.audio.level import TARGET_LEVEL_DBFS, normalize_level
    from voxref.encoding import l2_normalize
    from voxref.prompting.select import pause_frames, pieces_between_pauses
    from voxref.separation.speech import speech_regions
    from voxref.separation.synthetic import SENTENCES, synthesize, synthetic_conversation

    voices = tuning_voices(args.voice_group)
    emb = voxref.Embedder()
    enc = emb.encoder
    sr = 16000
    pairs = [(t, o) for t in voices for o in voices if t is not o]
    if args.pairs:
        pairs = pairs[: args.pairs]
    right: list[float] = []
    wrong: list[float] = []
    per_pair: list[dict] = []
    rng = np.random.default_rng(args.seed)
    for k, (tv, ov) in enumerate(pairs):
        log.info("pair %d/%d: %s <- %s", k + 1, len(pairs), tv.name, ov.name)
        guide = [(synthesize(tv, SENTENCES[-1]), sr), (synthesize(tv, SENTENCES[-2]), sr)]
        target = l2_normalize(np.asarray(emb.embed(guide), float))
        conv = synthetic_conversation((tv, ov), num_turns=6, seed=args.seed + k)
        n_right, n_wrong = len(right), len(wrong)
        for noisy in (False, True):
            x = conv.samples.astype(np.float64)
            noise_power = 0.0
            if noisy:
                p = float(np.mean(x[np.abs(x) > 1e-4] ** 2))
                noise_power = p / 10.0
                x = x + np.sqrt(noise_power) * rng.standard_normal(len(x))
            x = x.astype(np.float32)
            regions = speech_regions(x, sr)
            pause = pause_frames(x, sr, regions, noise_power)
            for s, e, _, _ in pieces_between_pauses(pause):
                if (e - s) * sr < enc.min_num_samples:
                    continue
                who = {t.speaker for t in conv.turns if t.start < e - 0.02 and t.end > s + 0.02}
                if len(who) != 1:
                    continue
                seg = normalize_level(x[int(s * sr) : int(e * sr)], sr, TARGET_LEVEL_DBFS)[0]
                c = float(l2_normalize(np.asarray(enc.embed_utterance(seg), float)) @ target)
                (right if who == {tv.name} else wrong).append(c)
        pr, pw = right[n_right:], wrong[n_wrong:]
        per_pair.append(
            {
                "target": tv.name,
                "other": ov.name,
                "right_pieces": len(pr),
                "right_min": round(min(pr), 3) if pr else None,
                "wrong_pieces": len(pw),
                "wrong_max": round(max(pw), 3) if pw else None,
            }
        )
    r, w = np.array(right), np.array(wrong)
    grid = np.round(np.arange(0.30, 0.99, 0.01), 2)
    cost = [(int((r < t).sum()) + 3 * int((w >= t).sum()), -t) for t in grid]
    best = float(-min(cost)[1])
    summary = {
        "command": "OMP_NUM_THREADS=1 python scripts/prompt_similarity_threshold.py "
        + " ".join(given),
        "voice_group": args.voice_group,
        "rotation": ROTATION_OF_GROUP[args.voice_group],
        "voices": [v.name for v in voices],
        "seed": args.seed,
        "pairs": len(pairs),
        "conditions": ["clean", "white noise 10 dB SNR"],
        "cost": "rejected right + 3 x accepted wrong, 0.01 grid 0.30-0.98, ties to the higher",
        "right_pieces": len(r),
        "wrong_pieces": len(w),
        "right_percentiles_1_5_50": np.percentile(r, [1, 5, 50]).round(3).tolist(),
        "wrong_percentiles_50_95_99_max": np.percentile(w, [50, 95, 99, 100]).round(3).tolist(),
        "threshold": best,
        "confusion": {
            "right_accepted": int((r >= best).sum()),
            "right_rejected": int((r < best).sum()),
            "wrong_accepted": int((w >= best).sum()),
            "wrong_rejected": int((w < best).sum()),
        },
        "cost_by_threshold": {
            f"{t:.2f}": c for (c, _), t in zip(cost, grid, strict=True) if round(t * 100) % 2 == 0
        },
        "per_pair": per_pair,
    }
    text = json.dumps(summary, indent=2)
    out = RESULTS / f"prompt_similarity_threshold_{args.voice_group}.json"
    out.write_text(text + "\n")
    print(text)
    log.info("wrote %s", out.relative_to(ROOT))


if __name__ == "__main__":
    main()
