"""Helpers of the separation tests (no fixtures here)."""

from __future__ import annotations

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
