"""Pooling: window embeddings -> one reference, reference embeddings -> one speaker.

Parameter-free (numpy only, no torch import):

- :func:`guided_window_pool` - windows of one reference, attention masked by target activity.
- :func:`reference_weights` / :func:`attention_pool` - references of one speaker, weighted by
  quality (:class:`RefQuality`) and leave-one-out agreement.
- :func:`pool_references` - one entry point: ``"attention"`` | ``"mean"`` | ``"trained"`` |
  checkpoint path | module.

Trainable (imports torch on first access): :class:`AttentivePooling`.

Examples
--------
>>> import numpy as np
>>> from voxref.embedder.pooling import pool_references
>>> emb, weights = pool_references(np.eye(3)[:2] + 1.0, method="attention")
>>> emb.shape, weights.shape
((3,), (2,))
"""

from __future__ import annotations

from typing import Any

from .attention import (
    agreement,
    attention_pool,
    effective_count,
    guided_window_pool,
    mean_pool,
    reference_weights,
)
from .quality import RefQuality, reliability
from .select import POOLING_METHODS, load_default_head, pool_references

__all__ = [
    "RefQuality",
    "reliability",
    "guided_window_pool",
    "reference_weights",
    "attention_pool",
    "mean_pool",
    "agreement",
    "effective_count",
    "pool_references",
    "load_default_head",
    "POOLING_METHODS",
    "AttentivePooling",
]


def __getattr__(name: str) -> Any:
    if name == "AttentivePooling":  # torch import only when the head is asked for
        from .head import AttentivePooling

        return AttentivePooling
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
