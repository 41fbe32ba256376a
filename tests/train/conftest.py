"""Shared pieces of the trainer tests: the fixture corpus and a tiny, fast model config."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxref.train import SpeakerCorpus, TrainConfig

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech"

#: A 1-layer, 64-unit GE2E LSTM from random weights: a training step takes ~50 ms on one core.
TINY = {"model_config": {"hidden_size": 64, "num_layers": 1}, "init": "random"}


@pytest.fixture(scope="session")
def corpus() -> SpeakerCorpus:
    """The 6 fixture speakers x 4 utterances (16 kHz), decoded once."""
    return SpeakerCorpus.from_path(SPEECH).preload()


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    """``tests/fixtures/speech`` (with its manifest.csv)."""
    return SPEECH


@pytest.fixture(scope="session")
def tiny_config():
    """Factory of small, fast configs (see :func:`make_tiny_config`)."""
    return make_tiny_config


def make_tiny_config(**changes) -> TrainConfig:
    """Small batches, short crops, no progress bars, tiny model; ``changes`` on top."""
    base = dict(
        speakers_per_batch=3,
        utterances_per_speaker=2,
        crop_seconds=0.8,
        timbre_chunk_seconds=0.8,
        timbre_chunks=2,
        lr=3e-3,
        steps=4,
        progress=False,
        seed=0,
        **TINY,
    )
    base.update(changes)
    return TrainConfig(**base)


# A worker script started by the distributed tests, not a test module (its own imports
# assume it runs as a script).
collect_ignore = ["dist_worker.py"]
