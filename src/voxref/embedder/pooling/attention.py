r"""Parameter-free attention pooling: windows -> reference, references -> speaker.

Nothing here is trained; it works offline on any encoder whose embeddings compare by cosine.

**Windows -> reference** (:func:`guided_window_pool`): masked attention over one reference's
windows, the mask built from the target's activity (Guided Speaker Embedding, Horiguchi et al.,
ICASSP 2025). It is defined with the target activity it is built for, in
:mod:`voxref.separation.guided_pooling`, and re-exported here.

**References -> speaker** (:func:`reference_weights`, :func:`attention_pool`). Each reference
gets the log-weight

.. math::  \ell_i = \log r(q_i) - \frac{\max(0,\ \tilde a - a_i - \delta)}{\tau}

where ``r(q_i)`` is the quality prior of :func:`voxref.embedder.pooling.quality.reliability`
(speech seconds, SNR, overlap, bandwidth, clipping) and ``a_i = cos(e_i, c_{-i})`` the agreement
of reference ``i`` with the weighted centroid of the *other* references (leave-one-out, so one
outlier cannot capture the centroid it is judged by), iterated with the current weights;
``\tilde a`` is the weighted median agreement. References that agree at least as well as the
typical one (or fall short by less than the margin ``delta``) are not ranked against each
other - a plain softmax over agreement lets the cleanest-sounding subset take all the weight and
throws away useful variety - only references that agree clearly *less* than the typical one lose
weight, exponentially in the shortfall. That is what rejects a wrong speaker's or a pure-noise
file (in GE2E space another speaker's shortfall is 0.11 at the 5th percentile and 0.29 at the
median, a degraded reference's of the right speaker at most 0.06 at the 90th percentile, see
:data:`AGREEMENT_MARGIN`); the quality prior is what helps mixed bags. Finally
the weights are tempered (``w ~ exp(alpha * l)``, largest ``alpha <= 1``) until the effective
number of references ``1 / sum w^2`` is at least ``1 + min_effective * (R - 1)``, so they never
collapse on one reference unless the evidence is one-sided enough to beat the floor.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> speaker = rng.standard_normal(64)
>>> refs = speaker + 0.5 * rng.standard_normal((4, 64))
>>> refs[3] = rng.standard_normal(64)  # someone else
>>> emb, w = attention_pool(refs)
>>> print(w.round(2))
[0.33 0.33 0.33 0.  ]
>>> emb.shape, round(float(np.linalg.norm(emb)), 4)
((64,), 1.0)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...encoding import l2_normalize
from ...errors import ConfigError
from ...separation.guided_pooling import (
    WINDOW_TEMPERATURE,
    check_matrix,
    guided_window_pool,
    unit_rows,
)
from .quality import DEFAULT_QUALITY_MODEL, QualityModel, as_qualities, reliability

__all__ = [
    "WINDOW_TEMPERATURE",
    "AGREEMENT_TEMPERATURE",
    "AGREEMENT_MARGIN",
    "VOTE_QUALITY_POWER",
    "MIN_EFFECTIVE",
    "guided_window_pool",
    "reference_weights",
    "attention_pool",
    "mean_pool",
    "effective_count",
    "agreement",
]

log = logging.getLogger(__name__)

AGREEMENT_TEMPERATURE = 0.02
"""``tau``: each further 0.02 of agreement shortfall (beyond the margin) costs a factor ``e``."""

AGREEMENT_MARGIN = 0.10
"""``delta``: agreement shortfall (cosine) below the typical one that costs nothing.

