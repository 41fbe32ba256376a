"""References prepared side by side: how many threads, and the shared pool that runs them.

The stages of one reference release the GIL for most of their work (DeepFilterNet3's C
runtime, the Silero VAD's ONNX session, numpy/scipy filtering), so with two cores two
references can be prepared at once. The encoder's forward pass is serialised by its own lock,
so torch's intra-op threads are never split between two references.

Only worth it when each reference carries enough work to pay for the hand-over: references
prepared side by side are at least :data:`MIN_SECONDS_EACH` long on average, there are two or
more, and torch was given more than one thread (``torch.set_num_threads``); otherwise they are
prepared one after the other, as before. The output does not depend on the choice: every
reference is prepared by the same code, in its own call, and results keep the input order.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["MIN_SECONDS_EACH", "MAX_THREADS", "reference_threads", "map_in_order"]

T = TypeVar("T")
R = TypeVar("R")

MIN_SECONDS_EACH = 4.0
"""Mean reference length (s) below which references are prepared one after the other."""
MAX_THREADS = 4
"""Most references prepared at once."""

_POOL_LOCK = threading.Lock()
_POOLS: dict[int, ThreadPoolExecutor] = {}
_IN_WORKER = threading.local()


def input_seconds(x: Any, sample_rate: int | None) -> float | None:
    """Duration of one reference input without decoding it (``None`` when unknown)."""
    try:
        if isinstance(x, (str, os.PathLike)):
            from ..audio.stream import stream_info

            return float(stream_info(x).duration)
        if isinstance(x, tuple) and len(x) == 2 and hasattr(x[0], "shape"):
            return float(x[0].shape[-1]) / float(x[1])
        if hasattr(x, "shape") and sample_rate:
            return float(x.shape[-1]) / float(sample_rate)
    except Exception:  # noqa: BLE001 - unknown: the reference's own stage reports the problem
        return None
    return None


def reference_threads(items: Sequence[Any], sample_rate: int | None = None) -> int:
    """Threads to prepare ``items`` with (1: one after the other); see the module docstring.

    Examples
    --------
    >>> import numpy as np, torch
    >>> n = torch.get_num_threads()
    >>> torch.set_num_threads(2)
    >>> refs = [(np.zeros(16000 * 5, np.float32), 16000)] * 3
    >>> reference_threads(refs), reference_threads([(np.zeros(8000, np.float32), 16000)] * 3)
    (2, 1)
    >>> torch.set_num_threads(n)
    """
    if len(items) < 2 or getattr(_IN_WORKER, "active", False):
        return 1
    import torch

    threads = min(int(torch.get_num_threads()), len(items), MAX_THREADS)
    if threads < 2:
        return 1
    seconds = [input_seconds(x, sample_rate) for x in items]
    known = [s for s in seconds if s is not None]
    if not known or sum(known) / len(known) < MIN_SECONDS_EACH:
        return 1
    return threads


def _pool(threads: int) -> ThreadPoolExecutor:
    """A long-lived pool of ``threads`` threads (they keep their native set-up between calls)."""
    with _POOL_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="voxref-ref")
        return pool


def map_in_order(fn: Callable[[T], R], items: Sequence[T], threads: int) -> list[R]:
    """``[fn(x) for x in items]``, on ``threads`` threads when more than one (order kept)."""
    if threads <= 1 or len(items) <= 1:
        return [fn(x) for x in items]

    def run(x: T) -> R:
        _IN_WORKER.active = True  # a nested call runs in this thread: no deadlock on the pool
        try:
            return fn(x)
        finally:
            _IN_WORKER.active = False

    pool = _pool(threads)
    return list(pool.map(run, items))
