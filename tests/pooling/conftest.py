"""GE2E window embeddings of the committed speech fixtures (6 synthetic speakers x 4 utterances).

Computed once per session (~2 s). Degraded versions are made with seeded numpy noise here, so these
tests do not depend on ``voxref.augment``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxref.encoding import WindowEmbeddings

SR = 16_000


def _read(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32")
    assert sr == SR
    return x


def add_white_noise(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """``x`` plus seeded white noise at ``snr_db`` (mean power over the whole signal)."""
    rng = np.random.default_rng(seed)
    n = rng.standard_normal(len(x))
    g = np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(n**2) / 10 ** (snr_db / 10))
    return (x + g * n).astype(np.float32)


@pytest.fixture(scope="session")
def encoder():
    from voxref.embedder.ge2e import GE2EEncoder

    return GE2EEncoder()


@pytest.fixture(scope="session")
def speech(speech_by_speaker) -> dict[str, list[np.ndarray]]:
    """Speaker id -> its 4 fixture utterances (float32, 16 kHz)."""
    return {spk: [_read(p) for p in paths] for spk, paths in speech_by_speaker.items()}


@pytest.fixture(scope="session")
def windows(speech, encoder) -> dict[str, list[WindowEmbeddings]]:
    """Speaker id -> GE2E window embeddings of each utterance."""
    return {spk: [encoder.embed_windows(x) for x in utts] for spk, utts in speech.items()}


@pytest.fixture(scope="session")
def utterance_embeddings(windows) -> dict[str, np.ndarray]:
    """Speaker id -> ``(4, 256)`` utterance embeddings (mean of windows)."""
    return {spk: np.stack([w.mean() for w in ws]) for spk, ws in windows.items()}


@pytest.fixture(scope="session")
def noise_embedding(encoder) -> np.ndarray:
    """GE2E embedding of 3 s of seeded pink-ish noise (no speech at all)."""
    rng = np.random.default_rng(7)
    white = rng.standard_normal(3 * SR)
    pink = np.cumsum(white) * 0.02 + white  # some low-frequency tilt
    pink = (0.1 * pink / np.abs(pink).max()).astype(np.float32)
    return encoder.embed_utterance(pink)


@pytest.fixture(scope="session")
def noisy_embeddings(speech, encoder) -> dict[str, np.ndarray]:
    """Speaker id -> embeddings of its 4 utterances with white noise at 0 dB (seeded)."""
    return {
        spk: np.stack(
            [encoder.embed_utterance(add_white_noise(x, 0.0, seed=i)) for i, x in enumerate(utts)]
        )
        for spk, utts in speech.items()
    }
