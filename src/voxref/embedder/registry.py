"""Build an :class:`~voxref.embedder.base.Encoder` from a name or pass one through."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Encoder

__all__ = ["get_encoder", "ENCODER_NAMES"]

ENCODER_NAMES = ("ge2e",)


def get_encoder(spec: str | Encoder = "ge2e", device: str = "cpu") -> Encoder:
    """An encoder instance from ``spec``.

    Parameters
    ----------
    spec
        ``"ge2e"`` (bundled, offline default) or an :class:`Encoder` instance. Checkpoints of other
        backends load with :meth:`voxref.Embedder.from_pretrained`.

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
    raise ConfigError(
        f"unknown encoder {spec!r}; use one of {ENCODER_NAMES}, an Encoder instance, or "
        "voxref.Embedder.from_pretrained(path) for a checkpoint."
    )
