"""Encoders (embedding backends) and pooling.

The :class:`~voxref.pipeline.Embedder` that composes them with cleaning and separation lives one
layer up, in :mod:`voxref.pipeline` (``from voxref import Embedder``).
"""

from ..encoding import Encoder, WindowEmbeddings, l2_normalize
from .registry import get_encoder

__all__ = [
    "Encoder",
    "WindowEmbeddings",
    "l2_normalize",
    "get_encoder",
]
