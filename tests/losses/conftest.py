"""Fixtures for the loss tests: real speaker embeddings of the committed fixture speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def ge2e_encoder():
    """voxref's bundled GE2E encoder (Resemblyzer weights), loaded once."""
    from voxref.embedder.ge2e import GE2EEncoder

    return GE2EEncoder()


@pytest.fixture(scope="session")
def speech_samples(speech_by_speaker: dict[str, list[Path]]) -> dict[str, list[np.ndarray]]:
    """Speaker id -> its fixture utterances as 16 kHz float32 arrays."""
    from voxref.audio import load_audio

    return {
        speaker: [load_audio(p, target_sample_rate=16000).samples for p in paths]
        for speaker, paths in speech_by_speaker.items()
    }


@pytest.fixture(scope="session")
def utterance_embeddings(ge2e_encoder, speech_samples) -> np.ndarray:
    """``(speakers, utterances, 256)`` GE2E utterance embeddings of the fixture speech."""
    return np.stack(
        [
            [ge2e_encoder.embed_utterance(x) for x in utterances]
            for utterances in speech_samples.values()
        ]
    )
