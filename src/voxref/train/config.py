"""Training configuration: :class:`TrainConfig` (and its :class:`AugmentConfig`), JSON round trip.

Everything a training run depends on lives in one :class:`TrainConfig`: data, model, losses and
their weights, the augmentation recipe, the optimiser, the schedule and the seed. It is written
as ``config.json`` next to the trained weights, so a result can always be traced to its recipe
and re-run (``voxref train OUT/config.json``).

Examples
--------
>>> cfg = TrainConfig(data="corpus/", out="runs/a", steps=200, timbre_weight=0.5)
>>> TrainConfig.from_json(cfg.to_json()) == cfg
True
>>> cfg.replace(steps=10).steps
10
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["TrainConfig", "AugmentConfig", "MODELS", "LOSSES"]

#: Trainable encoders: the bundled GE2E LSTM, SpeechBrain's ECAPA-TDNN, pyannote's WeSpeaker ResNet34.
MODELS = ("ge2e", "ecapa", "wespeaker")
#: Speaker-discriminative objectives.
LOSSES = ("ge2e", "aam", "ge2e+aam")
_SCHEDULERS = ("cosine", "constant")
_TIMBRE_NOISE = ("per_chunk", "shared")
_DEVICES = ("auto", "cpu", "cuda")


def _pair(value: Any, name: str) -> tuple[float, float]:
    """A ``(low, high)`` pair from a number, list or tuple (JSON has no tuples)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (float(value), float(value))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise ConfigError(f"{name}={list(value)}: low must not exceed high.")
        return (low, high)
    raise ConfigError(f"{name}={value!r}: give a number or a [low, high] pair.")


def _probability(value: float, name: str) -> float:
    p = float(value)
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{name}={value!r} must be a probability in [0, 1].")
    return p


