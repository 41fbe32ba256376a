"""Per-reference quality report: how much usable speech a recording holds, and what is wrong with it.

The measurements (:func:`clipping_ratio`, :func:`estimate_bandwidth`, :func:`level_dbfs`, the SNR
from :mod:`voxref.cleaning.snr`) are turned into a verdict by fixed, documented thresholds. Clipping,
peak, DC offset and level are properties of the recording as read (every channel, its own rate,
before resampling and downmix): :func:`assess` takes them from
:attr:`Audio.as_read <voxref.audio.Audio.as_read>` (:mod:`voxref.audio.properties`), so a
report says the same of a file whatever path it came by (``voxref check``, ``voxref.embed``).

=====================  =================================  ====================================
measurement            ``"reject"`` when                  ``"weak"`` when
=====================  =================================  ====================================
speech (s)             < :data:`REJECT_MIN_SPEECH_S`      < :data:`WEAK_MIN_SPEECH_S`
SNR (dB)               < :data:`REJECT_SNR_DB`            < :data:`WEAK_SNR_DB`
clipping (fraction)    > :data:`REJECT_CLIPPING_RATIO`    > :data:`WEAK_CLIPPING_RATIO`
overlap (fraction)     > :data:`REJECT_OVERLAP_RATIO`     > :data:`WEAK_OVERLAP_RATIO`
bandwidth (Hz)                                            < :data:`WEAK_BANDWIDTH_HZ`
original rate (Hz)                                        < :data:`WEAK_ORIGINAL_SAMPLE_RATE`
level (dBFS)                                              < :data:`WEAK_LEVEL_DBFS`
DNSMOS overall                                            < :data:`WEAK_DNSMOS_OVRL`
=====================  =================================  ====================================

:attr:`QualityReport.weight_hint` turns the same numbers into a prior weight in [0, 1] for pooling
references (a hand-set heuristic, documented in :func:`weight_hint`, until a learned pooling
replaces it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..audio.properties import CLIP_MIN_RUN, CLIP_MIN_STEPS, SignalProperties, clipping_ratio
from ..audio.properties import measure as measure_as_read
from .reverb import decay_time
from .snr import SNREstimate
from .vad import SpeechRegions

__all__ = [
    "QualityReport",
    "assess",
    "clipping_ratio",
    "estimate_bandwidth",
    "level_dbfs",
    "weight_hint",
    "format_reports",
    "REJECT_MIN_SPEECH_S",
    "REJECT_SNR_DB",
    "REJECT_CLIPPING_RATIO",
    "REJECT_OVERLAP_RATIO",
    "WEAK_MIN_SPEECH_S",
    "WEAK_SNR_DB",
    "WEAK_CLIPPING_RATIO",
    "WEAK_OVERLAP_RATIO",
    "WEAK_BANDWIDTH_HZ",
    "WEAK_ORIGINAL_SAMPLE_RATE",
    "WEAK_LEVEL_DBFS",
    "QUIET_FIX_DBFS",
    "WEAK_DNSMOS_OVRL",
    "GOOD_SPEECH_S",
    "CLIP_MIN_RUN",
    "CLIP_MIN_STEPS",
    "BANDWIDTH_DROP_DB",
]

# ----------------------------------------------------------------------------- thresholds
#: Less speech than this (s) cannot give a speaker embedding (and no speech at all is "no speech").
REJECT_MIN_SPEECH_S = 0.5
#: Below this estimated SNR (dB) the noise is louder than the voice by more than 5 dB.
REJECT_SNR_DB = -5.0
#: More than this fraction of clipped samples distorts the voice beyond use.
REJECT_CLIPPING_RATIO = 0.10
#: More than this fraction of the speech overlapped by other voices (set by the separation stage).
REJECT_OVERLAP_RATIO = 0.5
#: Less speech than this (s) gives a noisy embedding (GE2E windows are 1.6 s).
WEAK_MIN_SPEECH_S = 3.0
#: Below this SNR (dB) noise audibly colours the embedding.
WEAK_SNR_DB = 10.0
#: Above this fraction of samples in flat runs at full scale, clipping is audible.
WEAK_CLIPPING_RATIO = 0.01
#: Above this fraction of overlapped speech, another voice leaks into the embedding.
WEAK_OVERLAP_RATIO = 0.1
#: Below this effective bandwidth (Hz) the audio is narrowband: 300-3400 Hz telephone speech is
#: estimated at 3.6-4.0 kHz, audio sampled at 8 kHz at 4.0-4.6 kHz, wideband speech at 7-8 kHz.
WEAK_BANDWIDTH_HZ = 4500.0
#: Recordings made at a lower rate than this (Hz) lack the upper band of the voice.
WEAK_ORIGINAL_SAMPLE_RATE = 16_000
#: Speech quieter than this (dBFS, RMS over speech) suggests a wrong gain or a distant microphone.
WEAK_LEVEL_DBFS = -45.0
#: Level (dBFS) the advice for quiet recordings suggests raising them to.
QUIET_FIX_DBFS = -20.0
#: DNSMOS P.835 overall score below this is poor perceived quality (when DNSMOS was computed).
WEAK_DNSMOS_OVRL = 2.5
#: Speech duration (s) from which more speech no longer raises :func:`weight_hint`.
GOOD_SPEECH_S = 10.0

#: The bandwidth is the highest frequency whose level is within this many dB of the 0.5-3 kHz
#: speech band (median level), sustained over 3 spectral bins.
BANDWIDTH_DROP_DB = 40.0

VERDICTS = ("ok", "weak", "reject")


# ----------------------------------------------------------------------------- measurements
def level_dbfs(samples: np.ndarray, mask: np.ndarray | None = None) -> float:
    """RMS level in dBFS (full-scale sine = -3 dBFS) of ``samples`` (where ``mask`` is true).

    Examples
    --------
    >>> round(level_dbfs(np.full(100, 0.1)), 1)
    -20.0
    """
    x = np.asarray(samples, dtype=np.float64)
    if mask is not None and np.any(mask):
        x = x[np.asarray(mask, dtype=bool)]
    if x.size == 0:
        return float("-inf")
    return float(10.0 * np.log10(max(np.mean(x**2), 1e-20)))


def welch_density(x: np.ndarray, sample_rate: int, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.welch(x, fs=sample_rate, nperseg=nperseg)``, vectorised.

    Hann window, half-overlapping segments, each segment's mean removed, one-sided power
    spectral density averaged over segments: scipy's defaults, equal to its result to float
    rounding, but one FFT call over all segments instead of a Python-level detrend per segment
    (scipy 1.15's ``welch`` spent 40 ms on a 5 s clip, more than the encoder).

    Examples
    --------
    >>> from scipy.signal import welch
    >>> x = np.random.default_rng(0).standard_normal(16000)
    >>> f, p = welch_density(x, 16000, 512)
    >>> f0, p0 = welch(x, fs=16000, nperseg=512)
    >>> bool(np.array_equal(f, f0) and np.allclose(p, p0, rtol=1e-10, atol=0))
    True
    """
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.signal import get_window

    x = np.asarray(x, dtype=np.float64)
    win = get_window("hann", nperseg)
    step = nperseg - nperseg // 2
    segs = sliding_window_view(x, nperseg)[::step]
    segs = (segs - segs.mean(axis=1, keepdims=True)) * win
    p = np.abs(np.fft.rfft(segs, axis=1)) ** 2 / (sample_rate * float((win * win).sum()))
    p = p.mean(axis=0)
    p[1 : -1 if nperseg % 2 == 0 else None] *= 2.0
    return np.fft.rfftfreq(nperseg, 1.0 / sample_rate), p


