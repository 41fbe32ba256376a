"""Data-parallel training on several processes: one model, the loss over the global batch.

The trainer runs unchanged in every process (started by ``torchrun`` or ``voxref train
--nproc N``); this module holds what makes ``W`` processes on ``B`` crops each compute the same
steps as one process on ``W * B`` crops:

* :class:`DistContext` -- rank, world size, backend (``gloo`` on CPU, ``nccl`` on CUDA) and
  device, read from the ``torchrun`` environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
  ``MASTER_ADDR``/``MASTER_PORT``).
* :func:`all_gather` -- concatenates a tensor of every rank *with gradients*: every rank then
  evaluates GE2E / AAM / timbre consistency / vCLUB on the whole global batch.
* :func:`average_gradients` -- one flat all-reduce of the gradients after ``backward``.
* :class:`GlobalBatchNorm` -- BatchNorm whose statistics are those of the global batch (CPU;
  on CUDA :class:`torch.nn.SyncBatchNorm` does the same); :func:`convert_batchnorm` swaps them in.
* :func:`launch` -- ``W`` local processes through ``torch.distributed``'s elastic launcher (what
  ``torchrun`` runs); a failed process becomes a :class:`~voxref.errors.WorkerFailedError`
  naming its rank and signal.

Why not :class:`~torch.nn.parallel.DistributedDataParallel`
-------------------------------------------------------------
DDP averages gradients of per-rank losses. GE2E over all speakers of a step, AAM-softmax with
class weights shared by all ranks, the timbre loss and the vCLUB estimator all need the gathered
embeddings anyway, and the loss parameters are used on every rank. Once the embeddings are
gathered, each rank holds the *same* global loss; a gradient that flows back through
:func:`all_gather` is summed over ranks (``W`` times the local share), so the plain average of
the parameter gradients is exactly the one-process gradient -- for the encoder and for the loss
parameters alike. DDP's bucketing would save little here (small encoders, one all-reduce per
step) and its hooks would average the loss parameters' gradients a second time.

Gradient convention (what keeps this exact)
-------------------------------------------
Every rank back-propagates the same global loss ``L``. :func:`all_gather` and the statistics of
:class:`GlobalBatchNorm` pass gradients back with an all-reduce *sum*, so every gradient a rank
holds is ``W`` times its share of ``dL/dtheta``; :func:`average_gradients` divides the sum over
ranks by ``W``, giving ``dL/dtheta``. ``torch.nn.SyncBatchNorm``'s backward follows the same
convention.
"""

from __future__ import annotations

import datetime
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..errors import ConfigError, WorkerFailedError

__all__ = [
    "DistContext",
    "all_gather",
    "all_reduce_sum",
    "average_gradients",
    "broadcast_module",
    "GlobalBatchNorm",
    "convert_batchnorm",
    "launch",
    "leave_process_group",
    "DEFAULT_TIMEOUT",
]

log = logging.getLogger(__name__)

#: Seconds a collective may wait for the other ranks (rank 0 validates while the others wait in
#: the next step's gather, so this bounds validation time, not failure detection: a dead rank is
#: noticed by the launcher within a second, and by the peers when its sockets close).
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel run.

    Attributes
    ----------
    rank, world_size, local_rank
        Global rank, number of processes, rank on this machine.
    backend
        ``"gloo"`` (CPU) or ``"nccl"`` (CUDA); ``""`` for a single process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files, logs metrics, validates and shows progress."""
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> DistContext:
        """The context of this process; joins the process group when ``WORLD_SIZE > 1``.

        ``torchrun`` (and :func:`launch`) set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
        ``MASTER_ADDR`` and ``MASTER_PORT``. Without them this is a single process.
        """
        import torch.distributed as dist

        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        if world <= 1:
            return cls()
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        backend = "nccl" if cuda else "gloo"
        if not dist.is_available():
            raise ConfigError("this torch build has no torch.distributed; run one process.")
        if dist.is_initialized():
            if dist.get_world_size() != world:
                raise ConfigError(
                    f"the process group has {dist.get_world_size()} ranks but WORLD_SIZE={world}."
                )
            backend = dist.get_backend()
        else:
            if cuda:
                torch.cuda.set_device(local)
            dist.init_process_group(
                backend, timeout=datetime.timedelta(seconds=timeout), rank=rank, world_size=world
            )
        return cls(rank=rank, world_size=world, local_rank=local, backend=backend)

    def device(self, device: torch.device) -> torch.device:
        """``device`` with this process's GPU index on CUDA."""
        if device.type == "cuda" and self.distributed:
            return torch.device("cuda", self.local_rank)
        return device


