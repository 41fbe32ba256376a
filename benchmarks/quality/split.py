"""The quality benchmark's view of a corpus: trial speakers, their enrollment/test clips, interferers.

Reads the manifest written by ``python -m benchmarks.corpus.build`` (``manifest.json``: one row per
utterance with path, speaker, gender, engine, utt, split, text, duration) and splits it:

* **interferer speakers** never appear in a trial: their clips are the babble talkers and the
  overlapping talkers of the degraded conditions. Speakers with too few clips to be trial
  speakers (the real pyannote speakers have three) go here first; more are taken from the rest,
  alternating genders, until there are ``n_interferers``.
* **trial speakers** each get ``n_enroll`` enrollment clips and ``n_test`` test clips, disjoint.
  Clips the corpus marks ``split == "enroll"`` are used for enrollment first (their sentences are
  never used in any test clip); if a speaker has fewer, the enrollment pool is topped up with its
  first ``test`` clips, and the test clips are the following ones.

Examples
--------
>>> clips = [Clip(f"s{s}_{u}", Path(f"s{s}/{u}.wav"), f"s{s}", "fm"[s % 2], u, "enroll" if u < 2 else "test", 3.0)
...          for s in range(6) for u in range(5)]
>>> sp = split_corpus(clips, n_enroll=3, n_test=2, n_interferers=2)
>>> len(sp.trial_speakers), len(sp.interferers), [c.utt for c in sp.enroll["s2"]]
(4, 2, [0, 1, 2])
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Clip", "CorpusSplit", "load_manifest", "split_corpus"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    """One utterance of the corpus.

    Attributes
    ----------
    key
        Unique name (the wav's stem), used to seed its degradations.
    path
        Absolute path of the wav (16 kHz mono).
    speaker, gender
        Speaker id and ``"f"``/``"m"``/``"unknown"``.
    utt
        Index of the utterance within its speaker.
    split
        ``"enroll"`` or ``"test"`` as marked by the corpus builder.
    duration
        Seconds.
    """

    key: str
    path: Path
    speaker: str
    gender: str
    utt: int
    split: str
    duration: float


@dataclass(frozen=True)
class CorpusSplit:
    """Trial speakers with disjoint enrollment / test clips, and interferer speakers."""

    enroll: dict[str, list[Clip]]
    test: dict[str, list[Clip]]
    interferers: dict[str, list[Clip]]
    genders: dict[str, str]

    @property
    def trial_speakers(self) -> list[str]:
        """Trial speaker ids (sorted)."""
        return sorted(self.enroll)

    def enroll_clips(self) -> list[Clip]:
        """All enrollment clips, speaker by speaker."""
        return [c for s in self.trial_speakers for c in self.enroll[s]]

    def test_clips(self) -> list[Clip]:
        """All test clips, speaker by speaker."""
        return [c for s in self.trial_speakers for c in self.test[s]]

    def describe(self) -> dict:
        """JSON summary."""
        return {
            "trial_speakers": self.trial_speakers,
            "interferer_speakers": sorted(self.interferers),
            "genders": dict(sorted(self.genders.items())),
            "n_enroll": len(next(iter(self.enroll.values()))) if self.enroll else 0,
            "n_test": len(next(iter(self.test.values()))) if self.test else 0,
            "enroll_topped_up_from_test": sorted(
                s for s, cl in self.enroll.items() if any(c.split != "enroll" for c in cl)
            ),
        }


def load_manifest(corpus_dir: str | Path) -> list[Clip]:
    """Clips listed in ``corpus_dir/manifest.json`` (paths made absolute).

    Raises
    ------
    FileNotFoundError
        When the manifest is missing (build it with ``python -m benchmarks.corpus.build``).
    """
    root = Path(corpus_dir).resolve()
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(
            f"{manifest} not found; build the corpus with "
            f"`python -m benchmarks.corpus.build --out {corpus_dir}`."
        )
    rows = json.loads(manifest.read_text())["utterances"]
    return [
        Clip(
            key=Path(row["path"]).stem,
            path=root / row["path"],
            speaker=str(row["speaker"]),
            gender=str(row.get("gender", "unknown")),
            utt=int(row["utt"]),
            split=str(row.get("split", "test")),
            duration=float(row["duration"]),
        )
        for row in rows
    ]


def _alternate_genders(speakers: list[str], genders: dict[str, str], seed: int) -> list[str]:
    """Seeded order that alternates f/m while both remain (then the rest)."""
    rng = np.random.default_rng([seed, 11])
    pools: dict[str, list[str]] = {}
    for s in sorted(speakers):
        pools.setdefault(genders[s], []).append(s)
    for g in pools:
        pools[g] = [pools[g][i] for i in rng.permutation(len(pools[g]))]
    order: list[str] = []
    keys = sorted(pools)
    while any(pools.values()):
        for g in keys:
            if pools[g]:
                order.append(pools[g].pop(0))
    return order


def split_corpus(
    clips: list[Clip],
    n_enroll: int,
    n_test: int,
    n_interferers: int,
    max_trial_speakers: int | None = None,
    seed: int = 0,
) -> CorpusSplit:
    """Split a corpus into trial speakers (enrollment + test clips) and interferer speakers.

    Parameters
    ----------
    clips
        Corpus clips (:func:`load_manifest`).
    n_enroll, n_test
        Enrollment / test clips per trial speaker.
    n_interferers
        Interferer speakers (at least this many when short speakers exceed it).
    max_trial_speakers
        Keep at most this many trial speakers (gender-balanced, seeded choice).
    seed
        Seed of the choices.
    """
    by_speaker: dict[str, list[Clip]] = {}
    for c in clips:
        by_speaker.setdefault(c.speaker, []).append(c)
    for cl in by_speaker.values():
        cl.sort(key=lambda c: c.utt)
    genders = {s: cl[0].gender for s, cl in by_speaker.items()}
    need = n_enroll + n_test
    short = sorted(s for s, cl in by_speaker.items() if len(cl) < need)
    full = [s for s in _alternate_genders(list(by_speaker), genders, seed) if s not in short]
    extra = max(0, n_interferers - len(short))
    interferer_ids = short + full[:extra]
    trial_ids = full[extra:]
    if max_trial_speakers is not None:
        trial_ids = trial_ids[:max_trial_speakers]
    if len(trial_ids) < 2:
        raise ValueError(
            f"only {len(trial_ids)} speaker(s) have {need} clips for trials; build a larger corpus."
        )
    if not interferer_ids:
        raise ValueError("no interferer speaker left; lower n_interferers' share of trial speakers")
    enroll: dict[str, list[Clip]] = {}
    test: dict[str, list[Clip]] = {}
    for s in sorted(trial_ids):
        cl = by_speaker[s]
        pool = [c for c in cl if c.split == "enroll"] + [c for c in cl if c.split != "enroll"]
        enroll[s] = sorted(pool[:n_enroll], key=lambda c: c.utt)
        test[s] = [c for c in cl if c not in enroll[s]][:n_test]
    if any(s_enr.split != "enroll" for cl in enroll.values() for s_enr in cl):
        log.info("some enrollment pools were topped up with clips the corpus marked 'test'")
    return CorpusSplit(
        enroll=enroll,
        test=test,
        interferers={s: by_speaker[s] for s in sorted(interferer_ids)},
        genders={s: genders[s] for s in list(trial_ids) + interferer_ids},
    )


def speaker_offset(speaker: str, modulo: int) -> int:
    """Stable per-speaker offset in ``[0, modulo)`` (crc32, independent of Python's hash seed).

    Examples
    --------
    >>> speaker_offset("espeak-us-m3", 6) == speaker_offset("espeak-us-m3", 6)
    True
    """
    return zlib.crc32(speaker.encode()) % modulo
