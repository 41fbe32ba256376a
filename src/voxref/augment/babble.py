"""Babble noise: the sum of several other talkers, added at a target SNR.

Each of ``num_speakers`` utterances (drawn without replacement when there are enough) is cut
at a random offset or looped to the signal's length, normalised to the same active power, and
summed; the sum is then added at the drawn SNR with the active-power definition of
:mod:`voxref.augment.levels`. The utterances must not contain the target speaker.

Examples
--------
>>> import numpy as np
>>> from voxref.augment.levels import snr_db
>>> rng = np.random.default_rng(0)
>>> talkers = [np.sin(np.arange(12000) * f).astype(np.float32) for f in (0.05, 0.08, 0.11)]
>>> x = np.sin(np.arange(16000) / 7).astype(np.float32)
>>> y = add_babble(x, 16000, 10.0, talkers, seed=0)
>>> round(snr_db(x, y - x, 16000), 2)
10.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import ParamSpec, Transform, check_spec, draw
from .levels import active_power
from .noise import mix_at_snr
from .sources import SourceBank, SourceLike, fit_length

__all__ = ["make_babble", "add_babble", "AddBabble"]


def make_babble(
    utterances: SourceBank | Sequence[SourceLike],
    num_samples: int,
    sample_rate: int,
    num_speakers: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[str]]:
    """Sum of ``num_speakers`` utterances at equal active power (float64, unscaled).

    Returns
    -------
    babble, sources
        The sum, and the names of the utterances used (paths or ``"<array i>"``).

    Examples
    --------
    >>> utts = [np.ones(100, dtype=np.float32), -np.ones(50, dtype=np.float32)]
    >>> b, names = make_babble(utts, 80, 16000, 1, np.random.default_rng(0))
    >>> b.shape, len(names)
    ((80,), 1)
    """
    bank = utterances if isinstance(utterances, SourceBank) else SourceBank(list(utterances))
    if num_speakers < 1:
        raise ConfigError(f"num_speakers={num_speakers}: a babble needs at least one talker.")
    if num_speakers <= len(bank):
        picks = [int(i) for i in rng.choice(len(bank), size=num_speakers, replace=False)]
    else:
        picks = [int(i) for i in rng.integers(len(bank), size=num_speakers)]
    total = np.zeros(int(num_samples))
    names = []
    for j in picks:
        seg = fit_length(bank.get(j, sample_rate), num_samples, rng).astype(np.float64)
        p = active_power(seg, sample_rate)
        if p > 0:
            total += seg / np.sqrt(p)
        names.append(bank.describe(j))
    return total, names


class AddBabble(Transform):
    """Add a babble of ``num_speakers`` talkers at an SNR drawn from ``snr_db``.

    Parameters
    ----------
    utterances
        Other talkers' speech: arrays (at the call's rate), ``(array, rate)`` pairs, files or
        folders, or a :class:`~voxref.augment.sources.SourceBank`.
    snr_db
        Target SNR spec (dB).
    num_speakers
        Number of talkers: an int, an ``(low, high)`` int range (inclusive) or a list of ints.

    Examples
    --------
    >>> utts = [np.sin(np.arange(9000) * f).astype(np.float32) for f in (0.03, 0.07)]
    >>> t = AddBabble(utts, snr_db=(0.0, 10.0), num_speakers=(1, 2))
    >>> out, params = t.apply(np.ones(16000, dtype=np.float32), 16000, np.random.default_rng(1))
    >>> params["noise_type"], params["num_speakers"] in (1, 2)
    ('babble', True)
    """

    name = "babble"

    def __init__(
        self,
        utterances: SourceBank | SourceLike | Sequence[SourceLike],
        snr_db: ParamSpec = (0.0, 20.0),
        num_speakers: int | tuple[int, int] | list[int] = (3, 6),
    ) -> None:
        self.snr_db = check_spec(snr_db, "snr_db", -60.0, 120.0)
        self.num_speakers = check_spec(num_speakers, "num_speakers", 1, 1000)
        self._bank = utterances if isinstance(utterances, SourceBank) else SourceBank(utterances)

    def _repr_fields(self) -> dict[str, Any]:
        return {
            "snr_db": self.snr_db,
            "num_speakers": self.num_speakers,
            "utterances": len(self._bank),
        }

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        snr = draw(self.snr_db, rng)
        if isinstance(self.num_speakers, tuple):
            k = int(rng.integers(self.num_speakers[0], self.num_speakers[1] + 1))
        else:
            k = int(draw(self.num_speakers, rng))
        babble, names = make_babble(self._bank, samples.size, sample_rate, k, rng)
        out = mix_at_snr(samples, babble, sample_rate, snr)
        return out, {"noise_type": "babble", "snr_db": snr, "num_speakers": k, "sources": names}


def add_babble(
    samples: np.ndarray,
    sample_rate: int,
    snr_db: float,
    utterances: SourceLike | Sequence[SourceLike],
    num_speakers: int | None = None,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Function form of :class:`AddBabble` (``num_speakers`` defaults to all utterances).

    Examples
    --------
    >>> utts = [np.sin(np.arange(900) * f).astype(np.float32) for f in (0.03, 0.07)]
    >>> add_babble(np.ones(1600, dtype=np.float32), 16000, 5.0, utts, seed=0).dtype
    dtype('float32')
    """
    bank = SourceBank(utterances)
    t = AddBabble(bank, snr_db=float(snr_db), num_speakers=num_speakers or len(bank))
    return t(samples, sample_rate, seed=seed, rng=rng)