def estimate_bandwidth(
    samples: np.ndarray,
    sample_rate: int,
    regions: SpeechRegions | None = None,
    *,
    drop_db: float = BANDWIDTH_DROP_DB,
) -> float:
    """Effective bandwidth (Hz) of the speech: where its long-term spectrum ends.

    Welch spectrum (32 ms segments) of the speech regions (of everything when there is too little
    speech); the bandwidth is the highest frequency whose level stays, over 3 consecutive bins,
    within ``drop_db`` of the median level of the 0.5-3 kHz band. A 99 % energy roll-off, the
    usual alternative, puts clean wideband speech at 1.3-5 kHz (speech energy is mostly low), so it
    cannot tell it from telephone speech; the edge of the spectrum can. Additive wideband noise
    fills the spectrum to Nyquist, so noise added after band-limiting hides the band limit.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(32000)
    >>> spectrum = np.fft.rfft(x)
    >>> spectrum[np.fft.rfftfreq(32000, 1 / 16000) > 3400] = 0  # ideal 3.4 kHz low-pass
    >>> est = estimate_bandwidth(np.fft.irfft(spectrum, 32000), 16000)
    >>> 3400 <= est <= 3600, estimate_bandwidth(x, 16000)
    (True, 8000.0)
    """
    x = np.asarray(samples, dtype=np.float64)
    if regions is not None:
        m = regions.mask(len(x), sample_rate)
        if m.sum() >= 0.5 * sample_rate:
            x = x[m]
    nper = min(len(x), int(2 ** round(math.log2(0.032 * sample_rate))))
    if nper < 16:
        return 0.0
    f, p = welch_density(x, sample_rate, nper)
    db = 10.0 * np.log10(p + 1e-30)
    band = (f >= 500) & (f <= 3000)
    ref = float(np.median(db[band])) if band.any() else float(db.max())
    above = db > ref - drop_db
    run = above[2:] & above[1:-1] & above[:-2]  # bins i-2, i-1, i all above
    idx = np.flatnonzero(run)
    return float(f[idx[-1] + 2]) if idx.size else 0.0


