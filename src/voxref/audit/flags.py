"""Turn a clip's measurements into reasons to drop it from a TTS training set, with a score.

Each reason compares one measurement (:class:`voxref.audit.measure.ClipMeasures`) with a
threshold. The *strength* of a reason is a logistic ramp of how far past its threshold the clip
is (0.5 exactly at the threshold, about 0.9 one ``scale`` past it); a clip is flagged for every
reason whose strength is above 0.5, and its **score** is its strongest reason's strength (1.0
for a clip the batch could not use at all). The report lists clips by score, worst first.
"Drop" is how far a clip's cosine to its speaker's centroid lies below the median cosine of that
speaker's clips (so it adapts to how tightly an encoder groups a voice).

=================  ==================================================================
reason             flagged when
=================  ==================================================================
``silent``         no speech found (or digital silence)
``unreadable``     the file cannot be read or decoded
``too_short``      speech shorter than :data:`TOO_SHORT_SPEECH_S`
``wrong_speaker``  drop above :data:`WRONG_SPEAKER_DROP` (x :data:`CHANNEL_FACTOR`
                   when the clip is noisy, narrowband or clipped)
``second_voice``   drop above :data:`SECOND_VOICE_DROP` (not a wrong speaker, no
                   channel fault), or window cosines spread over more than
                   :data:`SECOND_VOICE_SPREAD` (another voice takes over part of
                   the clip), or 2+ voices heard in more than
                   :data:`SECOND_VOICE_OVERLAP` of the speech frames
``noisy``          estimated SNR below :data:`NOISY_SNR_DB`
``clipped``        clipped-sample fraction above :data:`CLIPPED_RATIO`
``narrowband``     bandwidth below :data:`NARROWBAND_HZ` (or recorded below 16 kHz)
``level_outlier``  speech level more than :data:`LEVEL_OUTLIER_DB` from the
                   speaker's median level
``sample_rate``    the file's sample rate is not the one most clips of the set have
=================  ==================================================================

A clip the batch rejected keeps the cleaning stage's reason, mapped to the audit's (no speech:
``silent``; too little speech: ``too_short``; "heavily clipped": ``clipped``...).

Where the thresholds come from: every value below (and :data:`CHANNEL_FACTOR`) was chosen on
the tuning voices only (group A of the project's voice split, espeak-ng), on a planted-fault set
(``python -m benchmarks.audit.run``), by one documented rule applied by
``python -m benchmarks.audit.sweep``; the value, its best range on the tuning voices and whether
the sweep kept or changed it are in the decision record of BENCHMARKS.md ("TTS dataset audit").
Precision and recall per reason are reported there on the reporting voices (group B: flite awb,
slt, kal), which chose nothing. :data:`NOISY_SNR_DB` and :data:`NARROWBAND_HZ` are also the
quality report's "weak" thresholds (:mod:`voxref.cleaning.quality`). The thresholds were not
checked on real recordings, whose clips may vary more than a synthesiser's: on a real set,
listen to the report's top rows before trusting a threshold, and pass ``thresholds=`` to move
one.

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
    "SECOND_VOICE_DROP",
    "SECOND_VOICE_OVERLAP",
    "CHANNEL_FACTOR",
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
    "sample_rate",
)

# Thresholds: chosen on the tuning voices (group A) by ``python -m benchmarks.audit.sweep``;
# decision record and numbers in BENCHMARKS.md ("TTS dataset audit"), none here.

#: Less speech than this (s) is too little for a TTS training clip (a truncated recording).
TOO_SHORT_SPEECH_S = 1.0
#: A clip whose cosine to the speaker's centroid is this much below the speaker's median clip
#: cosine is another voice.
WRONG_SPEAKER_DROP = 0.21
#: With a channel fault (noisy, narrowband, clipped) the cosine must drop this many times more.
CHANNEL_FACTOR = 2.5
#: A smaller drop than :data:`WRONG_SPEAKER_DROP` but more than this, in a clip without a channel
#: fault: the target's voice mixed with another (the clip's embedding is pulled part-way). The
#: sweep on the tuning voices puts it above :data:`WRONG_SPEAKER_DROP`, which turns this rule
#: off: there, the overlap and spread rules find mixed voices without its false flags.
SECOND_VOICE_DROP = 0.22
#: Share of the speech frames where the speaker counter hears two or more voices.
SECOND_VOICE_OVERLAP = 0.3
#: Spread (max - min) of a clip's window cosines to the centroid: one voice gives a flat profile.
SECOND_VOICE_SPREAD = 0.15
#: Estimated SNR (dB) below which a clip is noisy (the quality report's "weak" threshold).
NOISY_SNR_DB = 10.0
#: Fraction of samples in flat runs at full scale above which a clip is clipped.
CLIPPED_RATIO = 0.002
#: Effective bandwidth (Hz) below which a clip is narrowband (the quality report's threshold).
NARROWBAND_HZ = 4500.0
#: Distance (dB) of a clip's speech level from its speaker's median level.
LEVEL_OUTLIER_DB = 21.0

#: Threshold per tunable reason (``thresholds=`` of :func:`flag_clips` overrides entries).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "too_short": TOO_SHORT_SPEECH_S,
    "wrong_speaker": WRONG_SPEAKER_DROP,
    "second_voice_drop": SECOND_VOICE_DROP,
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
    "second_voice_drop": 0.03,
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
        Strength in [0, 1] of every reason that was evaluated (flagged above 0.5).
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
    rates = [m.original_sample_rate for m in measures if m.original_sample_rate]
    common = max(set(rates), key=rates.count) if rates else None
    if common is not None and rates.count(common) * 2 <= len(rates):
        common = None  # no rate most clips share: nothing to compare with
    flags = []
    for m in measures:
        f = _flag_one(m, t, median_cos.get(m.speaker), median_level.get(m.speaker))
        rate = m.original_sample_rate
        if common is not None and m.status == "ok" and rate and rate != common:
            f.strengths["sample_rate"] = 1.0
            f.reasons.insert(0, "sample_rate")
            f.details.insert(0, f"sample rate: {rate} Hz; most clips of the set are {common} Hz")
            f.score = 1.0
        flags.append(f)
    return flags


#: Words of a rejected clip's reason (the cleaning stage's verdict) -> the audit's reason.
_REJECT_WORDS = (
    ("clipped", "clipped"),
    ("noisy", "noisy"),
    ("overlapped", "second_voice"),
    ("of speech", "too_short"),
)


def _rejected(m: ClipMeasures, f: ClipFlags) -> ClipFlags:
    """Verdict on a clip the batch could not embed: the cleaning stage's reason, mapped."""
    reason = "unreadable"
    if _is_silent(m):
        reason = "silent"
    elif m.error == "TooShortAudioError":
        reason = "too_short"
    else:
        for word, r in _REJECT_WORDS:
            if word in m.reason:
                reason = r
                break
    f.strengths = {reason: 1.0}
    f.reasons = [reason]
    f.details = [f"{reason.replace('_', ' ')}: {m.reason or m.error} (rejected by the batch)"]
    f.score = 1.0
    return f


