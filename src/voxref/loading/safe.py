"""Safe ``torch.load``: every checkpoint voxref reads goes through :func:`safe_torch_load`.

``torch.load(..., weights_only=True)`` only: a pickle that would construct arbitrary objects is
refused with :class:`~voxref.errors.UnsafeCheckpointError` before anything in it runs, and any
other unreadable file raises :class:`~voxref.errors.CheckpointError` saying what to do.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, MissingCheckpointError, UnsafeCheckpointError

__all__ = ["read_checkpoint_bytes", "safe_torch_load", "unsafe_global_in"]


def read_checkpoint_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a checkpoint file (read once, so what is checked is what is loaded)."""
    p = Path(path)
    if not p.is_file():
        raise MissingCheckpointError(f"no checkpoint file at {p}.")
    return p.read_bytes()


def safe_torch_load(
    source: str | os.PathLike | bytes,
    *,
    safe_globals: Iterable[Any] = (),
    name: str | None = None,
) -> Any:
    """``torch.load(weights_only=True)`` with errors that say what happened and what to do.

    Parameters
    ----------
    source
        A path, or the checkpoint's bytes.
    safe_globals
        Extra classes the checkpoint may reference (``torch.serialization.safe_globals`` entries),
        e.g. pyannote's ``Specifications``.
    name
        How to call the checkpoint in messages (default: the path).

    Raises
    ------
    UnsafeCheckpointError
        The pickle references something other than tensors and plain containers (a class with
        ``__reduce__``, ``os.system``...). Nothing in it has run.
    CheckpointError
        The file is not a torch checkpoint (truncated, text...).

    Examples
    --------
    >>> import io, torch
    >>> buf = io.BytesIO(); torch.save({"w": torch.ones(2)}, buf)
    >>> safe_torch_load(buf.getvalue())["w"].tolist()
    [1.0, 1.0]
    """
    import pickle

    import torch

    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), name or "<checkpoint bytes>"
    else:
        data, label = read_checkpoint_bytes(source), name or str(source)
    extra = list(safe_globals)
    try:
        if extra:
            with torch.serialization.safe_globals(extra):
                return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", msg)
        if found or any(s in msg for s in ("call reduce", "Can only create", "Can only build")):
            what = f" (it references {found.group(1)})" if found else ""
            raise UnsafeCheckpointError(
                f"{label} holds Python objects that would run code when loaded{what}; voxref "
                "only loads checkpoints with torch.load(weights_only=True) and did not run it. "
                "If you trust the file, re-save just its tensors (e.g. "
                "torch.save(torch.load(path, weights_only=False)['state_dict'], 'clean.pt')) "
                "and load that."
            ) from None
        raise CheckpointError(
            f"{label} is not a readable torch checkpoint (corrupt, not a checkpoint, or using "
            f"pickle features voxref refuses): {msg.splitlines()[-1] if msg else ''}"
        ) from None
    except Exception as exc:  # torch's unpickler raises many kinds on corrupt bytes
        raise CheckpointError(
            f"{label} is not a readable torch checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); is the file complete?"
        ) from None


def unsafe_global_in(exc: BaseException) -> str | None:
    """The global an :class:`UnsafeCheckpointError` from :func:`safe_torch_load` names, if any."""
    found = re.search(r"references ([\w.]+)\)", str(exc))
    return found.group(1) if found else None