Measured on the quality benchmark's cached GE2E references (4-reference sets of one speaker in one
condition) the shortfall of a degraded reference of the right speaker is at most 0.03-0.06 at the
90th and 0.05-0.13 at the 99th percentile (clean, white 5 dB, reverb, babble 5 dB, overlap SIR
0 dB), while another speaker's clip among 3 of the target's falls short by 0.11 (5th percentile)
/ 0.29 (median). A margin of 0.10 with a steep ``tau`` = 0.02 spares the former and drops the
latter; the earlier 0.03 / 0.05 also punished overlapped references (26 speakers, 3 / 5
references, EER %: overlap SIR 0 dB 8.01 / 5.24 vs 6.86 / 5.34, conversation 4.17 / 3.42 vs
3.59 / 3.31, mixed bag 1.92 / 2.24 vs 1.60 / 2.03)."""

VOTE_QUALITY_POWER = 0.5
"""Votes in the agreement centroids ~ ``prior ** VOTE_QUALITY_POWER``."""

MIN_EFFECTIVE = 0.15
"""Effective-count floor: ``1 / sum(w^2) >= 1 + MIN_EFFECTIVE * (R - 1)``."""

_EPS = 1e-8


def effective_count(weights: np.ndarray) -> float:
    """Effective number of items ``1 / sum(w^2)`` of normalised weights (1 .. len).

    Examples
    --------
    >>> effective_count(np.array([0.5, 0.5])), effective_count(np.array([1.0, 0.0]))
    (2.0, 1.0)
    """
    w = np.asarray(weights, dtype=np.float64)
    w = w / max(w.sum(), _EPS)
    return float(1.0 / max(np.sum(w * w), _EPS))


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - np.max(logits)
    e = np.exp(z)
    return e / e.sum()


def agreement(embeddings: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Cosine of each row with the (weighted) centroid of the *other* rows, ``(R,)``.

    A single row agrees perfectly (1.0). The centroid of the others is a weighted sum of unit
    vectors, so the weights only matter relative to each other.

    Examples
    --------
    >>> agreement(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])).round(3).tolist()
    [0.707, 0.707, 0.0]
    """
    e = unit_rows(check_matrix(embeddings, "embeddings"))
    r = e.shape[0]
    if r == 1:
        return np.ones(1)
    w = np.full(r, 1.0 / r) if weights is None else np.asarray(weights, dtype=np.float64)
    total = (w[:, None] * e).sum(axis=0)
    others = total[None, :] - w[:, None] * e
    norms = np.linalg.norm(others, axis=1)
    cos = np.einsum("rd,rd->r", e, others) / np.maximum(norms, 1e-12)
    # a row whose others all have zero weight: compare with the plain mean of the others
    flat = norms < 1e-9
    if flat.any():
        plain = e.sum(axis=0)[None, :] - e
        cos[flat] = np.einsum("rd,rd->r", e[flat], unit_rows(plain[flat]))
    return cos


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cw = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cw, 0.5 * cw[-1])])


def _temper_to_floor(logits: np.ndarray, floor: float) -> np.ndarray:
    w = _softmax(logits)
    if effective_count(w) >= floor - 1e-9:
        return w
    lo, hi = 0.0, 1.0  # effective count is 1/sum(w^2) of softmax(alpha * logits), falls with alpha
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if effective_count(_softmax(mid * logits)) >= floor:
            lo = mid
        else:
            hi = mid
    return _softmax(lo * logits)


