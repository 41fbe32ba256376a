"""Choose ``voxref.prompting.pieces.MIN_TARGET_SIMILARITY`` on synthetic voices (espeak-ng, flite).

For every ordered pair (target, other) of ``voxref.separation.synthetic.VOICES``, a seeded
two-voice conversation (with interruptions) is cut into pieces between pauses as
``voxref.prompt`` cuts a reference (:func:`voxref.prompting.select.pause_frames` on the
diarizer's speech regions; here with the true noise power, where ``voxref.prompt`` estimates it),
clean and with seeded white noise at 10 dB SNR. Each piece of at
least the encoder's minimum length whose truth is one voice alone (no other turn within it) is
embedded (GE2E, levelled to -22 dBFS) and compared with the target's embedding from two clean
utterances of the target (``voxref.embed``). Pieces of the target alone are "right", pieces of
the other voice alone "wrong".

The threshold printed is the one that minimises ``rejected right + 3 x accepted wrong`` over a
0.01 grid (a wrong voice in a prompt costs more than a lost piece); ties go to the higher value.
The pyannote sample is never used here (it is the check, in the tests).

Run: ``python scripts/prompt_similarity_threshold.py [--pairs N]``; prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=0, help="only the first N ordered pairs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import voxref
    from voxref.audio.level import TARGET_LEVEL_DBFS, normalize_level
    from voxref.encoding import l2_normalize
    from voxref.prompting.select import pause_frames, pieces_between_pauses
    from voxref.separation.speech import speech_regions
    from voxref.separation.synthetic import (
        SENTENCES,
        VOICES,
        synthesize,
        synthetic_conversation,
    )

    emb = voxref.Embedder()
    enc = emb.encoder
    sr = 16000
    pairs = [(t, o) for t in VOICES for o in VOICES if t is not o]
    if args.pairs:
        pairs = pairs[: args.pairs]
    right: list[float] = []
    wrong: list[float] = []
    rng = np.random.default_rng(args.seed)
    for k, (tv, ov) in enumerate(pairs):
        guide = [(synthesize(tv, SENTENCES[-1]), sr), (synthesize(tv, SENTENCES[-2]), sr)]
        target = l2_normalize(np.asarray(emb.embed(guide), float))
        conv = synthetic_conversation((tv, ov), num_turns=6, seed=args.seed + k)
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
    r, w = np.array(right), np.array(wrong)
    grid = np.round(np.arange(0.30, 0.99, 0.01), 2)
    cost = [(int((r < t).sum()) + 3 * int((w >= t).sum()), -t) for t in grid]
    best = -min(cost)[1]
    print(
        json.dumps(
            {
                "pairs": len(pairs),
                "right_pieces": len(r),
                "wrong_pieces": len(w),
                "right_percentiles_1_5_50": np.percentile(r, [1, 5, 50]).round(3).tolist(),
                "wrong_percentiles_50_95_99_max": np.percentile(w, [50, 95, 99, 100])
                .round(3)
                .tolist(),
                "threshold": float(best),
                "right_rejected": int((r < best).sum()),
                "wrong_accepted": int((w >= best).sum()),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
