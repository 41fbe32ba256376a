"""The :class:`Embedder`: composes load -> clean -> guide -> encode -> pool, holding the models.

The pipeline stands above the packages it composes (:mod:`voxref.cleaning`, :mod:`voxref.separation`,
:mod:`voxref.embedder`); none of them imports it. Its modules:

- :mod:`~voxref.pipeline.embedder`: the :class:`Embedder`, its models and stages;
- :mod:`~voxref.pipeline.voice_keeping`: which voice or separated stream of a reference it keeps;
- :mod:`~voxref.pipeline.results`: what it returns;
- :mod:`~voxref.pipeline.inputs`: how it reads its ``inputs`` argument;
- :mod:`~voxref.pipeline.shared`: one Embedder per set of options per process (:func:`get_embedder`).
"""

from __future__ import annotations

from .embedder import Embedder
from .results import EmbeddingResult, PartialBatchError, PreparedReference, ReferenceResult
from .shared import get_embedder

__all__ = [
    "Embedder",
    "EmbeddingResult",
    "PreparedReference",
    "ReferenceResult",
    "PartialBatchError",
    "get_embedder",
]