def _flag_one(
    m: ClipMeasures, t: dict[str, float], med_cos: float | None, med_level: float | None
) -> ClipFlags:
    f = ClipFlags(m.clip_id, m.speaker, measures=m)
    if m.status != "ok":
        return _rejected(m, f)
    s: dict[str, float] = {}
    why: dict[str, str] = {}
    # ---- the recording: length, noise, clipping, band, level
    if m.speech_s is not None:
        th = t["too_short"]
        s["too_short"] = _strength(th - m.speech_s, _SCALES["too_short"])
        why["too_short"] = f"too short: {m.speech_s:.2f} s of speech (< {th:g} s)"
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
            f"narrowband: ~{m.bandwidth_hz / 1000:.2f} kHz of bandwidth (< {th / 1000:g} kHz)"
        )
    if m.level_dbfs is not None and med_level is not None:
        th = t["level_outlier"]
        d = m.level_dbfs - med_level
        s["level_outlier"] = _strength(abs(d) - th, _SCALES["level_outlier"])
        why["level_outlier"] = (
            f"level outlier: speech at {m.level_dbfs:.0f} dBFS, {d:+.0f} dB from the speaker's "
            f"median (> {th:g} dB)"
        )
    # ---- the voice: distance to the speaker's centroid, window profile, overlap frames.
    # Noise, a telephone band or clipping move a clip's embedding too (BENCHMARKS.md, "TTS
    # dataset audit"): with such a fault, the distance alone says nothing of the voice.
    channel = any(s.get(k, 0.0) > 0.5 for k in ("noisy", "narrowband", "clipped"))
    drop = None
    if m.cosine is not None and med_cos is not None:
        drop = med_cos - m.cosine
        th = t["wrong_speaker"] * (CHANNEL_FACTOR if channel else 1.0)
        s["wrong_speaker"] = _strength(drop - th, _SCALES["wrong_speaker"])
        why["wrong_speaker"] = (
            f"wrong speaker: cosine {m.cosine:.2f} to the speaker's centroid, {drop:.2f} below "
            f"the speaker's median {med_cos:.2f} (> {th:g})"
        )
    second: dict[str, float] = {}
    if drop is not None and not channel and s["wrong_speaker"] <= 0.5:
        second["drop"] = _strength(drop - t["second_voice_drop"], _SCALES["second_voice_drop"])
    if m.overlap_ratio is not None:
        second["overlap"] = _strength(
            m.overlap_ratio - t["second_voice_overlap"], _SCALES["second_voice_overlap"]
        )
    spread = m.window_spread
    if spread is not None:
        second["spread"] = _strength(
            spread - t["second_voice_spread"], _SCALES["second_voice_spread"]
        )
    if second:
        s["second_voice"] = max(second.values())
        parts = []
        if drop is not None:
            parts.append(f"cosine {drop:.2f} below the speaker's median")
        if m.overlap_ratio is not None:
            parts.append(f"{100 * m.overlap_ratio:.0f}% of speech frames with 2+ voices")
        if spread is not None:
            parts.append(f"window cosines spread over {spread:.2f}")
        why["second_voice"] = (
            f"second voice: {', '.join(parts)} (> {t['second_voice_drop']:g} / "
            f"{100 * t['second_voice_overlap']:g}% / {t['second_voice_spread']:g})"
        )
    f.strengths = {k: round(v, 4) for k, v in s.items()}
    f.reasons = sorted((k for k, v in s.items() if v > 0.5), key=lambda k: -s[k])
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
