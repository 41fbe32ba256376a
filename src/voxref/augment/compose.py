"""Chains of augmentations with probabilities, a record of what was applied, and the nuisance
vector derived from that record (the label the vCLUB regulariser pushes the speaker embedding
away from).

Randomness of :class:`Compose`: for every step, a uniform number (applied when below the step's
probability) and a 63-bit child seed are drawn from the call's generator *for every step,
whether applied or not*; each applied step runs with ``numpy.random.default_rng(child_seed)``.
So turning one step off does not change the parameters drawn by the others.

Examples
--------
>>> import numpy as np
>>> from voxref.augment import AddNoise, Gain, Reverb, Telephone
>>> chain = Compose([(Reverb(rt60=(0.3, 0.9)), 0.5), (AddNoise((0.0, 20.0), "pink"), 1.0), (Telephone(), 0.3)])
>>> x = np.sin(np.arange(16000) / 9).astype(np.float32)
>>> y, log = chain.augment(x, 16000, seed=0)
>>> y.shape, "noise" in log.names()
((16000,), True)
>>> v = nuisance_vector(log)
>>> v.shape == (len(NUISANCE_FIELDS),), v.dtype
(True, dtype('float32'))
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from .base import Transform, check_sample_rate, check_samples, make_rng

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "AppliedTransform",
    "AugmentLog",
    "Compose",
    "OneOf",
    "NUISANCE_FIELDS",
    "NOISE_TYPES",
    "nuisance_vector",
    "nuisance_matrix",
]


@dataclass(frozen=True)
class AppliedTransform:
    """One applied transform: its ``name`` (e.g. ``"noise"``) and the parameters it used."""

    name: str
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., **params}``."""
        return {"name": self.name, **self.params}


@dataclass
class AugmentLog:
    """What a :class:`Compose` / :class:`OneOf` call applied, in order.

    Examples
    --------
    >>> log = AugmentLog([AppliedTransform("gain", {"gain_db": 3.0})])
    >>> log.names(), log.find("gain").params["gain_db"], len(log)
    (['gain'], 3.0, 1)
    """

    entries: list[AppliedTransform] = field(default_factory=list)

    def __iter__(self) -> Iterator[AppliedTransform]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        """Names of the applied transforms, in order."""
        return [e.name for e in self.entries]

    def find(self, name: str) -> AppliedTransform | None:
        """The first entry called ``name`` (``None`` if that transform was not applied)."""
        return next((e for e in self.entries if e.name == name), None)

    def find_all(self, name: str) -> list[AppliedTransform]:
        """All entries called ``name``."""
        return [e for e in self.entries if e.name == name]

    def to_dicts(self) -> list[dict[str, Any]]:
        """JSON-friendly list of ``{"name": ..., **params}``."""
        return [e.to_dict() for e in self.entries]


def _run(
    transform: Transform, x: np.ndarray, sample_rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[AppliedTransform]]:
    if isinstance(transform, (Compose, OneOf)):
        out, log = transform._augment(x, sample_rate, rng)
        return out, list(log.entries)
    out, params = transform.apply_checked(x, sample_rate, rng)
    return out, [AppliedTransform(transform.name, params)]


class _Container(Transform):
    """Shared entry points of :class:`Compose` and :class:`OneOf`."""

    def augment(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, AugmentLog]:
        """Transform one 1-D signal; return ``(output, log)``."""
        x = check_samples(samples)
        out, log = self._augment(x, check_sample_rate(sample_rate), make_rng(seed, rng))
        return out.astype(x.dtype, copy=False), log

    def _augment(
        self, x: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, AugmentLog]:
        raise NotImplementedError

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        out, log = self._augment(samples, sample_rate, rng)
        return out, {"log": log}

    def augment_batch(
        self,
        batch: torch.Tensor,
        sample_rate: int,
        *,
        generator: torch.Generator | None = None,
        seeds: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, list[AugmentLog]]:
        """Augment each row of a ``(B, T)`` tensor; item ``i`` equals ``augment(row, seed=seeds[i])``.

        Items are processed one by one on the numpy path (each item draws its own chain).
        """
        out, params = self.apply_batch_logged(batch, sample_rate, generator=generator, seeds=seeds)
        return out, [p["log"] for p in params]


