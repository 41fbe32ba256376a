"""Check that data-parallel training (DDP) computes the same steps as one process.

:func:`ddp_equivalence` trains the GE2E speaker network (the bundled weights of
:class:`voxref.embedder.ge2e.GE2EEncoder`) for a few SGD steps twice on the same deterministic
batches:

* **one process** on the whole batch of each step (``world_size`` groups);
* **``world_size`` processes** (fresh interpreters launched like ``torchrun``, the ``gloo``
  backend on ``127.0.0.1``), each on its own group, the model wrapped in
  :class:`~torch.nn.parallel.DistributedDataParallel`, which averages the gradients.

and returns both loss curves and the largest parameter difference. The two agree when the
single-process loss is the **mean of the per-group losses**: DDP's gradient average is then
exactly its gradient.

Which losses split that way:

* ``loss="aam"`` (AAM-softmax, a mean over utterances): a group is any slice of the batch, so
  ``world_size`` processes on ``B`` utterances each equal one process on ``world_size * B``.
* ``loss="ge2e"`` (GE2E on ``N`` speakers x ``M`` utterances per group): each process's softmax
  only sees its own ``N`` speakers' centroids. DDP equals one process on the mean of per-group
  GE2E losses -- **not** GE2E over all ``world_size * N`` speakers at once; the result reports
  that difference too (``union_loss_gap``). A trainer that wants the large-batch GE2E must
  all-gather the embeddings (``torch.distributed.nn.functional.all_gather``) before the loss.

Examples
--------
>>> r = ddp_equivalence(world_size=2, steps=2, loss="aam")  # doctest: +SKIP
>>> r.max_param_diff < 1e-5  # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DDPCheck", "ddp_equivalence", "LOSSES"]

LOSSES = ("ge2e", "aam")
N_MELS = 40


@dataclass
class DDPCheck:
    """Result of :func:`ddp_equivalence`.

    Attributes
    ----------
    single_losses, ddp_losses
        Loss of each step: one process (mean over groups) and DDP (mean over ranks).
    max_loss_diff
        Largest absolute difference between the two curves.
    max_param_diff
        Largest absolute difference between any parameter after the last step.
    max_param_change
        Largest parameter change from the initial weights (so the steps did something).
    union_loss_gap
        GE2E only: |mean of per-group losses - GE2E over the union batch| at the first step.
    """

    loss: str
    world_size: int
    steps: int
    single_losses: list[float] = field(default_factory=list)
    ddp_losses: list[float] = field(default_factory=list)
    max_loss_diff: float = 0.0
    max_param_diff: float = 0.0
    max_param_change: float = 0.0
    union_loss_gap: float | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ----------------------------------------------------------------------------- model + data
def _build(loss: str, num_speakers: int, seed: int) -> Any:
    """GE2E network (bundled weights) + the loss module with its parameters, seeded."""
    import copy

    import torch
    from torch import nn

    from ..embedder.ge2e import GE2EEncoder
    from ..losses import AAMSoftmax, GE2ELoss

    net = copy.deepcopy(GE2EEncoder().model).train()
    for p in net.parameters():
        p.requires_grad_(True)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            if loss == "ge2e":
                self.criterion = GE2ELoss()
            else:
                self.criterion = AAMSoftmax(256, num_speakers, seed=seed)

        def group_loss(self, mels: Any, labels: Any, n: int, m: int) -> Any:
            emb = self.net(mels)
            if loss == "ge2e":
                return self.criterion(emb.view(n, m, -1))
            return self.criterion(emb, labels)

        def forward(self, mels: Any, labels: Any, n: int, m: int) -> Any:
            return self.group_loss(mels, labels, n, m)

    with torch.random.fork_rng():
        return Model()


def _batch(step: int, world_size: int, n: int, m: int, frames: int, seed: int) -> tuple:
    """Deterministic mel batch of one step: ``(world, n*m, frames, 40)`` and labels."""
    import torch

    g = torch.Generator().manual_seed(seed * 1000 + step)
    # mel power with a speaker-dependent spectral tilt, so the loss has something to learn
    tilt = torch.rand(world_size, n, 1, 1, N_MELS, generator=g)
    noise = torch.rand(world_size, n, m, frames, N_MELS, generator=g)
    mels = (0.2 * noise + tilt).reshape(world_size, n * m, frames, N_MELS)
    labels = torch.arange(world_size * n).reshape(world_size, n, 1).expand(world_size, n, m)
    return mels.contiguous(), labels.reshape(world_size, n * m).contiguous()


def _single(cfg: dict[str, Any]) -> tuple[list[float], dict[str, Any], dict[str, Any], float]:
    import torch

    model = _build(cfg["loss"], cfg["world_size"] * cfg["n"], cfg["seed"])
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"])
    losses = []
    gap = None
    for step in range(cfg["steps"]):
        mels, labels = _batch(
            step, cfg["world_size"], cfg["n"], cfg["m"], cfg["frames"], cfg["seed"]
        )
        opt.zero_grad()
        per_group = [
            model(mels[r], labels[r], cfg["n"], cfg["m"]) for r in range(cfg["world_size"])
        ]
        loss = torch.stack(per_group).mean()
        if step == 0 and cfg["loss"] == "ge2e":
            with torch.no_grad():
                union = model.group_loss(
                    mels.reshape(-1, cfg["frames"], N_MELS),
                    labels.reshape(-1),
                    cfg["world_size"] * cfg["n"],
                    cfg["m"],
                )
            gap = abs(float(loss.detach()) - float(union))
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return losses, state, init, gap


def _ddp_worker(rank: int, cfg: dict[str, Any], port: int, out: str) -> None:
    """One rank: gloo on loopback, DDP-wrapped model, SGD steps; rank 0 saves the result."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from ..train.distributed import leave_process_group

    torch.set_num_threads(1)
    world = cfg["world_size"]
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=cfg["timeout"]),
    )
    completed = False
    try:
        model = DistributedDataParallel(_build(cfg["loss"], world * cfg["n"], cfg["seed"]))
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"])
        losses = []
        for step in range(cfg["steps"]):
            mels, labels = _batch(step, world, cfg["n"], cfg["m"], cfg["frames"], cfg["seed"])
            opt.zero_grad()
            loss = model(mels[rank], labels[rank], cfg["n"], cfg["m"])
            loss.backward()  # DDP all-reduces (averages) the gradients here
            opt.step()
            mean = loss.detach().clone()
            dist.all_reduce(mean)
            losses.append(float(mean) / world)
        if rank == 0:
            state = {k: v.detach().clone() for k, v in model.module.state_dict().items()}
            torch.save({"losses": losses, "state": state}, out)
        completed = True
    finally:
        leave_process_group(completed)


