"""Blind signal-to-noise ratio estimation for one recording.

The SNR reported here is the *active-speech* SNR: mean power of the speech (inside the VAD's
speech regions, noise power subtracted) over the mean noise power, in dB.

The DC offset and drift are filtered out first (zero-phase high-pass at :data:`DC_CUTOFF_HZ`): a
DC offset is not noise (an offset of 0.1 on speech with 15 dB of white noise read 0.3 dB; 0.1 on
clean speech read 0.4 dB and got the clip down-weighted).

Two noise estimates are made, and one is chosen:

*Quiet frames* (method ``"percentile"``)
    The mean power of the 20 ms frames below the :data:`NOISE_PERCENTILE`-th percentile of frame
    powers, scaled by a factor calibrated on Gaussian noise (the quietest tenth of noise frames
    sits below the mean). Modulated noise such as babble has quiet frames far below its mean
    (4-5 dB for 5 talkers), so when the quietest frames are spread out (10th over 1st
    percentile > 3 dB) and the quietest :data:`SUSTAINED_NOISE_S` stretches (moving average of
    frame powers) are within 5.5 dB of them, a sustained noise floor is present: its level,
    the mean of the quietest tenth of those stretches, is taken instead. Stationary noise keeps
    that spread under ~2.5 dB; clean continuous speech, and speech over stationary noise at
    20 dB, have their quietest 300 ms stretches 9 dB or more above their quietest frames.
*Pauses* (method ``"pauses"``)
    When the recording has at least :data:`MIN_NOISE_SECONDS` outside the speech regions (after a
    :data:`NOISE_MARGIN_S` guard around each region): the mean power of the 20 ms pause frames,
    leaving out those more than 6 dB above the pause frames' 25th percentile (breaths, clicks,
    words the VAD missed). It is used unless it is more than :data:`PAUSE_EXCESS_DB` above the
    quiet-frames estimate of the audible frames: then the pauses mostly hold speech the VAD
    missed (an onset cut by the clip start, a tail, another talker), which would read as noise
    as loud as the speech, and the quiet-frames estimate is used. Stationary noise keeps the
    two within ~1 dB. Digital silence (frames below -100 dB) is a noise floor of zero for the
    whole clip and when it fills most of the pauses, but is ignored in pauses that also hold
    audible noise (zero padding around a noisy recording).

Why: the original estimator took the mean power outside the VAD regions as the noise. Silero
misses speech at the very start of a clip cut mid-word (the clean synthetic benchmark clip
``espeak-gb-anika_04``: the first 0.52 s "pause" held speech at -16 dB, louder than the detected
speech; 2-5 s crops of pyannote's real ``sample.wav`` starting at 8.0 s, where the other talker's
word runs to 8.35 s): the "noise" was as loud as the speech and the clip read -20 dB.

Measured with ``tests/clean``'s signals (error = estimate - true SNR): the 6 synthetic fixture
speakers (3 utterances with 0.6-1.3 s pauses) + seeded white, pink (1/f above 20 Hz) or 5-talker
babble (the other fixture speakers) at 0, 5, 10, 20 dB, silero VAD:

* with the pauses: white within 0.8 dB (mean -0.3), pink within 0.6 dB (mean +0.2), 5-talker
  babble within 1.9 dB (mean +0.3; up to 10 dB the VAD hears babble everywhere, and the
  sustained floor is what is measured);
* the same speech without its pauses: white within 1.7 dB (reads low at 20 dB, where quiet
  speech frames count as noise), pink within 1.8 dB, 5-talker babble within 4.9 dB (reads high
  at 5-10 dB).

Limits. Babble of fewer talkers is more modulated and still reads high (fixture with pauses,
mean error at 0/5/10/20 dB: 4 talkers +4/+2/0/+1 dB, up to +10; 3 talkers +10/+8/+4/+2;
2 talkers +13/+11/+9/+8). On the continuous benchmark clips with 4-talker babble
(``voxref.augment.add_babble``) the mean error is +2.4/+2.0/+2.6/+1.3 dB, from -5 to +10 dB.
Reverberant speech reads as somewhat noisy when it has no pauses longer than its tail (a
synthetic RIR with DRR 3 dB on every 6th clip of the 366-clip clean benchmark corpus,
median/minimum: 29.4/20.9 dB at RT60 0.3 s, 21.5/15.7 dB at 0.6 s, 17.7/12.8 dB at 0.9 s;
``sample.wav`` 11.5-16.5 s with DRR 5 dB: 24.4/18.0/15.1 dB). The sustained floor mistakes a
dense reverberant field for babble in a few crops (RT60 0.9 s: 4 of 24 five-second crops of
``sample.wav`` read 5-10 dB instead of 13-16 dB). In pauses longer than the tail,
reverberation does not count (fixture + RT60 0.9 s, DRR 3 dB + white noise at 30 dB: 28.9-29.6 dB).

Clean speech reads high: the clean benchmark corpus 16.5-80 dB (5th percentile 30 dB, median
46 dB); 3 s crops of ``sample.wav`` 18.7 dB and up, 5 s crops 21 dB and up (11.5-16.5 s: 30.4 dB).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> t = np.arange(48000) / 16000
>>> tone = 0.5 * np.sin(2 * np.pi * 200 * t) * (t > 1.0)  # 2 s "speech" after 1 s of pause
>>> x = tone + 0.05 * rng.standard_normal(48000)  # speech power 0.125, noise 0.0025 -> 17 dB
>>> from voxref.cleaning.vad import SpeechRegions
>>> regions = SpeechRegions(((1.0, 3.0),), np.zeros(0), 0.032, 3.0)
>>> round(estimate_snr(x, 16000, regions=regions), 1)
17.0
>>> round(estimate_snr(x + 0.2, 16000, regions=regions), 1)  # a DC offset changes nothing
17.0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .vad import SpeechRegions, VoiceActivityDetector, detect_speech

__all__ = [
    "SNREstimate",
    "estimate_snr",
    "measure_snr",
    "remove_dc",
    "snr_against_reference",
    "DC_CUTOFF_HZ",
    "MIN_NOISE_SECONDS",
    "NOISE_MARGIN_S",
    "NOISE_PERCENTILE",
    "PAUSE_EXCESS_DB",
    "SUSTAINED_NOISE_S",
    "SNR_FLOOR_DB",
    "SNR_CEILING_DB",
]

log = logging.getLogger(__name__)

#: Seconds of non-speech needed to measure the noise in the pauses.
MIN_NOISE_SECONDS = 0.3
#: Seconds of non-speech ignored next to each speech region (speech tails, VAD slack).
NOISE_MARGIN_S = 0.05
#: Percentile of frame powers below which frames are the "quiet frames".
NOISE_PERCENTILE = 10.0
#: Pause noise more than this (dB) above the quiet-frames estimate is taken for missed speech.
PAUSE_EXCESS_DB = 4.0
#: Length (s) of the stretches whose quietest level is a sustained (babble-like) noise floor.
SUSTAINED_NOISE_S = 0.3
#: Cut-off (Hz) of the high-pass that removes the DC offset and drift before measuring.
DC_CUTOFF_HZ = 10.0
#: Estimates are clipped to this range (dB): below, the speech is buried; above, noise is unmeasurable.
SNR_FLOOR_DB = -20.0
SNR_CEILING_DB = 80.0

_FRAME_S = 0.02
#: mean(noise frames below the 10th percentile) / mean(noise) for 20 ms frames of Gaussian noise
#: at 16 kHz; measured (seeded) and stable to ~0.1 dB across white and pink noise.
_PERCENTILE_BIAS = 0.88
#: 10th over 1st percentile of frame powers above which the quiet frames are not one steady level
#: (speech in white/pink noise at 0-10 dB: 0.3-2.3 dB; in 5-talker babble: 3.5-8 dB).
_QUIET_SPREAD = 10 ** (3.0 / 10)
#: The sustained floor is used when within this factor (5.5 dB) of the quiet-frames estimate.
_SUSTAINED_MAX = 10 ** (5.5 / 10)
#: Pause frames more than this factor (6 dB) above the :data:`_PAUSE_ANCHOR`-th percentile of the
#: pause frames are left out (breaths, clicks, words the VAD missed).
_PAUSE_OUTLIER = 10 ** (6.0 / 10)
_PAUSE_ANCHOR = 25.0
#: Frames below this power (-100 dB re full scale) are digital silence.
_SILENT = 1e-10
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
        ``"pauses"``, ``"percentile"`` (the quiet-frames estimate) or ``"none"`` (no speech).
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


def remove_dc(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """``x`` high-passed at :data:`DC_CUTOFF_HZ` (2nd-order Butterworth, forward and backward).

    A 10 Hz cut-off removes offsets and drift but leaves real low-frequency noise: pink noise
    (1/f above 20 Hz) loses 0.3 dB of its power (per-frame mean removal, tried first, 1.5 dB).
    Computed in float64.
    """
    from scipy.signal import sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    from ..audio.level import butter_sos

    sos = butter_sos(2, float(DC_CUTOFF_HZ), "highpass", float(sample_rate))
    if len(x) <= 3 * (2 * len(sos) + 1):  # too short for the filter's edge padding
        return x - float(np.mean(x)) if len(x) else x
    return sosfiltfilt(sos, x)


def _db_ratio(speech_plus_noise: float, noise: float) -> tuple[float, float]:
    speech = max(speech_plus_noise - noise, 0.0)
    if noise <= _TINY:
        return SNR_CEILING_DB, speech
    if speech <= _TINY:
        return SNR_FLOOR_DB, speech
    return float(np.clip(10.0 * np.log10(speech / noise), SNR_FLOOR_DB, SNR_CEILING_DB)), speech


def _quiet_frames_power(powers: np.ndarray, *, count_silence: bool) -> tuple[float, float]:
    """Noise power from the quietest frames of the whole signal, and the seconds it rests on.

    With ``count_silence`` false, digital silence (frames below -100 dB) is left out: the
    estimate is then the noise of the audible part (what the pauses are checked against).
    """
    audible = powers > _SILENT
    pool = powers if count_silence else powers[audible]
    if pool.size == 0:
        return 0.0, 0.0
    low = pool[pool <= np.percentile(pool, NOISE_PERCENTILE)]
    quiet = float(np.mean(low)) / _PERCENTILE_BIAS
    n = int(round(SUSTAINED_NOISE_S / _FRAME_S))
    loud = powers[audible]
    if quiet > _TINY and loud.size >= 3 * n:
        p1, p10 = np.percentile(loud, [1.0, NOISE_PERCENTILE])
        if p10 > _QUIET_SPREAD * p1:
            # the quietest frames are spread out: is there a sustained (babble-like) floor?
            box = np.ones(n)
            stretches = np.convolve(powers, box / n, mode="valid")
            stretches = stretches[np.convolve(~audible, box, mode="valid") < 0.5]  # no silence
            if stretches.size:
                low_stretches = stretches[stretches <= np.percentile(stretches, NOISE_PERCENTILE)]
                floor = float(np.mean(low_stretches))
                if quiet < floor <= _SUSTAINED_MAX * quiet:
                    return floor, len(low) * _FRAME_S
    return quiet, len(low) * _FRAME_S


def _pause_power(x: np.ndarray, sample_rate: int) -> float:
    """Mean power of the pause samples ``x`` without the frames far above their quieter part.

    Frames more than :data:`_PAUSE_OUTLIER` above the :data:`_PAUSE_ANCHOR`-th percentile of the
    pause frames are left out. Digital silence (frames below -100 dB) is left out when it is a
    minority of the frames (a recording padded with zeros still has its noise measured); when
    most of the pauses are digital silence, they are silence (an edited or synthetic recording).
    """
    powers = _frame_powers(x, sample_rate)
    if np.median(powers) <= _SILENT:
        return float(np.mean(powers[powers <= _SILENT]))
    audible = powers[powers > _SILENT]
    anchor = float(np.percentile(audible, _PAUSE_ANCHOR))
    return float(np.mean(audible[audible <= _PAUSE_OUTLIER * anchor]))


def measure_snr(
    samples: np.ndarray,
    sample_rate: int,
    *,
    regions: SpeechRegions | None = None,
    vad: str | VoiceActivityDetector = "silero",
    highpassed: np.ndarray | None = None,
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
    highpassed
        ``remove_dc(samples, sample_rate)`` when already computed (e.g. beside the VAD);
        computed here when ``None``.

    Returns
    -------
    SNREstimate
    """
    x = np.asarray(samples, dtype=np.float64)
    if highpassed is None:
        x = remove_dc(x, sample_rate)  # a DC offset (cheap sound cards) is not noise
    elif highpassed.shape != x.shape:
        raise ConfigError(
            f"highpassed has shape {highpassed.shape}, samples {x.shape}; pass "
            "remove_dc(samples, sample_rate) or None."
        )
    else:
        x = highpassed
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
    powers = _frame_powers(x, sample_rate)
    if noise_s >= MIN_NOISE_SECONDS:
        p_pause = _pause_power(x[noise_mask], sample_rate)
        p_audible, _ = _quiet_frames_power(powers, count_silence=False)
        if p_pause <= 10 ** (PAUSE_EXCESS_DB / 10) * p_audible:
            snr, p_clean = _db_ratio(p_speech, p_pause)
            return SNREstimate(snr, p_clean, p_pause, "pauses", float(noise_s))
        # speech the VAD missed lands in the "pauses" and reads as noise as loud as the speech
        log.debug(
            "SNR: pause power %.3g is %.1f dB above the quiet frames: missed speech, not noise",
            p_pause,
            10 * np.log10(p_pause / max(p_audible, _TINY)),
        )
    # digital silence counts here: a synthetic or edited clip's silent gaps hold no noise
    p_quiet, quiet_s = _quiet_frames_power(powers, count_silence=True)
    snr, p_clean = _db_ratio(p_speech, p_quiet)
    return SNREstimate(snr, p_clean, p_quiet, "percentile", float(quiet_s))


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
