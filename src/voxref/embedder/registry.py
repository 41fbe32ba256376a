"""Build an :class:`~voxref.encoding.Encoder` from a name or pass one through."""

from __future__ import annotations

import os

from ..encoding import Encoder
from ..errors import ConfigError

__all__ = ["get_encoder", "ENCODER_NAMES"]

ENCODER_NAMES = ("ge2e",)


def get_encoder(spec: str | os.PathLike | Encoder = "ge2e", device: str = "cpu") -> Encoder:
    """An encoder instance from ``spec``.

    Parameters
    ----------
    spec
        ``"ge2e"`` (bundled, offline default), an :class:`Encoder` instance, or a checkpoint
        (an existing path, or a hub id ``"owner/name"``) loaded with
        :func:`voxref.embedder.loader.load_pretrained` (so ``Embedder(encoder=path)``,
        ``voxref.embed(files, encoder=path)`` and every CLI ``--encoder`` take checkpoints).
        Hub options (revision, token, offline) go through :meth:`voxref.Embedder.from_pretrained`.

    Examples
    --------
    >>> get_encoder("ge2e").dimension
    256
    """
    if isinstance(spec, Encoder):
        return spec
    if spec in ("ge2e", "resemblyzer", "ge2e-resemblyzer"):
        from .ge2e import GE2EEncoder

        return GE2EEncoder(device=device)
    if isinstance(spec, (str, os.PathLike)):
        from ..loading.hub import HUB_ID_PATTERN
        from .loader import load_pretrained

        if os.path.exists(spec) or HUB_ID_PATTERN.match(str(spec)):
            return load_pretrained(spec, device=device)
    raise ConfigError(
        f"unknown encoder {spec!r}; use one of {ENCODER_NAMES}, an Encoder instance, an existing "
        "checkpoint path, or a hub id 'owner/name'."
    )
