"""How the :class:`~voxref.pipeline.Embedder` reads its ``inputs`` argument: one speaker's references."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["as_list", "name_of"]


def as_list(inputs: Any) -> list:
    """One speaker's references as a list: a single input (path, array, ``(array, rate)`` pair)
    becomes a list of one; a mapping (several speakers) raises a
    :class:`~voxref.errors.ConfigError` naming ``embed_many``.

    Examples
    --------
    >>> as_list(["a.wav", "b.wav"]), as_list("a.wav")
    (['a.wav', 'b.wav'], ['a.wav'])
    >>> len(as_list((np.zeros(16000, np.float32), 16000)))  # one (array, rate) pair
    1
    >>> as_list({"amy": ["a.wav"]})
    Traceback (most recent call last):
    ...
    voxref.errors.ConfigError: got a mapping; embed() takes one speaker's references (a list). For several speakers use embed_many({speaker: [files...]}).
    """
    if isinstance(inputs, Mapping):
        raise ConfigError(
            "got a mapping; embed() takes one speaker's references (a list). For several "
            "speakers use embed_many({speaker: [files...]})."
        )
    if isinstance(inputs, (list, tuple)) and not (
        len(inputs) == 2
        and isinstance(inputs, tuple)
        and np.isscalar(inputs[1])
        and not isinstance(inputs[1], str)
    ):
        return list(inputs)
    if (
        isinstance(inputs, Iterable)
        and not isinstance(inputs, (str, bytes, np.ndarray, tuple))
        and not hasattr(inputs, "shape")
    ):
        return list(inputs)
    return [inputs]


def name_of(x: Any, i: int) -> str:
    """The name reports give input ``i``: its path, or ``"<array i>"``.

    Examples
    --------
    >>> name_of("a.wav", 0), name_of(np.zeros(3), 2)
    ('a.wav', '<array 2>')
    """
    return str(x) if isinstance(x, (str, os.PathLike)) else f"<array {i}>"