# ----------------------------------------------------------------------------- report
def weight_hint(report: QualityReport) -> float:
    """Prior weight in [0, 1] of a reference when pooling several (0 for a rejected one).

    Product of: speech ``sqrt(min(1, speech_s / GOOD_SPEECH_S))``; SNR
    ``1 / (1 + exp(-(snr_db - 5) / 3))`` (0.5 at 5 dB, 0.84 at 10 dB, 0.99 at 20 dB); clipping
    ``1 - clipping_ratio / REJECT_CLIPPING_RATIO``; overlap ``1 - overlap_ratio``; 0.7 for
    narrowband audio (bandwidth below :data:`WEAK_BANDWIDTH_HZ` or recorded below
    :data:`WEAK_ORIGINAL_SAMPLE_RATE`). A heuristic, to be replaced by the learned quality-aware pooling.

    Examples
    --------
    >>> r = QualityReport("a.wav", 12.0, 10.0, snr_db=30.0, verdict="ok")
    >>> round(weight_hint(r), 2)
    1.0
    >>> round(weight_hint(QualityReport("b.wav", 3.0, 2.5, snr_db=5.0)), 2)
    0.25
    """
    if report.verdict == "reject" or report.speech_s <= 0:
        return 0.0
    w = math.sqrt(min(1.0, report.speech_s / GOOD_SPEECH_S))
    if report.snr_db is not None and math.isfinite(report.snr_db):
        w *= 1.0 / (1.0 + math.exp(-(report.snr_db - 5.0) / 3.0))
    w *= max(0.0, 1.0 - report.clipping_ratio / REJECT_CLIPPING_RATIO)
    if report.overlap_ratio is not None:
        w *= max(0.0, 1.0 - report.overlap_ratio)
    narrow_rate = (
        report.original_sample_rate is not None
        and report.original_sample_rate < WEAK_ORIGINAL_SAMPLE_RATE
    )
    narrow_band = report.bandwidth_hz is not None and 0 < report.bandwidth_hz < WEAK_BANDWIDTH_HZ
    if narrow_rate or narrow_band:
        w *= 0.7
    return float(min(1.0, max(0.0, w)))


