"""Tuning voices and reporting voices: which voices may choose a threshold or train a model.

A gain that shows only on the voices it was tuned on is not a gain. Every voice of the corpus
belongs to a *family* (its synthesis engine) and every family to one of two *groups*:

========  ======================================  ==========================================
group     families                                what they are
========  ======================================  ==========================================
``A``     ``espeak-ng``                           formant synthesis (rules, no recordings)
``B``     ``flite``, ``festival-intl``,           built from recordings of real people:
          ``pyannote-sample``                     flite awb/slt/kal, festival's non-English
                                                  voices, the two speakers of pyannote's sample
========  ======================================  ==========================================

A *rotation* names the group thresholds and models are chosen on (tuning) and the group the
headline is reported on (reporting): ``"A->B"`` (the headline: tune on espeak-ng, report on
voices of real people) and ``"B->A"``. Both are reported. Code that chooses a threshold or
trains a model takes its voices from :func:`tuning_speakers` (or checks them with
:func:`require_tuning`); reserved voices (:data:`benchmarks.corpus.synth.RESERVED_VOICES`) are
in no family, so they can reach neither side.

Examples
--------
>>> family_of("espeak-us-m3"), family_of("festival-it-pc"), family_of("pyannote-SPEAKER_00")
('espeak-ng', 'festival-intl', 'pyannote-sample')
>>> split = split_voices(["espeak-us-m3", "flite-slt", "festival-ru-nsh"], "A->B")
>>> split.tuning, split.reporting
(('espeak-us-m3',), ('flite-slt', 'festival-ru-nsh'))
>>> require_tuning(["flite-slt"], "A->B")
Traceback (most recent call last):
...
benchmarks.corpus.voice_split.ReportingVoiceError: reporting voices of rotation A->B cannot be used for tuning or training: flite-slt
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "FAMILY_PREFIXES",
    "GROUPS",
    "HEADLINE_ROTATION",
    "ROTATIONS",
    "ReportingVoiceError",
    "VoiceSplit",
    "family_group",
    "family_of",
    "require_tuning",
    "split_voices",
    "tuning_catalogue",
    "tuning_speakers",
]

FAMILY_PREFIXES: dict[str, str] = {
    "espeak-": "espeak-ng",
    "flite-": "flite",
    "festival-": "festival-intl",
    "pyannote-": "pyannote-sample",
}
"""Speaker-id prefix -> voice family (one family per synthesis engine, plus the real sample)."""

GROUPS: dict[str, tuple[str, ...]] = {
    "A": ("espeak-ng",),
    "B": ("flite", "festival-intl", "pyannote-sample"),
}
"""Voice group -> its families."""

ROTATIONS: dict[str, tuple[str, str]] = {"A->B": ("A", "B"), "B->A": ("B", "A")}
"""Rotation name -> (tuning group, reporting group)."""

HEADLINE_ROTATION = "A->B"
"""The rotation whose reporting voices give the headline (BENCHMARKS.md, README)."""


class ReportingVoiceError(ValueError):
    """A reporting (or unknown) voice was about to choose a threshold or train a model."""


@dataclass(frozen=True)
class VoiceSplit:
    """Speakers of one rotation: those that may tune, and those the headline is reported on."""

    rotation: str
    tuning: tuple[str, ...]
    reporting: tuple[str, ...]


def family_of(speaker: str) -> str:
    """Voice family of a corpus speaker id (raises ``KeyError`` for an id of no family)."""
    for prefix, family in FAMILY_PREFIXES.items():
        if speaker.startswith(prefix):
            return family
    raise KeyError(
        f"speaker {speaker!r} belongs to no voice family; ids start with one of "
        f"{', '.join(FAMILY_PREFIXES)}"
    )


def family_group(speaker: str) -> str:
    """Group (``"A"`` / ``"B"``) of a corpus speaker id.

    Examples
    --------
    >>> family_group("espeak-gb-f2"), family_group("flite-kal")
    ('A', 'B')
    """
    family = family_of(speaker)
    for group, families in GROUPS.items():
        if family in families:
            return group
    raise KeyError(f"family {family!r} is in no group")  # pragma: no cover - GROUPS covers all


def _rotation(rotation: str) -> tuple[str, str]:
    if rotation not in ROTATIONS:
        raise ValueError(f"unknown rotation {rotation!r}; use one of {', '.join(ROTATIONS)}")
    return ROTATIONS[rotation]


def split_voices(speakers: Iterable[str], rotation: str = HEADLINE_ROTATION) -> VoiceSplit:
    """Split ``speakers`` (order kept) into the rotation's tuning and reporting speakers."""
    tune_group, report_group = _rotation(rotation)
    speakers = list(speakers)
    return VoiceSplit(
        rotation=rotation,
        tuning=tuple(s for s in speakers if family_group(s) == tune_group),
        reporting=tuple(s for s in speakers if family_group(s) == report_group),
    )


def tuning_speakers(speakers: Iterable[str], rotation: str = HEADLINE_ROTATION) -> list[str]:
    """The speakers of ``speakers`` that may choose thresholds and train models."""
    return list(split_voices(speakers, rotation).tuning)


def require_tuning(speakers: Iterable[str], rotation: str = HEADLINE_ROTATION) -> None:
    """Raise :class:`ReportingVoiceError` unless every speaker is a tuning voice of ``rotation``.

    Call it where a threshold is chosen or a model is trained, on the speakers actually used.
    """
    tune_group, _ = _rotation(rotation)
    bad = []
    for s in speakers:
        try:
            ok = family_group(s) == tune_group
        except KeyError:
            ok = False
        if not ok:
            bad.append(s)
    if bad:
        raise ReportingVoiceError(
            f"reporting voices of rotation {rotation} cannot be used for tuning or training: "
            f"{', '.join(sorted(set(bad)))}"
        )


def tuning_catalogue(rotation: str = HEADLINE_ROTATION) -> tuple:
    """Synthetic voices of :func:`benchmarks.corpus.synth.voices` that may tune (for training
    scripts that synthesise their own data)."""
    from .synth import voices

    tune_group, _ = _rotation(rotation)
    return tuple(v for v in voices() if family_group(v.id) == tune_group)
