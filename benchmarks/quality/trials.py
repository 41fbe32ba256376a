"""Enrollment sets and verification trials (identical for every method and condition).

For ``k`` references per set, each trial speaker contributes up to ``max_sets`` distinct
``k``-subsets of its enrollment pool (all of them when there are few, else a seeded sample).
Every set is scored against all of its speaker's test clips (target trials) and against as many
test clips of other speakers (non-target trials): half of them (rounded up) from speakers of the
same gender when there are any, the rest from the other gender. Test clips are never enrollment
clips (:mod:`.split` keeps them disjoint), and the trial list depends only on ``k`` and the seed.

Examples
--------
>>> from pathlib import Path
>>> from benchmarks.quality.split import Clip, split_corpus
>>> clips = [Clip(f"s{s}_{u}", Path("x.wav"), f"s{s}", "fm"[s % 2], u, "enroll", 3.0)
...          for s in range(5) for u in range(6)]
>>> sp = split_corpus(clips, n_enroll=4, n_test=2, n_interferers=1)
>>> sets = enrollment_sets(sp, k=3, max_sets=10)
>>> len(sets)  # 4 speakers x C(4, 3)
16
>>> t = make_trials(sets, sp)
>>> int(t.target.sum()), int((~t.target).sum())
(32, 32)
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass

import numpy as np

from .split import Clip, CorpusSplit

__all__ = ["EnrollmentSet", "Trials", "enrollment_sets", "make_trials"]


@dataclass(frozen=True)
class EnrollmentSet:
    """``k`` enrollment clips of one speaker.

    Attributes
    ----------
    speaker
        Trial speaker.
    clips
        The references (from the speaker's enrollment pool).
    set_id
        Stable name ``"<speaker>/k<k>/<index>"`` (seeds the mixed-bag roles).
    """

    speaker: str
    clips: tuple[Clip, ...]
    set_id: str

    @property
    def k(self) -> int:
        return len(self.clips)


@dataclass(frozen=True)
class Trials:
    """Trial list: parallel arrays over trials.

    Attributes
    ----------
    set_index
        Index into the enrollment sets.
    test_keys
        Key of each trial's test clip.
    target
        Same speaker?
    same_gender
        Enrollment and test speakers share a gender.
    """

    set_index: np.ndarray
    test_keys: np.ndarray
    target: np.ndarray
    same_gender: np.ndarray

    def __len__(self) -> int:
        return int(self.target.size)


def enrollment_sets(
    split: CorpusSplit, k: int, max_sets: int, seed: int = 0
) -> list[EnrollmentSet]:
    """Up to ``max_sets`` distinct ``k``-subsets of each trial speaker's enrollment pool."""
    out: list[EnrollmentSet] = []
    for spk in split.trial_speakers:
        pool = split.enroll[spk]
        if k > len(pool):
            raise ValueError(f"k={k} but {spk} has only {len(pool)} enrollment clips")
        n_all = math.comb(len(pool), k)
        if n_all <= max_sets:
            combos = list(itertools.combinations(range(len(pool)), k))
        else:
            rng = np.random.default_rng([seed, zlib.crc32(spk.encode()), k, 21])
            chosen: set[tuple[int, ...]] = set()
            while len(chosen) < max_sets:
                chosen.add(tuple(sorted(int(i) for i in rng.choice(len(pool), k, replace=False))))
            combos = sorted(chosen)
        out += [
            EnrollmentSet(spk, tuple(pool[i] for i in combo), f"{spk}/k{k}/{j}")
            for j, combo in enumerate(combos)
        ]
    return out


def make_trials(sets: list[EnrollmentSet], split: CorpusSplit, seed: int = 0) -> Trials:
    """Balanced target / non-target trials for ``sets`` (see the module docstring)."""
    genders = split.genders
    tests_of = {s: split.test[s] for s in split.trial_speakers}
    set_index, keys, target, same = [], [], [], []
    for i, es in enumerate(sets):
        own = tests_of[es.speaker]
        for c in own:
            set_index.append(i)
            keys.append(c.key)
            target.append(True)
            same.append(True)
        g = genders[es.speaker]
        same_pool = [
            c for s, cl in tests_of.items() if s != es.speaker and genders[s] == g for c in cl
        ]
        diff_pool = [
            c for s, cl in tests_of.items() if s != es.speaker and genders[s] != g for c in cl
        ]
        n = len(own)
        n_same = math.ceil(n / 2) if same_pool else 0
        if not diff_pool:
            n_same = n
        rng = np.random.default_rng([seed, zlib.crc32(es.set_id.encode()), 31])
        picks = []
        for pool, m in ((same_pool, n_same), (diff_pool, n - n_same)):
            if m:
                idx = rng.choice(len(pool), size=m, replace=m > len(pool))
                picks += [pool[int(j)] for j in idx]
        for c in picks:
            set_index.append(i)
            keys.append(c.key)
            target.append(False)
            same.append(genders[c.speaker] == g)
    return Trials(
        set_index=np.asarray(set_index, dtype=np.int64),
        test_keys=np.asarray(keys, dtype=object),
        target=np.asarray(target, dtype=bool),
        same_gender=np.asarray(same, dtype=bool),
    )