def leave_process_group(completed: bool) -> None:
    """Leave the process group of a data-parallel run (nothing without one).

    Ranks whose work ``completed`` first meet at a barrier: gloo aborts a rank (SIGABRT,
    "terminate called without an active exception") whose peer tears its connections down under
    it. After a failure (``completed=False``) the group is destroyed at once - a barrier would wait
    for a rank that may be gone.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if completed:
            dist.barrier()
    finally:
        dist.destroy_process_group()


# ----------------------------------------------------------------------------- collectives
class _AllReduceSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        import torch.distributed as dist

        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        import torch.distributed as dist

        g = grad.contiguous().clone()
        dist.all_reduce(g)
        return g


class _AllGather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        import torch.distributed as dist

        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rank, ctx.rows = dist.get_rank(), x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        import torch.distributed as dist

        g = grad.contiguous().clone()
        dist.all_reduce(g)
        return g[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def all_gather(x: torch.Tensor | None, ctx: DistContext) -> torch.Tensor | None:
    """Every rank's ``x`` concatenated along dim 0 in rank order, with gradients.

    All ranks must pass the same shape. The backward pass sums the incoming gradients over the
    ranks and returns this rank's rows (see the module docstring). A single process gets ``x``.
    """
    if x is None or not ctx.distributed:
        return x
    if x.requires_grad:
        return _AllGather.apply(x)
    with torch.no_grad():
        return _AllGather.apply(x)


def all_reduce_sum(x: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum of ``x`` over the ranks, differentiable (the gradient is summed over the ranks too)."""
    if not ctx.distributed:
        return x
    return _AllReduceSum.apply(x)