@dataclass(frozen=True)
class AugmentConfig:
    """On-the-fly degradation recipe (built into a :class:`voxref.augment.Compose`).

    Each training crop first gets *one* additive noise (colored noise or a babble of other
    training speakers, with probability ``noise_prob``), then reverberation, a telephone channel
    and a gain change, each with its own probability.

    Attributes
    ----------
    enabled
        ``False`` trains on clean crops only.
    noise_prob
        Probability of adding noise or babble.
    noise_types
        Colors for :class:`~voxref.augment.AddNoise` (``white``, ``pink``, ``brown``).
    noise_snr, babble_snr
        SNR ranges in dB.
    babble_prob
        Given that noise is added, the probability that it is babble rather than colored noise.
    babble_speakers
        Talkers per babble (inclusive range).
    reverb_prob, rt60, drr_db
        Synthetic-RIR reverberation.
    telephone_prob
        Band-limited telephone channel (with companding).
    gain_prob, gain_db
        Gain change in dB.

    Examples
    --------
    >>> AugmentConfig(noise_snr=[0, 10]).noise_snr
    (0.0, 10.0)
    """

    enabled: bool = True
    noise_prob: float = 0.8
    noise_types: tuple[str, ...] = ("white", "pink", "brown")
    noise_snr: tuple[float, float] = (0.0, 20.0)
    babble_prob: float = 0.4
    babble_snr: tuple[float, float] = (0.0, 20.0)
    babble_speakers: tuple[int, int] = (3, 6)
    reverb_prob: float = 0.3
    rt60: tuple[float, float] = (0.2, 0.8)
    drr_db: tuple[float, float] = (0.0, 10.0)
    telephone_prob: float = 0.1
    gain_prob: float = 0.3
    gain_db: tuple[float, float] = (-6.0, 6.0)

    def __post_init__(self) -> None:
        for name in ("noise_prob", "babble_prob", "reverb_prob", "telephone_prob", "gain_prob"):
            object.__setattr__(self, name, _probability(getattr(self, name), name))
        for name in ("noise_snr", "babble_snr", "rt60", "drr_db", "gain_db"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        low, high = _pair(self.babble_speakers, "babble_speakers")
        if low < 1:
            raise ConfigError(f"babble_speakers={self.babble_speakers!r}: at least one talker.")
        object.__setattr__(self, "babble_speakers", (int(low), int(high)))
        types = (self.noise_types,) if isinstance(self.noise_types, str) else self.noise_types
        object.__setattr__(self, "noise_types", tuple(str(t) for t in types))
        if not self.noise_types:
            raise ConfigError("noise_types is empty; give at least one of white, pink, brown.")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AugmentConfig:
        """Build from a JSON dictionary; unknown keys are an error (typos must not pass)."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown augment option(s) {unknown}; known: {sorted(known)}.")
        return cls(**data)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on.

    Attributes
    ----------
    data
        Training data: a folder with one sub-folder of audio files per speaker, or a manifest
        CSV/JSON (columns ``path``, ``speaker``, optionally ``split``; paths relative to the
        manifest). Required to train.
    out
        Output folder: the trained encoder (``encoder.pt`` + ``encoder.json``, loadable with
        ``voxref.Embedder.from_pretrained(out)``), ``config.json``, ``metrics.jsonl`` and
        ``checkpoints/``.
    val_data
        Held-out speakers for validation (same formats). Default: ``val_speakers`` speakers
        drawn (seeded) out of ``data``.
    val_speakers
        Speakers held out of ``data`` when ``val_data`` is not given (0: no validation).
    splits
        Manifest ``split`` values to use (empty: all rows).
    model
        ``"ge2e"`` (fine-tunes the bundled GE2E LSTM), ``"ecapa"`` (SpeechBrain ECAPA-TDNN) or
        ``"wespeaker"`` (pyannote's WeSpeaker ResNet34; needs pyannote.audio).
    init
        ``"auto"`` (GE2E: the bundled weights; others: random), ``"random"``, or the path of a
        voxref encoder checkpoint of the same architecture to start from.
    model_config
        Architecture overrides (e.g. ``{"channels": [256, 256, 256, 256, 768]}`` for a small
        ECAPA); keys of :data:`voxref.embedder.checkpoint.DEFAULT_CONFIGS`.
    loss
        ``"ge2e"``, ``"aam"`` (AAM-softmax over the training speakers) or ``"ge2e+aam"``.
    ge2e_weight, aam_weight
        Weights of the speaker losses (used when ``loss`` includes them).
    ge2e_variant
        ``"softmax"`` or ``"contrast"``.
    aam_margin, aam_scale
        AAM-softmax margin (radians) and scale.
    speakers_per_batch, utterances_per_speaker
        GE2E batch shape ``N x M`` (also used for AAM batches), per process: ``W`` processes
        (``torchrun`` / ``voxref train --nproc W``) train on a global batch of ``W * N``
        speakers.
    crop_seconds
        Length of each random training crop.
    timbre_weight
        Weight of the timbre-consistency loss (0: off).
    timbre_utterances
        Utterances per step and process that get ``timbre_chunks`` chunks (0: one per batch
        speaker).
    timbre_chunks, timbre_chunk_seconds
        ``K`` chunks of this length per utterance, spread evenly over the utterance (they
        overlap when it is short).
    timbre_beta
        Weight of the chunk-vs-clean term inside the timbre loss.
    timbre_noise
        ``"per_chunk"``: each chunk gets its own degradation draw (noise varying along the
        recording; the chunks can only agree through the voice); ``"shared"``: one draw for the
        whole utterance, then cut.
    timbre_detach_clean
        Treat the clean embedding as a fixed target (no gradient through it).
    mi_weight
        Weight ``lambda`` of the vCLUB estimate of I(embedding; nuisance vector) (0: off).
    mi_steps, mi_hidden, mi_lr
        vCLUB estimator updates per step, hidden units and learning rate.
    augment
        The degradation recipe.
    lr, weight_decay, scheduler, warmup_steps, min_lr_ratio, grad_clip
        AdamW learning rate and weight decay; ``"cosine"`` (to ``min_lr_ratio * lr``) or
        ``"constant"`` after ``warmup_steps`` of linear warm-up; gradient-norm clip (0: off).
    head_lr
        Learning rate of the loss parameters (AAM class weights, GE2E ``w``/``b``); 0: ``lr``.
        A fine-tuned encoder with a fresh AAM head wants a larger one (e.g. ``100 * lr``).
    steps
        Optimiser steps.
    steps_per_epoch
        Steps between validations / checkpoints (0: one pass over the training utterances).
    log_every
        Steps between metric-log lines.
    keep_checkpoints
        Training-state checkpoints kept in ``out/checkpoints`` (the newest ones).
    val_utterances
        Utterances per validation speaker (0: all).
    val_seconds
        Validation utterances are cut to at most this many seconds.
    seed
        Seeds everything: speaker split, batches, crops, augmentation, initialisation.
    device
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    num_workers
        DataLoader worker processes preparing batches (0: in the main process). Batches depend
        only on ``(seed, step)``, so results do not depend on this.
    progress
        Show tqdm progress bars.
    """

    data: str | None = None
    out: str | None = None
    val_data: str | None = None
    val_speakers: int = 0
    splits: tuple[str, ...] = ()
    model: str = "ge2e"
    init: str = "auto"
    model_config: dict[str, Any] = field(default_factory=dict)
    loss: str = "ge2e"
    ge2e_weight: float = 1.0
    aam_weight: float = 1.0
    ge2e_variant: str = "softmax"
    aam_margin: float = 0.2
    aam_scale: float = 30.0
    speakers_per_batch: int = 6
    utterances_per_speaker: int = 4
    crop_seconds: float = 1.6
    timbre_weight: float = 0.0
    timbre_utterances: int = 0
    timbre_chunks: int = 3
    timbre_chunk_seconds: float = 1.6
    timbre_beta: float = 1.0
    timbre_noise: str = "per_chunk"
    timbre_detach_clean: bool = True
    mi_weight: float = 0.0
    mi_steps: int = 5
    mi_hidden: int = 64
    mi_lr: float = 1e-3
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    lr: float = 1e-4
    head_lr: float = 0.0
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    grad_clip: float = 3.0
    steps: int = 1000
    steps_per_epoch: int = 0
    log_every: int = 10
    keep_checkpoints: int = 2
    val_utterances: int = 0
    val_seconds: float = 6.0
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            object.__setattr__(self, "augment", AugmentConfig.from_dict(self.augment))
        elif self.augment is None:
            object.__setattr__(self, "augment", AugmentConfig(enabled=False))
        splits = (self.splits,) if isinstance(self.splits, str) else tuple(self.splits or ())
        object.__setattr__(self, "splits", tuple(str(s) for s in splits))
        object.__setattr__(self, "model_config", dict(self.model_config or {}))
        for name in ("data", "out", "val_data"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, os.fspath(value))
        self._validate()

    def _validate(self) -> None:
        def choice(name: str, options: tuple[str, ...]) -> None:
            if getattr(self, name) not in options:
                raise ConfigError(
                    f"{name}={getattr(self, name)!r} is not valid; use one of {', '.join(options)}."
                )

        choice("model", MODELS)
        choice("loss", LOSSES)
        choice("ge2e_variant", ("softmax", "contrast"))
        choice("scheduler", _SCHEDULERS)
        choice("timbre_noise", _TIMBRE_NOISE)
        choice("device", _DEVICES)
        if self.speakers_per_batch < 2:
            raise ConfigError("speakers_per_batch must be >= 2 (losses contrast speakers).")
        if self.utterances_per_speaker < 2 and "ge2e" in self.loss:
            raise ConfigError(
                "utterances_per_speaker must be >= 2 for the GE2E loss (its own-speaker "
                "centroid leaves the utterance out)."
            )
        if self.utterances_per_speaker < 1:
            raise ConfigError("utterances_per_speaker must be >= 1.")
        if self.timbre_weight > 0 and self.timbre_chunks < 2:
            raise ConfigError("timbre_chunks must be >= 2: agreement needs several chunks.")
        positive = ("crop_seconds", "timbre_chunk_seconds", "val_seconds")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0 seconds, got {getattr(self, name)}.")
        nonneg = (
            "ge2e_weight",
            "aam_weight",
            "timbre_weight",
            "timbre_beta",
            "mi_weight",
            "lr",
            "head_lr",
            "weight_decay",
            "grad_clip",
            "min_lr_ratio",
        )
        for name in nonneg:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}.")
        ints = (
            "val_speakers",
            "timbre_utterances",
            "mi_steps",
            "warmup_steps",
            "steps",
            "steps_per_epoch",
            "val_utterances",
            "num_workers",
        )
        for name in ints:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}.")
        if self.log_every < 1 or self.keep_checkpoints < 1:
            raise ConfigError("log_every and keep_checkpoints must be >= 1.")

    # ------------------------------------------------------------------ conversion
    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dictionary (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dictionary (e.g. parsed JSON); unknown keys are an error.

        Examples
        --------
        >>> TrainConfig.from_dict({"model": "ecapa", "loss": "aam"}).loss
        'aam'
        >>> TrainConfig.from_dict({"stpes": 3})
        Traceback (most recent call last):
        ...
        voxref.errors.ConfigError: unknown training option(s) ['stpes']; ...
        """
        if not isinstance(data, dict):
            raise ConfigError(f"a training config is a JSON object, got {type(data).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown training option(s) {unknown}; see voxref.train.TrainConfig for the "
                f"known ones ({', '.join(sorted(known))})."
            )
        values = dict(data)
        if "augment" in values and not isinstance(values["augment"], AugmentConfig):
            values["augment"] = AugmentConfig.from_dict(values["augment"])
        return cls(**values)

    def to_json(self, indent: int = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Parse JSON text written by :meth:`to_json` (or by hand)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"training config is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_json` to ``path`` (parent folders created)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.to_json(), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainConfig:
        """Read a JSON config file; relative ``data``/``val_data``/``out`` stay as written."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"no training config at {p}.")
        return cls.from_json(p.read_text(encoding="utf-8"))