class Compose(_Container):
    """Apply steps in order, each with its probability.

    Parameters
    ----------
    steps
        Transforms, or ``(transform, probability)`` pairs (a bare transform has probability 1).
        Steps may themselves be :class:`Compose` or :class:`OneOf`.

    Examples
    --------
    >>> from voxref.augment import Gain
    >>> c = Compose([(Gain(6.0), 0.5)])
    >>> x = np.ones(160, dtype=np.float32)
    >>> sum(len(c.augment(x, 16000, seed=s)[1]) for s in range(1000)) / 1000
    0.484
    """

    name = "compose"

    def __init__(self, steps: Sequence[Transform | tuple[Transform, float]]) -> None:
        self.steps: list[tuple[Transform, float]] = []
        for s in steps:
            t, p = (s, 1.0) if isinstance(s, Transform) else s
            if not isinstance(t, Transform):
                raise ConfigError(f"Compose step {t!r} is not a voxref.augment Transform.")
            if not 0.0 <= float(p) <= 1.0:
                raise ConfigError(f"probability {p!r} of {type(t).__name__} must be in [0, 1].")
            self.steps.append((t, float(p)))

    def _augment(
        self, x: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, AugmentLog]:
        n = len(self.steps)
        u = rng.random(n)
        seeds = rng.integers(0, 2**63 - 1, size=n)
        log = AugmentLog()
        out = x
        for (t, p), uk, sk in zip(self.steps, u, seeds):
            if uk < p:
                out, entries = _run(t, out, sample_rate, np.random.default_rng(int(sk)))
                log.entries.extend(entries)
        return out, log


class OneOf(_Container):
    """Apply exactly one of ``transforms``, drawn with ``weights`` (uniform by default).

    Examples
    --------
    >>> from voxref.augment import Gain
    >>> o = OneOf([Gain(-3.0), Gain(3.0)], weights=[0.25, 0.75])
    >>> _, log = o.augment(np.ones(16, dtype=np.float32), 16000, seed=0)
    >>> log.names()
    ['gain']
    """

    name = "one_of"

    def __init__(
        self, transforms: Sequence[Transform], weights: Sequence[float] | None = None
    ) -> None:
        self.transforms = list(transforms)
        if not self.transforms or not all(isinstance(t, Transform) for t in self.transforms):
            raise ConfigError("OneOf needs a non-empty list of voxref.augment Transforms.")
        w = np.ones(len(self.transforms)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(self.transforms),) or np.any(w < 0) or not w.sum() > 0:
            raise ConfigError("weights must be non-negative, one per transform, not all zero.")
        self.weights = (w / w.sum()).tolist()

    def _augment(
        self, x: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, AugmentLog]:
        k = int(rng.choice(len(self.transforms), p=self.weights))
        child = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
        out, entries = _run(self.transforms[k], x, sample_rate, child)
        return out, AugmentLog(entries)


# --------------------------------------------------------------------------- nuisance vector
#: Noise types of the one-hot block (``"none"`` when no noise/babble was added).
NOISE_TYPES = ("none", "white", "pink", "brown", "colored", "recorded", "babble")

#: Layout of :func:`nuisance_vector`.
NUISANCE_FIELDS = (
    *(f"noise_{t}" for t in NOISE_TYPES),
    "snr",
    "reverb",
    "rt60",
    "drr",
    "band_limited",
    "codec",
    "overlap",
    "sir",
    "overlap_fraction",
    "clip_ratio",
    "gain",
)

_SNR_CAP = (-10.0, 40.0)
_DRR_CAP = (-10.0, 30.0)


def _scaled(db: float, cap: tuple[float, float]) -> float:
    """Clip ``db`` to ``cap`` and divide by the upper cap (clean / absent -> 1.0)."""
    if math.isnan(db):
        return 1.0
    return float(np.clip(db, *cap) / cap[1])


