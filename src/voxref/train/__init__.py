"""Train or fine-tune speaker encoders for noisy references (``voxref train``).

===================  ==================================================================
module               what
===================  ==================================================================
``config``           :class:`TrainConfig` / :class:`AugmentConfig` (JSON round trip)
``data``             :class:`SpeakerCorpus`: folder-per-speaker or manifest, cached audio
``augmentation``     the per-speaker degradation chain (:mod:`voxref.augment`)
``batches``          :class:`BatchMaker`: GE2E ``N x M`` / random batches, timbre chunks
``models``           :func:`build_model`: GE2E LSTM (bundled init), ECAPA-TDNN, WeSpeaker
``objective``        :class:`Objective`: GE2E / AAM + timbre consistency + vCLUB penalty
``evaluate``         EER on held-out speakers, clean and degraded trials
``state``            resumable training-state checkpoints (``weights_only`` loadable)
``trainer``          :class:`Trainer`: the loop, validation, checkpoints, export
``distributed``      several processes (``torchrun`` / ``--nproc``): gather, BatchNorm, launch
===================  ==================================================================

Importing this package imports torch.

Examples
--------
>>> from voxref.train import TrainConfig
>>> TrainConfig(model="ecapa", loss="aam").model
'ecapa'
"""

from .batches import Batch, BatchMaker
from .config import AugmentConfig, TrainConfig
from .data import SpeakerCorpus, Utterance
from .evaluate import Condition, equal_error_rate, evaluate_encoder, standard_conditions
from .models import TrainableEncoder, build_model
from .objective import Objective
from .trainer import Trainer, TrainResult, train

__all__ = [
    "TrainConfig",
    "AugmentConfig",
    "SpeakerCorpus",
    "Utterance",
    "Batch",
    "BatchMaker",
    "TrainableEncoder",
    "build_model",
    "Objective",
    "Trainer",
    "TrainResult",
    "train",
    "Condition",
    "equal_error_rate",
    "evaluate_encoder",
    "standard_conditions",
]
