"""Helpers shared by the losses: input errors, option checks, reductions and seeded initialisation.

Examples
--------
>>> import torch
>>> from voxref.losses._common import reduce_loss
>>> reduce_loss(torch.tensor([1.0, 3.0]), "mean").item()
2.0
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from ..errors import ConfigError, VoxrefError

__all__ = ["LossInputError", "check_choice", "reduce_loss", "seeded_init", "REDUCTIONS"]

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


@contextlib.contextmanager
def seeded_init(seed: int | None) -> Iterator[None]:
    """Create parameters reproducibly from ``seed`` without touching torch's global RNG state.

    Inside the block torch's CPU RNG is seeded with ``seed``; on exit its previous state is back.
    With ``seed=None`` the block does nothing (parameters come from the global RNG as usual).

    Examples
    --------
    >>> import torch
    >>> before = torch.random.get_rng_state()
    >>> with seeded_init(3):
    ...     a = torch.nn.Linear(2, 2).weight.detach().clone()
    >>> with seeded_init(3):
    ...     b = torch.nn.Linear(2, 2).weight.detach().clone()
    >>> bool(torch.equal(a, b)), bool(torch.equal(before, torch.random.get_rng_state()))
    (True, True)
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