def average_gradients(parameters: Iterable[nn.Parameter], ctx: DistContext) -> None:
    """Replace every gradient by its mean over the ranks, in one flat all-reduce.

    Parameters without a gradient are skipped (they are the same on every rank: every rank
    back-propagates the same graph).
    """
    if not ctx.distributed:
        return
    import torch.distributed as dist

    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def broadcast_module(module: nn.Module, ctx: DistContext, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank (identical start)."""
    if not ctx.distributed:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src)


# ----------------------------------------------------------------------------- batch norm
class GlobalBatchNorm(_BatchNorm):
    """BatchNorm over the global batch on CPU (gloo): what one process sees on all the crops.

    Mean and (biased) variance are all-reduced in two passes (the mean, then the squared
    deviations from it) in float64, so normalisation matches one process on the concatenated
    batch to float rounding; the running variance gets the unbiased ``n / (n - 1)`` correction with ``n``
    the *global* count, as ``torch.nn.BatchNorm`` does with its own batch. State-dict keys are
    those of ``nn.BatchNorm*d``. Every rank must pass the same input shape.
    """

    def __init__(self, *args, context: DistContext | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.context = context or DistContext()

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx = self.context
        if not (self.training and ctx.distributed):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = (x.numel() // x.shape[1]) * ctx.world_size
        # statistics in float64, as torch's CPU kernel accumulates them
        wide = x.double()
        mean = all_reduce_sum(wide.sum(dims), ctx) / count
        dev = wide - mean.view(shape)
        var = all_reduce_sum(dev.square().sum(dims), ctx) / count
        y = (dev * torch.rsqrt(var + self.eps).view(shape)).to(x.dtype)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                self.running_mean.mul_(1 - m).add_(mean.detach().to(x.dtype), alpha=m)
                unbiased = var.detach() * (count / max(count - 1, 1))
                self.running_var.mul_(1 - m).add_(unbiased.to(x.dtype), alpha=m)
        return y


def convert_batchnorm(module: nn.Module, ctx: DistContext, cuda: bool) -> nn.Module:
    """Every ``nn.BatchNorm*d`` of ``module`` made global: :class:`torch.nn.SyncBatchNorm` on
    CUDA, :class:`GlobalBatchNorm` on CPU (weights and running statistics are kept)."""
    if not ctx.distributed:
        return module
    if cuda:
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_cpu(module, ctx)


def _convert_cpu(module: nn.Module, ctx: DistContext) -> nn.Module:
    out = module
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        out = GlobalBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            context=ctx,
        )
        with torch.no_grad():
            if module.affine:
                out.weight.copy_(module.weight)
                out.bias.copy_(module.bias)
                out.weight.requires_grad_(module.weight.requires_grad)
                out.bias.requires_grad_(module.bias.requires_grad)
            if module.track_running_stats:
                out.running_mean.copy_(module.running_mean)
                out.running_var.copy_(module.running_var)
                out.num_batches_tracked.copy_(module.num_batches_tracked)
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, _convert_cpu(child, ctx))
    return out


# ----------------------------------------------------------------------------- launching
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def describe_failure(rank: int, exitcode: int, pid: int | None = None) -> str:
    """``"rank 1 (pid 123) was killed by SIGKILL"`` / ``"rank 0 exited with status 1"``."""
    who = f"rank {rank}" + (f" (pid {pid})" if pid else "")
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"{who} was killed by {name}"
    return f"{who} exited with status {exitcode}"


def launch(
    args: Sequence[str],
    nproc: int,
    *,
    threads: int | None = None,
    monitor_interval: float = 0.2,
    resume_hint: str = "Continue from the last complete checkpoint with `voxref train --resume "
    "OUT/checkpoints/last.pt` (any number of processes).",
) -> None:
    """Run ``python ARGS...`` in ``nproc`` local processes joined in one process group.

    The processes get the ``torchrun`` environment (``RANK``, ``WORLD_SIZE``, ...) from
    ``torch.distributed``'s elastic agent, rendezvous on ``127.0.0.1`` and a free port. When any
    of them fails, the agent stops the others and this raises
    :class:`~voxref.errors.WorkerFailedError` naming the failed rank(s) (and the signal). No
    restarts: a failed run continues with ``--resume`` from its last complete checkpoint.

    Parameters
    ----------
    args
        Arguments of the Python interpreter, e.g. ``["-m", "voxref", "train", ...]``.
    nproc
        Processes on this machine.
    threads
        Torch threads per process (default: logical CPUs / ``nproc``, at least 1).
    monitor_interval
        Seconds between the agent's checks of its processes.
    resume_hint
        The end of the error message: how to continue.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise ConfigError(f"nproc={nproc}: give at least one process.")
    threads = threads or max(1, (os.cpu_count() or 1) // nproc)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    # rendezvous and collectives on the loopback interface only
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=int(nproc),
        rdzv_backend="c10d",
        rdzv_endpoint=f"127.0.0.1:{_free_port()}",
        run_id="voxref-train",
        max_restarts=0,
        monitor_interval=monitor_interval,
        start_method="spawn",
        local_addr="127.0.0.1",
    )
    try:
        elastic_launch(config, sys.executable)(*args)
    except ChildFailedError as exc:
        failures = sorted(
            exc.failures.items(), key=lambda kv: (kv[1].exitcode >= 0, kv[1].timestamp)
        )
        (rank, first), others = failures[0], failures[1:]
        what = describe_failure(rank, first.exitcode, first.pid)
        if others:
            what += f" (then rank(s) {', '.join(str(r) for r, _ in others)} stopped too)"
        raise WorkerFailedError(
            f"training stopped: {what}; the other processes were stopped. {resume_hint}",
            ranks=[r for r, _ in failures],
        ) from None
