"""The small-module checkpoint format: ``{format, config, state_dict, metadata}``.

The separator, the target extractor, the overlap detector and the pooling head are
``torch.nn.Module`` s with a ``config`` dict; :class:`SavedModule` gives them ``save`` / ``load``
in this layout (plain values and tensors only, read back with :func:`~.safe.safe_torch_load`).
Their shipped checkpoints live in ``voxref/data`` (:func:`shipped_checkpoint`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..errors import CheckpointError, ConfigError, MissingCheckpointError
from .safe import safe_torch_load

__all__ = [
    "save_module_checkpoint",
    "load_module_checkpoint",
    "SavedModule",
    "shipped_checkpoint",
    "means_shipped",
]


def save_module_checkpoint(
    module: Any, path: str | os.PathLike, *, checkpoint_format: str, metadata: dict | None
) -> Path:
    """Write ``{"format", "config", "state_dict", "metadata"}`` for ``module`` (its ``config``
    dict and CPU copies of its tensors): plain values only, so :func:`load_module_checkpoint`
    reads it back with ``torch.load(weights_only=True)``."""
    import torch

    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    obj = {
        "format": checkpoint_format,
        "config": dict(module.config),
        "state_dict": state,
        "metadata": dict(metadata or {}),
    }
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_module_checkpoint(
    cls: Any,
    path: str | os.PathLike,
    *,
    checkpoint_format: str,
    what: str,
    map_location: str = "cpu",
) -> Any:
    """A ``torch.nn.Module`` of class ``cls`` from a ``{format, config, state_dict, metadata}``
    checkpoint written by its ``save`` (the pooling head, the target extractor).

    Loaded with :func:`safe_torch_load`; the module is built from ``config``, gets ``metadata``
    as an attribute and is returned in eval mode on ``map_location``.

    Raises
    ------
    UnsafeCheckpointError, CheckpointError
    """
    ckpt = safe_torch_load(path)
    fmt = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
    if fmt != checkpoint_format or "config" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path} is not a {checkpoint_format} checkpoint (format={fmt!r}); write one with "
            f"{cls.__name__}.save."
        )
    try:
        net = cls(**ckpt["config"])
    except (TypeError, ConfigError, KeyError) as exc:
        raise CheckpointError(
            f"{path}: unusable {what} config {ckpt.get('config')!r}: {exc}"
        ) from exc
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored config: {exc}") from exc
    net.metadata = dict(ckpt.get("metadata", {}))
    net.eval()
    return net.to(map_location)


def shipped_checkpoint(filename: str) -> Path:
    """Path of ``voxref/data/<filename>`` (the file may not exist).

    Examples
    --------
    >>> shipped_checkpoint("speaker_count.pt").parent.name
    'data'
    """
    from importlib import resources

    return Path(str(resources.files("voxref") / "data" / filename))


def means_shipped(spec: Any) -> bool:
    """Whether a model option asks for the checkpoint shipped with voxref (``True`` or
    ``"default"``), as ``separate=``, ``overlap_detector=`` and the benchmarks spell it.

    Examples
    --------
    >>> means_shipped(True), means_shipped("default"), means_shipped("my.pt"), means_shipped(None)
    (True, True, False, False)
    """
    return spec is True or (isinstance(spec, str) and spec == "default")


class SavedModule:
    """``save`` / ``load`` for a ``torch.nn.Module`` with a ``config`` dict and ``metadata``, in
    the ``{format, config, state_dict, metadata}`` layout of :func:`save_module_checkpoint`.

    Subclasses set :attr:`checkpoint_format`, :attr:`checkpoint_file` (the shipped file in
    ``voxref/data``), :attr:`checkpoint_what` (for messages) and :attr:`trained_by` (the script
    that writes one).
    """

    checkpoint_format: str = ""
    checkpoint_file: str = ""
    checkpoint_what: str = ""
    trained_by: str = ""

    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Write ``{"format", "config", "state_dict", "metadata"}`` (weights_only-loadable)."""
        return save_module_checkpoint(
            self,
            path,
            checkpoint_format=self.checkpoint_format,
            metadata=metadata if metadata is not None else getattr(self, "metadata", {}),
        )

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, map_location: str = "cpu") -> Any:
        """Load a checkpoint written by :meth:`save` (default: the shipped one)."""
        path = Path(path) if path is not None else shipped_checkpoint(cls.checkpoint_file)
        if not path.is_file():
            raise MissingCheckpointError(
                f"no {cls.checkpoint_what} checkpoint at {path}; train one with {cls.trained_by}."
            )
        return load_module_checkpoint(
            cls,
            path,
            checkpoint_format=cls.checkpoint_format,
            what=cls.checkpoint_what,
            map_location=map_location,
        )