def _launch(cfg: dict[str, Any], port: int, out: str, world: int, timeout: float) -> None:
    """Start ``world`` ranks as ``python -m voxref.scale.ddp`` (like torchrun, on loopback).

    Fresh interpreters (not ``multiprocessing`` children) so nothing of the caller's
    ``sys.path`` or ``__main__`` is re-imported in the ranks.
    """
    import subprocess
    import sys
    import time

    src_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world),
        GLOO_SOCKET_IFNAME="lo",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(p for p in (src_root, env.get("PYTHONPATH", "")) if p),
    )
    logs = [tempfile.TemporaryFile() for _ in range(world)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "voxref.scale.ddp", json.dumps(cfg), out],
            env=dict(env, RANK=str(r)),
            cwd=os.path.dirname(out),
            stdout=logs[r],
            stderr=subprocess.STDOUT,
        )
        for r in range(world)
    ]
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for p in procs:  # our own children, by handle
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = [r for r, p in enumerate(procs) if p.returncode != 0]
    if failed:
        logs[failed[0]].seek(0)
        tail = logs[failed[0]].read().decode(errors="replace")[-3000:]
        raise RuntimeError(
            f"DDP rank {failed[0]} failed (exit {procs[failed[0]].returncode}):\n{tail}"
        )
    for fh in logs:
        fh.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ddp_equivalence(
    world_size: int = 2,
    steps: int = 2,
    *,
    loss: str = "ge2e",
    speakers_per_group: int = 3,
    utterances_per_speaker: int = 2,
    frames: int = 40,
    lr: float = 0.05,
    seed: int = 0,
    timeout: float = 120.0,
) -> DDPCheck:
    """Train ``steps`` SGD steps in one process and with DDP over ``world_size`` CPU processes.

    Parameters
    ----------
    world_size
        DDP processes (each takes one group of the step's batch).
    steps
        Optimiser steps.
    loss
        ``"ge2e"`` or ``"aam"`` (see the module docstring).
    speakers_per_group, utterances_per_speaker, frames
        Size of each group: ``N`` speakers x ``M`` utterances of ``frames`` mel frames.
    lr
        SGD learning rate.
    seed
        Seeds the data and the AAM class weights.
    timeout
        Seconds the processes may wait for each other before failing.
    """
    import time

    import torch

    if loss not in LOSSES:
        from ..errors import ConfigError

        raise ConfigError(f"loss={loss!r}; use one of {LOSSES}.")
    cfg = {
        "loss": loss,
        "world_size": int(world_size),
        "steps": int(steps),
        "n": int(speakers_per_group),
        "m": int(utterances_per_speaker),
        "frames": int(frames),
        "lr": float(lr),
        "seed": int(seed),
        "timeout": float(timeout),
    }
    t0 = time.monotonic()
    single_losses, single_state, init, gap = _single(cfg)
    with tempfile.TemporaryDirectory() as d:
        out = str(Path(d) / "rank0.pt")
        _launch(cfg, _free_port(), out, world_size, timeout + 60.0)
        ddp = torch.load(out, weights_only=True)
    diff = max(
        float((single_state[k].float() - ddp["state"][k].float()).abs().max()) for k in single_state
    )
    change = max(float((single_state[k].float() - init[k].float()).abs().max()) for k in init)
    return DDPCheck(
        loss=loss,
        world_size=world_size,
        steps=steps,
        single_losses=single_losses,
        ddp_losses=ddp["losses"],
        max_loss_diff=max(abs(a - b) for a, b in zip(single_losses, ddp["losses"])),
        max_param_diff=diff,
        max_param_change=change,
        union_loss_gap=gap,
        seconds=time.monotonic() - t0,
    )


if __name__ == "__main__":  # one rank, started by _launch: python -m voxref.scale.ddp CONFIG OUT
    import sys

    _ddp_worker(
        int(os.environ["RANK"]),
        json.loads(sys.argv[1]),
        int(os.environ["MASTER_PORT"]),
        sys.argv[2],
    )
    # the rank's work is done and its group left; skip the interpreter's native teardown, where
    # a leftover gloo thread aborted about 1 rank in 50 ("terminate called without an active
    # exception", after the work had returned)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
