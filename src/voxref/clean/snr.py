"""Blind signal-to-noise ratio estimation for one recording.

The SNR reported here is the *active-speech* SNR: mean power of the speech (inside the VAD's
speech regions, noise power subtracted) over the mean noise power, in dB. Two estimators:

``"pauses"``
    When the recording has at least :data:`MIN_NOISE_SECONDS` outside the speech regions (after a
    :data:`NOISE_MARGIN_S` guard around each region), the noise power is the mean power there,
    capped by the ``"percentile"`` estimate below: speech the VAD missed falls in the "pauses"
    and would read as noise as loud as the speech (one clean synthetic benchmark clip read
    -20 dB and was rejected).
    Measured on the 6 synthetic fixture speakers (3 utterances with pauses) + seeded white or
    pink (1/f above 20 Hz) noise at 0, 5, 10, 20 dB: error within 0.8 dB (mean -0.3 dB).
``"percentile"``
    Otherwise (continuous speech), the noise power is taken from the quietest frames: the mean
    power of the frames below the :data:`NOISE_PERCENTILE`-th percentile of 20 ms frame powers,
    scaled by a factor calibrated on Gaussian noise (the quietest tenth of noise frames sits below
    the mean). Same signals without their pauses: error within 2.1 dB (white noise reads up to
    2 dB low at 20 dB, where quiet speech frames count as noise; pink noise up to 1.9 dB high at
    0 dB, the calibration being for white noise).

Each 20 ms frame's mean is removed first: a DC offset is not noise.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> t = np.arange(48000) / 16000
>>> tone = 0.5 * np.sin(2 * np.pi * 200 * t) * (t > 1.0)  # 2 s "speech" after 1 s of pause
>>> x = tone + 0.05 * rng.standard_normal(48000)  # speech power 0.125, noise 0.0025 -> 17 dB
>>> from voxref.clean.vad import SpeechRegions
>>> regions = SpeechRegions(((1.0, 3.0),), np.zeros(0), 0.032, 3.0)
>>> round(estimate_snr(x, 16000, regions=regions), 1)
17.0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .vad import SpeechRegions, VoiceActivityDetector, detect_speech

__all__ = [
    "SNREstimate",
    "estimate_snr",
    "measure_snr",
    "snr_against_reference",
    "MIN_NOISE_SECONDS",
    "NOISE_MARGIN_S",
    "NOISE_PERCENTILE",
    "SNR_FLOOR_DB",
    "SNR_CEILING_DB",
]

log = logging.getLogger(__name__)

#: Seconds of non-speech needed to measure the noise in the pauses.
MIN_NOISE_SECONDS = 0.3
#: Seconds of non-speech ignored next to each speech region (speech tails, VAD slack).
NOISE_MARGIN_S = 0.05
#: Percentile of frame powers below which frames are taken as noise when there are no pauses.
NOISE_PERCENTILE = 10.0
#: Estimates are clipped to this range (dB): below, the speech is buried; above, noise is unmeasurable.
SNR_FLOOR_DB = -20.0
SNR_CEILING_DB = 80.0

_FRAME_S = 0.02
#: mean(noise frames below the 10th percentile) / mean(noise) for 20 ms frames of Gaussian noise
#: at 16 kHz; measured (seeded) and stable to ~0.1 dB across white and pink noise.
_PERCENTILE_BIAS = 0.88
_TINY = 1e-20


@dataclass(frozen=True)
class SNREstimate:
    """An SNR estimate and how it was obtained.

    Attributes
    ----------
    snr_db
        Active-speech SNR in dB, clipped to [:data:`SNR_FLOOR_DB`, :data:`SNR_CEILING_DB`]
        (``nan`` when there is no speech to measure).
    speech_power, noise_power
        Mean powers (linear) behind it (speech with the noise power subtracted).
    method
        ``"pauses"``, ``"percentile"`` or ``"none"`` (no speech).
    noise_seconds
        Seconds of signal the noise power was measured on.
    """

    snr_db: float
    speech_power: float
    noise_power: float
    method: str
    noise_seconds: float


def _frame_powers(x: np.ndarray, sample_rate: int) -> np.ndarray:
    n = max(1, int(round(_FRAME_S * sample_rate)))
    m = len(x) // n
    if m == 0:
        return np.array([np.mean(x.astype(np.float64) ** 2)]) if len(x) else np.zeros(0)
    return np.mean(x[: m * n].astype(np.float64).reshape(m, n) ** 2, axis=1)


def _remove_dc(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """``x`` minus the mean of each 20 ms frame (digital silence stays exactly 0)."""
    n = max(1, int(round(_FRAME_S * sample_rate)))
    if len(x) < n:
        return x - float(np.mean(x)) if len(x) else x
    m = len(x) // n
    means = x[: m * n].reshape(m, n).mean(axis=1)
    offset = np.repeat(means, n)
    tail = np.full(len(x) - m * n, means[-1])
    return x - np.concatenate([offset, tail])


def _db_ratio(speech_plus_noise: float, noise: float) -> tuple[float, float]:
    speech = max(speech_plus_noise - noise, 0.0)
    if noise <= _TINY:
        return SNR_CEILING_DB, speech
    if speech <= _TINY:
        return SNR_FLOOR_DB, speech
    return float(np.clip(10.0 * np.log10(speech / noise), SNR_FLOOR_DB, SNR_CEILING_DB)), speech


def measure_snr(
    samples: np.ndarray,
    sample_rate: int,
    *,
    regions: SpeechRegions | None = None,
    vad: str | VoiceActivityDetector = "silero",
) -> SNREstimate:
    """Estimate the active-speech SNR of mono ``samples``, with the details.

    Parameters
    ----------
    samples
        Mono float samples at ``sample_rate``.
    sample_rate
        Rate in Hz.
    regions
        Speech regions of ``samples`` (computed with ``vad`` when not given).
    vad
        Detector used when ``regions`` is not given.

    Returns
    -------
    SNREstimate
    """
    x = np.asarray(samples, dtype=np.float64)
    x = _remove_dc(x, sample_rate)  # a DC offset (cheap sound cards) is not noise
    if regions is None:
        regions = detect_speech(x.astype(np.float32), sample_rate, vad=vad)
    speech_mask = regions.mask(len(x), sample_rate)
    if not speech_mask.any():
        return SNREstimate(
            float("nan"), 0.0, float(np.mean(x**2)) if len(x) else 0.0, "none", len(x) / sample_rate
        )
    p_speech = float(np.mean(x[speech_mask] ** 2))
    noise_mask = np.zeros(len(x), dtype=bool)
    for a, b in regions.non_speech(margin=NOISE_MARGIN_S):
        noise_mask[int(round(a * sample_rate)) : int(round(b * sample_rate))] = True
    noise_s = noise_mask.sum() / sample_rate
    # the quietest frames of the whole signal are mostly noise
    powers = _frame_powers(x, sample_rate)
    low = powers[powers <= np.percentile(powers, NOISE_PERCENTILE)]
    p_quiet = float(np.mean(low)) / _PERCENTILE_BIAS
    if noise_s >= MIN_NOISE_SECONDS:
        # speech the VAD missed lands in the "pauses" and reads as noise as loud as the speech
        # (a clean synthetic clip read -20 dB): never take more noise than the quietest frames show
        p_noise = min(float(np.mean(x[noise_mask] ** 2)), p_quiet)
        snr, p_clean = _db_ratio(p_speech, p_noise)
        return SNREstimate(snr, p_clean, p_noise, "pauses", float(noise_s))
    snr, p_clean = _db_ratio(p_speech, p_quiet)
    return SNREstimate(snr, p_clean, p_quiet, "percentile", float(len(low) * _FRAME_S))


def estimate_snr(
    samples: np.ndarray,
    sample_rate: int,
    *,
    regions: SpeechRegions | None = None,
    vad: str | VoiceActivityDetector = "silero",
) -> float:
    """Active-speech SNR of mono ``samples`` in dB (``nan`` when no speech is found).

    See :func:`measure_snr` for the parameters and the module notes for the method.
    """
    return measure_snr(samples, sample_rate, regions=regions, vad=vad).snr_db


def snr_against_reference(estimate: np.ndarray, reference: np.ndarray) -> float:
    """SNR (dB) of ``estimate`` measured against the clean ``reference`` (same length, aligned).

    The reference is scaled by the least-squares gain first (scale-invariant SNR, i.e. SI-SDR),
    so a denoiser that changes the level is not penalised for it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.standard_normal(16000)
    >>> round(snr_against_reference(2 * s + 0.2 * rng.standard_normal(16000), s), 1)
    20.0
    """
    est = np.asarray(estimate, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    n = min(len(est), len(ref))
    est, ref = est[:n], ref[:n]
    gain = float(np.dot(est, ref) / max(np.dot(ref, ref), _TINY))
    target = gain * ref
    err = est - target
    return float(10.0 * np.log10(max(np.dot(target, target), _TINY) / max(np.dot(err, err), _TINY)))
