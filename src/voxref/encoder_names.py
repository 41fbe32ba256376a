"""Encoders by name, for the packages below the one that defines them.

A name (``"ge2e"``), a checkpoint path or a hub id becomes an :class:`~voxref.encoding.Encoder`
through :func:`voxref.embedder.registry.get_encoder`, in the embedder layer. The diarizer sits
below it (in :mod:`voxref.separation`) yet takes ``Diarizer(encoder="ge2e")``: it asks
:func:`encoder_by_name` here, and the package root (``voxref/__init__.py``) installs the
embedder's resolver once, when voxref is first imported (a function that imports the embedder
only when a name is resolved, so ``import voxref`` stays light). The dependency points down; the
wiring is done at the top.

Examples
--------
>>> encoder_by_name("ge2e").dimension  # doctest: +SKIP
256
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ConfigError

__all__ = ["install_resolver", "encoder_by_name"]

_resolver: Callable[..., Any] | None = None


def install_resolver(resolver: Callable[..., Any]) -> None:
    """Make ``resolver(spec, device=...)`` the function that turns a name into an encoder."""
    global _resolver
    _resolver = resolver


def encoder_by_name(spec: Any, device: str = "cpu") -> Any:
    """The encoder ``spec`` names (see :func:`voxref.embedder.registry.get_encoder`).

    Raises
    ------
    ConfigError
        When no resolver is installed (voxref's package root installs one on import).
    """
    if _resolver is None:
        raise ConfigError(
            f"cannot resolve the encoder name {spec!r}: no encoder registry is installed; pass "
            "an Encoder instance instead (voxref.embedder.get_encoder(name))."
        )
    return _resolver(spec, device=device)
