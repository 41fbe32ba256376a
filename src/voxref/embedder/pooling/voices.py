"""Which references hold which voice: references grouped by voice before they are pooled.

References of one call are supposed to be one person, but a wrong file among them (another
speaker's clip) would otherwise be averaged in without a word. :func:`choose_voice` groups the
references' embeddings by voice (centroid linkage: the two closest groups merge while they are
closer than the threshold that applies to them), then keeps one voice:

* the voice closest to ``guide`` when a guide is given;
* else the voice most references hold (more references than any other voice);
* else none: every reference is pooled and the result is a blend, which the caller must say.

References of a voice that is not kept get no weight and the reason :data:`ANOTHER_VOICE`.

Sound and degraded references
-----------------------------
References the clean stage judged weak (noise, clipping...; not merely short) are not grouped:
they are pooled as before (quality pooling down-weights them). Of the others, a reference is
*degraded* (:func:`degraded_report`) when it is reverberant (decay time of at least
:data:`REVERBERANT_DECAY_S`, :func:`voxref.cleaning.reverb.decay_time`), overlapped by another
voice (more than :data:`OVERLAPPED_ABOVE` of its speech after the guided masking), band-limited
(below :data:`BAND_LIMITED_BELOW_HZ`: a telephone channel) or noisy (estimated SNR below
:data:`NOISY_BELOW_DB`), and *sound* otherwise. Degradation moves an embedding away from its
voice, and degraded references of one set tend to move together, so with one threshold for all a
reverberant copy of the target was set apart from clean utterances of its voice, and in mixed
sets the degraded references formed the majority and set the clean reference apart. Hence:

* two groups that both hold sound references are two voices when the centroids of their *sound*
  references are below :data:`DISTINCT_VOICES_BELOW` (degraded references do not vote there);
* a group of degraded references only is another voice than a group when their centroids are
  below :data:`DEGRADED_VOICES_BELOW`;
* every reference counts for the majority, with one exception: a group is not outvoted when it
  holds a reference the clean stage rates best (nothing wrong with it, not degraded: *rated
  best*) while the larger group holds no such reference and at least one but no more sound
  references than it. The vote of the sound references is then a tie that degraded references
  would decide against the best one, and the result is a blend (every reference pooled)
  instead. On the quality benchmark's mixed bag (one clean and degraded references of one
  voice) a reference overlapped by another talker over part of its length reads as sound after
  the guided masking (measured overlap near zero, high SNR), and with a reverberant reference
  it outvoted the clean one (``BENCHMARKS.md``, "Grouping references by voice").

Thresholds
----------
:data:`DISTINCT_VOICES_BELOW` = 0.75 was chosen on the 24 clean test utterances of the six
espeak-ng / flite fixture voices with the default GE2E encoder: same-voice pairs lie above it,
different-voice pairs below (the gap is narrow and two similar real voices may be grouped as one,
the previous behaviour: a blend). It matches the cosine below which
:func:`voxref.separation.guide.target_activity` calls a window cluster another voice.
:data:`DEGRADED_VOICES_BELOW` and :data:`REVERBERANT_DECAY_S` were chosen on the tuning voices
(espeak-ng, group A) by ``scripts/voice_grouping_thresholds.py`` from the cosine of degraded
references (reverberation RT60 0.3-0.9 s, overlap SIR 0/5 dB, telephone, babble, white noise) to
clean references of their own voice and of other voices, and checked on the reporting voices;
the measurements and the effect on the benchmark are in ``BENCHMARKS.md`` ("Grouping references
by voice"). Where a degraded reference of another voice is closer to the target than
:data:`DEGRADED_VOICES_BELOW`, the encoder cannot tell them apart and it is pooled (down-weighted
by quality pooling).

Examples
--------
>>> import numpy as np
>>> a, b = np.eye(4)[:2]
>>> v = choose_voice(np.stack([a, a + 0.1 * b, b]))
>>> v.groups, v.kept, v.how
([[0, 1], [2]], 0, 'majority')
>>> choose_voice(np.stack([a, b]), guide=b).kept_members
[1]
>>> choose_voice(np.stack([a, b])).how
'blend'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DISTINCT_VOICES_BELOW",
    "DEGRADED_VOICES_BELOW",
    "REVERBERANT_DECAY_S",
    "BAND_LIMITED_BELOW_HZ",
    "OVERLAPPED_ABOVE",
    "NOISY_BELOW_DB",
    "ANOTHER_VOICE",
    "VoiceGroups",
    "group_voices",
    "choose_voice",
    "degraded_report",
]

#: Centroid cosine below which two groups of sound references are two voices (module doc).
DISTINCT_VOICES_BELOW = 0.75
#: Cosine below which a group of degraded references is another voice than the group it is
#: compared with (module doc, "Degraded references").
DEGRADED_VOICES_BELOW = 0.65
#: Decay time (:func:`voxref.cleaning.reverb.decay_time`) from which a reference is reverberant.
REVERBERANT_DECAY_S = 0.18
#: Effective bandwidth below which a reference is band-limited (a telephone channel).
BAND_LIMITED_BELOW_HZ = 5000.0
#: Share of speech with other voices above which a reference is overlapped.
OVERLAPPED_ABOVE = 0.02
#: Estimated SNR below which a reference is degraded by noise (even when not judged weak).
NOISY_BELOW_DB = 20.0
#: The reason given to a reference of a voice that is not kept.
ANOTHER_VOICE = "another voice than the other references"


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def group_voices(
    embeddings: np.ndarray,
    threshold: float = DISTINCT_VOICES_BELOW,
    degraded: Sequence[bool] | None = None,
    degraded_threshold: float = DEGRADED_VOICES_BELOW,
) -> list[list[int]]:
    """Indices of the references of each voice, largest group first (ties: first index first).

    Centroid linkage: start with one group per reference and merge the two groups whose
    centroids are closest (relative to the threshold that applies to them) while they are at
    least that threshold apart. Two groups that both hold a sound reference (``degraded`` false)
    are compared by the centroids of their sound references against ``threshold``: degraded
    references do not decide whether two sound ones are one voice. A group of degraded references
    only is compared by its centroid with the other group's against ``degraded_threshold``.
    """
    e = _unit(np.atleast_2d(embeddings))
    bad = np.zeros(len(e), bool) if degraded is None else np.asarray(degraded, bool).reshape(-1)
    if bad.size != len(e):
        raise ValueError(f"degraded has {bad.size} flags for {len(e)} references")
    groups = [[i] for i in range(len(e))]
    while len(groups) > 1:
        full = _unit(np.stack([e[g].sum(0) for g in groups]))
        sound = [[i for i in g if not bad[i]] for g in groups]
        best, pair = -np.inf, None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if sound[i] and sound[j]:
                    cos = float(_unit(e[sound[i]].sum(0)) @ _unit(e[sound[j]].sum(0)))
                    margin = cos - threshold
                else:
                    margin = float(full[i] @ full[j]) - degraded_threshold
                if margin > best:
                    best, pair = margin, (i, j)
        if pair is None or best < 0:
            break
        i, j = pair
        groups[i] = sorted(groups[i] + groups[j])
        del groups[j]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


@dataclass
class VoiceGroups:
    """The voices among a call's references and which one is kept.

    Attributes
    ----------
    groups
        Reference indices of each voice, largest first.
    kept
        Index into ``groups`` of the voice kept, or ``None`` when the result is a blend (several
        voices, no guide, no voice held by more references than any other).
    how
        ``"one voice"``, ``"guide"``, ``"majority"`` or ``"blend"``.
    cosines
        Cosine between the voices' centroids, ``(len(groups), len(groups))``.
    """

    groups: list[list[int]]
    kept: int | None
    how: str
    cosines: np.ndarray

    @property
    def mixed(self) -> bool:
        """More than one voice among the references."""
        return len(self.groups) > 1

    @property
    def kept_members(self) -> list[int]:
        """References that are pooled (all of them for a blend)."""
        if self.kept is None:
            return sorted(i for g in self.groups for i in g)
        return list(self.groups[self.kept])

    def voice_of(self, index: int) -> int:
        """The voice (index into ``groups``) reference ``index`` holds."""
        return next(v for v, g in enumerate(self.groups) if index in g)

    def named(self, names: Sequence[str]) -> list[list[str]]:
        """``groups`` with reference names instead of indices."""
        return [[names[i] for i in g] for g in self.groups]

    def message(self, names: Sequence[str]) -> str:
        """One paragraph for the user: the voices, and which is kept or that it is a blend."""
        listed = "; ".join(
            f"voice {v + 1}: {', '.join(g)}" for v, g in enumerate(self.named(names))
        )
        head = f"the references hold {len(self.groups)} different voices ({listed})"
        if self.kept is None:
            return (
                f"{head}. No voice is clearly held by more references than the others, so the "
                "embedding is a BLEND of these voices, not one person. Pass guide= (an embedding "
                "of the target) or remove the references of the other voices."
            )
        why = "closest to the guide" if self.how == "guide" else "held by the most references"
        return (
            f"{head}. Voice {self.kept + 1} ({why}) is kept; the references of the other "
            "voices get no weight."
        )


def choose_voice(
    embeddings: np.ndarray,
    guide: np.ndarray | None = None,
    threshold: float = DISTINCT_VOICES_BELOW,
    degraded: Sequence[bool] | None = None,
    degraded_threshold: float = DEGRADED_VOICES_BELOW,
    rated_best: Sequence[bool] | None = None,
) -> VoiceGroups:
    """Group ``(R, D)`` reference embeddings by voice and choose the voice to keep.

    Parameters
    ----------
    embeddings
        One unit-norm row per usable reference.
    guide
        Optional enrollment embedding of the target: the voice closest to it is kept.
    threshold
        Centroid cosine below which two groups of sound references are two voices.
    degraded
        Per reference, whether it is degraded but usable (:func:`degraded_report`); such
        references do not vote on which sound references are another voice (see
        :func:`group_voices`).
    degraded_threshold
        Centroid cosine below which a group of degraded references is another voice.
    rated_best
        Per reference, whether the clean stage found nothing wrong with it (verdict ``ok``; a
        degraded reference is never rated best). With ``degraded``, a group holding such a
        reference is not outvoted by a larger group that holds none and no more sound
        references (the result is a blend; module doc).
    """
    e = _unit(np.atleast_2d(embeddings))
    groups = group_voices(e, threshold, degraded, degraded_threshold)
    c = _unit(np.stack([e[g].sum(0) for g in groups]))
    cosines = (c @ c.T).astype(np.float32)
    if len(groups) == 1:
        return VoiceGroups(groups, 0, "one voice", cosines)
    if guide is not None:
        kept = int(np.argmax(c @ _unit(np.asarray(guide).reshape(-1))))
        return VoiceGroups(groups, kept, "guide", cosines)
    if len(groups[0]) > len(groups[1]) and not _best_outvoted(groups, degraded, rated_best):
        return VoiceGroups(groups, 0, "majority", cosines)
    return VoiceGroups(groups, None, "blend", cosines)


def _best_outvoted(
    groups: list[list[int]],
    degraded: Sequence[bool] | None,
    rated_best: Sequence[bool] | None,
) -> bool:
    """Whether keeping ``groups[0]`` by its count sets apart a group that holds a reference rated
    best while ``groups[0]`` holds none and no more sound references than that group (module
    doc, "Sound and degraded references")."""
    if degraded is None or rated_best is None:
        return False
    bad = np.asarray(degraded, bool).reshape(-1)
    best = np.asarray(rated_best, bool).reshape(-1)
    if best.size != bad.size:
        raise ValueError(f"rated_best has {best.size} flags for {bad.size} references")
    best = best & ~bad
    kept = groups[0]
    if best[kept].any():
        return False
    n_sound = int((~bad[kept]).sum())
    if n_sound == 0:
        return False  # degraded references only: the degraded threshold decided the split
    return any(best[g].any() and int((~bad[g]).sum()) >= n_sound for g in groups[1:])


def _judged(reference: object) -> bool:
    """Whether a reference's embedding can speak for its voice: the clean stage found nothing
    wrong with it but, at most, its length (noise and clipping move an embedding away from its
    voice, so a degraded clip of the target would look like another voice)."""
    q = getattr(reference, "quality", None)
    if q is None or q.verdict == "ok":
        return True
    return all(why.startswith("short") for why in q.reasons)


def _rated_best(reference: object) -> bool:
    """Whether the clean stage found nothing wrong with a reference (not even its length)."""
    q = getattr(reference, "quality", None)
    return q is not None and q.verdict == "ok"


def degraded_report(quality: object, decay_s: float = REVERBERANT_DECAY_S) -> bool:
    """Whether a reference the clean stage let through is degraded: reverberant (decay time of
    at least ``decay_s``), overlapped by another voice (more than :data:`OVERLAPPED_ABOVE` of
    its speech), band-limited (below :data:`BAND_LIMITED_BELOW_HZ`) or noisy (estimated SNR
    below :data:`NOISY_BELOW_DB`). ``quality`` is a
    :class:`~voxref.cleaning.quality.QualityReport` (``None``: nothing measured, not degraded).

    Examples
    --------
    >>> from voxref.cleaning.quality import QualityReport
    >>> dry = QualityReport("a.wav", 5.0, 4.0, snr_db=40.0, bandwidth_hz=8000.0, decay_s=0.06)
    >>> degraded_report(dry), degraded_report(QualityReport("b.wav", 5.0, 4.0, decay_s=0.3))
    (False, True)
    """
    if quality is None:
        return False

    def measured(name: str) -> float | None:
        v = getattr(quality, name, None)
        return None if v is None or not np.isfinite(v) else float(v)

    decay, overlap = measured("decay_s"), measured("overlap_ratio")
    band, snr = measured("bandwidth_hz"), measured("snr_db")
    return bool(
        (decay is not None and decay >= decay_s)
        or (overlap is not None and overlap > OVERLAPPED_ABOVE)
        or (band is not None and band < BAND_LIMITED_BELOW_HZ)
        or (snr is not None and snr < NOISY_BELOW_DB)
    )


def keep_one_voice(
    references: Sequence, guide: np.ndarray | None = None
) -> tuple[list, VoiceGroups]:
    """The references to pool, after :func:`choose_voice` on their embeddings.

    ``references`` are :class:`~voxref.embedder.embedder.ReferenceResult` of usable references
    (``embedding`` set). Only references the clean stage judged sound (see :func:`_judged`) are
    grouped; the others are pooled as they are (quality pooling down-weights them). A reference
    of a voice that is not kept is marked down-weighted with the reason :data:`ANOTHER_VOICE`
    (its weight stays 0); several voices are logged as a warning.
    """
    import logging

    judged = [i for i, r in enumerate(references) if _judged(r)]
    if len(judged) < 2:
        every = list(range(len(references)))
        return list(references), VoiceGroups([every], 0, "one voice", np.ones((1, 1), np.float32))
    degraded = [degraded_report(getattr(references[i], "quality", None)) for i in judged]
    voices = choose_voice(
        np.stack([references[i].embedding for i in judged]),
        guide,
        degraded=degraded,
        rated_best=[_rated_best(references[i]) for i in judged],
    )
    voices.groups = [[judged[i] for i in g] for g in voices.groups]
    if voices.mixed:
        logging.getLogger("voxref.embedder").warning(
            "%s", voices.message([str(r.source) for r in references])
        )
    kept = set(voices.kept_members)
    pooled = []
    for i, r in enumerate(references):
        if i in kept or i not in judged:
            pooled.append(r)
            continue
        cos = float(voices.cosines[voices.voice_of(i), voices.kept])
        why = f"{ANOTHER_VOICE} (cosine {cos:.2f} to the voice kept)"
        r.fate.status = "down-weighted"
        r.fate.reason = f"{why}; {r.fate.reason}" if r.fate.reason else why
    return pooled, voices
