"""The training loop: :class:`Trainer` (plain PyTorch), seeded and resumable.

One step is :meth:`Trainer.training_step` (``batch -> dict of loss tensors``, no side effects:
the piece a Lightning / DDP wrapper would call) inside :meth:`Trainer.optimizer_step`
(zero-grad, backward, clip, optimiser and scheduler step). :meth:`Trainer.fit` runs the steps,
logs metrics to ``OUT/metrics.jsonl``, validates every epoch on held-out speakers (EER on clean
and on degraded trials), writes resumable checkpoints to ``OUT/checkpoints/`` and finally
exports the encoder to ``OUT`` (``encoder.pt`` + ``encoder.json``) with ``OUT/config.json``.

Several processes (``torchrun ... -m voxref train`` or ``voxref train --nproc N``) train one
model on a global batch ``N`` times the configured one, with the same steps as one process on it
(:mod:`voxref.train.distributed`); only rank 0 writes files, validates and shows progress.

Output folder
-------------
==========================  ===============================================================
``encoder.pt``/``.json``    the trained encoder (voxref checkpoint; WeSpeaker:
                            ``pytorch_model.bin``): ``voxref.Embedder.from_pretrained(OUT)``
``config.json``             the :class:`~voxref.train.config.TrainConfig` of the run
``metrics.jsonl``           one JSON object per logged step / validation
``checkpoints/``            ``step_XXXXXXX.pt`` training states and ``last.pt``
==========================  ===============================================================
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from .batches import Batch, BatchMaker, StepBatches
from .config import TrainConfig
from .data import SpeakerCorpus
from .distributed import (
    DistContext,
    all_gather,
    average_gradients,
    broadcast_module,
    convert_batchnorm,
)
from .evaluate import Condition, degrade, evaluate_encoder, validation_conditions
from .models import TrainableEncoder, build_model, bundled_ge2e_similarity
from .objective import Objective
from .state import make_state, read_state, write_state

__all__ = ["Trainer", "TrainResult", "resolve_device", "train"]

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' but torch sees no CUDA device; use 'auto' or 'cpu'.")
    return torch.device(device)


def _step_seed(seed: int, step: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(step), 3]).generate_state(1)[0])


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes
    ----------
    steps
        Optimiser steps done in total.
    encoder_path
        The exported encoder file (``None`` when the trainer has no ``out``).
    losses
        Total loss of every step run by this call.
    validations
        One dictionary per validation (``step``, ``eer_clean``, ``eer_noisy`` in %).
    seconds
        Wall time of this call.
    """

    steps: int
    encoder_path: Path | None
    losses: list[float] = field(default_factory=list)
    validations: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


class _ValidationSet:
    """Held-out utterances (cut to ``val_seconds``) and their degraded copies, fixed per run."""

    def __init__(self, corpus: SpeakerCorpus, config: TrainConfig, babble_pool: list) -> None:
        limit = int(round(config.val_seconds * corpus.sample_rate))
        signals, speakers = [], []
        for s in corpus.speakers:
            idx = corpus.indices(s)
            if config.val_utterances:
                idx = idx[: config.val_utterances]
            for i in idx:
                signals.append(corpus.audio(i)[:limit])
                speakers.append(s)
        if len(set(speakers)) < 2:
            raise ConfigError("validation needs at least two held-out speakers.")
        self.signals, self.speakers = signals, speakers
        self.sample_rate = corpus.sample_rate
        self.conditions = validation_conditions(babble_pool)
        self.seed = int(config.seed) + 1000
        self.degraded = {
            c.name: degrade(signals, c, corpus.sample_rate, self.seed + k)
            for k, c in enumerate(self.conditions)
            if c.transform is not None
        }

    def evaluate(self, encoder, conditions: list[Condition] | None = None) -> dict[str, float]:
        return evaluate_encoder(
            encoder,
            self.signals,
            self.speakers,
            conditions or self.conditions,
            sample_rate=self.sample_rate,
            seed=self.seed,
            degraded=self.degraded,
        )


