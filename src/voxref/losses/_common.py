"""Helpers shared by the losses: input errors, option checks and reductions.

Examples
--------
>>> import torch
>>> from voxref.losses._common import reduce_loss
>>> reduce_loss(torch.tensor([1.0, 3.0]), "mean").item()
2.0
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import ConfigError, VoxrefError

__all__ = ["LossInputError", "check_choice", "reduce_loss", "REDUCTIONS"]

REDUCTIONS = ("mean", "sum", "none")


class LossInputError(VoxrefError, ValueError):
    """A tensor given to a loss has a shape or size the loss cannot use (the message says which)."""


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ConfigError`.

    Examples
    --------
    >>> check_choice("reduction", "sum", REDUCTIONS)
    'sum'
    """
    if value not in choices:
        raise ConfigError(
            f"{name}={value!r} is not valid; use one of {', '.join(map(repr, choices))}"
        )
    return value


def reduce_loss(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply ``"mean"``, ``"sum"`` or ``"none"`` to per-item loss values."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values
