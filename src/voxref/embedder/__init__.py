"""Encoders (embedding backends), the :class:`Embedder` pipeline and pooling."""

from .base import Encoder, WindowEmbeddings, l2_normalize
from .embedder import Embedder, EmbeddingResult, PartialBatchError, ReferenceResult
from .registry import get_encoder

__all__ = [
    "Encoder",
    "WindowEmbeddings",
    "l2_normalize",
    "Embedder",
    "EmbeddingResult",
    "ReferenceResult",
    "PartialBatchError",
    "get_encoder",
]
