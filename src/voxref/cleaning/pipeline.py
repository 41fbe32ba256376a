"""The cleaning stage: load -> find speech -> measure -> denoise -> keep the speech.

:func:`clean` takes one reference recording (anything :func:`voxref.audio.load_audio` accepts) and
returns a :class:`CleanResult`: the denoised recording (full length), its speech regions
concatenated (what a speaker encoder should see), the regions, and a
:class:`~voxref.cleaning.quality.QualityReport`. Every conversion is appended to ``Audio.history``.
The recording is measured as given (before denoising; clipping, peak, DC and level on the samples
as read, before resampling and downmix: ``Audio.as_read``): the report describes the reference,
not voxref's repair of it.

A recording that holds no usable speech is not an error here: the report says ``"reject"`` and
why, and :meth:`CleanResult.raise_if_rejected` turns that into a typed error for callers that
want one. Only undecodable inputs raise (:class:`~voxref.errors.AudioError` subclasses).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio.load import AudioInput, load_audio, to_mono_float
from ..audio.samples import array_from
from ..audio.signal import Audio
from ..audio.timeline import span_samples
from ..errors import AudioError, NoSpeechError, SilentAudioError, TooShortAudioError
from .denoise import AUTO_SNR_THRESHOLD_DB, DEFAULT_POLICY, AutoDenoiser, Denoiser, get_denoiser
from .quality import REJECT_MIN_SPEECH_S, QualityReport, assess
from .reverb import decay_time
from .snr import SNREstimate, measure_snr, remove_dc
from .vad import SpeechRegions, VoiceActivityDetector, detect_speech

__all__ = ["CleanResult", "clean", "check", "concatenate_regions", "DEFAULT_FADE_S"]

log = logging.getLogger(__name__)

#: Raised-cosine fade (s) applied at both ends of each kept speech region, so joins do not click.
DEFAULT_FADE_S = 0.01


@dataclass(frozen=True)
class CleanResult:
    """One cleaned reference.

    Attributes
    ----------
    speech
        The speech regions of :attr:`denoised`, concatenated (what the encoder gets). Empty when no
        speech was found.
    denoised
        The whole recording after denoising (same length and timeline as the input).
    regions
        Speech regions on the input's timeline.
    report
        Quality of the input recording and the verdict.
    denoiser
        Name of the denoiser that ran (``"off"`` when none did).
    """

    speech: Audio
    denoised: Audio
    regions: SpeechRegions
    report: QualityReport
    denoiser: str = "off"

    @property
    def audio(self) -> Audio:
        """Alias of :attr:`speech`."""
        return self.speech

    @property
    def source(self) -> str:
        return self.report.source

    def raise_if_rejected(self) -> CleanResult:
        """Raise the matching typed error when the report's verdict is ``"reject"``; else return self.

        Raises
        ------
        NoSpeechError
            No (or too little) speech was found.
        TooShortAudioError, AudioError
            Otherwise rejected (noise, clipping...); the message lists the reasons.
        """
        r = self.report
        if r.verdict != "reject":
            return self
        why = "; ".join(r.reasons)
        if r.speech_s <= 0 or r.fatal:
            raise NoSpeechError(
                f"{why}. Give a recording in which the target voice speaks.", r.source
            )
        if r.speech_s < r.min_speech_s:
            raise TooShortAudioError(f"{why}. Give a longer clip of the target voice.", r.source)
        raise AudioError(
            f"rejected: {why}. Give a cleaner recording of the target voice.", r.source
        )


def concatenate_regions(
    samples: np.ndarray, sample_rate: int, regions: SpeechRegions, *, fade: float = DEFAULT_FADE_S
) -> np.ndarray:
    """The samples inside ``regions``, joined, each region faded in and out over ``fade`` seconds.

    Examples
    --------
    >>> r = SpeechRegions(((0.0, 0.5), (1.0, 1.25)), np.zeros(0), 0.032, 2.0)
    >>> y = concatenate_regions(np.ones(200, np.float32), 100, r, fade=0.0)
    >>> y.shape, float(y.sum())
    ((75,), 75.0)
    """
    x = np.asarray(samples, dtype=np.float32)
    n_fade = int(round(fade * sample_rate))
    parts = []
    for a, b in span_samples(list(regions), sample_rate):
        seg = x[a:b].copy()
        k = min(n_fade, len(seg) // 2)
        if k > 0:
            ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)).astype(np.float32)
            seg[:k] *= ramp
            seg[-k:] *= ramp[::-1]
        parts.append(seg)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _silent_audio(
    x: AudioInput, sample_rate: int | None, target_sr: int, source: str | None
) -> Audio:
    """Zeros standing in for a digitally silent input (which ``load_audio`` refuses)."""
    if isinstance(x, Audio):
        n, orig, name = (
            round(len(x.samples) * target_sr / x.sample_rate),
            x.original_sample_rate,
            x.source,
        )
    elif isinstance(x, (str, os.PathLike)):
        import soundfile as sf

        info = sf.info(str(x))
        n, orig, name = (
            round(info.frames * target_sr / info.samplerate),
            int(info.samplerate),
            str(x),
        )
    else:
        if isinstance(x, tuple) and len(x) == 2 and np.isscalar(x[1]):
            x, sample_rate = x
        mono, _ = to_mono_float(array_from(x, source or "<array>"))
        orig = int(sample_rate or target_sr)
        n, name = round(len(mono) * target_sr / orig), source or "<array>"
    return Audio(
        np.zeros(int(n), np.float32),
        int(target_sr),
        source=source or name,
        original_sample_rate=orig,
    )


def _load(
    x: AudioInput, sample_rate: int | None, target_sr: int, source: str | None
) -> tuple[Audio, str | None]:
    try:
        return load_audio(x, target_sr, sample_rate=sample_rate, source=source), None
    except SilentAudioError:
        return _silent_audio(x, sample_rate, target_sr, source), "digital silence (all samples ~0)"


def _analyse(
    x: AudioInput,
    sample_rate: int | None,
    *,
    vad: str | VoiceActivityDetector,
    min_speech: float,
    report_dnsmos: bool,
    target_sample_rate: int,
    source: str | None,
    on_regions: Callable[[Audio, SpeechRegions], None] | None = None,
    beside: Callable[[Callable[[], Any]], Callable[[], Any]] | None = None,
) -> tuple[Audio, SpeechRegions, SNREstimate, QualityReport]:
    audio, fatal = _load(x, sample_rate, target_sample_rate, source)
    if fatal:
        regions = SpeechRegions((), np.zeros(0, np.float32), 0.032, audio.duration, "none")
        snr = SNREstimate(float("nan"), 0.0, 0.0, "none", 0.0)
        report = QualityReport.rejected(
            audio.source,
            fatal,
            duration_s=audio.duration,
            sample_rate=audio.sample_rate,
            original_sample_rate=audio.original_sample_rate,
        )
        return audio, regions, snr, report
    pending = None
    if beside is not None:  # the parts of the SNR and the report that do not need the regions

        def unaided() -> tuple[np.ndarray, float]:
            return (
                remove_dc(audio.samples, audio.sample_rate),
                decay_time(np.asarray(audio.samples, np.float32), int(audio.sample_rate)),
            )

        pending = beside(unaided)
    regions = detect_speech(audio.samples, audio.sample_rate, vad=vad)
    if on_regions is not None:
        on_regions(audio, regions)
    highpassed, decay = pending() if pending is not None else (None, None)
    snr = measure_snr(audio.samples, audio.sample_rate, regions=regions, highpassed=highpassed)
    scores = None
    if report_dnsmos:
        from .dnsmos import dnsmos_scores

        scores = dnsmos_scores(audio.samples, audio.sample_rate)
    report = assess(
        audio.source,
        audio.samples,
        audio.sample_rate,
        regions,
        snr,
        original_sample_rate=audio.original_sample_rate,
        dnsmos=scores,
        min_speech_s=min_speech,
        as_read=audio.as_read,
        decay_s=decay,
    )
    return audio, regions, snr, report


def check(
    audio: AudioInput,
    sample_rate: int | None = None,
    *,
    vad: str | VoiceActivityDetector = "silero",
    min_speech: float = REJECT_MIN_SPEECH_S,
    report_dnsmos: bool = False,
    target_sample_rate: int = 16_000,
    source: str | None = None,
) -> QualityReport:
    """The :class:`QualityReport` of one recording, without denoising it.

    Parameters are those of :func:`clean`. Raises only for inputs that cannot be decoded.
    """
    return _analyse(
        audio,
        sample_rate,
        vad=vad,
        min_speech=min_speech,
        report_dnsmos=report_dnsmos,
        target_sample_rate=target_sample_rate,
        source=source,
    )[3]


def clean(
    audio: AudioInput,
    sample_rate: int | None = None,
    *,
    vad: str | VoiceActivityDetector = "silero",
    denoise: str | Denoiser = DEFAULT_POLICY,
    snr_threshold_db: float = AUTO_SNR_THRESHOLD_DB,
    min_speech: float = REJECT_MIN_SPEECH_S,
    report_dnsmos: bool = False,
    target_sample_rate: int = 16_000,
    fade: float = DEFAULT_FADE_S,
    source: str | None = None,
) -> CleanResult:
    """Clean one reference recording: find its speech, measure it, denoise it, keep the speech.

    Parameters
    ----------
    audio
        A path, an array/tensor (give ``sample_rate``), an ``(array, sample_rate)`` pair or an
        :class:`~voxref.audio.Audio`.
    sample_rate
        Rate of an array/tensor input.
    vad
        Voice activity detector: ``"silero"`` (bundled Silero VAD, ONNX), ``"energy"``, or an object
        (see :func:`voxref.cleaning.vad.get_vad`).
    denoise
        Policy ``"off"``, ``"gate"``, ``"gate-stationary"``, ``"dfn3"``, ``"dfn3-lim<N>"``,
        ``"auto"`` (below ``snr_threshold_db`` of estimated SNR: DeepFilterNet3 for stationary
        noise, DeepFilterNet3 limited to 6 dB for babble, nothing otherwise; see
        :mod:`voxref.cleaning.denoise`), or a :class:`~voxref.cleaning.denoise.Denoiser`.
    snr_threshold_db
        Threshold of the ``"auto"`` policy.
    min_speech
        Recordings with less speech (s) are rejected.
    report_dnsmos
        Also compute DNSMOS scores of the input (slow: 2-4 s per clip; needs ``speechmos``).
    target_sample_rate
        Rate of the returned audio.
    fade
        Fade (s) at the edges of each kept speech region.
    source
        Name of the input in reports and messages.

    Returns
    -------
    CleanResult

    Raises
    ------
    voxref.errors.AudioError
        When the input cannot be decoded (missing, unreadable, empty, NaN...). A recording without
        speech is not an error: see :meth:`CleanResult.raise_if_rejected`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noise = 0.01 * rng.standard_normal(2 * 16000).astype(np.float32)
    >>> r = clean((noise, 16000), denoise="off")
    >>> r.report.verdict, r.report.reasons, r.speech.num_samples
    ('reject', ['no speech detected'], 0)
    """
    return clean_in_schedule(
        audio,
        sample_rate,
        vad=vad,
        denoise=denoise,
        snr_threshold_db=snr_threshold_db,
        min_speech=min_speech,
        report_dnsmos=report_dnsmos,
        target_sample_rate=target_sample_rate,
        fade=fade,
        source=source,
    )


def clean_in_schedule(
    audio: AudioInput,
    sample_rate: int | None = None,
    *,
    vad: str | VoiceActivityDetector = "silero",
    denoise: str | Denoiser = DEFAULT_POLICY,
    snr_threshold_db: float = AUTO_SNR_THRESHOLD_DB,
    min_speech: float = REJECT_MIN_SPEECH_S,
    report_dnsmos: bool = False,
    target_sample_rate: int = 16_000,
    fade: float = DEFAULT_FADE_S,
    source: str | None = None,
    on_regions: Callable[[Audio, SpeechRegions], None] | None = None,
    beside: Callable[[Callable[[], Any]], Callable[[], Any]] | None = None,
) -> CleanResult:
    """:func:`clean` with two hooks for voxref's own thread schedule
    (:mod:`voxref.pipeline.preparing`); not part of the public surface. Without hooks it is
    :func:`clean`.

    Parameters
    ----------
    on_regions
        Called with the loaded recording and its speech regions as soon as they are found,
        before the SNR, the quality report and denoising: a caller can start work on the
        undenoised speech (:func:`concatenate_regions` of it) meanwhile, and keep it when the
        returned :attr:`CleanResult.speech` turns out to be that speech.
    beside
        Runs work side by side with this call: ``beside(fn)`` starts ``fn()`` (on another
        thread, or now) and returns a function that gives its result. Given one, the parts of
        the SNR estimate and the quality report that do not need the speech regions (the DC
        high-pass, the decay time) run beside the voice activity detector; the result is the
        same. ``None``: everything in this thread, in order.
    audio, sample_rate, vad, denoise, snr_threshold_db, min_speech, report_dnsmos,
    target_sample_rate, fade, source
        As :func:`clean`.
    """
    base, regions, snr, report = _analyse(
        audio,
        sample_rate,
        vad=vad,
        min_speech=min_speech,
        report_dnsmos=report_dnsmos,
        target_sample_rate=target_sample_rate,
        source=source,
        on_regions=on_regions,
        beside=beside,
    )
    denoiser = get_denoiser(denoise, threshold_db=snr_threshold_db)
    sr = base.sample_rate
    if regions.is_empty:
        denoised = base.replace(base.samples, "denoise skipped: no speech")
        chosen_name = "off"
    else:
        note = ""
        chosen = denoiser
        if isinstance(denoiser, AutoDenoiser):
            from .noise_profile import noise_modulation

            threshold = denoiser.threshold_db
            note = f" (auto: estimated SNR {snr.snr_db:.1f} dB, threshold {threshold:g} dB;"
            if denoiser.noisy(snr.snr_db):  # the modulation decides only below the threshold
                modulation = noise_modulation(base.samples, sr)
                chosen = denoiser.choose(snr.snr_db, modulation)
                note += (
                    f" noise modulation {modulation:.2f}, stationary below "
                    f"{denoiser.max_modulation:g}, babble-like below "
                    f"{denoiser.max_babble_modulation:g})"
                )
            else:
                chosen = denoiser.choose(snr.snr_db)
                note += " noise modulation not needed)"
        chosen_name = chosen.name
        if chosen.name == "off":
            denoised = base.replace(base.samples, f"denoise off{note}" if note else None)
        else:
            log.debug("%s: denoising with %s", base.source, chosen.name)
            denoised = base.replace(
                chosen.denoise(base.samples, sr), f"denoise {chosen.name}{note}"
            )
    speech_samples = concatenate_regions(denoised.samples, sr, regions, fade=fade)
    speech = denoised.replace(
        speech_samples,
        f"vad {regions.backend}: kept {len(regions)} speech regions, {regions.speech_duration:.2f} s "
        f"of {regions.duration:.2f} s (concatenated, {1000 * fade:g} ms fades)",
    )
    return CleanResult(
        speech=speech, denoised=denoised, regions=regions, report=report, denoiser=chosen_name
    )
