"""Telephone-band references as users have them: stored at 8 kHz, with and without mu-law.

Not a test. The quality benchmark's ``telephone`` condition hands the Embedder band-limited audio
*at 16 kHz*; telephone recordings on disk are usually 8 kHz files. This script degrades the
enrollment clips of one voice group (``benchmarks/corpus/voice_split.py``; decide on the tuning
group, confirm on the reporting group) with ``voxref.augment.bandlimit.telephone`` (300-3400 Hz,
optional 8-bit mu-law), stores them at 8 kHz or 16 kHz, and scores k = 1 and k = 3 enrollments
against clean test clips of every trial speaker. Methods: ``voxref.Embedder`` variants (each
stage switched off in turn) and Resemblyzer's ``preprocess_wav`` + ``embed_utterance`` + mean (the
plain mean of the same GE2E weights). EER % with speaker-bootstrap 95 % intervals of the ratio to
that plain mean.

Usage (repository root, corpus built by ``python -m benchmarks.corpus.build``)::

    .venv/bin/python scripts/telephone_check.py --voice-group B [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

log = logging.getLogger("telephone_check")

SR = 16_000
VARIANTS: dict[str, dict] = {
    "voxref": {},
    "voxref-nolevel": {"level_dbfs": None},
    "voxref-noclean": {"clean": False},
    "voxref-nodenoise": {"denoise": "off"},
    "voxref-noguide": {"guiding": False},
    "voxref-meanpool": {"pooling": "mean"},
}
"""Embedder options of each voxref variant."""


def _resemblyzer():
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder, preprocess_wav
    with contextlib.redirect_stdout(io.StringIO()):
        enc = VoiceEncoder("cpu", verbose=False)

    def embed(x: np.ndarray, sr: int) -> np.ndarray:
        return enc.embed_utterance(preprocess_wav(x, source_sr=sr))

    return embed


def main(argv: list[str] | None = None) -> int:
    from benchmarks.corpus.voice_split import GROUPS
    from benchmarks.quality.bootstrap import ratio_summary, speaker_bootstrap_eers
    from benchmarks.quality.conditions import CORPUS_LEVEL_DBFS, corpus_clip
    from benchmarks.quality.harness import group_clips
    from benchmarks.quality.metrics import equal_error_rate
    from benchmarks.quality.split import load_manifest, split_corpus

    from voxref.audio.resample import resample
    from voxref.augment.bandlimit import telephone
    from voxref.pipeline import Embedder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO / "benchmarks" / "work" / "corpus")
    ap.add_argument("--voice-group", choices=sorted(GROUPS), required=True)
    ap.add_argument("--enroll", type=int, default=3, help="enrollment clips per speaker")
    ap.add_argument("--test", type=int, default=4, help="test clips per speaker")
    ap.add_argument("--variants", nargs="+", default=["voxref", "voxref-nolevel", "voxref-noclean"])
    ap.add_argument(
        "--channels", nargs="+", default=["tel-mulaw-8k", "tel-band-8k", "tel-mulaw-16k"]
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("voxref").setLevel(logging.ERROR)
    t0 = time.time()
    split = split_corpus(
        group_clips(load_manifest(args.corpus), args.voice_group), args.enroll, args.test, 1
    )
    spk = split.trial_speakers
    enroll = {s: [corpus_clip(c.path, SR, CORPUS_LEVEL_DBFS) for c in split.enroll[s]] for s in spk}
    tests = [(s, corpus_clip(c.path, SR, CORPUS_LEVEL_DBFS)) for s in spk for c in split.test[s]]
    channels = {
        "tel-mulaw-8k": lambda x: (resample(telephone(x, SR, "mulaw"), SR, 8000), 8000),
        "tel-band-8k": lambda x: (resample(telephone(x, SR, None), SR, 8000), 8000),
        "tel-mulaw-16k": lambda x: (telephone(x, SR, "mulaw"), SR),
    }
    channels = {c: channels[c] for c in args.channels}
    embedders = {name: Embedder(**VARIANTS[name]) for name in args.variants}
    rz = _resemblyzer()
    methods: dict = {"plain-mean": (rz, None)}
    for name, emb in embedders.items():
        methods[name] = (emb, emb)
    results: dict = {"voice_group": args.voice_group, "speakers": spk, "channels": {}}
    test_vecs = {}
    for m, (fn, emb) in methods.items():
        if emb is None:
            test_vecs[m] = np.stack([fn(x, SR) for _, x in tests])
        else:
            test_vecs[m] = np.stack([emb.embed([(x, SR)]) for _, x in tests])
    test_spk = np.array([s for s, _ in tests])
    for ch, degrade in channels.items():
        refs = {s: [degrade(x) for x in enroll[s]] for s in spk}
        # per method and speaker: what each reference contributes (prepared once)
        items = {
            m: {
                s: [fn(x, sr) if emb is None else emb.prepare((x, sr)) for x, sr in refs[s]]
                for s in spk
            }
            for m, (fn, emb) in methods.items()
        }
        per_k: dict = {}
        for k in (1, 3):
            scores, labels, trial_spk = {}, None, None
            for m, (_, emb) in methods.items():
                vecs, owners = [], []
                for s in spk:
                    its = items[m][s]
                    sets = [[it] for it in its] if k == 1 else [its[:k]]
                    for st in sets:
                        e = np.mean(st, axis=0) if emb is None else emb.combine(st).embedding
                        vecs.append(e / np.linalg.norm(e))
                        owners.append(s)
                v = np.stack(vecs)
                t = test_vecs[m] / np.linalg.norm(test_vecs[m], axis=1, keepdims=True)
                scores[m] = (v @ t.T).reshape(-1)
                labels = (np.array(owners)[:, None] == test_spk[None, :]).reshape(-1)
                trial_spk = np.repeat(np.array(owners), len(tests))
            boot = speaker_bootstrap_eers(scores, labels, trial_spk)
            base = equal_error_rate(scores["plain-mean"], labels)
            per_k[k] = {
                m: {
                    "eer": equal_error_rate(scores[m], labels),
                    "ratio": equal_error_rate(scores[m], labels) / max(base, 1e-12),
                    "ratio_ci": ratio_summary(boot[m], boot["plain-mean"])["ci"],
                }
                for m in methods
            }
            log.info("%s k=%d done (%.0f s)", ch, k, time.time() - t0)
        results["channels"][ch] = per_k
    results["elapsed_s"] = round(time.time() - t0, 1)
    print(f"voice group {args.voice_group}: {len(spk)} trial speakers; EER % (ratio to plain mean)")
    for ch, per_k in results["channels"].items():
        for k, rows in per_k.items():
            cells = ", ".join(
                f"{m} {100 * r['eer']:.2f} ({r['ratio']:.2f} "
                f"[{r['ratio_ci'][0] or float('nan'):.2f}-{r['ratio_ci'][1] or float('nan'):.2f}])"
                for m, r in rows.items()
            )
            print(f"{ch} k={k}: {cells}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
