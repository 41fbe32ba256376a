"""``voxref train``: fine-tune / train a speaker encoder on per-speaker audio.

Examples (shell)::

    voxref train --data corpus/ --out runs/ge2e-tc --steps 500 --timbre-weight 0.5
    voxref train runs/ge2e-tc/config.json --steps 1000            # a saved recipe, changed
    voxref train --resume runs/ge2e-tc/checkpoints/last.pt --steps 1000
    voxref train --data corpus/ --out runs/ddp --nproc 2             # 2 processes, one model
    torchrun --nproc-per-node 2 -m voxref train --data corpus/ --out runs/ddp   # the same

The result loads with ``voxref.Embedder.from_pretrained(OUT)``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

__all__ = ["register", "run", "config_from_args"]

# flag -> TrainConfig field, for the options that map one to one
_FIELDS = {
    "data": "data",
    "out": "out",
    "val_data": "val_data",
    "val_speakers": "val_speakers",
    "model": "model",
    "init": "init",
    "loss": "loss",
    "steps": "steps",
    "lr": "lr",
    "head_lr": "head_lr",
    "speakers_per_batch": "speakers_per_batch",
    "utterances_per_speaker": "utterances_per_speaker",
    "crop_seconds": "crop_seconds",
    "timbre_weight": "timbre_weight",
    "timbre_chunks": "timbre_chunks",
    "mi_weight": "mi_weight",
    "steps_per_epoch": "steps_per_epoch",
    "seed": "seed",
    "device": "device",
    "num_workers": "num_workers",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune or train a speaker encoder (GE2E, ECAPA) with noise-robust losses",
        description=(
            "Train a speaker encoder on DIR/<speaker>/*.wav or a manifest (path, speaker[, "
            "split]). Options given on the command line override those of CONFIG.json. The "
            "trained encoder is written to OUT (load it with voxref.Embedder.from_pretrained)."
        ),
    )
    p.add_argument("config", nargs="?", help="a TrainConfig JSON file (e.g. OUT/config.json)")
    p.add_argument("--data", help="training data: folder of speaker folders, or manifest")
    p.add_argument("--out", help="output folder (encoder, config.json, metrics, checkpoints)")
    p.add_argument("--val-data", help="held-out speakers for validation")
    p.add_argument(
        "--val-speakers", type=int, help="hold this many speakers of --data out for validation"
    )
    p.add_argument("--model", choices=("ge2e", "ecapa", "wespeaker"), help="encoder (ge2e)")
    p.add_argument(
        "--init", help="'auto' (bundled GE2E weights), 'random', or a voxref checkpoint path"
    )
    p.add_argument("--loss", choices=("ge2e", "aam", "ge2e+aam"), help="speaker loss (ge2e)")
    p.add_argument("--steps", type=int, help="optimiser steps (1000)")
    p.add_argument("--lr", type=float, help="learning rate (1e-4)")
    p.add_argument("--head-lr", type=float, help="learning rate of AAM / GE2E loss parameters")
    p.add_argument("--speakers-per-batch", type=int, help="N speakers per batch (6)")
    p.add_argument("--utterances-per-speaker", type=int, help="M utterances per speaker (4)")
    p.add_argument("--crop-seconds", type=float, help="training crop length (1.6)")
    p.add_argument("--timbre-weight", type=float, help="timbre-consistency loss weight (0)")
    p.add_argument("--timbre-chunks", type=int, help="chunks per utterance for it (3)")
    p.add_argument("--mi-weight", type=float, help="vCLUB nuisance MI penalty weight (0)")
    p.add_argument("--no-augment", action="store_true", help="train on clean crops")
    p.add_argument("--steps-per-epoch", type=int, help="steps between validations")
    p.add_argument("--seed", type=int, help="seed (0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="torch device (auto)")
    p.add_argument("--num-workers", type=int, help="batch-preparing worker processes (0)")
    p.add_argument("--threads", type=int, help="torch intra-op threads for this process")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="any other TrainConfig field, e.g. --set timbre_beta=0.5 --set 'augment={\"noise_prob\": 1}'",
    )
    p.add_argument("--resume", help="continue from a training-state checkpoint")
    p.add_argument(
        "--nproc",
        type=int,
        help="data-parallel processes on this machine (1); each takes --speakers-per-batch "
        "speakers of a global batch N times larger (under torchrun, leave it out)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _parse_set(items: list[str]) -> dict[str, Any]:
    from ..errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: use KEY=VALUE (VALUE as JSON, or a plain string).")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def config_from_args(args: argparse.Namespace):
    """The :class:`~voxref.train.TrainConfig` for ``args`` (file, then flags, then ``--set``)."""
    from ..train.config import TrainConfig

    data: dict[str, Any] = TrainConfig.load(args.config).to_dict() if args.config else {}
    for flag, name in _FIELDS.items():
        value = getattr(args, flag, None)
        if value is not None:
            data[name] = value
    if args.no_augment:
        data["augment"] = {**data.get("augment", {}), "enabled": False}
    if args.no_progress:
        data["progress"] = False
    extra = _parse_set(args.set)
    if "augment" in extra and isinstance(extra["augment"], dict):
        extra["augment"] = {**data.get("augment", {}), **extra["augment"]}
    data.update(extra)
    return TrainConfig.from_dict(data)


#: what ``--resume`` may change (fields that do not change the state's shapes)
_RESUME_FLAGS = ("steps", "out", "device", "num_workers", "speakers_per_batch")


def _resume_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {
        name: getattr(args, flag)
        for flag, name in _FIELDS.items()
        if flag in _RESUME_FLAGS and getattr(args, flag) is not None
    }
    if args.no_progress:
        overrides["progress"] = False
    return overrides


def _checked_config(args: argparse.Namespace):
    from ..errors import ConfigError

    config = config_from_args(args)
    if not config.data:
        raise ConfigError("give the training data: --data DIR (or a CONFIG.json with data).")
    if not config.out:
        raise ConfigError("give an output folder: --out OUT (or a CONFIG.json with out).")
    return config


def _launch(args: argparse.Namespace) -> int:
    """``--nproc N``: check everything here, then start N ranks of ``voxref train``."""
    import os
    from pathlib import Path

    from ..errors import ConfigError
    from ..train.config import TrainConfig
    from ..train.data import SpeakerCorpus

    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        raise ConfigError(
            "--nproc inside a torchrun job: torchrun already started the processes; drop --nproc."
        )
    nproc = int(args.nproc)
    verbose = ["-v"] * int(getattr(args, "verbose", 0) or 0)
    if args.resume:
        from ..train.state import read_state

        overrides = _resume_overrides(args)
        config = TrainConfig.from_dict(read_state(args.resume)["config"]).replace(**overrides)
        flags = [f"--resume={args.resume}"] + [
            f"--{k.replace('_', '-')}={v}" for k, v in overrides.items() if k != "progress"
        ]
        if args.no_progress:
            flags.append("--no-progress")
    else:
        config = _checked_config(args)
        out = Path(config.out)
        out.mkdir(parents=True, exist_ok=True)
        # the resolved recipe: every rank reads the same one (rank 0 rewrites it unchanged)
        flags = [str(config.save(out / "config.json"))]
    if config.device != "cpu":
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        too_few = gpus < nproc if config.device == "cuda" else 0 < gpus < nproc
        if too_few:
            raise ConfigError(
                f"--nproc {nproc} runs one process per GPU but torch sees {gpus}; give "
                f"--nproc {max(gpus, 1)}, or --device cpu."
            )
    if config.data:  # fail here, not in N processes: the data and the global batch must fit
        corpus = SpeakerCorpus.from_path(config.data, splits=config.splits)
        held_out = 0 if config.val_data else config.val_speakers
        available = len(corpus.speakers) - held_out
        if available < nproc * config.speakers_per_batch:
            raise ConfigError(
                f"{nproc} processes x speakers_per_batch={config.speakers_per_batch} need "
                f"{nproc * config.speakers_per_batch} training speakers per step; the data has "
                f"{available}. Lower --speakers-per-batch or --nproc."
            )
    if args.threads:
        flags.append(f"--threads={args.threads}")
    from ..train.distributed import launch

    hint = (
        f"Continue from the last complete checkpoint: voxref train --resume "
        f"{Path(config.out) / 'checkpoints' / 'last.pt'} (with --nproc N, or in one process "
        f"with --speakers-per-batch {nproc * config.speakers_per_batch} for the same global batch)."
    )
    launch(
        ["-m", "voxref", *verbose, "train", *flags], nproc, threads=args.threads, resume_hint=hint
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.nproc is not None and args.nproc < 1:
        from ..errors import ConfigError

        raise ConfigError(f"--nproc {args.nproc}: give at least 1 process.")
    if args.nproc and args.nproc > 1:
        return _launch(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from ..train.trainer import Trainer

    if args.resume:
        trainer = Trainer.resume(args.resume, **_resume_overrides(args))
    else:
        trainer = Trainer(_checked_config(args))
    from ..train.distributed import leave_process_group

    completed = False
    try:
        result = trainer.fit()
        completed = True
    finally:
        leave_process_group(completed)
    _report(result, trainer.dist.is_main)  # one process: it is the main one
    if trainer.dist.distributed:
        _exit_rank()
    return 0


def _exit_rank() -> None:
    """End a data-parallel rank whose work is done and whose group is left, skipping the
    interpreter's native teardown, where a leftover gloo thread can abort the process
    ("terminate called without an active exception") after the work has returned (as the
    scale DDP ranks do, :mod:`voxref.scale.ddp`). The rank's process is its own: started by
    ``torchrun`` or ``--nproc``."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _report(result: Any, is_main: bool) -> None:
    """Print the run's JSON summary and where the encoder is (the main process only)."""
    if not is_main:
        return
    summary = {
        "encoder": str(result.encoder_path) if result.encoder_path else None,
        "steps": result.steps,
        "final_loss": result.losses[-1] if result.losses else None,
        "validation": result.validations[-1] if result.validations else None,
        "seconds": round(result.seconds, 1),
    }
    print(json.dumps(summary))
    if result.encoder_path:
        print(
            f"trained encoder: {result.encoder_path.parent} "
            f"(voxref.Embedder.from_pretrained({str(result.encoder_path.parent)!r}))",
            file=sys.stderr,
        )
