"""Speaker-verification metrics: EER, minDCF and score summaries from trial scores.

Conventions: a higher score means "more likely the same speaker"; ``labels`` are 1 for target
trials (same speaker) and 0 for non-target trials. Both metrics are computed on the ROC curve of
:func:`sklearn.metrics.roc_curve` with every threshold kept (``drop_intermediate=False``).

* **EER**: the error rate where the miss rate equals the false-alarm rate, linearly interpolated
  between the two ROC points that straddle ``P_miss == P_fa``.
* **minDCF**: ``min_t [C_miss P_miss(t) p + C_fa P_fa(t) (1 - p)] / min(C_miss p, C_fa (1 - p))``
  (NIST SRE normalised detection cost), here with ``p = 0.01`` and ``C_miss = C_fa = 1``. A system
  that always rejects scores 1.0, so the result is at most 1.

Examples
--------
>>> import numpy as np
>>> scores = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.5, 0.4, 0.1])
>>> labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
>>> round(equal_error_rate(scores, labels), 4)
0.25
>>> round(min_dcf(scores, labels, p_target=0.01), 4)
0.25
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "P_TARGET",
    "C_MISS",
    "C_FA",
    "roc_error_rates",
    "equal_error_rate",
    "min_dcf",
    "VerificationScores",
    "summarize_scores",
]

P_TARGET = 0.01
"""Prior of a target trial in the detection cost function."""

C_MISS = 1.0
"""Cost of a miss (rejecting the true speaker)."""

C_FA = 1.0
"""Cost of a false alarm (accepting another speaker)."""


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity")
    if y.all() or not y.any():
        raise ValueError("need both target (1) and non-target (0) trials")
    return s, y


def roc_error_rates(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every threshold (accept when ``score >= threshold``).

    Returns
    -------
    p_miss, p_fa, thresholds
        ``p_miss`` falls and ``p_fa`` rises along the arrays; the first point (threshold
        ``inf``) accepts nothing.

    Examples
    --------
    >>> p_miss, p_fa, _ = roc_error_rates(np.array([0.2, 0.8]), np.array([0, 1]))
    >>> p_miss.tolist(), p_fa.tolist()
    ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    """
    from sklearn.metrics import roc_curve

    s, y = _check(scores, labels)
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    return 1.0 - tpr, fpr, thresholds


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float:
    """Equal error rate in [0, 1] (see the module docstring).

    Examples
    --------
    >>> equal_error_rate(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0]))
    0.0
    """
    p_miss, p_fa, _ = roc_error_rates(scores, labels)
    diff = p_miss - p_fa  # starts at 1 (accept nothing), ends at -1 (accept everything)
    i = int(np.argmax(diff <= 0.0))  # first ROC point with P_miss <= P_fa
    if diff[i] == 0.0 or i == 0:
        return float(p_fa[i])
    # Segment from point i-1 (diff > 0) to i (diff <= 0): find where the two rates meet.
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    return float(p_fa[i - 1] + t * (p_fa[i] - p_fa[i - 1]))


def min_dcf(
    scores: np.ndarray,
    labels: np.ndarray,
    p_target: float = P_TARGET,
    c_miss: float = C_MISS,
    c_fa: float = C_FA,
) -> float:
    """Minimum normalised detection cost over all thresholds (see the module docstring).

    Examples
    --------
    >>> s, y = np.array([0.9, 0.6, 0.7, 0.1]), np.array([1, 1, 0, 0])
    >>> round(min_dcf(s, y, p_target=0.01), 3)  # best: accept only 0.9 -> P_miss 0.5, P_fa 0
    0.5
    """
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target={p_target} must be in (0, 1)")
    p_miss, p_fa, _ = roc_error_rates(scores, labels)
    dcf = c_miss * p_miss * p_target + c_fa * p_fa * (1.0 - p_target)
    return float(dcf.min() / min(c_miss * p_target, c_fa * (1.0 - p_target)))


@dataclass(frozen=True)
class VerificationScores:
    """Summary of one trial list's scores.

    Attributes
    ----------
    eer, min_dcf
        Equal error rate (fraction) and normalised minDCF (``p_target`` 0.01).
    eer_same_gender
        EER on target trials vs same-gender non-target trials only (``None`` when none).
    mean_target, mean_nontarget
        Mean score of target / non-target trials.
    n_target, n_nontarget
        Number of trials of each kind.
    """

    eer: float
    min_dcf: float
    eer_same_gender: float | None
    mean_target: float
    mean_nontarget: float
    n_target: int
    n_nontarget: int

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain dict (for JSON)."""
        return asdict(self)


def summarize_scores(
    scores: np.ndarray, labels: np.ndarray, same_gender: np.ndarray | None = None
) -> VerificationScores:
    """EER, minDCF, same-gender EER and mean scores of one trial list.

    Parameters
    ----------
    scores
        Trial scores (e.g. cosine similarities).
    labels
        1 for target trials, 0 for non-target trials.
    same_gender
        Per trial: do enrollment and test speakers share a gender (used for non-targets only).

    Examples
    --------
    >>> s = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.5, 0.4, 0.1])
    >>> y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    >>> r = summarize_scores(s, y, same_gender=np.array([1, 1, 1, 1, 1, 0, 0, 0]))
    >>> round(r.eer, 3), r.eer_same_gender, r.n_target, round(r.mean_nontarget, 2)
    (0.25, 0.25, 4, 0.4)
    """
    s, y = _check(scores, labels)
    eer_sg = None
    if same_gender is not None:
        sg = np.asarray(same_gender).reshape(-1).astype(bool)
        keep = y | sg
        if (keep & ~y).any():
            eer_sg = equal_error_rate(s[keep], y[keep])
    return VerificationScores(
        eer=equal_error_rate(s, y),
        min_dcf=min_dcf(s, y),
        eer_same_gender=eer_sg,
        mean_target=float(s[y].mean()),
        mean_nontarget=float(s[~y].mean()),
        n_target=int(y.sum()),
        n_nontarget=int((~y).sum()),
    )