@dataclass
class QualityReport:
    """What voxref measured on one reference recording, and its verdict.

    Attributes
    ----------
    source
        Input name (path or ``"<array i>"``).
    duration_s
        Length of the recording.
    speech_s
        Seconds inside the VAD's speech regions.
    snr_db
        Estimated active-speech SNR (``None``/``nan`` when there is no speech to measure).
    snr_method
        How the SNR was estimated (``"pauses"``, ``"percentile"``, ``"none"``).
    clipping_ratio
        Fraction of samples in flat runs at the rails (see :func:`clipping_ratio`), measured on
        the recording as read (all channels, its own rate).
    level_dbfs
        RMS level of the speech as read, dBFS; when no speech was found, the active level of the
        whole recording (:attr:`voxref.audio.properties.SignalProperties.level_dbfs`).
    sample_rate
        Rate of the analysed audio.
    original_sample_rate
        Rate of the recording as given.
    bandwidth_hz
        Effective bandwidth of the speech (see :func:`estimate_bandwidth`).
    overlap_ratio
        Fraction of the speech overlapped by other voices; ``None`` until the separation stage
        calls :meth:`set_overlap_ratio`.
    dnsmos
        DNSMOS P.835 scores (``ovrl_mos``, ``sig_mos``, ``bak_mos``, ``p808_mos``) when requested.
    verdict
        ``"ok"``, ``"weak"`` (usable, down-weighted) or ``"reject"`` (unusable).
    reasons
        Human-readable reasons for a ``"weak"`` / ``"reject"`` verdict.
    peak_dbfs
        Largest sample magnitude of the recording as read, dBFS.
    dc_offset
        Largest mean of a channel as read (a DC offset is reported, not held against the clip).
    notes
        What reading the recording assumed or changed (integer PCM stored as floats rescaled,
        one channel used because the channels cancel...): facts, not reasons for the verdict.
    decay_s
        How reverberant the recording is: seconds 60 dB of decay would take at the rate of its
        fastest energy decays (:func:`voxref.cleaning.reverb.decay_time`; a ranking, not a
        calibrated RT60). Not held against the clip; grouping references by voice reads it
        (:mod:`voxref.embedder.pooling.voices`).

    Examples
    --------
    >>> r = QualityReport("a.wav", 5.0, 4.0, snr_db=25.0, bandwidth_hz=8000.0)
    >>> r.judge().verdict, r.reasons
    ('ok', [])
    >>> r.set_overlap_ratio(0.3).verdict, r.reasons
    ('weak', ['overlapped: 30% of the speech has other voices (> 10%)'])
    """

    source: str
    duration_s: float
    speech_s: float
    snr_db: float | None = None
    snr_method: str = ""
    clipping_ratio: float = 0.0
    level_dbfs: float | None = None
    sample_rate: int = 16_000
    original_sample_rate: int | None = None
    bandwidth_hz: float | None = None
    overlap_ratio: float | None = None
    dnsmos: dict[str, float] | None = None
    verdict: str = "ok"
    reasons: list[str] = field(default_factory=list)
    peak_dbfs: float | None = None
    dc_offset: float | None = None
    notes: list[str] = field(default_factory=list)
    min_speech_s: float = REJECT_MIN_SPEECH_S
    fatal: str | None = None
    decay_s: float | None = None

    @classmethod
    def rejected(
        cls, source: str, reason: str, duration_s: float = 0.0, **fields: object
    ) -> QualityReport:
        """A report for a recording that could not be analysed (unreadable, digital silence...)."""
        r = cls(source=source, duration_s=duration_s, speech_s=0.0, fatal=reason, **fields)  # type: ignore[arg-type]
        return r.judge()

    @property
    def weight_hint(self) -> float:
        """Prior pooling weight in [0, 1]; see :func:`weight_hint`."""
        return weight_hint(self)

    @property
    def usable(self) -> bool:
        return self.verdict != "reject"

    def set_overlap_ratio(self, ratio: float) -> QualityReport:
        """Record the overlapped fraction of the speech (from the separation stage) and re-judge."""
        self.overlap_ratio = float(min(1.0, max(0.0, ratio)))
        return self.judge()

    def judge(self) -> QualityReport:
        """Recompute :attr:`verdict` and :attr:`reasons` from the measurements; returns ``self``."""
        reject: list[str] = []
        weak: list[str] = []
        level = self.level_dbfs
        quiet = level is not None and math.isfinite(level) and level < WEAK_LEVEL_DBFS
        # speech this quiet is what a VAD misses: say so with the finding, and the fix
        hint = (
            f"; the recording is quiet ({level:.0f} dBFS) and speech this quiet can go "
            f"undetected: raise its gain by about {QUIET_FIX_DBFS - level:.0f} dB (to around "
            f"{QUIET_FIX_DBFS:g} dBFS) and check again"
            if quiet
            else ""
        )
        if self.fatal:
            reject.append(self.fatal)
        elif self.speech_s <= 0:
            reject.append("no speech detected" + hint)
        elif self.speech_s < self.min_speech_s:
            reject.append(
                f"only {self.speech_s:.2f} s of speech (< {self.min_speech_s:g} s needed){hint}"
            )
        elif self.speech_s < WEAK_MIN_SPEECH_S:
            weak.append(f"short: {self.speech_s:.1f} s of speech (< {WEAK_MIN_SPEECH_S:g} s)")
        snr = self.snr_db
        if not self.fatal and self.speech_s > 0 and snr is not None and math.isfinite(snr):
            if snr < REJECT_SNR_DB:
                reject.append(f"too noisy: estimated SNR {snr:.1f} dB (< {REJECT_SNR_DB:g} dB)")
            elif snr < WEAK_SNR_DB:
                weak.append(f"noisy: estimated SNR {snr:.1f} dB (< {WEAK_SNR_DB:g} dB)")
        c = self.clipping_ratio
        if c > REJECT_CLIPPING_RATIO:
            reject.append(
                f"heavily clipped: {100 * c:.1f}% of samples at full scale (> {100 * REJECT_CLIPPING_RATIO:g}%)"
            )
        elif c > WEAK_CLIPPING_RATIO:
            weak.append(
                f"clipped: {100 * c:.1f}% of samples at full scale (> {100 * WEAK_CLIPPING_RATIO:g}%)"
            )
        o = self.overlap_ratio
        if o is not None:
            if o > REJECT_OVERLAP_RATIO:
                reject.append(
                    f"mostly overlapped: {100 * o:.0f}% of the speech has other voices (> {100 * REJECT_OVERLAP_RATIO:g}%)"
                )
            elif o > WEAK_OVERLAP_RATIO:
                weak.append(
                    f"overlapped: {100 * o:.0f}% of the speech has other voices (> {100 * WEAK_OVERLAP_RATIO:g}%)"
                )
        if (
            self.original_sample_rate is not None
            and self.original_sample_rate < WEAK_ORIGINAL_SAMPLE_RATE
        ):
            weak.append(
                f"recorded at {self.original_sample_rate} Hz (narrowband; < {WEAK_ORIGINAL_SAMPLE_RATE} Hz)"
            )
        elif (
            self.speech_s > 0
            and self.bandwidth_hz is not None
            and 0 < self.bandwidth_hz < WEAK_BANDWIDTH_HZ
        ):
            weak.append(
                f"narrowband: ~{self.bandwidth_hz / 1000:.1f} kHz of bandwidth, telephone-like "
                f"(< {WEAK_BANDWIDTH_HZ / 1000:g} kHz)"
            )
        if self.speech_s >= self.min_speech_s and quiet:
            weak.append(
                f"quiet: speech at {level:.0f} dBFS (< {WEAK_LEVEL_DBFS:g} dBFS); raise its gain "
                f"(to around {QUIET_FIX_DBFS:g} dBFS)"
            )
        if self.dnsmos and self.dnsmos.get("ovrl_mos", 5.0) < WEAK_DNSMOS_OVRL:
            weak.append(
                f"poor perceived quality: DNSMOS {self.dnsmos['ovrl_mos']:.2f} (< {WEAK_DNSMOS_OVRL:g})"
            )
        self.verdict = "reject" if reject else ("weak" if weak else "ok")
        self.reasons = reject + weak
        return self

    def to_dict(self) -> dict:
        """JSON-friendly dict (floats rounded; ``nan``/``inf`` become ``None``)."""
        d = asdict(self)
        d.pop("fatal")
        d.pop("min_speech_s")
        for k, v in list(d.items()):
            if isinstance(v, float):
                d[k] = round(v, 4) if math.isfinite(v) else None
        if d["dnsmos"]:
            d["dnsmos"] = {k: round(float(v), 3) for k, v in d["dnsmos"].items()}
        d["weight_hint"] = round(self.weight_hint, 3)
        return d


