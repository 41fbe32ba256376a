r"""Guided window pooling: one reference's window embeddings -> one vector, masked by target activity.

Masked attention as in Guided Speaker Embedding (Horiguchi et al., ICASSP 2025, arXiv:2410.12182),

.. math::  a_t = \frac{m_t \exp(e_t)}{\sum_s m_s \exp(e_s)},

with the mask ``m_t = z_t (1 - o_t)`` built from the target's activity ``z_t`` and the probability
``o_t`` that another talker overlaps window ``t`` (both in [0, 1], from :mod:`.guide`), and a
parameter-free score ``e_t = cos(x_t, c) / temperature``, ``c`` the attention-weighted centroid of
the masked windows (iterated), or a known target direction. A window with ``m_t = 0`` contributes
exactly nothing. When the mask is all zero the overlap term is dropped, then the activity, so a
reference always yields an embedding (the fallback is logged).

It is numpy only and knows nothing of encoders: :mod:`.guide` and :mod:`.target` pool with it, and
``voxref.embedder.pooling`` (which pools references into a speaker) re-exports it.

Examples
--------
>>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
>>> emb, w = guided_window_pool(x, activity=np.array([1.0, 1.0, 0.0]))
>>> w.round(3).tolist()
[0.5, 0.5, 0.0]
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..encoding import WindowEmbeddings
from ..errors import ConfigError

__all__ = ["WINDOW_TEMPERATURE", "guided_window_pool", "unit_rows", "check_matrix"]

log = logging.getLogger(__name__)

WINDOW_TEMPERATURE = float("inf")
"""Cosine temperature of the window attention (``e_t = cos / T``); ``inf``: the masked mean.

The mask does the work. Without a mask the score cannot know who the target is, and a sharp one
(T <= 0.1) hands the reference to whichever voice holds most windows; on the synthetic corpus
every sharpening cost 0.3-2 % cosine to the speaker's clean voice. Even a mild T = 1 was slightly
worse than the plain masked mean on the quality benchmark (26 speakers, 3 / 5 references, EER %:
conversation 4.23 / 4.17 vs 4.04 / 3.85, mixed bag 1.79 / 2.35 vs 1.73 / 2.35, overlap SIR 0 dB
6.86 / 5.88 vs 6.73 / 5.88), hence the default. A learned score is what the paper uses."""

#: Below this a mask or a sum counts as zero.
EPS = 1e-8


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit norm (float64; all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def check_matrix(x: Any, what: str) -> np.ndarray:
    """``x`` as a finite, non-empty ``(count, dimension)`` float64 array, else a ConfigError naming
    ``what``."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ConfigError(
            f"{what} must be a non-empty (count, dimension) array; got shape {a.shape}."
        )
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{what} contain NaN or infinity.")
    return a


def _check_vector(x: Any, n: int, what: str) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    if v.shape != (n,):
        raise ConfigError(f"{what} must have one value per window ({n}); got shape {v.shape}.")
    if not np.all(np.isfinite(v)):
        raise ConfigError(f"{what} contains NaN or infinity.")
    return np.clip(v, 0.0, 1.0)


def guided_window_pool(
    windows: WindowEmbeddings | np.ndarray,
    activity: np.ndarray | None = None,
    overlap: np.ndarray | None = None,
    *,
    temperature: float = WINDOW_TEMPERATURE,
    iterations: int = 2,
    target: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pool one reference's window embeddings with attention masked by the target's activity.

    Parameters
    ----------
    windows
        :class:`~voxref.encoding.WindowEmbeddings` or an ``(N, D)`` array.
    activity
        ``(N,)`` target activity ``z_t`` in [0, 1] per window (``None``: all 1).
    overlap
        ``(N,)`` probability that another talker overlaps each window (``None``: 0).
    temperature
        Cosine temperature of the score ``e_t = cos(x_t, c) / temperature``; ``inf`` gives the
        plain masked mean.
    iterations
        Centroid refinements (``c`` starts as the masked mean).
    target
        A known target direction (e.g. the centroid of the *other* references, as
        ``voxref.separation.guide`` computes it): scores are ``cos(x_t, target) / temperature``
        and no centroid is iterated. With a known target a sharper temperature (0.1) is safe;
        blind, it is not (see :data:`WINDOW_TEMPERATURE`).

    Returns
    -------
    embedding : np.ndarray
        ``(D,)`` unit-norm float32.
    window_weights : np.ndarray
        ``(N,)`` float32 attention weights summing to 1 (exactly 0 where the mask is 0).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> emb, w = guided_window_pool(x, activity=np.array([1.0, 1.0, 0.0]))
    >>> w.round(3).tolist()
    [0.5, 0.5, 0.0]
    >>> emb, w = guided_window_pool(x, temperature=1.0)  # no mask, a mild score: the odd
    >>> print(w.round(2))                                 # window is slightly down-weighted
    [0.39 0.4  0.21]
    >>> print(guided_window_pool(x)[1].round(2))  # default (inf): plain mean without a mask
    [0.33 0.33 0.33]
    """
    emb = windows.embeddings if isinstance(windows, WindowEmbeddings) else windows
    x = unit_rows(check_matrix(emb, "window embeddings"))
    n = x.shape[0]
    z = np.ones(n) if activity is None else _check_vector(activity, n, "activity")
    mask = z if overlap is None else z * (1.0 - _check_vector(overlap, n, "overlap"))
    if mask.sum() <= EPS:
        if z.sum() > EPS:
            log.info("every window overlaps another talker; pooling the active windows instead")
            mask = z
        else:
            log.info("target activity is zero in every window; pooling all windows")
            mask = np.ones(n)
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0; got {temperature}.")
    a = mask / mask.sum()
    anchor = None
    if target is not None:
        anchor = unit_rows(np.asarray(target, dtype=np.float64).reshape(-1))
        if anchor.shape != (x.shape[1],) or not np.all(np.isfinite(anchor)):
            raise ConfigError(
                f"target must be a finite ({x.shape[1]},) vector; got {np.shape(target)}."
            )
    for _ in range(max(int(iterations), 0) + 1):
        c = unit_rows((a[:, None] * x).sum(axis=0)) if anchor is None else anchor
        if not np.isfinite(temperature):
            break
        e = (x @ c) / temperature
        e = np.where(mask > 0, e, -np.inf)
        a = mask * np.exp(e - e[mask > 0].max())
        a = a / a.sum()
    c = unit_rows((a[:, None] * x).sum(axis=0))
    return c.astype(np.float32), a.astype(np.float32)
