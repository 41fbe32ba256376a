"""Overlapped speech: add an interfering talker over a contiguous part of the target.

A region of ``round(fraction * T)`` samples is placed at a uniformly drawn start; the
interferer (cut around a random active sample of it, or looped) fills that region and is scaled so that
``10 log10(active_power(target) / active_power(placed interferer)) == sir_db``, each on its own
active frames (:mod:`voxref.augment.levels`): the SIR is the level ratio of the two talkers while
they talk, independent of how much of the target is covered.

:class:`OverlapResult` also gives where the interferer is: ``region_mask`` (the placed region)
and ``active_mask`` (region samples inside the interferer's own active frames), per sample, and
per frame via :meth:`OverlapResult.frame_mask`. Benchmarks of target-speaker extraction use these
as ground truth.

Examples
--------
>>> import numpy as np
>>> from voxref.augment.levels import snr_db
>>> t = np.sin(np.arange(16000) / 7).astype(np.float32)
>>> i = np.sin(np.arange(9000) / 3).astype(np.float32)
>>> r = add_overlap(t, 16000, i, sir_db=5.0, fraction=0.25, seed=0)
>>> int(r.region_mask.sum()), round(snr_db(t, r.samples - t, 16000), 2)
(4000, 5.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import (
    ParamSpec,
    Transform,
    check_sample_rate,
    check_samples,
    check_spec,
    draw,
    make_rng,
)
from .levels import DEFAULT_THRESHOLD_DB, active_sample_mask, gain_for_snr
from .sources import SourceBank, SourceLike, fit_length_active

__all__ = ["OverlapResult", "overlap_region", "add_overlap", "frame_mask", "region_mask", "Overlap"]


def frame_mask(
    sample_mask: np.ndarray, sample_rate: int, frame_seconds: float = 0.01
) -> np.ndarray:
    """Per-frame mask: a frame (non-overlapping, ``frame_seconds``) is on when at least half of
    its samples are.

    Examples
    --------
    >>> frame_mask(np.array([0, 0, 1, 1, 1, 0], dtype=bool), 100, 0.02).tolist()
    [False, True, True]
    """
    m = np.asarray(sample_mask, dtype=np.float64).reshape(-1)
    n = max(1, int(round(frame_seconds * sample_rate)))
    k = -(-m.size // n)
    padded = np.zeros(k * n)
    padded[: m.size] = m
    counts = np.full(k, float(n))
    if k:
        counts[-1] = m.size - (k - 1) * n
    return padded.reshape(k, n).sum(axis=1) >= 0.5 * counts


def region_mask(num_samples: int, start: int, end: int) -> np.ndarray:
    """Boolean sample mask that is on in ``[start, end)``.

    Examples
    --------
    >>> region_mask(5, 1, 3).tolist()
    [False, True, True, False, False]
    """
    m = np.zeros(int(num_samples), dtype=bool)
    m[int(start) : int(end)] = True
    return m


@dataclass(frozen=True)
class OverlapResult:
    """A target with an interferer added over one region.

    Attributes
    ----------
    samples
        The mixture (dtype and length of the target).
    interferer
        The scaled, placed interferer alone (zero outside the region), float64.
    region_mask
        Per-sample mask of the region ``[start, end)``.
    active_mask
        ``region_mask`` restricted to the interferer's active frames (it may pause inside).
    start, end
        Region bounds in samples.
    sir_db, fraction
        The requested SIR (dB) and the covered fraction ``(end - start) / T``.
    sample_rate
        Samples per second.
    source
        Name of the interferer (path or ``"<array i>"``).
    """

    samples: np.ndarray
    interferer: np.ndarray
    region_mask: np.ndarray
    active_mask: np.ndarray
    start: int
    end: int
    sir_db: float
    fraction: float
    sample_rate: int
    source: str = "<array>"

    def frame_mask(self, frame_seconds: float = 0.01, which: str = "active") -> np.ndarray:
        """Per-frame ``"active"`` or ``"region"`` mask (see :func:`frame_mask`)."""
        if which not in ("active", "region"):
            raise ConfigError(f"which={which!r}; use 'active' or 'region'.")
        m = self.active_mask if which == "active" else self.region_mask
        return frame_mask(m, self.sample_rate, frame_seconds)


def overlap_region(num_samples: int, fraction: float, rng: np.random.Generator) -> tuple[int, int]:
    """Uniformly placed ``[start, end)`` covering ``round(fraction * num_samples)`` samples.

    Examples
    --------
    >>> s, e = overlap_region(100, 0.3, np.random.default_rng(0))
    >>> e - s, 0 <= s <= 70
    (30, True)
    """
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"overlap fraction={fraction!r} must be in [0, 1].")
    length = int(round(fraction * num_samples))
    start = int(rng.integers(0, num_samples - length + 1))
    return start, start + length


def _overlap(
    target: np.ndarray,
    sample_rate: int,
    interferer: np.ndarray,
    sir_db: float,
    fraction: float,
    rng: np.random.Generator,
    source: str,
    threshold_db: float,
) -> OverlapResult:
    t = target.size
    start, end = overlap_region(t, fraction, rng)
    region = region_mask(t, start, end)
    placed = np.zeros(t)
    if end > start:
        placed[start:end] = fit_length_active(interferer, end - start, sample_rate, rng)
        placed *= gain_for_snr(
            target, placed, sample_rate, sir_db, threshold_db=threshold_db, source=source
        )
        active = region & active_sample_mask(placed, sample_rate, threshold_db)
    else:
        sir_db = math.inf
        active = region.copy()
    mix = (target.astype(np.float64) + placed).astype(target.dtype)
    return OverlapResult(
        samples=mix,
        interferer=placed,
        region_mask=region,
        active_mask=active,
        start=start,
        end=end,
        sir_db=float(sir_db),
        fraction=(end - start) / t if t else 0.0,
        sample_rate=sample_rate,
        source=source,
    )


def add_overlap(
    target: np.ndarray,
    sample_rate: int,
    interferer: np.ndarray,
    sir_db: float,
    fraction: float,
    *,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> OverlapResult:
    """Add ``interferer`` over a random contiguous ``fraction`` of ``target`` at ``sir_db``.

    Parameters
    ----------
    target
        1-D float signal of the target speaker.
    sample_rate
        Rate of both signals.
    interferer
        Another speaker's speech (any length; cut or looped to the region).
    sir_db
        Target-to-interferer ratio in dB (active power of each).
    fraction
        Part of the target covered, in [0, 1].
    threshold_db
        Activity threshold of the level measurement and of ``active_mask``.
    seed, rng
        Randomness (region start, interferer offset).

    Returns
    -------
    OverlapResult

    Examples
    --------
    >>> r = add_overlap(np.ones(1000, dtype=np.float32), 16000, np.ones(50, dtype=np.float32), 0.0, 0.0, seed=0)
    >>> r.end - r.start, r.sir_db
    (0, inf)
    """
    x = check_samples(target)
    sr = check_sample_rate(sample_rate)
    i = check_samples(interferer, "<interferer>")
    return _overlap(
        x, sr, i, float(sir_db), float(fraction), make_rng(seed, rng), "<array>", threshold_db
    )


class Overlap(Transform):
    """Overlap with one of ``interferers`` at a drawn SIR over a drawn fraction of the target.

    ``apply`` logs ``sir_db``, ``fraction`` (achieved), ``start``, ``end`` and ``source``;
    rebuild the sample mask with :func:`region_mask`, or call :meth:`overlap` to get the full
    :class:`OverlapResult`.

    Parameters
    ----------
    interferers
        Other talkers' speech (arrays at the call's rate, ``(array, rate)``, files, folders).
    sir_db
        SIR spec (dB).
    fraction
        Covered-fraction spec, values in [0, 1].

    Examples
    --------
    >>> t = Overlap([np.sin(np.arange(5000) / 3).astype(np.float32)], sir_db=(0.0, 5.0), fraction=0.5)
    >>> r = t.overlap(np.ones(8000, dtype=np.float32), 16000, seed=1)
    >>> r.fraction, r.samples.dtype
    (0.5, dtype('float32'))
    """

    name = "overlap"

    def __init__(
        self,
        interferers: SourceBank | SourceLike | Sequence[SourceLike],
        sir_db: ParamSpec = (0.0, 10.0),
        fraction: ParamSpec = (0.1, 0.5),
        *,
        threshold_db: float = DEFAULT_THRESHOLD_DB,
    ) -> None:
        self.sir_db = check_spec(sir_db, "sir_db", -60.0, 120.0)
        self.fraction = check_spec(fraction, "fraction", 0.0, 1.0)
        self.threshold_db = float(threshold_db)
        self._bank = interferers if isinstance(interferers, SourceBank) else SourceBank(interferers)

    def _repr_fields(self) -> dict[str, Any]:
        return {"sir_db": self.sir_db, "fraction": self.fraction, "interferers": len(self._bank)}

    def _draw(self, x: np.ndarray, sample_rate: int, rng: np.random.Generator) -> OverlapResult:
        sir = draw(self.sir_db, rng)
        frac = draw(self.fraction, rng)
        j = self._bank.pick(rng)
        interferer = self._bank.get(j, sample_rate)
        return _overlap(
            x, sample_rate, interferer, sir, frac, rng, self._bank.describe(j), self.threshold_db
        )

    def overlap(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> OverlapResult:
        """Like ``__call__`` but returns the :class:`OverlapResult` (masks included)."""
        x = check_samples(samples)
        return self._draw(x, check_sample_rate(sample_rate), make_rng(seed, rng))

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        r = self._draw(samples, sample_rate, rng)
        params = {
            "sir_db": r.sir_db,
            "fraction": r.fraction,
            "start": r.start,
            "end": r.end,
            "source": r.source,
        }
        return r.samples, params
