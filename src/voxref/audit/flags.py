"""Turn a clip's measurements into reasons to drop it from a TTS training set, with a score.

Each reason compares one measurement (:class:`voxref.audit.measure.ClipMeasures`) with a
threshold. The *strength* of a reason is a logistic ramp of how far past its threshold the clip
is (0.5 exactly at the threshold, about 0.9 one ``scale`` past it); a clip is flagged when any
reason's strength is at least 0.5, and its **score** is its strongest reason's strength (1.0 for
a clip that could not be used at all). The report lists clips by score, worst first.

=================  ===============================================================  ==========
reason             flagged when                                                     threshold
=================  ===============================================================  ==========
``silent``         no speech found (or digital silence)                             --
``unreadable``     the file cannot be read or decoded                               --
``too_short``      speech shorter than :data:`TOO_SHORT_SPEECH_S`                   1.0 s
``wrong_speaker``  cosine to the speaker's centroid below the speaker's median
                   clip cosine by more than :data:`WRONG_SPEAKER_DROP`              0.25
``second_voice``   share of speech frames with 2+ voices above
                   :data:`SECOND_VOICE_OVERLAP`, or window cosines spread over
                   more than :data:`SECOND_VOICE_SPREAD` (another voice takes
                   over part of the clip)                                            0.35 / 0.15
``noisy``          estimated SNR below :data:`NOISY_SNR_DB`                         10 dB
``clipped``        clipped-sample fraction above :data:`CLIPPED_RATIO`              0.2 %
``narrowband``     bandwidth below :data:`NARROWBAND_HZ` (or recorded below 16 kHz)  4.5 kHz
``level_outlier``  speech level more than :data:`LEVEL_OUTLIER_DB` from the
                   speaker's median level                                           10 dB
=================  ===============================================================  ==========

How the thresholds were chosen: on planted-fault sets built from the tuning voices (the six
espeak-ng / flite awb, slt, kal voices of :mod:`voxref.separation.synthetic`, 12 clean clips and
one clip per fault kind each; ``benchmarks/audit``), as round values between what the clean clips
and the planted clips measured there; precision and recall per kind on other voices are in
BENCHMARKS.md ("TTS dataset audit"). :data:`NOISY_SNR_DB` and :data:`NARROWBAND_HZ` are the
quality report's "weak" thresholds (:mod:`voxref.clean.quality`). On real recordings the
spread of clean clips is wider than on synthetic voices: read the report's top rows before
trusting a threshold, and pass ``thresholds=`` to change one.

Examples
--------
>>> from voxref.audit.measure import ClipMeasures
>>> clean = ClipMeasures("a", "s", "a.wav", "ok", speech_s=3.0, snr_db=30.0, cosine=0.95,
...                      clipping_ratio=0.0, level_dbfs=-24.0, bandwidth_hz=8000.0)
>>> noisy = ClipMeasures("b", "s", "b.wav", "ok", speech_s=3.0, snr_db=2.0, cosine=0.93,
...                      clipping_ratio=0.0, level_dbfs=-23.0, bandwidth_hz=8000.0)
>>> [(f.clip_id, f.flagged, f.reasons) for f in flag_clips([clean, noisy])]
[('a', False, []), ('b', True, ['noisy'])]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from .measure import ClipMeasures

__all__ = [
    "REASONS",
    "DEFAULT_THRESHOLDS",
    "ClipFlags",
    "flag_clips",
    "TOO_SHORT_SPEECH_S",
    "WRONG_SPEAKER_DROP",
    "SECOND_VOICE_OVERLAP",
    "SECOND_VOICE_SPREAD",
    "NOISY_SNR_DB",
    "CLIPPED_RATIO",
    "NARROWBAND_HZ",
    "LEVEL_OUTLIER_DB",
]

#: Every reason a clip can be flagged for, in the order the report lists them.
REASONS = (
    "unreadable",
    "silent",
    "too_short",
    "wrong_speaker",
    "second_voice",
    "noisy",
    "clipped",
    "narrowband",
    "level_outlier",
)

#: Less speech than this (s) is too little for a TTS training clip (a truncated recording).
TOO_SHORT_SPEECH_S = 1.0
#: A clip whose cosine to the speaker's centroid is this much below the speaker's median clip
#: cosine is another voice.
WRONG_SPEAKER_DROP = 0.25
#: Share of the speech frames where the speaker counter hears two or more voices.
SECOND_VOICE_OVERLAP = 0.35
#: Spread (max - min) of a clip's window cosines to the centroid: one voice gives a flat profile.
SECOND_VOICE_SPREAD = 0.15
#: Estimated SNR (dB) below which a clip is noisy (the quality report's "weak" threshold).
NOISY_SNR_DB = 10.0
#: Fraction of samples in flat runs at full scale above which a clip is clipped.
CLIPPED_RATIO = 0.002
#: Effective bandwidth (Hz) below which a clip is narrowband (the quality report's threshold).
NARROWBAND_HZ = 4500.0
#: Distance (dB) of a clip's speech level from its speaker's median level.
LEVEL_OUTLIER_DB = 10.0

#: Threshold per tunable reason (``thresholds=`` of :func:`flag_clips` overrides entries).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "too_short": TOO_SHORT_SPEECH_S,
    "wrong_speaker": WRONG_SPEAKER_DROP,
    "second_voice_overlap": SECOND_VOICE_OVERLAP,
    "second_voice_spread": SECOND_VOICE_SPREAD,
    "noisy": NOISY_SNR_DB,
    "clipped": CLIPPED_RATIO,
    "narrowband": NARROWBAND_HZ,
    "level_outlier": LEVEL_OUTLIER_DB,
}

# the logistic ramp's scale per threshold: strength 0.5 at the threshold, ~0.9 one scale past it
_SCALES = {
    "too_short": 0.25,
    "wrong_speaker": 0.05,
    "second_voice_overlap": 0.1,
    "second_voice_spread": 0.05,
    "noisy": 3.0,
    "clipped": 0.001,
    "narrowband": 500.0,
    "level_outlier": 3.0,
}
_LOGIT_09 = math.log(9.0)


@dataclass
class ClipFlags:
    """The audit's verdict on one clip.

    Attributes
    ----------
    clip_id, speaker
        Which clip.
    reasons
        Reasons it is flagged (from :data:`REASONS`, strongest first); empty: keep it.
    strengths
        Strength in [0, 1] of every reason that was evaluated (flagged at >= 0.5).
    score
        The strongest reason's strength (0: nothing wrong measured; 1: unusable).
    details
        One human-readable line per flagged reason (the measured value and the threshold).
    measures
        The clip's measurements.
    """

    clip_id: str
    speaker: str
    reasons: list[str] = field(default_factory=list)
    strengths: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    details: list[str] = field(default_factory=list)
    measures: ClipMeasures | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)


def _strength(excess: float, scale: float) -> float:
    """Logistic ramp of how far past its threshold a value is (0.5 at 0, 0.9 at ``scale``)."""
    z = max(-50.0, min(50.0, _LOGIT_09 * excess / scale))
    return 1.0 / (1.0 + math.exp(-z))


def _check(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    t = dict(DEFAULT_THRESHOLDS)
    for k, v in (thresholds or {}).items():
        if k not in t:
            raise ConfigError(f"unknown threshold {k!r}; use one of {sorted(t)}.")
        t[k] = float(v)
    return t


def _is_silent(m: ClipMeasures) -> bool:
    text = f"{m.error} {m.reason}".lower()
    return (
        "no speech" in text
        or "silence" in text
        or "silent" in text
        or m.error
        in (
            "EmptyAudioError",
            "SilentAudioError",
            "NoSpeechError",
        )
    )


def flag_clips(
    measures: Sequence[ClipMeasures], *, thresholds: Mapping[str, float] | None = None
) -> list[ClipFlags]:
    """Flag every clip (input order); level and cosine are judged within each speaker.

    Parameters
    ----------
    measures
        :func:`voxref.audit.measure.clip_measures` of the whole set.
    thresholds
        Overrides of :data:`DEFAULT_THRESHOLDS` entries.
    """
    t = _check(thresholds)
    by_speaker: dict[str, list[ClipMeasures]] = {}
    for m in measures:
        by_speaker.setdefault(m.speaker, []).append(m)
    median_cos: dict[str, float] = {}
    median_level: dict[str, float] = {}
    for spk, ms in by_speaker.items():
        cos = [m.cosine for m in ms if m.cosine is not None]
        lev = [m.level_dbfs for m in ms if m.status == "ok" and m.level_dbfs is not None]
        if cos:
            median_cos[spk] = float(np.median(cos))
        if lev:
            median_level[spk] = float(np.median(lev))
    return [
        _flag_one(m, t, median_cos.get(m.speaker), median_level.get(m.speaker)) for m in measures
    ]


def _flag_one(
    m: ClipMeasures, t: dict[str, float], med_cos: float | None, med_level: float | None
) -> ClipFlags:
    f = ClipFlags(m.clip_id, m.speaker, measures=m)
    s: dict[str, float] = {}
    why: dict[str, str] = {}
    if m.status != "ok":
        if _is_silent(m):
            s["silent"], why["silent"] = 1.0, f"silent: {m.reason or 'no speech'}"
        elif m.error == "TooShortAudioError" or "of speech" in m.reason:
            s["too_short"], why["too_short"] = 1.0, f"too short: {m.reason}"
        else:
            s["unreadable"], why["unreadable"] = 1.0, f"unusable: {m.reason or m.error}"
        f.strengths = s
        f.reasons = list(s)
        f.details = [why[r] for r in f.reasons]
        f.score = 1.0
        return f
    if m.speech_s is not None:
        th = t["too_short"]
        s["too_short"] = _strength(th - m.speech_s, _SCALES["too_short"])
        why["too_short"] = f"too short: {m.speech_s:.2f} s of speech (< {th:g} s)"
    if m.cosine is not None and med_cos is not None:
        th = t["wrong_speaker"]
        drop = med_cos - m.cosine
        s["wrong_speaker"] = _strength(drop - th, _SCALES["wrong_speaker"])
        why["wrong_speaker"] = (
            f"wrong speaker: cosine {m.cosine:.2f} to the speaker's centroid, {drop:.2f} below "
            f"the speaker's median {med_cos:.2f} (> {th:g})"
        )
    second = []
    if m.overlap_ratio is not None:
        th = t["second_voice_overlap"]
        second.append(_strength(m.overlap_ratio - th, _SCALES["second_voice_overlap"]))
    spread = m.window_spread
    if spread is not None:
        th = t["second_voice_spread"]
        second.append(_strength(spread - th, _SCALES["second_voice_spread"]))
    if second:
        s["second_voice"] = max(second)
        why["second_voice"] = (
            "second voice: "
            + (
                f"{100 * m.overlap_ratio:.0f}% of speech frames with 2+ voices"
                if m.overlap_ratio is not None
                else ""
            )
            + (f", window cosines spread {spread:.2f}" if spread is not None else "")
            + f" (> {100 * t['second_voice_overlap']:g}% / {t['second_voice_spread']:g})"
        )
    if m.snr_db is not None:
        th = t["noisy"]
        s["noisy"] = _strength(th - m.snr_db, _SCALES["noisy"])
        why["noisy"] = f"noisy: estimated SNR {m.snr_db:.1f} dB (< {th:g} dB)"
    if m.clipping_ratio is not None:
        th = t["clipped"]
        s["clipped"] = _strength(m.clipping_ratio - th, _SCALES["clipped"])
        why["clipped"] = (
            f"clipped: {100 * m.clipping_ratio:.2f}% of samples at full scale (> {100 * th:g}%)"
        )
    th = t["narrowband"]
    if m.original_sample_rate is not None and m.original_sample_rate < 16_000:
        s["narrowband"] = 1.0
        why["narrowband"] = f"narrowband: recorded at {m.original_sample_rate} Hz"
    elif m.bandwidth_hz is not None and m.bandwidth_hz > 0:
        s["narrowband"] = _strength(th - m.bandwidth_hz, _SCALES["narrowband"])
        why["narrowband"] = (
            f"narrowband: ~{m.bandwidth_hz / 1000:.1f} kHz of bandwidth (< {th / 1000:g} kHz)"
        )
    if m.level_dbfs is not None and med_level is not None:
        th = t["level_outlier"]
        d = m.level_dbfs - med_level
        s["level_outlier"] = _strength(abs(d) - th, _SCALES["level_outlier"])
        why["level_outlier"] = (
            f"level outlier: speech at {m.level_dbfs:.0f} dBFS, {d:+.0f} dB from the speaker's "
            f"median (> {th:g} dB)"
        )
    f.strengths = {k: round(v, 4) for k, v in s.items()}
    f.reasons = sorted((k for k, v in s.items() if v >= 0.5), key=lambda k: -s[k])
    f.details = [why[r] for r in f.reasons]
    f.score = round(max(s.values()), 4) if s else 0.0
    return f


def summary_counts(flags: Sequence[ClipFlags]) -> dict[str, Any]:
    """Clips flagged per reason, and in total."""
    counts = {r: 0 for r in REASONS}
    for f in flags:
        for r in f.reasons:
            counts[r] += 1
    return {"clips": len(flags), "flagged": sum(f.flagged for f in flags), "by_reason": counts}
