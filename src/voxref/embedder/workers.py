"""Work of one call spread over the threads torch was given: a small shared task queue.

A call's thread budget is ``torch.get_num_threads()`` of the thread that makes it (at most
:data:`MAX_THREADS`). With a budget of one, every task runs in the calling thread, in the order
it was added. With more, the calling thread and ``budget - 1`` pool threads take tasks from one
queue until it is empty and nothing is running: a task may add tasks (the encoder's window
batches of a reference once its cleaning is done), so whichever thread is free takes the next
piece of work instead of waiting for a fixed share to finish.

Every thread that runs tasks does so with one torch intra-op thread: the cores are used by
running tasks side by side (their native work - onnxruntime sessions, torch operators,
numpy/scipy - runs without the GIL), never by tasks that each ask for every core. The calling
thread's own torch setting is restored when the call returns.

The budget says how many threads a call may run on, not how many cores it gets: other threads
of the process compete for them. numpy's OpenBLAS, for one, runs its own worker threads (as many
as ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` say) that keep a core busy waiting for work
after a multi-threaded BLAS call, so a call made right after other numpy work of the caller can
run on one core's worth; ``OPENBLAS_NUM_THREADS=1`` (or ``threadpoolctl``) in the caller avoids it.

The output does not depend on the budget: what a task computes is fixed by the caller (the same
tasks, each on the same data, each with one intra-op thread); only where and when it runs
changes. A nested call from inside a task runs its tasks in the thread that makes it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

__all__ = [
    "MAX_THREADS",
    "call_threads",
    "intra_op_threads",
    "one_intra_op_thread",
    "TaskQueue",
    "run_all",
]

log = logging.getLogger(__name__)

MAX_THREADS = 4
"""Most threads one call runs tasks on."""

_POOL_LOCK = threading.Lock()
_POOLS: dict[int, ThreadPoolExecutor] = {}
_LOCAL = threading.local()


def call_threads() -> int:
    """Threads the current call may run tasks on (1 inside a task: nested work stays in place).

    Examples
    --------
    >>> import torch
    >>> n = torch.get_num_threads()
    >>> torch.set_num_threads(2)
    >>> call_threads()
    2
    >>> torch.set_num_threads(n)
    """
    if getattr(_LOCAL, "in_task", False):
        return 1
    import torch

    return max(1, min(int(torch.get_num_threads()), MAX_THREADS))


@contextmanager
def intra_op_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads in this thread (restored afterwards)."""
    import torch

    before = int(torch.get_num_threads())
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_intra_op_thread() -> Any:
    """:func:`intra_op_threads` ``(1)``."""
    return intra_op_threads(1)


def _pool(threads: int) -> ThreadPoolExecutor:
    """A long-lived pool of ``threads`` threads (they keep their native set-up between calls)."""
    with _POOL_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="voxref-task")
        return pool


class _Job:
    """One function's run, result and exception (:meth:`TaskQueue.spawn`)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:  # noqa: BLE001 - raised by the one asking for the result
            self.error = exc
        finally:
            self.done.set()


class TaskQueue:
    """Tasks run by the calling thread and, with a budget above one, by pool threads.

    :meth:`add` a task (also from inside a running task), then :meth:`run` them all. The first
    exception a task raises is raised by :meth:`run` once no task is running any more (the
    tasks still queued then are dropped).

    Parameters
    ----------
    threads
        Thread budget; default :func:`call_threads`.

    Examples
    --------
    >>> q = TaskQueue(threads=2)
    >>> out = []
    >>> def first():
    ...     out.append("a")
    ...     q.add(lambda: out.append("b"))
    >>> q.add(first)
    >>> q.run()
    >>> sorted(out)
    ['a', 'b']
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = call_threads() if threads is None else max(1, int(threads))
        self._cond = threading.Condition()
        self._queue: deque[Callable[[], Any]] = deque()
        self._running = 0
        self._error: BaseException | None = None

    def spawn(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Queue ``fn``; the function returned gives its result (or raises its exception).

        Asked for before any thread has taken ``fn``, it runs ``fn`` in the asking thread;
        otherwise it waits for the thread running it. With a budget of one, ``fn`` runs now.
        """
        job = _Job(fn)
        if self.threads <= 1:
            job.run()
        else:
            self.add(job.run)

        def result() -> Any:
            if not job.done.is_set():
                with self._cond:
                    try:
                        self._queue.remove(job.run)
                        mine = True
                    except ValueError:  # taken by another thread
                        mine = False
                if mine:
                    job.run()
                job.done.wait()
            if job.error is not None:
                raise job.error
            return job.value

        return result

    def add(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``."""
        with self._cond:
            self._queue.append((lambda: fn(*args)) if args else fn)
            self._cond.notify()

    def _drain(self) -> None:
        """Take and run tasks until the queue is empty and no task is running."""
        while True:
            with self._cond:
                while not self._queue and self._running and self._error is None:
                    self._cond.wait()
                if self._error is not None or not self._queue:
                    self._cond.notify_all()
                    return
                task = self._queue.popleft()
                self._running += 1
            nested = getattr(_LOCAL, "in_task", False)
            _LOCAL.in_task = True
            try:
                task()
            except BaseException as exc:  # noqa: BLE001 - raised by run() in the caller
                with self._cond:
                    if self._error is None:
                        self._error = exc
            finally:
                _LOCAL.in_task = nested
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def _drain_in_pool(self) -> None:
        """:meth:`_drain` in a pool thread, with one torch intra-op thread."""
        with one_intra_op_thread():
            self._drain()

    def run(self) -> None:
        """Run every task (and those they add); returns when all are done."""
        if self.threads <= 1:
            self._drain()
        else:
            # this thread's torch setting is read (and set to one) before a pool thread sets
            # its own: torch starts a thread's setting from the last one set anywhere
            with one_intra_op_thread():
                pool = _pool(self.threads - 1)
                pool_runs = [pool.submit(self._drain_in_pool) for _ in range(self.threads - 1)]
                try:
                    self._drain()
                except BaseException as exc:  # e.g. KeyboardInterrupt while waiting: stop all
                    with self._cond:
                        if self._error is None:
                            self._error = exc
                        self._cond.notify_all()
            for h in pool_runs:  # one not started yet (the pool busy with another call) never will
                if not h.cancel():
                    h.result()
        if self._error is not None:
            error, self._error = self._error, None
            self._queue.clear()
            raise error


def run_all(fns: list[Callable[[], Any]], threads: int | None = None) -> list[Any]:
    """``[fn() for fn in fns]`` on the call's threads (:class:`TaskQueue`); order kept.

    Examples
    --------
    >>> run_all([lambda: 1, lambda: 2], threads=2)
    [1, 2]
    """
    out: list[Any] = [None] * len(fns)

    def task(i: int) -> None:
        out[i] = fns[i]()

    queue = TaskQueue(threads if len(fns) > 1 else 1)
    for i in range(len(fns)):
        queue.add(task, i)
    queue.run()
    return out