def assess(
    source: str,
    samples: np.ndarray,
    sample_rate: int,
    regions: SpeechRegions,
    snr: SNREstimate,
    *,
    original_sample_rate: int | None = None,
    clipping: float | None = None,
    dnsmos: dict[str, float] | None = None,
    min_speech_s: float = REJECT_MIN_SPEECH_S,
    as_read: SignalProperties | None = None,
    decay_s: float | None = None,
) -> QualityReport:
    """Measure one recording and judge it.

    Parameters
    ----------
    source
        Input name.
    samples, sample_rate
        The analysed mono audio.
    regions
        Its speech regions.
    snr
        Its SNR estimate (:func:`voxref.cleaning.snr.measure_snr`).
    original_sample_rate
        Rate of the recording as given.
    clipping
        Clipping ratio measured elsewhere (overrides ``as_read``).
    dnsmos
        DNSMOS scores, when computed.
    min_speech_s
        Reject below this much speech.
    as_read
        Properties of the recording as read (``Audio.as_read``): clipping, peak, DC offset, level
        and notes come from them. When ``None``, or of a recording of another length, they are
        measured on ``samples``, which then stand for the recording as read.
    decay_s
        ``decay_time(samples, sample_rate)`` (:func:`voxref.cleaning.reverb.decay_time`) when
        already computed (e.g. beside the VAD); computed here when ``None``.

    Examples
    --------
    >>> from voxref.audio import load_audio
    >>> from voxref.cleaning.snr import measure_snr
    >>> from voxref.cleaning.vad import detect_speech
    >>> t = np.arange(3 * 44100) / 44100
    >>> tone = np.clip(3 * np.sin(2 * np.pi * 140 * t), -1, 1)  # clipped, at 44.1 kHz
    >>> a = load_audio((tone, 44100))  # resampled to 16 kHz: the flat tops are gone
    >>> regions = detect_speech(a.samples, a.sample_rate, vad="energy")
    >>> snr = measure_snr(a.samples, a.sample_rate, regions=regions)
    >>> r = assess(a.source, a.samples, a.sample_rate, regions, snr, as_read=a.as_read)
    >>> round(r.clipping_ratio, 2), round(clipping_ratio(a.samples), 2)
    (0.78, 0.0)
    """
    x = np.asarray(samples, dtype=np.float32)
    duration = len(x) / float(sample_rate)
    if as_read is None or not as_read.describes(duration):
        as_read = measure_as_read(x[:, None], x, int(sample_rate))
    level = as_read.level_over(regions) if regions.speech_duration > 0 else float("nan")
    report = QualityReport(
        source=source,
        duration_s=duration,
        speech_s=regions.speech_duration,
        snr_db=None if not math.isfinite(snr.snr_db) else float(snr.snr_db),
        snr_method=snr.method,
        clipping_ratio=float(as_read.clipping_ratio if clipping is None else clipping),
        level_dbfs=level if math.isfinite(level) else as_read.level_dbfs,
        sample_rate=int(sample_rate),
        original_sample_rate=int(original_sample_rate or as_read.sample_rate),
        bandwidth_hz=estimate_bandwidth(x, sample_rate, regions),
        dnsmos=dnsmos,
        peak_dbfs=as_read.peak_dbfs,
        dc_offset=as_read.dc_offset,
        notes=list(as_read.notes),
        min_speech_s=float(min_speech_s),
        decay_s=decay_time(x, int(sample_rate)) if decay_s is None else float(decay_s),
    )
    return report.judge()


