"""A pyannote.audio ``Model`` from a checkpoint, loaded safely.

Loading is safe by construction. pyannote.audio 4.0.7's ``Model.from_pretrained`` unpickles the
checkpoint with ``weights_only=False`` (twice: ``pl_load`` and ``load_from_checkpoint``) and imports
whatever module the checkpoint names, so voxref does not call it. Instead
:func:`load_pyannote_model`

1. reads the file's bytes once;
2. unpickles them with ``torch.load(weights_only=True)``, allowing only pyannote's
   ``Specifications`` / ``Problem`` / ``Resolution`` and the Lightning callback classes old
   checkpoints reference (:func:`pyannote_safe_globals`) — anything else raises
   :class:`~voxref.errors.UnsafeCheckpointError` and nothing runs;
3. checks the architecture is a ``pyannote.audio.models.*`` subclass of pyannote's ``Model``;
4. builds it with Lightning's ``load_from_checkpoint(..., weights_only=True)`` on those same bytes
   (same allow-list), which is what ``from_pretrained`` does minus the unsafe parts and minus
   pyannote's telemetry.

A pyannote checkpoint is a Lightning checkpoint: ``state_dict``, ``pytorch-lightning_version``,
``hyper_parameters`` and, from ``Model.on_save_checkpoint``, ``"pyannote.audio": {"versions",
"architecture": {"module", "class"}, "specifications"}`` (hub models keep it in
``pytorch_model.bin``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import (
    CheckpointError,
    UnsafeCheckpointError,
    optional_dependency,
)
from .safe import read_checkpoint_bytes, safe_torch_load

__all__ = [
    "load_pyannote_model",
    "pyannote_safe_globals",
    "import_pyannote",
    "pyannote_import",
    "MODEL_FILE",
]

log = logging.getLogger(__name__)

MODEL_FILE = "pytorch_model.bin"  # pyannote's AssetFileName.Model


@contextlib.contextmanager
def pyannote_import(requirement: str, needed_for: str) -> Iterator[None]:
    """Context for a lazy ``from pyannote.audio... import ...`` (slow: seconds).

    voxref always passes waveforms in memory, so pyannote's warning about a broken torchcodec
    (its file decoder) is silenced, and an :class:`ImportError` becomes a
    :class:`~voxref.errors.MissingDependencyError` naming ``requirement`` and what it is
    ``needed_for``.
    """
    with optional_dependency("pyannote.audio", requirement, needed_for):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"(?s).*torchcodec", category=UserWarning)
            yield


def import_pyannote():
    """``pyannote.audio.core.model.Model`` (imported lazily: ~6 s)."""
    with pyannote_import("pyannote.audio>=4,<5", "The pyannote encoder backend"):
        from pyannote.audio.core.model import Model
    return Model


def pyannote_safe_globals() -> list:
    """Classes a pyannote checkpoint may reference under ``weights_only=True``.

    pyannote's task specification (plain dataclass + enums), and for checkpoints trained with
    older Lightning (``pyannote/embedding``) the callback classes stored as dictionary keys, under
    both their ``lightning`` and legacy ``pytorch_lightning`` names. Their constructors only
    store arguments.
    """
    import_pyannote()
    from pyannote.audio.core.task import Problem, Resolution, Specifications

    out: list[Any] = [Specifications, Problem, Resolution]
    try:
        from lightning.fabric.utilities.data import AttributeDict
        from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    except ImportError:  # pragma: no cover - lightning is a pyannote dependency
        return out
    out += [EarlyStopping, ModelCheckpoint, AttributeDict]
    out += [
        (EarlyStopping, "pytorch_lightning.callbacks.early_stopping.EarlyStopping"),
        (ModelCheckpoint, "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"),
        (AttributeDict, "pytorch_lightning.utilities.parsing.AttributeDict"),
    ]
    return out


def load_pyannote_model(
    source: str | os.PathLike | bytes, *, strict: bool = True, name: str | None = None
):
    """A pyannote ``Model`` from a checkpoint file, a directory or bytes, loaded safely.

    See the module docstring for what is checked.

    Raises
    ------
    UnsafeCheckpointError
        The pickle references anything beyond tensors, containers and the allow-list, or the
        checkpoint names an architecture outside ``pyannote.audio.models``.
    CheckpointError
        Not a pyannote (Lightning) checkpoint, or weights that do not fit.
    """
    import torch

    import_pyannote()
    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), name or "<pyannote checkpoint>"
    else:
        p = Path(source)
        if p.is_dir():
            p = p / MODEL_FILE
        data, label = read_checkpoint_bytes(p), name or str(p)
    allow = pyannote_safe_globals()
    ckpt = safe_torch_load(data, safe_globals=allow, name=label)
    meta = ckpt.get("pyannote.audio") if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{label} is not a pyannote.audio checkpoint (no 'pyannote.audio'/'state_dict' keys)."
        )
    if "pytorch-lightning_version" not in ckpt:
        raise CheckpointError(
            f"{label} lacks 'pytorch-lightning_version': pyannote 4 loads Lightning-style "
            "checkpoints (state_dict, pytorch-lightning_version, hyper_parameters, and "
            "model.on_save_checkpoint(ckpt) before torch.save)."
        )
    arch = meta.get("architecture") or {}
    module, cls_name = str(arch.get("module", "")), str(arch.get("class", ""))
    klass = _architecture_class(module, cls_name, label, meta)
    saved = str(meta.get("versions", {}).get("pyannote.audio", "?"))
    log.debug("pyannote checkpoint %s: %s.%s saved with %s", label, module, cls_name, saved)

    def build(strict_: bool):
        with torch.serialization.safe_globals(allow), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"lightning\..*")
            return klass.load_from_checkpoint(
                io.BytesIO(data), map_location="cpu", strict=strict_, weights_only=True
            )

    try:
        model = build(strict)
    except RuntimeError as exc:
        if "loss_func" in str(exc) and strict:  # task-dependent loss saved with the weights
            model = build(False)
        else:
            raise CheckpointError(
                f"{label}: weights do not fit {cls_name}: {str(exc).splitlines()[0]}"
            ) from None
    return model.eval()


def _architecture_class(module: str, cls_name: str, label: str, meta: dict) -> type:
    """The ``pyannote.audio.models`` class a checkpoint names, judged by the object it resolves
    to (:func:`voxref.allowlist.resolve_allowed`): a subclass of pyannote's ``Model`` defined in
    ``pyannote.audio.models``, reached without passing through another module."""
    from ..allowlist import AllowList, resolve_allowed

    if not module.startswith("pyannote.audio.models.") or not re.fullmatch(r"\w+", cls_name):
        raise UnsafeCheckpointError(
            f"{label} names architecture {module}.{cls_name}; voxref only builds classes from "
            "pyannote.audio.models, so it was not imported."
        )
    rules = AllowList(
        namespaces=("pyannote.audio.models",), base_classes=("pyannote.audio.core.model.Model",)
    )
    try:
        return resolve_allowed(f"{module}.{cls_name}", rules, same_as_pydoc=False)
    except UnsafeCheckpointError as exc:
        if "has no attribute" in getattr(exc, "reason", ""):
            raise CheckpointError(
                f"{label} needs {module}.{cls_name}, which this pyannote.audio lacks; it was "
                f"saved with pyannote.audio {meta.get('versions', {}).get('pyannote.audio')}."
            ) from None
        raise UnsafeCheckpointError(f"{label}: {exc}") from None