def reference_weights(
    embeddings: np.ndarray,
    qualities: Sequence[Any] | None = None,
    *,
    temperature: float = AGREEMENT_TEMPERATURE,
    margin: float = AGREEMENT_MARGIN,
    iterations: int = 3,
    vote_quality_power: float = VOTE_QUALITY_POWER,
    min_effective: float = MIN_EFFECTIVE,
    quality_model: QualityModel = DEFAULT_QUALITY_MODEL,
    return_details: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Parameter-free pooling weights of ``R`` reference embeddings of one speaker.

    Parameters
    ----------
    embeddings
        ``(R, D)`` reference embeddings (normalised here).
    qualities
        ``None`` or one item per reference: a :class:`~voxref.embedder.pooling.RefQuality`, a
        mapping with its field names, a ``QualityReport``-like object or ``None``.
    temperature
        Agreement shortfall (in cosine, beyond ``margin``) below the weighted median that divides
        the weight by ``e``; ``inf`` switches agreement off (quality prior only).
    margin
        Shortfall that costs nothing.
    iterations
        Re-estimations of the leave-one-out centroids with the current weights.
    vote_quality_power
        How much the quality prior weighs a reference's vote in the agreement centroids:
        votes ~ ``prior ** vote_quality_power`` (0: every reference votes equally, 1: votes = the
        pooling weights). Equal votes let several references that share one noise out-vote a clean
        one; pooling-weight votes let a clean recording of the wrong speaker out-vote degraded
        ones of the right speaker.
    min_effective
        Effective-count floor as a fraction of the ``R - 1`` references beyond the first
        (0: no floor, 1: uniform weights).
    quality_model
        Constants of the quality prior.
    return_details
        Also return ``{"prior", "agreement", "logits"}`` arrays.

    Returns
    -------
    np.ndarray
        ``(R,)`` float32 weights, non-negative, summing to 1, in input order.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.array([[1.0, 0.1], [1.0, -0.1], [1.0, 0.0]])
    >>> print(reference_weights(e, [{"snr_db": 30.0}, {"snr_db": 30.0}, {"snr_db": 0.0}]).round(2))
    [0.5  0.5  0.01]
    """
    e = unit_rows(check_matrix(embeddings, "embeddings"))
    r = e.shape[0]
    if not 0.0 <= min_effective <= 1.0:
        raise ConfigError(f"min_effective must be within [0, 1]; got {min_effective}.")
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0; got {temperature}.")
    qs = as_qualities(qualities, r)
    prior = np.ones(r) if qs is None else np.array([reliability(q, quality_model) for q in qs])
    prior = np.maximum(prior, 1e-6)
    log_prior = np.log(prior / prior.max())
    logits = log_prior.copy()
    agree = np.ones(r)
    w = _softmax(logits)
    if r > 1 and np.isfinite(temperature):
        # who votes on the speaker's identity: every reference, noisy ones with a voice damped by
        # prior ** vote_quality_power (a noisy file still points at the voice, but noisy files
        # also share their noise); the agreement penalty then thins out the voters
        vote_prior = vote_quality_power * log_prior
        votes = _softmax(vote_prior)
        for _ in range(max(int(iterations), 1)):
            agree = agreement(e, votes)
            typical = _weighted_median(agree, votes)
            penalty = np.maximum(typical - agree - margin, 0.0) / temperature
            logits = log_prior - penalty
            votes = _softmax(vote_prior - penalty)
    floor = 1.0 + min_effective * (r - 1)
    w = _temper_to_floor(logits, floor).astype(np.float32)
    w = w / w.sum()
    if return_details:
        return w, {"prior": prior, "agreement": agree, "logits": logits}
    return w


def attention_pool(
    embeddings: np.ndarray, qualities: Sequence[Any] | None = None, **options: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Pool reference embeddings with :func:`reference_weights`.

    Returns
    -------
    embedding : np.ndarray
        ``(D,)`` unit-norm float32: the normalised weighted sum of the normalised references.
    weights : np.ndarray
        ``(R,)`` float32 weights (sum to 1), in input order.

    Examples
    --------
    >>> import numpy as np
    >>> emb, w = attention_pool(np.array([[3.0, 4.0]]))
    >>> emb.tolist(), w.tolist()
    ([0.6000000238418579, 0.800000011920929], [1.0])
    """
    w = reference_weights(embeddings, qualities, **options)
    e = unit_rows(np.asarray(embeddings, dtype=np.float64))
    return l2_normalize((w[:, None].astype(np.float64) * e).sum(axis=0)), w


def mean_pool(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain mean of the normalised references (what Resemblyzer & co. do), with uniform weights.

    Examples
    --------
    >>> import numpy as np
    >>> emb, w = mean_pool(np.array([[1.0, 0.0], [0.0, 2.0]]))
    >>> print(emb.round(4), w)
    [0.7071 0.7071] [0.5 0.5]
    """
    e = unit_rows(check_matrix(embeddings, "embeddings"))
    w = np.full(e.shape[0], 1.0 / e.shape[0], dtype=np.float32)
    return l2_normalize(e.mean(axis=0)), w
