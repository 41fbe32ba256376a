"""The shared :class:`~voxref.pipeline.Embedder` per set of options (:func:`get_embedder`)."""

from __future__ import annotations

import threading
from typing import Any

from .embedder import Embedder

__all__ = ["get_embedder"]

_SHARED: dict[tuple, Embedder] = {}
_SHARED_LOCK = threading.Lock()


def get_embedder(**options: Any) -> Embedder:
    """The shared :class:`Embedder` for these options (built once per process).

    The one-call functions (:func:`voxref.embed`, ...), long-file streaming and batch runs use it,
    so that models load once per process.
    """
    key = tuple(sorted((k, repr(v)) for k, v in options.items()))
    with _SHARED_LOCK:
        emb = _SHARED.get(key)
        if emb is None:
            emb = _SHARED[key] = Embedder(**options)
    return emb
