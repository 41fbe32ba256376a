"""Reproducible parameter initialisation that leaves torch's global RNG alone.

Every voxref module that creates weights takes a ``seed``; :func:`seeded_init` is the one place
that turns it into weights without changing the caller's random state.

Examples
--------
>>> import torch
>>> from voxref.seeding import seeded_init
>>> with seeded_init(0):
...     a = torch.nn.Linear(2, 2).weight.detach().clone()
>>> with seeded_init(0):
...     b = torch.nn.Linear(2, 2).weight.detach().clone()
>>> bool(torch.equal(a, b))
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["seeded_init"]


@contextlib.contextmanager
def seeded_init(seed: int | None) -> Iterator[None]:
    """Create parameters reproducibly from ``seed`` without touching torch's global RNG state.

    Inside the block torch's CPU RNG is seeded with ``seed``; on exit its previous state is back
    (also when the block raises). With ``seed=None`` the block does nothing: parameters come
    from the global RNG as usual.

    Parameters
    ----------
    seed
        Seed for the block, or ``None`` to use (and advance) the global RNG.

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
