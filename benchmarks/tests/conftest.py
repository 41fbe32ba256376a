"""A tiny benchmark corpus built with the real corpus builder (5 synthetic + 2 real speakers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import speech_by_speaker, speech_manifest  # noqa: F401  (the speech fixtures)

# as in tests/conftest.py: no telemetry, no hub downloads
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``benchmarks.corpus.build`` output: 5 espeak/flite speakers x 5 clips + pyannote's 2 speakers."""
    from benchmarks.corpus.build import CorpusConfig, build_corpus

    out = tmp_path_factory.mktemp("corpus")
    build_corpus(CorpusConfig(n_speakers=5, n_utterances=5, n_enroll=2, seed=0), out, workers=1)
    return out
