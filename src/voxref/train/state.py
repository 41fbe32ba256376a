"""Training-state checkpoints: everything needed to resume a run, loadable with
``torch.load(weights_only=True)``.

Layout (a plain dictionary of tensors, numbers, strings, lists and dicts)::

    {
      "format": "voxref-train-state", "version": 1,
      "step": int,                      # optimiser steps done
      "config": {...},                  # TrainConfig.to_dict()
      "model": state_dict,              # the encoder network (TrainableEncoder)
      "objective": state_dict,          # GE2E w/b, AAM class weights, vCLUB estimator
      "optimizer": ..., "scheduler": ..., "mi_optimizer": ... | None,
      "rng": {"club": uint8 tensor | None},
      "extra": {...},                   # JSON-able: last validation, elapsed time
    }

Only the vCLUB negative-sampling generator carries random state between steps: batches, crops
and augmentation are drawn from ``(seed, step)`` and each step runs under a torch RNG seeded
from ``(seed, step)``, so nothing else needs to be stored to continue bit-identically.

Examples
--------
>>> import io, torch
>>> buf = io.BytesIO()
>>> torch.save(make_state(step=3, config={}, model={}, objective={}, optimizer={},
...                       scheduler={}), buf)
>>> read_state(buf.getvalue())["step"]
3
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from ..errors import CheckpointError

__all__ = ["STATE_FORMAT", "STATE_VERSION", "make_state", "write_state", "read_state"]

STATE_FORMAT = "voxref-train-state"
STATE_VERSION = 1


def make_state(
    *,
    step: int,
    config: dict[str, Any],
    model: dict[str, Any],
    objective: dict[str, Any],
    optimizer: dict[str, Any],
    scheduler: dict[str, Any],
    mi_optimizer: dict[str, Any] | None = None,
    club_rng: torch.Tensor | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The checkpoint dictionary (see the module docstring)."""
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "step": int(step),
        "config": config,
        "model": model,
        "objective": objective,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "mi_optimizer": mi_optimizer,
        "rng": {"club": club_rng},
        "extra": dict(extra or {}),
    }


def write_state(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Save atomically: write a temporary file, ``fsync`` it, rename it over ``path``.

    Written by :func:`voxref.atomic.atomic_write`: a process killed while writing leaves the
    previous file intact, so ``last.pt`` is always a complete state.
    """
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def read_state(source: str | os.PathLike | bytes) -> dict[str, Any]:
    """Load a training state with ``weights_only=True`` and check its format tag."""
    from ..loading.safe import safe_torch_load

    state = safe_torch_load(source)
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(
            f"{source if not isinstance(source, bytes) else 'checkpoint'} is not a voxref "
            "training state (resume from OUT/checkpoints/step_*.pt or OUT/checkpoints/last.pt)."
        )
    if int(state.get("version", 0)) > STATE_VERSION:
        raise CheckpointError(
            f"training state version {state.get('version')} is newer than this voxref reads "
            f"({STATE_VERSION}); upgrade voxref."
        )
    return state