class Trainer:
    """Fine-tune or train a speaker encoder (see the module docstring).

    Parameters
    ----------
    config
        The run's :class:`~voxref.train.config.TrainConfig`.
    train_corpus, val_corpus
        Data given directly (otherwise read from ``config.data`` / ``config.val_data``, or
        ``config.val_speakers`` held out of the training data).
    out
        Output folder (default ``config.out``; ``None``: nothing is written).
    distributed
        This process's place in a data-parallel run (default: read from the ``torchrun``
        environment, joining the process group when ``WORLD_SIZE > 1``). With ``W`` processes
        each makes its slice of a ``W`` times larger global batch, the losses see the gathered
        embeddings, and only rank 0 writes files, validates and shows progress.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from voxref.train import SpeakerCorpus, TrainConfig, Trainer
    >>> rng = np.random.default_rng(0)
    >>> corpus = SpeakerCorpus.from_arrays({s: [0.1 * rng.standard_normal(20000).astype("float32")
    ...                                          for _ in range(2)] for s in "abc"}, 16000)
    >>> cfg = TrainConfig(steps=1, speakers_per_batch=2, utterances_per_speaker=2,
    ...                   crop_seconds=0.5, progress=False, augment={"enabled": False})
    >>> result = Trainer(cfg, train_corpus=corpus, out=None).fit()
    >>> result.steps, len(result.losses)
    (1, 1)
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        train_corpus: SpeakerCorpus | None = None,
        val_corpus: SpeakerCorpus | None = None,
        out: str | os.PathLike | None | bool = True,
        distributed: DistContext | None = None,
    ) -> None:
        self.config = config
        if out is True:
            self.out = Path(config.out) if config.out else None
        else:
            self.out = Path(out) if out else None
        self.dist = distributed or DistContext.from_env(config.device)
        self.device = self.dist.device(resolve_device(config.device))
        train_corpus, val_corpus = self._corpora(train_corpus, val_corpus)
        self.train_corpus = train_corpus.preload()
        self.val_corpus = val_corpus.preload() if val_corpus is not None else None
        self.maker = BatchMaker(self.train_corpus, config, self.dist.rank, self.dist.world_size)
        model = build_model(config)
        model.network = convert_batchnorm(model.network, self.dist, self.device.type == "cuda")
        self.model: TrainableEncoder = model.to(self.device)
        ge2e_init = (
            bundled_ge2e_similarity() if config.model == "ge2e" and config.init == "auto" else None
        )
        self.objective = Objective(
            config, self.model.dimension, len(self.train_corpus.speakers), ge2e_init
        ).to(self.device)
        # identical start on every rank (they are seeded alike; this makes it certain)
        broadcast_module(self.model, self.dist)
        broadcast_module(self.objective, self.dist)
        groups = [{"params": list(self.model.parameters())}]
        head = self.objective.main_parameters()
        if head:
            groups.append({"params": head, "lr": config.head_lr or config.lr})
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
        # a plain function (not a bound method), so the scheduler's state_dict stays plain data
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: self._lr_factor(step)
        )
        self.step = 0
        self.validations: list[dict[str, float]] = []
        self._validation: _ValidationSet | None = None

    # ------------------------------------------------------------------ set-up
    def _corpora(self, train, val):
        cfg = self.config
        if train is None:
            if not cfg.data:
                raise ConfigError("no training data: set TrainConfig.data (or pass --data).")
            train = SpeakerCorpus.from_path(cfg.data, splits=cfg.splits)
        if val is None:
            if cfg.val_data:
                val = SpeakerCorpus.from_path(cfg.val_data)
            elif cfg.val_speakers:
                train, val = train.split_speakers(cfg.val_speakers, cfg.seed)
        if val is not None:
            overlap = set(train.speakers) & set(val.speakers)
            if overlap:
                raise ConfigError(
                    f"validation speakers {sorted(overlap)[:5]} are also training speakers; "
                    "validation must use held-out speakers."
                )
        return train, val

    @property
    def steps_per_epoch(self) -> int:
        """Steps between validations and checkpoints."""
        if self.config.steps_per_epoch:
            return self.config.steps_per_epoch
        return max(1, math.ceil(len(self.train_corpus) / self.maker.global_batch_size))

    def _lr_factor(self, step: int) -> float:
        cfg = self.config
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.scheduler == "constant" or cfg.steps <= cfg.warmup_steps:
            return 1.0
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
        return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (
            1.0 + math.cos(math.pi * progress)
        )

    # ------------------------------------------------------------------ one step
    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Loss terms of ``batch`` (``"loss"`` is the total), with the graph for backward.

        Pure in the model and objective parameters (apart from BatchNorm statistics and the
        vCLUB estimator's own update inside the MI term). With several processes ``batch`` is
        this rank's slice; embeddings, labels, nuisance vectors and timbre chunks of all ranks
        are gathered (with gradients) and every rank evaluates the loss of the global batch.
        """
        ctx = self.dist
        embeddings = self.model(batch.waves)
        chunks = clean = None
        if batch.timbre_noisy is not None and self.objective.timbre is not None:
            chunks = self.model.embed_chunks(batch.timbre_noisy)
            if self.config.timbre_detach_clean:
                with torch.no_grad():
                    clean_chunks = self.model.embed_chunks(batch.timbre_clean)
            else:
                clean_chunks = self.model.embed_chunks(batch.timbre_clean)
            clean = torch.nn.functional.normalize(clean_chunks, dim=-1).mean(dim=1)
        return self.objective(
            all_gather(embeddings, ctx),
            all_gather(batch.labels, ctx),
            batch.num_speakers * ctx.world_size,
            batch.num_utterances,
            nuisance=all_gather(batch.nuisance, ctx),
            chunks=all_gather(chunks, ctx),
            clean=all_gather(clean, ctx),
        )

    def optimizer_step(self, batch: Batch) -> dict[str, float]:
        """One optimisation step on ``batch``; returns the loss terms as floats (+ ``lr``)."""
        if batch.step != self.step:
            raise ConfigError(f"batch of step {batch.step} given at step {self.step}.")
        self.model.train()
        self.objective.train()
        batch = batch.to(self.device)
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(_step_seed(self.config.seed, self.step))
            self.optimizer.zero_grad(set_to_none=True)
            terms = self.training_step(batch)
            loss = terms["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"non-finite loss at step {self.step} ({ {k: float(v) for k, v in terms.items()} }); "
                    "lower the learning rate or check the data."
                )
            loss.backward()
            # every rank back-propagated the same global loss: the mean over ranks is its
            # gradient (see voxref.train.distributed)
            average_gradients(
                [p for g in self.optimizer.param_groups for p in g["params"]], self.dist
            )
            if self.config.grad_clip > 0:
                norm = torch.nn.utils.clip_grad_norm_(
                    [p for g in self.optimizer.param_groups for p in g["params"]],
                    self.config.grad_clip,
                )
                terms["grad_norm"] = norm.detach()
            lr = self.optimizer.param_groups[0]["lr"]  # the encoder's
            self.optimizer.step()
            self.scheduler.step()
        self.step += 1
        out = {k: float(v.detach()) for k, v in terms.items()}
        out["lr"] = float(lr)
        return out

    # ------------------------------------------------------------------ validation
    def validation_set(self) -> _ValidationSet | None:
        """The held-out speakers' trials (built on first use), or ``None`` without validation."""
        if self.val_corpus is None:
            return None
        if self._validation is None:
            pool = [
                self.train_corpus.audio(i)
                for i in range(0, len(self.train_corpus), max(1, len(self.train_corpus) // 60))
            ]
            self._validation = _ValidationSet(self.val_corpus, self.config, pool)
        return self._validation

    def validate(self) -> dict[str, float] | None:
        """EER (%) on the held-out speakers: ``eer_clean`` and ``eer_noisy`` (rank 0 only:
        ``None`` on the other ranks)."""
        if not self.dist.is_main:
            return None
        vset = self.validation_set()
        if vset is None:
            return None
        self.model.eval()
        eers = vset.evaluate(self.model.to_encoder(device=str(self.device)))
        result = {"step": self.step, **{f"eer_{k}": v for k, v in eers.items()}}
        self.validations.append(result)
        return result

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The resumable training state (see :mod:`voxref.train.state`)."""
        mi = self.objective.mi
        return make_state(
            step=self.step,
            config=self.config.to_dict(),
            model=self.model.network.state_dict(),
            objective=self.objective.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            mi_optimizer=mi.optimizer.state_dict() if mi is not None else None,
            club_rng=self.objective.club.generator.get_state() if self.objective.club else None,
            extra={"validations": self.validations, "world_size": self.dist.world_size},
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state written by :meth:`state_dict` (same config)."""
        self.model.network.load_state_dict(state["model"])
        self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.objective.mi is not None and state.get("mi_optimizer") is not None:
            self.objective.mi.optimizer.load_state_dict(state["mi_optimizer"])
        club_rng = (state.get("rng") or {}).get("club")
        if self.objective.club is not None and club_rng is not None:
            self.objective.club.generator.set_state(club_rng)
        self.step = int(state["step"])
        self.validations = list((state.get("extra") or {}).get("validations", []))

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path:
        """Write the training state (default ``OUT/checkpoints/step_XXXXXXX.pt`` + ``last.pt``)."""
        if path is None:
            if self.out is None:
                raise ConfigError("no output folder: pass a path or set TrainConfig.out.")
            folder = self.out / "checkpoints"
            file = write_state(self.state_dict(), folder / f"step_{self.step:07d}.pt")
            write_state(self.state_dict(), folder / "last.pt")
            old = sorted(folder.glob("step_*.pt"))[: -self.config.keep_checkpoints]
            for f in old:
                f.unlink(missing_ok=True)
            return file
        return write_state(self.state_dict(), path)

    @classmethod
    def resume(
        cls,
        checkpoint: str | os.PathLike,
        *,
        train_corpus: SpeakerCorpus | None = None,
        val_corpus: SpeakerCorpus | None = None,
        out: str | os.PathLike | None | bool = True,
        distributed: DistContext | None = None,
        **overrides: Any,
    ) -> Trainer:
        """A trainer restored from a training-state checkpoint.

        ``overrides`` change config fields that do not affect the state's shapes (``steps``
        to train longer, ``out``, ``progress``, ``num_workers``, ``device``; and the per-process
        batch, ``speakers_per_batch`` / ``timbre_utterances``, to keep the global batch when
        resuming with another number of processes).

        The state is the same on every rank, so any number of processes can resume it; the
        global batch is ``world_size x speakers_per_batch`` speakers, so resuming a 2-process
        run in one process with twice ``speakers_per_batch`` continues the same steps.
        """
        state = read_state(checkpoint)
        config = TrainConfig.from_dict(state["config"]).replace(**overrides)
        trainer = cls(
            config,
            train_corpus=train_corpus,
            val_corpus=val_corpus,
            out=out,
            distributed=distributed,
        )
        trainer.load_state_dict(state)
        saved_world = int((state.get("extra") or {}).get("world_size", 1))
        saved_batch = int(state["config"].get("speakers_per_batch", 0)) * saved_world
        world = trainer.dist.world_size
        if saved_batch != config.speakers_per_batch * world:
            keep = (
                f"give speakers_per_batch={saved_batch // world} to keep it"
                if saved_batch % world == 0
                else f"{saved_batch} speakers do not split over {world} processes"
            )
            log.warning(
                "resuming a run of %d x %d speakers per step with %d x %d: the global batch "
                "changes (%s)",
                saved_world,
                saved_batch // max(saved_world, 1),
                world,
                config.speakers_per_batch,
                keep,
            )
        return trainer

    # ------------------------------------------------------------------ export
    def export(self, path: str | os.PathLike | None = None) -> Path:
        """Write the encoder (see the module docstring) and ``config.json`` next to it."""
        folder = Path(path) if path is not None else self.out
        if folder is None:
            raise ConfigError("no output folder: pass a path or set TrainConfig.out.")
        folder.mkdir(parents=True, exist_ok=True)
        name = f"voxref-{self.config.model}-trained:{folder.name}"
        metadata = {
            "name": name,
            "training": {
                "steps": self.step,
                "config": self.config.to_dict(),
                "train_speakers": len(self.train_corpus.speakers),
                "validations": self.validations[-1:],
            },
        }
        file = self.model.export(folder, metadata)
        self.config.save(folder / "config.json")
        return file

    # ------------------------------------------------------------------ loop
    def _log(self, record: dict[str, Any]) -> None:
        if self.out is None or not self.dist.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with (self.out / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def _batches(self, start: int, stop: int):
        if self.config.num_workers == 0:
            for k in range(start, stop):
                yield self.maker.make(k)
            return
        loader = torch.utils.data.DataLoader(
            StepBatches(self.maker, stop),
            batch_size=None,
            sampler=range(start, stop),
            num_workers=self.config.num_workers,
            persistent_workers=False,
            # worker seeds come from this generator, not from torch's global RNG (batches
            # themselves are seeded by (seed, step) and do not use it)
            generator=torch.Generator().manual_seed(int(self.config.seed)),
        )
        yield from loader

    def fit(self, steps: int | None = None) -> TrainResult:
        """Train until ``steps`` total steps (default ``config.steps``); validate each epoch;
        checkpoint; export to ``out``."""
        total = self.config.steps if steps is None else int(steps)
        start_time = time.perf_counter()
        result = TrainResult(steps=self.step, encoder_path=None)
        main = self.dist.is_main
        if self.out is not None and main:
            self.out.mkdir(parents=True, exist_ok=True)
            self.config.save(self.out / "config.json")
        if self.step == 0 and self.val_corpus is not None and main:
            first = self.validate()
            self._log({"event": "validation", **first})
        bar = None
        if self.config.progress and total > self.step and main:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=self.step, desc="train", unit="step", leave=False)
        window: list[float] = []
        validated_at = -1
        for batch in self._batches(self.step, total):
            terms = self.optimizer_step(batch)
            result.losses.append(terms["loss"])
            window.append(terms["loss"])
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{terms['loss']:.4f}")
            if self.step % self.config.log_every == 0 or self.step == total:
                self._log(
                    {
                        "event": "train",
                        "step": self.step,
                        "epoch": self.step / self.steps_per_epoch,
                        "loss_mean": float(np.mean(window)),
                        **terms,
                        "processes": self.dist.world_size,
                        "seconds": time.perf_counter() - start_time,
                    }
                )
                window = []
            if self.step % self.steps_per_epoch == 0 or self.step == total:
                val = self.validate()
                if val is not None:
                    validated_at = self.step
                    self._log(
                        {"event": "validation", "epoch": self.step / self.steps_per_epoch, **val}
                    )
                    log.info("step %d: %s", self.step, val)
                if self.out is not None and main:
                    self.save_checkpoint()
        if bar is not None:
            bar.close()
        if self.val_corpus is not None and validated_at != self.step and self.step > 0 and main:
            val = self.validate()
            self._log({"event": "validation", **val})
        if self.out is not None and main:
            result.encoder_path = self.export()
        result.steps = self.step
        result.validations = list(self.validations)
        result.seconds = time.perf_counter() - start_time
        return result


def train(config: TrainConfig, **kwargs: Any) -> TrainResult:
    """``Trainer(config, **kwargs).fit()``."""
    return Trainer(config, **kwargs).fit()
