"""The ``guide`` of an embedding call: an enrollment vector of the target voice, checked early.

``guide`` is judged before any audio is read, so a wrong one fails at once with a
:class:`~voxref.errors.ConfigError` naming the fix, instead of being ignored or turning into a
per-reference failure.

Examples
--------
>>> import numpy as np
>>> check_guide(np.ones(4), dimension=4, guiding=True).round(2).tolist()
[0.5, 0.5, 0.5, 0.5]
>>> check_guide(None, dimension=4, guiding=True) is None
True
>>> check_guide(False, dimension=4, guiding=True)
Traceback (most recent call last):
...
voxref.errors.ConfigError: guide=False is not an embedding. guide= takes the enrollment embedding of the target voice (a (4,) vector from the same encoder); to turn guiding off use Embedder(guiding=False) (or voxref.get_embedder(guiding=False)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["check_guide", "check_guiding_flag"]


def check_guiding_flag(guiding: Any) -> bool:
    """The ``Embedder(guiding=...)`` switch: a bool, not a vector."""
    if isinstance(guiding, (bool, np.bool_)):
        return bool(guiding)
    raise ConfigError(
        f"Embedder(guiding=...) turns guiding on or off and takes True or False, got "
        f"{type(guiding).__name__}. Pass an enrollment embedding to embed(..., guide=vector) "
        "instead."
    )


def check_guide(guide: Any, *, dimension: int, guiding: bool) -> np.ndarray | None:
    """``guide`` as a unit-norm float32 vector of ``dimension`` values, or ``None``.

    Parameters
    ----------
    guide
        ``None`` or an enrollment embedding (numpy array, torch tensor or sequence of numbers).
    dimension
        The encoder's embedding dimension.
    guiding
        Whether the embedder guides at all (``Embedder(guiding=...)``).

    Raises
    ------
    ConfigError
        For a bool, a string, a vector of another dimension, non-finite values, an all-zero
        vector, or a guide given to an embedder that does not guide.
    """
    if guide is None:
        return None
    fix = (
        f"guide= takes the enrollment embedding of the target voice (a ({dimension},) vector "
        "from the same encoder)"
    )
    if isinstance(guide, (bool, np.bool_)):
        raise ConfigError(
            f"guide={guide} is not an embedding. {fix}; to turn guiding off use "
            "Embedder(guiding=False) (or voxref.get_embedder(guiding=False))."
        )
    if isinstance(guide, (str, bytes)) or hasattr(guide, "__fspath__"):
        raise ConfigError(
            f"guide={guide!r} is not an embedding. {fix}; to guide by a recording, embed it "
            "first: guide=voxref.embed(that_file)."
        )
    if hasattr(guide, "detach"):  # a torch tensor
        guide = guide.detach().to("cpu").float().numpy()
    try:
        v = np.asarray(guide, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"guide of type {type(guide).__name__} is not numeric. {fix}.") from exc
    v = np.squeeze(v)
    if v.shape != (dimension,):
        raise ConfigError(f"guide has shape {np.shape(guide)}. {fix}.")
    if not np.all(np.isfinite(v)):
        raise ConfigError(f"guide holds NaN or infinite values. {fix}.")
    norm = float(np.linalg.norm(v))
    if not norm > 0:
        raise ConfigError(f"guide is all zeros and points at no voice. {fix}.")
    if not guiding:
        raise ConfigError(
            "guide= was given to an Embedder built with guiding=False, which does not guide and "
            "would ignore it; build it with guiding=True (the default) or drop guide=."
        )
    return (v / norm).astype(np.float32)
