"""Build the clean benchmark corpus: synthetic speakers + the two real speakers of pyannote's sample.

Usage (from the repository root)::

    python -m benchmarks.corpus.build --out benchmarks/work/corpus          # ~30 voices x 12
    python -m benchmarks.corpus.build --out benchmarks/work/corpus --quick  # 12 voices x 6

Layout of ``--out``::

    <speaker>/<speaker>_<k>.wav   16 kHz mono PCM16, 2–6 s, peak -3 dBFS
    manifest.json                 {"seed", "mode", "sample_rate", "speakers", "utterances": [...]}
    manifest.csv                  one row per utterance (same fields)

Each utterance row has: path (relative to ``--out``), speaker, gender, engine, utt (index within
the speaker), split (``enroll`` / ``test``), text, duration, seed, sha256, key.

Sentences are split once (seeded) into an enrollment pool and a disjoint test pool, so no test
utterance shares its text with any enrollment utterance; no speaker says a sentence twice.
Synthesis runs per speaker in a small process pool. The build is deterministic given ``--seed``;
an utterance whose cache key (voice, text, jitter seed, synth version) and file hash match the
previous manifest is not synthesised again, and identical files are not rewritten.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import multiprocessing
import sys
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from . import pyannote_sample
from .sentences import LONG_SENTENCES, SHORT_SENTENCES
from .sentences_intl import SENTENCES_INTL
from .synth import PEAK, SAMPLE_RATE, Voice, synthesize, voices
from .voice_split import family_group

logger = logging.getLogger(__name__)

SYNTH_VERSION = 1
"""Bump when synthesis changes in a way the cache key would not see."""

MIN_DURATION, MAX_DURATION = 2.0, 6.0
"""Accepted utterance duration range (seconds)."""

RATE_JITTER, PITCH_JITTER = 0.06, 0.05
"""Per-utterance jitter passed to :func:`benchmarks.corpus.synth.synthesize`."""

ENROLL_POOL_FRACTION = 1 / 3
"""Share of sentences reserved for enrollment utterances (the rest only for test)."""

MANIFEST_FIELDS = (
    "path",
    "speaker",
    "gender",
    "engine",
    "utt",
    "split",
    "text",
    "duration",
    "seed",
    "sha256",
    "key",
)


@dataclass(frozen=True)
class CorpusConfig:
    """What to build.

    Examples
    --------
    >>> CorpusConfig.preset(quick=True).n_speakers
    12
    """

    n_speakers: int = 30
    n_utterances: int = 12
    n_enroll: int = 4
    seed: int = 0
    real_speakers: bool = True

    @classmethod
    def preset(cls, quick: bool, seed: int = 0) -> CorpusConfig:
        """The ``--quick`` (12 x 6) or full (30 x 12) configuration."""
        if quick:
            return cls(n_speakers=12, n_utterances=6, n_enroll=2, seed=seed)
        return cls(seed=seed)


def select_voices(n: int, seed: int) -> list[Voice]:
    """``n`` catalogue voices in a seeded order that alternates the voice groups of
    :mod:`.voice_split` and, within each, the genders (a quick set is a prefix).

    Examples
    --------
    >>> [v.gender for v in select_voices(4, seed=0)]
    ['f', 'f', 'm', 'm']
    >>> from benchmarks.corpus.voice_split import family_group
    >>> [family_group(v.id) for v in select_voices(4, seed=0)]
    ['A', 'B', 'A', 'B']
    >>> select_voices(12, 0) == select_voices(30, 0)[:12]
    True
    """
    catalogue = voices()
    if n > len(catalogue):
        raise ValueError(f"asked for {n} speakers; the catalogue has {len(catalogue)}")
    rng = np.random.default_rng([seed, 1])
    queues: dict[str, list[Voice]] = {}
    for group in sorted({family_group(v.id) for v in catalogue}):
        by_gender = {
            g: [v for v in catalogue if v.gender == g and family_group(v.id) == group]
            for g in ("f", "m")
        }
        order = {g: [vs[i] for i in rng.permutation(len(vs))] for g, vs in by_gender.items()}
        queue: list[Voice] = []
        while order["f"] or order["m"]:
            for g in ("f", "m"):
                if order[g]:
                    queue.append(order[g].pop(0))
        queues[group] = queue
    out: list[Voice] = []
    while len(out) < n:
        for queue in queues.values():
            if queue and len(out) < n:
                out.append(queue.pop(0))
    return out


def sentence_pools(seed: int, language: str = "en") -> tuple[list[str], list[str]]:
    """Seeded, disjoint (enrollment, test) sentence pools of one language.

    English pools mix short and long sentences (:mod:`.sentences`); other languages come from
    :mod:`.sentences_intl`.

    Examples
    --------
    >>> enroll, test = sentence_pools(0)
    >>> not set(enroll) & set(test), len(enroll) < len(test)
    (True, True)
    >>> enroll, test = sentence_pools(0, "it")
    >>> not set(enroll) & set(test), len(enroll) + len(test) >= 20
    (True, True)
    """
    rng = np.random.default_rng([seed, 2])
    enroll: list[str] = []
    test: list[str] = []
    if language == "en":
        groups: tuple[tuple[str, ...], ...] = (SHORT_SENTENCES, LONG_SENTENCES)
    elif language in SENTENCES_INTL:
        groups = (SENTENCES_INTL[language],)
    else:
        raise ValueError(f"no sentences in language {language!r}; add them to sentences_intl.py")
    for group in groups:
        perm = [group[i] for i in rng.permutation(len(group))]
        k = round(len(group) * ENROLL_POOL_FRACTION)
        enroll += perm[:k]
        test += perm[k:]
    return enroll, test


def utterance_seed(seed: int, speaker: str, utt: int, attempt: int = 0) -> int:
    """Jitter seed of one utterance (stable across processes and Python versions)."""
    ss = np.random.SeedSequence([seed, zlib.crc32(speaker.encode()), utt, attempt])
    return int(ss.generate_state(1)[0])


def cache_key(voice: Voice, text: str, seed: int) -> str:
    """Hash of everything that determines a synthetic utterance's audio."""
    blob = json.dumps(
        [
            SYNTH_VERSION,
            voice.id,
            voice.engine,
            dict(voice.params),
            list(voice.effects),
            text,
            seed,
            RATE_JITTER,
            PITCH_JITTER,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _to_pcm16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)


def write_wav_if_changed(path: Path, samples: np.ndarray, sample_rate: int) -> str:
    """Write PCM16 ``samples`` unless an identical file is already there; return its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    sf.write(str(tmp), _to_pcm16(samples), sample_rate, subtype="PCM_16")
    digest = _sha256(tmp)
    if path.is_file() and _sha256(path) == digest:
        tmp.unlink()
    else:
        tmp.replace(path)
    return digest


@dataclass(frozen=True)
class _SpeakerJob:
    voice: Voice
    out: Path
    seed: int
    plan: tuple[tuple[str, tuple[str, ...]], ...]  # per utterance: (split, candidate sentences)
    cached: dict[str, dict[str, Any]]  # key -> previous manifest row


def _build_speaker(job: _SpeakerJob) -> list[dict[str, Any]]:
    """Synthesise one speaker's utterances, each from the first unused candidate fitting 2–6 s."""
    rows: list[dict[str, Any]] = []
    used: set[str] = set()
    for utt, (split, candidates) in enumerate(job.plan):
        for attempt, text in enumerate(t for t in candidates if t not in used):
            seed = utterance_seed(job.seed, job.voice.id, utt, attempt)
            key = cache_key(job.voice, text, seed)
            rel = f"{job.voice.id}/{job.voice.id}_{utt:02d}.wav"
            path = job.out / rel
            prev = job.cached.get(key)
            if prev and prev["path"] == rel and path.is_file() and _sha256(path) == prev["sha256"]:
                rows.append(dict(prev, split=split))
                used.add(text)
                break
            samples, sr = synthesize(job.voice, text, RATE_JITTER, PITCH_JITTER, seed)
            duration = len(samples) / sr
            if not MIN_DURATION <= duration <= MAX_DURATION:
                logger.debug(
                    "%s: %.2f s for %r, trying another sentence", job.voice.id, duration, text
                )
                continue
            digest = write_wav_if_changed(path, samples, sr)
            used.add(text)
            rows.append(
                {
                    "path": rel,
                    "speaker": job.voice.id,
                    "gender": job.voice.gender,
                    "engine": job.voice.engine,
                    "utt": utt,
                    "split": split,
                    "text": text,
                    "duration": round(duration, 4),
                    "seed": seed,
                    "sha256": digest,
                    "key": key,
                }
            )
            break
        else:
            raise RuntimeError(
                f"{job.voice.id}: no sentence left giving {MIN_DURATION}–{MAX_DURATION} s"
            )
    return rows


def _build_real_speakers(out: Path, n_enroll: int) -> list[dict[str, Any]]:
    """Cut pyannote's sample into per-speaker pieces of non-overlapped speech."""
    wav, rttm = pyannote_sample.locate_sample()
    samples, sr = sf.read(str(wav), dtype="float32", always_2d=False)
    if sr != SAMPLE_RATE:
        raise RuntimeError(f"{wav} is {sr} Hz, expected {SAMPLE_RATE}")
    stm_path = rttm.with_suffix(".stm")
    stm = pyannote_sample.read_stm(stm_path) if stm_path.is_file() else []
    rows = []
    for label, regions in pyannote_sample.exclusive_regions(
        pyannote_sample.read_rttm(rttm)
    ).items():
        speaker = f"pyannote-{label}"
        pieces = pyannote_sample.cut_pieces(
            samples, sr, regions, label, min_duration=MIN_DURATION, max_duration=MAX_DURATION
        )
        n_enr = min(n_enroll, len(pieces) // 2)
        for utt, piece in enumerate(pieces):
            x = piece.samples * np.float32(PEAK / float(np.max(np.abs(piece.samples))))
            rel = f"{speaker}/{speaker}_{utt:02d}.wav"
            digest = write_wav_if_changed(out / rel, x, sr)
            sources = ";".join(f"{a:.3f}-{b:.3f}" for a, b in piece.sources)
            rows.append(
                {
                    "path": rel,
                    "speaker": speaker,
                    "gender": pyannote_sample.SPEAKER_GENDER.get(label, "unknown"),
                    "engine": "real",
                    "utt": utt,
                    "split": "enroll" if utt < n_enr else "test",
                    "text": pyannote_sample.transcript_for(piece.sources, stm),
                    "duration": round(len(x) / sr, 4),
                    "seed": 0,
                    "sha256": digest,
                    "key": f"sample.wav@{sources}",
                }
            )
    return rows


def _previous_rows(out: Path) -> dict[str, dict[str, Any]]:
    manifest = out / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        rows = json.loads(manifest.read_text())["utterances"]
    except (ValueError, KeyError):
        logger.warning("ignoring unreadable %s", manifest)
        return {}
    return {row["key"]: row for row in rows}


def plan_speakers(
    config: CorpusConfig,
) -> list[tuple[Voice, tuple[tuple[str, tuple[str, ...]], ...]]]:
    """Per selected voice: for each utterance its split and its ordered candidate sentences."""
    plans = []
    for voice in select_voices(config.n_speakers, config.seed):
        enroll_pool, test_pool = sentence_pools(config.seed, voice.language)
        rng = np.random.default_rng([config.seed, 3, zlib.crc32(voice.id.encode())])
        enroll = tuple(enroll_pool[i] for i in rng.permutation(len(enroll_pool)))
        test = tuple(test_pool[i] for i in rng.permutation(len(test_pool)))
        plan = tuple(
            ("enroll", enroll) if utt < config.n_enroll else ("test", test)
            for utt in range(config.n_utterances)
        )
        plans.append((voice, plan))
    return plans


def build_corpus(config: CorpusConfig, out: Path, workers: int = 2) -> dict[str, Any]:
    """Build (or update) the corpus in ``out``; return the manifest dictionary."""
    if config.n_enroll >= config.n_utterances:
        raise ValueError("n_enroll must be smaller than n_utterances")
    out.mkdir(parents=True, exist_ok=True)
    cached = _previous_rows(out)
    jobs = [
        _SpeakerJob(voice, out, config.seed, plan, cached) for voice, plan in plan_speakers(config)
    ]
    if workers > 1:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            results = list(pool.map(_build_speaker, jobs))
    else:
        results = [_build_speaker(job) for job in jobs]
    rows = [row for speaker_rows in results for row in speaker_rows]
    if config.real_speakers:
        rows += _build_real_speakers(out, n_enroll=max(1, config.n_enroll // 2))
    speakers = list(dict.fromkeys(row["speaker"] for row in rows))
    manifest = {
        "seed": config.seed,
        "config": asdict(config),
        "sample_rate": SAMPLE_RATE,
        "speakers": speakers,
        "utterances": rows,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    with (out / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description="Build the clean voxref benchmark corpus.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/work/corpus"))
    parser.add_argument("--quick", action="store_true", help="12 speakers x 6 utterances")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speakers", type=int, help="override the number of synthetic speakers")
    parser.add_argument("--utterances", type=int, help="override utterances per speaker")
    parser.add_argument("--workers", type=int, default=2, help="synthesis processes")
    parser.add_argument("--no-real", action="store_true", help="skip pyannote's sample speakers")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")

    config = CorpusConfig.preset(args.quick, seed=args.seed)
    overrides: dict[str, Any] = {"real_speakers": not args.no_real}
    if args.speakers is not None:
        overrides["n_speakers"] = args.speakers
    if args.utterances is not None:
        overrides["n_utterances"] = args.utterances
        overrides["n_enroll"] = min(config.n_enroll, max(1, args.utterances // 3))
    config = CorpusConfig(**{**asdict(config), **overrides})
    start = time.perf_counter()
    manifest = build_corpus(config, args.out, workers=args.workers)
    elapsed = time.perf_counter() - start
    rows = manifest["utterances"]
    durations = np.array([row["duration"] for row in rows])
    print(
        f"{args.out}: {len(manifest['speakers'])} speakers, {len(rows)} utterances, "
        f"{durations.sum() / 60:.1f} min ({durations.min():.2f}–{durations.max():.2f} s) "
        f"in {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