def nuisance_vector(log: AugmentLog | Sequence[AppliedTransform | dict[str, Any]]) -> np.ndarray:
    """Fixed-length float32 description of the degradations in ``log`` (layout :data:`NUISANCE_FIELDS`).

    Values, all roughly in [-1, 1]:

    * ``noise_<type>``: one-hot of the noise types added (``noise_none`` when none; several ones
      when both noise and babble were added);
    * ``snr``: lowest SNR of the noise/babble steps, clipped to [-10, 40] dB, divided by 40
      (no noise: 1.0);
    * ``reverb`` (0/1), ``rt60`` (seconds, 0 without reverb; ``nan`` measured -> 0),
      ``drr``: DRR clipped to [-10, 30] dB, / 30 (no reverb: 1.0);
    * ``band_limited`` (telephone or filter), ``codec`` (mu/A-law companding): 0/1;
    * ``overlap`` (0/1), ``sir``: lowest SIR clipped to [-10, 40] dB, / 40 (none: 1.0),
      ``overlap_fraction``: largest covered fraction;
    * ``clip_ratio``: achieved clipping ratio / 0.1, clipped to 1;
    * ``gain``: total gain dB / 20.

    Speed perturbation and pitch shift are left out on purpose: they change the voice itself
    (Kaldi-style recipes label speed-perturbed audio as *new speakers*), so an MI penalty must
    not make the embedding blind to them.

    Examples
    --------
    >>> log = AugmentLog([AppliedTransform("noise", {"noise_type": "pink", "snr_db": 10.0}),
    ...                   AppliedTransform("telephone", {"band_limited": True, "codec": "mulaw"})])
    >>> v = nuisance_vector(log)
    >>> {k: float(v[i]) for i, k in enumerate(NUISANCE_FIELDS) if v[i] != 0}
    {'noise_pink': 1.0, 'snr': 0.25, 'drr': 1.0, 'band_limited': 1.0, 'codec': 1.0, 'sir': 1.0}
    """
    entries = [
        e
        if isinstance(e, AppliedTransform)
        else AppliedTransform(e["name"], {k: v for k, v in e.items() if k != "name"})
        for e in log
    ]
    v = dict.fromkeys(NUISANCE_FIELDS, 0.0)
    snrs, sirs, fractions = [], [], []
    drr = math.nan
    for e in entries:
        p = e.params
        if e.name in ("noise", "babble"):
            t = p.get("noise_type", "babble" if e.name == "babble" else "recorded")
            v[f"noise_{t if t in NOISE_TYPES else 'recorded'}"] = 1.0
            snrs.append(float(p["snr_db"]))
        elif e.name == "reverb":
            v["reverb"] = 1.0
            rt = float(p.get("rt60", math.nan))
            v["rt60"] = max(v["rt60"], 0.0 if math.isnan(rt) else rt)
            d = float(p.get("drr_db", math.nan))
            drr = d if math.isnan(drr) else min(drr, d)
        elif e.name in ("telephone", "bandlimit"):
            v["band_limited"] = 1.0
            if p.get("codec"):
                v["codec"] = 1.0
        elif e.name == "overlap":
            if p.get("fraction", 0.0) > 0:
                v["overlap"] = 1.0
                sirs.append(float(p["sir_db"]))
                fractions.append(float(p["fraction"]))
        elif e.name == "clip":
            v["clip_ratio"] = max(v["clip_ratio"], min(1.0, float(p["clip_ratio"]) / 0.1))
        elif e.name == "gain":
            v["gain"] += float(p["gain_db"]) / 20.0
    if not snrs:
        v["noise_none"] = 1.0
    v["snr"] = _scaled(min(snrs) if snrs else math.nan, _SNR_CAP)
    v["drr"] = _scaled(drr, _DRR_CAP)
    v["sir"] = _scaled(min(sirs) if sirs else math.nan, _SNR_CAP)
    v["overlap_fraction"] = max(fractions) if fractions else 0.0
    return np.array([v[k] for k in NUISANCE_FIELDS], dtype=np.float32)


def nuisance_matrix(logs: Sequence[AugmentLog]) -> np.ndarray:
    """Stack :func:`nuisance_vector` of each log: ``(len(logs), len(NUISANCE_FIELDS))`` float32.

    Examples
    --------
    >>> nuisance_matrix([AugmentLog(), AugmentLog()]).shape
    (2, 18)
    """
    if not logs:
        return np.zeros((0, len(NUISANCE_FIELDS)), dtype=np.float32)
    return np.stack([nuisance_vector(log) for log in logs])
