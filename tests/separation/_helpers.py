"""Helpers of the separation tests (no fixtures here)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from voxref.sample_data import Turn


def reference_annotation(turns: list[Turn]):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, t in enumerate(turns):
        ann[Segment(t.start, t.end), i] = t.speaker
    return ann


def der(reference, hypothesis, collar: float) -> float:
    """pyannote.metrics DER (``collar`` in seconds, overlap scored)."""
    import warnings

    from pyannote.metrics.diarization import DiarizationErrorRate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "uem was approximated"
        return float(DiarizationErrorRate(collar=collar, skip_overlap=False)(reference, hypothesis))


def utterances(voice, indices, gap: float = 0.25) -> np.ndarray:
    """Utterances of ``voice`` (sentence indices) joined by ``gap`` seconds of silence."""
    from voxref.separation.synthetic import SENTENCES, synthesize

    sil = np.zeros(int(gap * 16000), dtype=np.float32)
    return np.concatenate([np.concatenate([synthesize(voice, SENTENCES[i]), sil]) for i in indices])


def script_module(name: str) -> ModuleType:
    """A training script of ``scripts/`` (e.g. ``"train_separator"``) imported as a module."""
    scripts = str(Path(__file__).resolve().parents[2] / "scripts")
    sys.path.insert(0, scripts)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(scripts)