def _fmt(v: float | None, spec: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


def format_reports(reports: list[QualityReport], *, reasons: bool = True) -> str:
    """A plain-text table of many reports (one row each, reasons underneath).

    Examples
    --------
    >>> r = QualityReport("a.wav", 5.0, 4.0, snr_db=8.0, bandwidth_hz=8000.0, level_dbfs=-20.0).judge()
    >>> print(format_reports([r]))  # doctest: +NORMALIZE_WHITESPACE
    source  verdict  weight  dur s  speech s  SNR dB  clip %  level dBFS  bw kHz  sr Hz  overlap  DNSMOS
    a.wav   weak     0.46    5.0    4.0       8.0     0.00    -20.0       8.0     16000  -        -
        - noisy: estimated SNR 8.0 dB (< 10 dB)
    """
    header = [
        "source",
        "verdict",
        "weight",
        "dur s",
        "speech s",
        "SNR dB",
        "clip %",
        "level dBFS",
        "bw kHz",
        "sr Hz",
        "overlap",
        "DNSMOS",
    ]
    rows = []
    for r in reports:
        rows.append(
            [
                r.source,
                r.verdict,
                f"{r.weight_hint:.2f}",
                f"{r.duration_s:.1f}",
                f"{r.speech_s:.1f}",
                _fmt(r.snr_db, ".1f"),
                f"{100 * r.clipping_ratio:.2f}",
                _fmt(r.level_dbfs, ".1f"),
                _fmt(None if r.bandwidth_hz is None else r.bandwidth_hz / 1000, ".1f"),
                str(r.original_sample_rate or r.sample_rate),
                _fmt(r.overlap_ratio, ".2f"),
                _fmt((r.dnsmos or {}).get("ovrl_mos"), ".2f"),
            ]
        )
    widths = (
        [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        if rows
        else [len(h) for h in header]
    )
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    for r, row in zip(reports, rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if reasons:
            lines += [f"    - {why}" for why in r.reasons]
            lines += [f"    * note: {note}" for note in r.notes]
    return "\n".join(lines)
