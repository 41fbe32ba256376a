"""One entry point for pooling reference embeddings by name, checkpoint or module.

:func:`pool_references` is what ``Embedder.combine`` calls: ``"attention"`` (the parameter-free
default), ``"mean"``, ``"trained"`` (the head shipped in ``voxref/data/pooling_head.pt``), a path
to an :class:`~voxref.embedder.pooling.head.AttentivePooling` checkpoint, or a module with a
``pool(embeddings, qualities) -> (embedding, weights)`` method.

Examples
--------
>>> import numpy as np
>>> e = np.array([[1.0, 0.0], [0.8, 0.6]])
>>> emb, w = pool_references(e, method="mean")
>>> w.tolist()
[0.5, 0.5]
>>> emb, w = pool_references(e, [{"snr_db": 30.0}, {"snr_db": 0.0}])
>>> bool(w[0] > 0.9)
True
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ...encoding import l2_normalize
from ...errors import ConfigError, MissingCheckpointError
from .attention import attention_pool, mean_pool

__all__ = ["POOLING_METHODS", "pool_references", "default_head_path", "load_default_head"]

log = logging.getLogger(__name__)

POOLING_METHODS = ("attention", "mean", "trained")
"""Names :func:`pool_references` accepts (besides checkpoint paths and modules)."""

DEFAULT_HEAD_FILE = "pooling_head.pt"


def default_head_path() -> Path:
    """Where the shipped pooling head lives (``voxref/data/pooling_head.pt``; may not exist)."""
    return Path(str(resources.files("voxref") / "data" / DEFAULT_HEAD_FILE))


@functools.lru_cache(maxsize=4)
def _load_head(path: str) -> Any:
    from .head import AttentivePooling

    return AttentivePooling.load(path)


def load_default_head() -> Any:
    """The shipped :class:`~voxref.embedder.pooling.head.AttentivePooling` (loaded once).

    Raises
    ------
    voxref.errors.MissingCheckpointError
        When this install ships no trained head.
    """
    path = default_head_path()
    if not path.is_file():
        raise MissingCheckpointError(
            "this voxref ships no trained pooling head (it did not beat the parameter-free "
            "attention on held-apart speakers); use pooling='attention', or train one with "
            "scripts/train_pooling_head.py and pass its path as pooling=..."
        )
    return _load_head(str(path))


def pool_references(
    embeddings: np.ndarray,
    qualities: Sequence[Any] | None = None,
    method: str | os.PathLike | Any = "attention",
    **options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Pool ``(R, D)`` reference embeddings of one speaker into one unit-norm ``(D,)`` embedding.

    Parameters
    ----------
    embeddings
        One row per reference (normalised here).
    qualities
        ``None`` or one item per reference: :class:`~voxref.embedder.pooling.RefQuality`, a
        mapping with its field names, a ``QualityReport``-like object, or ``None``.
    method
        ``"attention"`` (default, parameter-free: :func:`~voxref.embedder.pooling.attention_pool`),
        ``"mean"``, ``"trained"`` (the shipped head), a checkpoint path, or an object with
        ``pool(embeddings, qualities)``.
    **options
        Passed to :func:`~voxref.embedder.pooling.attention_pool` (``"attention"`` only).

    Returns
    -------
    embedding : np.ndarray
        ``(D,)`` float32, unit norm.
    weights : np.ndarray
        ``(R,)`` float32, non-negative, summing to 1, in input order.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ConfigError(
            f"embeddings must be a non-empty (references, dimension) array; got {x.shape}."
        )
    if options and method != "attention":
        raise ConfigError(f"options {sorted(options)} only apply to method='attention'.")
    if isinstance(method, str) and method in POOLING_METHODS:
        if method == "attention":
            return attention_pool(x, qualities, **options)
        if method == "mean":
            return mean_pool(x)
        head = load_default_head()
    elif isinstance(method, (str, os.PathLike)):
        path = Path(method)
        if not path.suffix and not path.exists():
            raise ConfigError(
                f"unknown pooling {str(method)!r}; use one of {POOLING_METHODS}, a checkpoint path "
                "or a module with pool(embeddings, qualities)."
            )
        head = _load_head(str(path))
    elif hasattr(method, "pool"):
        head = method
    else:
        raise ConfigError(
            f"pooling must be one of {POOLING_METHODS}, a checkpoint path or a module with "
            f"pool(embeddings, qualities); got {type(method).__name__}."
        )
    emb, w = head.pool(x, qualities)
    w = np.asarray(w, dtype=np.float32).reshape(-1)
    if w.shape != (x.shape[0],):
        raise ConfigError(
            f"{type(head).__name__}.pool returned {w.shape} weights for {x.shape[0]} references."
        )
    return l2_normalize(np.asarray(emb, dtype=np.float32)), w
