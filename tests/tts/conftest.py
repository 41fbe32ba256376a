"""Fixtures for the TTS export / bridge tests: real GE2E results on fixture speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


class Payload:
    """Pickles to ``open(target, "w")``: unpickling it creates ``target``."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.fixture
def payload(tmp_path) -> tuple[Payload, Path]:
    marker = tmp_path / "pwned"
    return Payload(marker), marker


@pytest.fixture(scope="session")
def ge2e():
    from voxref.embedder.ge2e import GE2EEncoder

    return GE2EEncoder()


@pytest.fixture(scope="session")
def ge2e_results(speech_by_speaker, ge2e) -> dict:
    """Speaker -> ``EmbeddingResult`` of its first three fixture clips (GE2E, 256-d)."""
    from voxref.pipeline import Embedder

    emb = Embedder(encoder=ge2e)
    return {
        spk: emb.embed([str(p) for p in paths[:3]], return_details=True)
        for spk, paths in list(speech_by_speaker.items())[:2]
    }


@pytest.fixture
def unit_vectors():
    def make(n: int, d: int, seed: int = 0) -> np.ndarray:
        x = np.random.default_rng(seed).standard_normal((n, d))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    return make
