"""Where tasks run: a pool of local processes, or a pool of Ray actors (Ray Data).

Both backends take the same task dicts (see :mod:`voxref.scale.worker`), keep one
:class:`~voxref.scale.worker.DatasetWorker` (hence one set of loaded models) per process/actor,
and report every task exactly once as a :class:`TaskOutcome`: its result, or -- when the worker
died on it ``max_crashes`` times (a decoder segfault, memory exhaustion, ``os._exit``) -- no
result and the reason. A dead worker is replaced and the other tasks go on.

* :class:`ProcessBackend`: ``multiprocessing`` (``spawn``) processes, each with its own pipe, so
  the driver knows which task a dead process held. No dependency beyond voxref.
* :class:`RayBackend`: ``ray.data.from_items(tasks).map_batches(worker class,
  compute=ActorPoolStrategy(size=N))``: a pool of actors that load the models once; Ray restarts
  a dead actor (``max_restarts=-1``) and retries its task (``max_task_retries=max_crashes-1``);
  a task that keeps killing its actor is dropped by Ray Data (``max_errored_blocks``) and
  reported here as died. ``address=None`` starts a private local Ray on the loopback interface
  (no dashboard, no usage stats); ``address="auto"`` / ``"ray://..."`` / ``"host:port"`` joins a
  cluster, whose nodes must have voxref installed and see the manifest's audio and ``OUT`` at
  the same paths (shared file system).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
import traceback
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from ..errors import ConfigError, MissingDependencyError
from .worker import DatasetWorker, WorkerSpec

__all__ = ["TaskOutcome", "ProcessBackend", "RayBackend", "import_ray", "make_backend", "BACKENDS"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "ray", "multiprocessing")
RAY_PIP = '"voxref[ray]"  (or: pip install "ray[data]")'


@dataclass
class TaskOutcome:
    """What became of one task: ``result`` (the worker's summary dict) or ``error``."""

    task: dict[str, Any]
    result: dict[str, Any] | None
    error: str = ""
    attempts: int = 1

    @property
    def died(self) -> bool:
        return self.result is None


def task_key(task: dict[str, Any]) -> tuple:
    if task["kind"] == "clips":
        first = task["clips"][0]["index"] if task.get("part") else -1
        return ("clips", task["shard"], first)
    return ("speakers", task["bucket"])


# ============================================================================ processes
def _process_main(conn: Any, spec: WorkerSpec) -> None:  # pragma: no cover - child process
    """Child process: build the worker, then run tasks from ``conn`` until ``None``."""
    try:
        worker = DatasetWorker(spec)
    except BaseException:
        conn.send(("init-error", traceback.format_exc()))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            conn.send(("ok", worker(task)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


class _Child:
    def __init__(self, ctx: Any, spec: WorkerSpec) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_process_main, args=(child, spec), daemon=True)
        self.process.start()
        child.close()
        self.task: dict[str, Any] | None = None
        self.ready = False

    def stop(self, timeout: float = 10.0) -> None:
        try:
            if self.process.is_alive():
                self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout)
        if self.process.is_alive():  # our own child, by its handle
            self.process.terminate()
            self.process.join(5)
        self.conn.close()


class _Backend:
    """What both backends are given: the worker spec, how many workers, how many crashes a task
    may cause before it is reported as failed."""

    def __init__(self, spec: WorkerSpec, num_workers: int, max_crashes: int) -> None:
        if num_workers < 1:
            raise ConfigError("num_workers must be at least 1.")
        self.spec = spec
        self.num_workers = int(num_workers)
        self.max_crashes = max(1, int(max_crashes))


class ProcessBackend(_Backend):
    """Run tasks in ``num_workers`` local processes (see the module docstring).

    Use as a context manager; :meth:`run` may be called several times on the same processes.
    """

    name = "multiprocessing"

    def __init__(
        self,
        spec: WorkerSpec,
        num_workers: int = 2,
        *,
        max_crashes: int = 2,
        start_method: str = "spawn",
    ) -> None:
        super().__init__(spec, num_workers, max_crashes)
        self._ctx = multiprocessing.get_context(start_method)
        self._children: list[_Child] = []
        self.restarts = 0
        self._init_deaths = 0

    def __enter__(self) -> ProcessBackend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for child in self._children:
            child.stop()
        self._children = []

    def _spawn(self) -> _Child:
        return _Child(self._ctx, self.spec)

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[TaskOutcome]:
        """Yield one :class:`TaskOutcome` per task, as they finish."""
        queue = deque(tasks)
        attempts: dict[tuple, int] = {}
        want = min(self.num_workers, len(tasks))
        while len(self._children) < want:
            self._children.append(self._spawn())
        pending = len(tasks)
        while pending:
            for child in self._children:
                if child.ready and child.task is None and queue:
                    child.task = queue.popleft()
                    child.conn.send(child.task)
            by_conn = {c.conn: c for c in self._children}
            by_sentinel = {c.process.sentinel: c for c in self._children}
            ready = wait(list(by_conn) + list(by_sentinel))
            dead: list[_Child] = []
            for obj in ready:
                child = by_conn.get(obj)
                if child is None:
                    continue
                try:
                    kind, payload = child.conn.recv()
                except (EOFError, OSError):
                    dead.append(child)
                    continue
                if kind == "ready":
                    child.ready = True
                elif kind == "init-error":
                    self.close()
                    raise RuntimeError(f"a voxref worker process could not start:\n{payload}")
                else:
                    task, child.task = child.task, None
                    key = task_key(task)
                    n = attempts.get(key, 0) + 1
                    pending -= 1
                    if kind == "ok":
                        yield TaskOutcome(task, payload, attempts=n)
                    else:
                        log.error("task %s raised: %s", key, payload)
                        yield TaskOutcome(task, None, payload.splitlines()[0], n)
            for obj in ready:
                child = by_sentinel.get(obj)
                if child is not None and child not in dead and not child.process.is_alive():
                    dead.append(child)
            for child in dead:
                if not child.ready:
                    self._init_deaths += 1
                    if self._init_deaths > 2 * self.num_workers + 2:
                        self.close()
                        raise RuntimeError(
                            "voxref worker processes keep dying while starting (exit code "
                            f"{child.process.exitcode}). In a script, call embed_dataset under "
                            "`if __name__ == '__main__':` (worker processes are spawned and "
                            "re-import the main module); otherwise memory may be short: run "
                            "with fewer workers."
                        )
                code = child.process.exitcode
                child.process.join(1)
                self._children.remove(child)
                child.conn.close()
                self.restarts += 1
                task = child.task
                if task is not None:
                    key = task_key(task)
                    attempts[key] = attempts.get(key, 0) + 1
                    if attempts[key] >= self.max_crashes:
                        pending -= 1
                        yield TaskOutcome(
                            task,
                            None,
                            f"the worker process died (exit code {code}) on this task "
                            f"{attempts[key]} time(s)",
                            attempts[key],
                        )
                    else:
                        log.warning("worker died (exit code %s) on task %s; retrying it", code, key)
                        queue.appendleft(task)
                if queue or pending:
                    self._children.append(self._spawn())


# ============================================================================ ray
def import_ray() -> Any:
    """``ray`` with ``ray.data``, or :class:`MissingDependencyError` naming the pip command."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("ray", RAY_PIP, "the Ray backend of embed-dataset") from exc
    return ray


def ray_available() -> bool:
    """Whether ``ray[data]`` can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None and (
        importlib.util.find_spec("pyarrow") is not None
    )


def start_local_ray(num_cpus: int | None = None) -> Any:
    """Start a private single-node Ray on the loopback interface (no dashboard, no usage stats).

    Ray replaces ``127.0.0.1`` by the machine's network address unless
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``; that variable (and ``RAY_USAGE_STATS_ENABLED=0``)
    is set for this process and the Ray processes it starts, so a laptop run never listens on,
    or talks to, anything but loopback.
    """
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = import_ray()
    try:  # the constant is read at import: make it hold even if ray was imported earlier
        from ray._private import ray_constants

        if os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0":
            ray_constants.ENABLE_RAY_CLUSTER = False
    except (ImportError, AttributeError):  # pragma: no cover - other ray layouts
        pass
    return ray.init(
        address="local",  # always a new private cluster, never one found via RAY_ADDRESS / its temporary folder
        num_cpus=num_cpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        configure_logging=False,
        log_to_driver=False,
    )


class _RayMapWorker:
    """The callable class given to ``map_batches``: one :class:`DatasetWorker` per actor."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.worker = DatasetWorker(spec)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        results = [json.dumps(self.worker(json.loads(t))) for t in batch["task"]]
        return {"result": np.array(results, dtype=object)}


class RayBackend(_Backend):
    """Run tasks on a pool of Ray actors with Ray Data (see the module docstring)."""

    name = "ray"

    def __init__(
        self,
        spec: WorkerSpec,
        num_workers: int = 2,
        *,
        max_crashes: int = 2,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_worker: float = 1.0,
    ) -> None:
        super().__init__(spec, num_workers, max_crashes)
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_worker = float(cpus_per_worker)
        self._owns_ray = False
        self.ray = import_ray()

    def __enter__(self) -> RayBackend:
        ray = self.ray
        if not ray.is_initialized():
            if self.address:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                ray.init(address=self.address, configure_logging=False, log_to_driver=False)
            else:
                start_local_ray(
                    self.num_cpus or max(1, int(self.num_workers * self.cpus_per_worker))
                )
            self._owns_ray = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._owns_ray:
            self.ray.shutdown()
            self._owns_ray = False

    def _map(self, ds: Any, size: int) -> Any:
        return ds.map_batches(
            _RayMapWorker,
            fn_constructor_kwargs={"spec": self.spec},
            batch_size=1,
            batch_format="numpy",
            compute=self.ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=1),
            num_cpus=self.cpus_per_worker,
            max_restarts=-1,
            max_task_retries=self.max_crashes - 1,
        )

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[TaskOutcome]:
        """Yield one :class:`TaskOutcome` per task (died ones after the dataset has run)."""
        if not tasks:
            return
        ray = self.ray
        ctx = ray.data.DataContext.get_current()
        saved = (ctx.max_errored_blocks, ctx.enable_progress_bars)
        ctx.max_errored_blocks = -1  # a task that keeps killing its actor must not stop the rest
        ctx.enable_progress_bars = False
        left = {task_key(t): t for t in tasks}
        t0 = time.monotonic()
        try:
            ds = ray.data.from_items(
                [{"task": json.dumps(t)} for t in tasks], override_num_blocks=len(tasks)
            )
            with warnings.catch_warnings():
                # the retry bounds have no named parameter yet (Ray 2.60): ray_remote_args
                warnings.simplefilter("ignore", DeprecationWarning)
                out = self._map(ds, min(self.num_workers, len(tasks)))
            for row in out.iter_rows():
                result = json.loads(row["result"])
                task = left.pop(task_key_of_result(result), None)
                if task is not None:
                    yield TaskOutcome(task, result)
        finally:
            ctx.max_errored_blocks, ctx.enable_progress_bars = saved
        for task in left.values():
            yield TaskOutcome(
                task,
                None,
                f"the Ray actor died on this task {self.max_crashes} time(s) "
                f"(or the task failed; see the Ray logs); {time.monotonic() - t0:.0f} s",
                self.max_crashes,
            )


def task_key_of_result(result: dict[str, Any]) -> tuple:
    """The key of the task a worker's result answers."""
    if result["kind"] == "speakers":
        return ("speakers", result["bucket"])
    if not result.get("part"):
        return ("clips", result["shard"], -1)
    return ("clips", result["shard"], result["first_index"])


def make_backend(
    backend: str,
    spec: WorkerSpec,
    *,
    num_workers: int,
    max_crashes: int,
    ray_address: str | None = None,
) -> ProcessBackend | RayBackend:
    """The backend named ``backend`` (``"auto"``: Ray when a cluster address is given or ray is
    installed, else local processes)."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r}; use one of {BACKENDS}.")
    if backend == "auto":
        backend = "ray" if (ray_address or ray_available()) else "multiprocessing"
        log.info("embed-dataset backend: %s", backend)
    if backend == "ray":
        return RayBackend(spec, num_workers, max_crashes=max_crashes, address=ray_address)
    if ray_address:
        raise ConfigError("--ray-address needs the Ray backend; drop --backend multiprocessing.")
    return ProcessBackend(spec, num_workers, max_crashes=max_crashes)
