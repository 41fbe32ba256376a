"""What pooling knows about one reference's quality: :class:`RefQuality` and its reliability.

The parameter-free attention (:mod:`voxref.embedder.pooling.attention`) turns a
:class:`RefQuality` into a prior weight through a small, explicit model of how far a reference's
embedding is expected to land from the speaker's clean voice (in cosine distance):

.. math::

    d(q) = d_0 + \\frac{a_\\text{dur}}{\\text{speech\\_s}}
           + a_\\text{snr}\\,\\sigma\\!\\left(\\frac{\\text{snr}_\\text{mid} - \\text{snr\\_db}}{w_\\text{snr}}\\right)
           + a_\\text{ovl}\\,\\text{overlap\\_ratio}
           + a_\\text{bw}\\,\\text{clip}\\!\\left(\\frac{b_\\text{full} - \\text{bandwidth\\_hz}}{b_\\text{full} - b_\\text{tel}}, 0, 1\\right)
           + a_\\text{clip}\\,\\text{clip}\\!\\left(\\frac{\\text{clipping\\_ratio}}{c_\\text{max}}, 0, 1\\right)

and :func:`reliability` is ``(d_ref / d(q)) ** gamma`` (capped at 1; ``d_ref`` = a clean 3.5 s
reference) times ``weight_hint``. With ``gamma = 2`` this is inverse-variance weighting if the
deviation is treated as a standard deviation. A missing field contributes nothing.

Where the constants come from: how far each degradation moves GE2E embeddings of synthetic
speakers (degraded with :mod:`voxref.augment`, measured with ``voxref.cleaning.quality``, the
*train* speakers of fold 0 of ``scripts/train_pooling_head.py``) from their speaker's clean
centroid. The overlap term is switched off by default (``overlap_amp = 0``): what the separation
stage reports as overlap is dealt with inside the reference (guided window mask) and by the
agreement between references, and charging it again in the prior lost on the quality benchmark.
The SNR midpoint (10 dB) and width (3 dB) were chosen on those speakers' mixed reference sets.
The duration and clipping terms are educated guesses that no experiment here has calibrated. The
measurements are in docs/decisions.md, "Attention pooling: the quality prior's constants"; the
current run's ``voxref[use_quality=false]`` column is in BENCHMARKS.md, "Pipeline ablation".

Examples
--------
>>> clean = RefQuality(speech_s=4.0, snr_db=40.0)
>>> noisy = RefQuality(speech_s=4.0, snr_db=2.0)
>>> reliability(clean) > 0.9, reliability(noisy) < 0.2
(True, True)
>>> RefQuality.from_any({"snr_db": 12.0, "speech_s": 3.0}).snr_db
12.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from ...errors import ConfigError

__all__ = [
    "RefQuality",
    "QualityModel",
    "DEFAULT_QUALITY_MODEL",
    "expected_distance",
    "reliability",
    "as_qualities",
    "quality_features",
    "QUALITY_FEATURE_NAMES",
]


@dataclass(frozen=True)
class RefQuality:
    """Quality facts about one reference; every field is optional (``None`` = unknown).

    Attributes
    ----------
    speech_s
        Seconds of speech the embedding was computed from.
    snr_db
        Estimated active-speech SNR in dB.
    overlap_ratio
        Fraction of the speech overlapped by another talker (0-1).
    bandwidth_hz
        Effective audio bandwidth in Hz (telephone ~3400, wideband 7000-8000).
    clipping_ratio
        Fraction of clipped samples (0-1).
    weight_hint
        Extra multiplicative prior weight (e.g. from a quality verdict), >= 0.

    Examples
    --------
    >>> RefQuality(snr_db=5.0).overlap_ratio is None
    True
    """

    speech_s: float | None = None
    snr_db: float | None = None
    overlap_ratio: float | None = None
    bandwidth_hz: float | None = None
    clipping_ratio: float | None = None
    weight_hint: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            v = float(v)
            if math.isnan(v):  # nan means "could not be measured": treat as unknown
                object.__setattr__(self, f.name, None)
                continue
            if f.name != "snr_db" and v < 0:
                raise ConfigError(f"RefQuality.{f.name}={v} must be >= 0.")
            object.__setattr__(self, f.name, v)

    @classmethod
    def from_report(cls, report: Any) -> RefQuality:
        """Read the measurements of a ``QualityReport``-like object with ``getattr``.

        ``speech_s``, ``snr_db``, ``overlap_ratio``, ``bandwidth_hz`` and ``clipping_ratio`` are
        copied (missing or non-numeric ones stay ``None``). The report's own ``weight_hint`` is
        *not* read: it is a heuristic built from the same measurements, and using both would
        count them twice. A ``verdict`` of ``"reject"`` sets ``weight_hint=0``.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> r = SimpleNamespace(speech_s=3.0, snr_db=8.0, verdict="ok", weight_hint=0.4)
        >>> q = RefQuality.from_report(r)
        >>> q.snr_db, q.weight_hint
        (8.0, None)
        """
        names = ("speech_s", "snr_db", "overlap_ratio", "bandwidth_hz", "clipping_ratio")
        values = {n: _number(getattr(report, n, None)) for n in names}
        if getattr(report, "verdict", None) == "reject":
            values["weight_hint"] = 0.0
        return cls(**values)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> RefQuality:
        """Build from a dict with (a subset of) the field names; other keys are ignored."""
        return cls(**{f.name: _number(mapping.get(f.name)) for f in fields(cls)})

    @classmethod
    def from_any(cls, x: Any) -> RefQuality:
        """A :class:`RefQuality` from ``None``, a :class:`RefQuality`, a mapping or a report."""
        if x is None:
            return cls()
        if isinstance(x, RefQuality):
            return x
        if isinstance(x, Mapping):
            return cls.from_mapping(x)
        return cls.from_report(x)

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


def _number(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class QualityModel:
    """Constants of the expected-distance model (see the module docstring)."""

    d0: float = 0.04
    dur: float = 0.05
    snr_amp: float = 0.35
    snr_mid_db: float = 10.0
    snr_width_db: float = 3.0
    overlap_amp: float = 0.0
    bandwidth_amp: float = 0.25
    bandwidth_full_hz: float = 6000.0
    bandwidth_tel_hz: float = 3400.0
    clipping_amp: float = 0.3
    clipping_max: float = 0.05
    reference_speech_s: float = 3.5
    gamma: float = 2.0


DEFAULT_QUALITY_MODEL = QualityModel()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 60.0), -60.0)))


def expected_distance(q: RefQuality, model: QualityModel = DEFAULT_QUALITY_MODEL) -> float:
    """Expected cosine distance of this reference's embedding from the speaker's clean voice.

    Examples
    --------
    >>> round(expected_distance(RefQuality()), 3)
    0.04
    >>> m = QualityModel(overlap_amp=0.25)  # the default ignores overlap (see the module notes)
    >>> expected_distance(RefQuality(overlap_ratio=0.5), m) > expected_distance(RefQuality(), m)
    True
    """
    m = model
    d = m.d0
    if q.speech_s is not None:
        d += m.dur / max(q.speech_s, 0.1)
    if q.snr_db is not None:
        d += m.snr_amp * _sigmoid((m.snr_mid_db - q.snr_db) / m.snr_width_db)
    if q.overlap_ratio is not None:
        d += m.overlap_amp * min(q.overlap_ratio, 1.0)
    if q.bandwidth_hz is not None:
        span = m.bandwidth_full_hz - m.bandwidth_tel_hz
        d += m.bandwidth_amp * float(
            np.clip((m.bandwidth_full_hz - q.bandwidth_hz) / span, 0.0, 1.0)
        )
    if q.clipping_ratio is not None:
        d += m.clipping_amp * min(q.clipping_ratio / m.clipping_max, 1.0)
    return d


def reliability(q: RefQuality, model: QualityModel = DEFAULT_QUALITY_MODEL) -> float:
    """Prior weight of a reference from its quality, in ``(0, 1]`` (before ``weight_hint``).

    ``(d_ref / d(q)) ** gamma`` with ``d_ref`` the expected distance of a clean reference of
    ``model.reference_speech_s`` seconds, capped at 1, times ``weight_hint``. An empty
    :class:`RefQuality` gives 1.

    Examples
    --------
    >>> reliability(RefQuality())
    1.0
    >>> [round(reliability(RefQuality(snr_db=s)), 3) for s in (0.0, 10.0, 30.0)]
    [0.011, 0.035, 0.978]
    """
    d = expected_distance(q, model)
    d_ref = model.d0
    if q.speech_s is not None:
        d_ref += model.dur / model.reference_speech_s
    r = min((d_ref / d) ** model.gamma, 1.0)
    if q.weight_hint is not None:
        r *= q.weight_hint
    return float(r)


def as_qualities(qualities: Sequence[Any] | None, n: int) -> list[RefQuality] | None:
    """Normalise ``qualities`` (``None`` or ``n`` items, each ``None``/dict/report) to RefQuality."""
    if qualities is None:
        return None
    qs = list(qualities)
    if len(qs) != n:
        raise ConfigError(f"got {len(qs)} qualities for {n} references; give one per reference.")
    return [RefQuality.from_any(q) for q in qs]


QUALITY_FEATURE_NAMES = (
    "reliability",
    "snr",
    "snr_known",
    "overlap",
    "overlap_known",
    "bandwidth",
    "bandwidth_known",
    "log_speech",
    "speech_known",
)
"""Features :func:`quality_features` gives the trainable head, in order."""


def quality_features(qualities: Sequence[RefQuality | None]) -> np.ndarray:
    """``(R, len(QUALITY_FEATURE_NAMES))`` float32 features for the trainable head.

    Unknown fields are 0 with their ``*_known`` flag 0; values are scaled to roughly unit range.

    Examples
    --------
    >>> quality_features([RefQuality(snr_db=20.0), None]).shape
    (2, 9)
    """
    out = np.zeros((len(qualities), len(QUALITY_FEATURE_NAMES)), dtype=np.float32)
    for i, q in enumerate(qualities):
        q = q or RefQuality()
        out[i, 0] = reliability(q)
        if q.snr_db is not None:
            out[i, 1:3] = (float(np.clip(q.snr_db, -10.0, 40.0)) / 20.0, 1.0)
        if q.overlap_ratio is not None:
            out[i, 3:5] = (min(q.overlap_ratio, 1.0), 1.0)
        if q.bandwidth_hz is not None:
            out[i, 5:7] = (min(q.bandwidth_hz, 8000.0) / 8000.0, 1.0)
        if q.speech_s is not None:
            out[i, 7:9] = (math.log(max(q.speech_s, 0.1) / 3.5), 1.0)
    return out
