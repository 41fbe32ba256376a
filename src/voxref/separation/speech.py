"""Speech regions for diarization, from the clean stage's detectors (``voxref.cleaning.vad``).

Diarization wants tighter regions than cleaning does (short pauses between turns matter for the
error rate), so :func:`speech_regions` uses smaller padding and gap bridging than the clean stage's
defaults.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = 0.001 * rng.standard_normal(48000).astype(np.float32)
>>> x[16000:32000] += 0.3 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)
>>> [(round(a, 1), round(b, 1)) for a, b in speech_regions(x, 16000, vad="energy")]
[(1.0, 2.0)]
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["speech_regions", "regions_to_mask", "DIARIZATION_VAD"]

log = logging.getLogger(__name__)

#: Region post-processing used for diarization (seconds): tight padding, short bridges.
DIARIZATION_VAD = {"pad": 0.03, "min_gap": 0.15, "min_speech": 0.2}


def speech_regions(
    samples: np.ndarray,
    sample_rate: int,
    *,
    vad: object = "silero",
    pad: float = DIARIZATION_VAD["pad"],
    min_gap: float = DIARIZATION_VAD["min_gap"],
    min_speech: float = DIARIZATION_VAD["min_speech"],
) -> tuple[tuple[float, float], ...]:
    """``(start, end)`` speech regions of mono ``samples`` in seconds, sorted, disjoint.

    Parameters
    ----------
    samples
        Mono float samples.
    sample_rate
        Their rate in Hz.
    vad
        A detector name or object understood by ``voxref.cleaning.vad.get_vad`` (``"silero"``,
        ``"energy"``, ...).
    pad, min_gap, min_speech
        Padding on both sides, longest pause bridged, shortest region kept (seconds).
    """
    from ..cleaning.vad import detect_speech

    x = np.asarray(samples, dtype=np.float32)
    res = detect_speech(x, sample_rate, vad=vad, pad=pad, min_gap=min_gap, min_speech=min_speech)
    return tuple(res.regions)


def regions_to_mask(
    regions: tuple[tuple[float, float], ...] | list[tuple[float, float]],
    num_frames: int,
    frame_step: float,
) -> np.ndarray:
    """Boolean frame mask: frame ``i`` (centred at ``(i + 0.5) * frame_step``) inside a region.

    Examples
    --------
    >>> regions_to_mask([(0.1, 0.3)], 5, 0.1).tolist()
    [False, True, True, False, False]
    """
    centers = (np.arange(num_frames) + 0.5) * frame_step
    mask = np.zeros(num_frames, dtype=bool)
    for s, e in regions:
        mask |= (centers >= s) & (centers < e)
    return mask
