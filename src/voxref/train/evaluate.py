"""Verification on held-out speakers: EER on clean trials and on degraded ones.

Trials pair every utterance ``i`` with every *other* utterance ``j`` (``i != j``): the score is
``cos(enroll_i, test_j)``, a target trial when both come from the same speaker. Clean trials
use clean audio on both sides; a degraded condition keeps the enrolment side clean and
degrades the test side (one seeded draw per utterance), which is the question a TTS speaker
embedding faces: does a noisy reference land where the speaker's clean voice does?

Examples
--------
>>> import numpy as np
>>> scores = np.array([0.9, 0.8, 0.3, 0.1])
>>> equal_error_rate(scores, np.array([1, 1, 0, 0]))
0.0
>>> round(equal_error_rate(np.array([0.9, 0.2, 0.5, 0.1]), np.array([1, 1, 0, 0])), 3)
0.5
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..augment import AddBabble, AddNoise, Reverb, Transform
from ..encoding import Encoder, l2_normalize

__all__ = [
    "Condition",
    "equal_error_rate",
    "trial_scores",
    "degrade",
    "embed_signals",
    "standard_conditions",
    "validation_conditions",
    "evaluate_encoder",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Condition:
    """A named test-side degradation (``transform=None``: clean)."""

    name: str
    transform: Transform | None = None


def equal_error_rate(scores: np.ndarray, targets: np.ndarray) -> float:
    """Equal error rate of verification ``scores`` (higher = same speaker), in [0, 1].

    The point of the ROC where the miss rate equals the false-alarm rate, interpolated linearly
    between the two thresholds that bracket it.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(targets).astype(bool).ravel()
    n_tar, n_non = int(y.sum()), int((~y).sum())
    if n_tar == 0 or n_non == 0:
        raise ValueError("EER needs both target and non-target trials.")
    order = np.argsort(-s, kind="stable")
    y = y[order]
    # threshold just below each score (accept everything scored >= it)
    tp = np.concatenate([[0], np.cumsum(y)])
    fp = np.concatenate([[0], np.cumsum(~y)])
    miss = 1.0 - tp / n_tar
    fa = fp / n_non
    k = int(np.argmax(fa >= miss))  # first point where false alarms reach misses
    if k == 0:
        return float(miss[0]) if fa[0] >= miss[0] else 0.0
    d0, d1 = miss[k - 1] - fa[k - 1], miss[k] - fa[k]
    t = d0 / (d0 - d1) if d0 != d1 else 0.0
    return float(fa[k - 1] + t * (fa[k] - fa[k - 1]))


def trial_scores(
    enroll: np.ndarray, test: np.ndarray, speakers: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and target flags of all ``(i, j)``, ``i != j`` pairs of unit-norm embeddings."""
    e, t = l2_normalize(enroll), l2_normalize(test)
    sim = e @ t.T
    spk = np.asarray(speakers)
    same = spk[:, None] == spk[None, :]
    off = ~np.eye(len(spk), dtype=bool)
    return sim[off], same[off]


def degrade(
    signals: Sequence[np.ndarray], condition: Condition, sample_rate: int, seed: int
) -> list[np.ndarray]:
    """``condition`` applied to each signal, utterance ``i`` seeded by ``(seed, i)``."""
    if condition.transform is None:
        return [np.asarray(x, dtype=np.float32) for x in signals]
    out = []
    for i, x in enumerate(signals):
        rng = np.random.default_rng([int(seed), i])
        out.append(condition.transform(np.asarray(x, dtype=np.float32), sample_rate, rng=rng))
    return out


def embed_signals(encoder: Encoder, signals: Sequence[np.ndarray]) -> np.ndarray:
    """``(n, D)`` utterance embeddings (``encoder.embed_utterance``, the path ``embed`` uses)."""
    return np.stack([encoder.embed_utterance(np.asarray(x, dtype=np.float32)) for x in signals])


def standard_conditions(babble_pool: Sequence[np.ndarray]) -> list[Condition]:
    """Clean; white noise and babble at 0, 5, 10 dB; synthetic reverberation (RT60 0.4-0.8 s).

    ``babble_pool`` must not contain the evaluated speakers (use training speakers' speech).
    """
    conds = [Condition("clean")]
    conds += [Condition(f"white_{snr}dB", AddNoise(float(snr), "white")) for snr in (0, 5, 10)]
    conds += [
        Condition(f"babble_{snr}dB", AddBabble(list(babble_pool), float(snr), (3, 5)))
        for snr in (0, 5, 10)
    ]
    conds.append(Condition("reverb", Reverb(rt60=(0.4, 0.8), drr_db=(0.0, 5.0))))
    return conds


def validation_conditions(babble_pool: Sequence[np.ndarray]) -> list[Condition]:
    """The two per-epoch validation conditions: ``clean`` and ``noisy`` (white or babble
    at 0-10 dB, or reverberation, one draw per utterance)."""
    from ..augment import OneOf

    mixed = OneOf(
        [
            AddNoise((0.0, 10.0), "white"),
            AddBabble(list(babble_pool), (0.0, 10.0), (3, 5)),
            Reverb(rt60=(0.4, 0.8), drr_db=(0.0, 5.0)),
        ]
    )
    return [Condition("clean"), Condition("noisy", mixed)]


def evaluate_encoder(
    encoder: Encoder,
    signals: Sequence[np.ndarray],
    speakers: Sequence[str],
    conditions: Sequence[Condition],
    *,
    sample_rate: int = 16_000,
    seed: int = 0,
    degraded: dict[str, list[np.ndarray]] | None = None,
) -> dict[str, float]:
    """EER (in %) per condition; enrolment clean, test side degraded.

    Parameters
    ----------
    encoder
        Any :class:`~voxref.encoding.Encoder`.
    signals, speakers
        Clean held-out utterances and their speaker labels.
    conditions
        Test-side degradations (a ``clean`` one scores clean vs clean).
    seed
        Degradation seed (condition ``c`` uses ``seed + c``); same seed, same test audio.
    degraded
        Precomputed ``degrade`` outputs by condition name (to share them between encoders).
    """
    clean = embed_signals(encoder, signals)
    out = {}
    for c, cond in enumerate(conditions):
        if cond.transform is None:
            test = clean
        else:
            audio = (degraded or {}).get(cond.name)
            if audio is None:
                audio = degrade(signals, cond, sample_rate, seed + c)
            test = embed_signals(encoder, audio)
        scores, targets = trial_scores(clean, test, speakers)
        out[cond.name] = 100.0 * equal_error_rate(scores, targets)
    return out
