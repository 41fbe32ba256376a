"""Speech regions for diarization: ``voxref.clean.vad`` when available, else a local energy VAD.

Diarization wants tighter regions than cleaning does (short pauses between turns matter for the
error rate), so :func:`speech_regions` uses smaller padding and gap bridging than the clean stage's
defaults. The energy fallback here exists only so that the separation package works on its own; it
is replaced by the clean stage's detectors whenever ``voxref.clean.vad`` imports.

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

from ..audio.resample import resample

__all__ = ["speech_regions", "regions_to_mask", "DIARIZATION_VAD"]

log = logging.getLogger(__name__)

#: Region post-processing used for diarization (seconds): tight padding, short bridges.
DIARIZATION_VAD = {"pad": 0.03, "min_gap": 0.15, "min_speech": 0.2}

_FRAME = 512  # 32 ms at 16 kHz, the silero frame


def _energy_probabilities(x: np.ndarray) -> np.ndarray:
    """Logistic speech 'probability' of 32 ms frames from their level above an adaptive floor."""
    n = max(1, -(-len(x) // _FRAME))
    frames = np.pad(x, (0, n * _FRAME - len(x))).reshape(n, _FRAME).astype(np.float64)
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    thr = max(np.percentile(level, 10.0) + 10.0, level.max() - 45.0, -60.0)
    return 1.0 / (1.0 + np.exp(-(level - thr) / 1.5))


def _regions(
    p: np.ndarray, hop: float, duration: float, pad: float, min_gap: float, min_speech: float
):
    on = p >= 0.5
    raw, start = [], None
    for i, v in enumerate(on):
        if v and start is None:
            start = i
        elif not v and start is not None:
            raw.append([start * hop, i * hop])
            start = None
    if start is not None:
        raw.append([start * hop, len(p) * hop])
    merged: list[list[float]] = []
    for s, e in raw:
        if merged and s - merged[-1][1] < min_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    out: list[list[float]] = []
    for s, e in merged:
        if e - s < min_speech:
            continue
        s, e = max(0.0, s - pad), min(duration, e + pad)
        if out and s <= out[-1][1]:
            out[-1][1] = e
        else:
            out.append([s, e])
    return tuple((round(s, 6), round(e, 6)) for s, e in out)


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
        A detector name or object understood by ``voxref.clean.vad.get_vad`` (``"silero"``,
        ``"energy"``, ...). When ``voxref.clean.vad`` is not importable, every name falls back to
        the local energy detector.
    pad, min_gap, min_speech
        Padding on both sides, longest pause bridged, shortest region kept (seconds).
    """
    x = np.asarray(samples, dtype=np.float32)
    duration = len(x) / float(sample_rate)
    try:
        from ..clean.vad import detect_speech
    except ImportError:  # the clean stage is optional for this package
        detect_speech = None
    if detect_speech is not None:
        res = detect_speech(
            x, sample_rate, vad=vad, pad=pad, min_gap=min_gap, min_speech=min_speech
        )
        return tuple(res.regions)
    log.debug("voxref.clean.vad unavailable: energy VAD")
    if sample_rate != 16_000:
        x = resample(x, sample_rate, 16_000)
    p = _energy_probabilities(x)
    return _regions(p, _FRAME / 16_000, duration, pad, min_gap, min_speech)


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
