"""Advanced options of the offline :class:`~.diarization.Diarizer`: the knobs of its stages.

Most users never set them: the defaults are the ones the diarization benchmark chose (see
BENCHMARKS.md and ``benchmarks/results/separation.md``). They sit in one frozen object,
:class:`DiarizerTuning`, passed as ``Diarizer(advanced=...)``, so that the ``Diarizer`` signature
keeps the options a user needs (encoder, VAD, overlap detector, level), and every
:class:`~.diarization_result.DiarizationResult` records which of them were changed
(:meth:`DiarizerTuning.changed`).

Examples
--------
>>> t = DiarizerTuning(min_duration=0.5)
>>> t.min_duration, t.window
(0.5, 1.5)
>>> t.changed()
{'min_duration': 0.5}
>>> DiarizerTuning(window=0)
Traceback (most recent call last):
...
voxref.errors.ConfigError: window must be a positive number of seconds; got 0.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..option_checks import advanced_options

__all__ = [
    "DiarizerTuning",
    "DIARIZER_TUNING_FIELDS",
    "TURN_OVERLAP",
    "COUNT_THRESHOLD",
    "COUNT_NEAR_TURN",
    "check_removed_diarizer_options",
]

#: Seconds both speakers are extended across a change of speaker when no overlap detector runs.
TURN_OVERLAP = 0.15
#: Overlap probability above which the speaker counter adds the runner-up speaker.
COUNT_THRESHOLD = 0.9
#: The counter's overlaps are kept only this close (seconds) to a change of speaker.
COUNT_NEAR_TURN: float | None = 0.5


def _real(name: str, value: Any, what: str, ok: Any = None) -> float:
    if (
        isinstance(value, (bool, str, bytes))
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or (ok is not None and not ok(float(value)))
    ):
        raise ConfigError(f"{name} must be {what}; got {value!r}.")
    return float(value)


def _whole(name: str, value: Any, low: int) -> int:
    v = _real(name, value, f"a whole number >= {low}", lambda v: v == int(v) and v >= low)
    return int(v)


_POSITIVE = ("a positive number of seconds", lambda v: v > 0)
_NON_NEGATIVE = ("a number of seconds >= 0", lambda v: v >= 0)
_UNIT = ("a number between 0 and 1", lambda v: 0 <= v <= 1)


@dataclasses.dataclass(frozen=True)
class DiarizerTuning:
    """Advanced options of :class:`~.diarization.Diarizer` (``Diarizer(advanced=DiarizerTuning(...))``).

    Every field defaults to the value ``Diarizer()`` uses. A wrong value raises a
    :class:`~voxref.errors.ConfigError` when the object is made, before any audio is read.

    Parameters
    ----------
    window, hop
        Embedding window and step of the first pass (seconds).
    frame_step
        Resolution of the output (seconds).
    switch_penalty
        Viterbi cost of changing speaker, in units of frame score (cosine x ``score_scale``).
    score_scale
        Multiplier turning cosine scores into log-likelihood-like frame scores.
    min_duration
        Shortest speaker turn kept (seconds).
    min_ratio
        Without a given number of speakers, the Ward tree is cut at its largest jump in merge
        cost only when that jump is at least this ratio (else one speaker);
        :func:`.clustering.ward_clusters`.
    merge_threshold
        Without a given number of speakers, clusters whose centroids have a cosine (encoder space)
        at least this high are merged.
    extra_clusters
        With a given number of speakers, clustering first finds this many more clusters, which
        are then merged down (windows straddling two voices tend to form a cluster of their own).
    min_cluster_fraction
        Clusters with fewer than this fraction of the windows are dissolved into their neighbours.
    max_speakers
        Upper bound on the estimated number of speakers (a call's ``max_speakers`` overrides it).
    fine_window, fine_hop, fine_weight
        Second pass: shorter windows (``fine_window=None`` disables it) scored against centroids
        taken from the first pass, mixed into the frame scores with this weight, sharpen turn
        boundaries and catch short turns.
    detect_overlap
        Add a second speaker (the runner-up) where the windows persistently fit no single speaker.
        Off by default: on the benchmark its precision is about 0.5, so it does not lower the
        error rate (see :func:`.resegment.overlap_scores`).
    overlap_threshold, min_overlap
        With ``detect_overlap``: misfit score (robust z-score) above which a frame counts as
        mixed, and the shortest overlap kept (seconds).
    turn_overlap
        Seconds by which both speakers are extended across a change of speaker inside continuous
        speech (each is added as the second speaker on the other's side): in conversation the
        next talker often starts before the previous one stops, and a hard boundary misses that
        overlap. 0 disables it. ``None`` (default): 0 when an overlap detector runs, else
        :data:`TURN_OVERLAP`, chosen on pyannote's sample and the synthetic conversations of
        :mod:`.benchmark` (``benchmarks/results/separation.md``).
    count_threshold, min_count_overlap
        With an overlap detector: overlap probability above which a frame gets a second speaker,
        and the shortest such run kept (seconds). The counter was trained on synthetic voices and
        is over-confident on real speech, hence the high threshold.
    count_near_turn
        Only frames this close (seconds) to a change of speaker inside continuous speech get a
        second speaker from the counter (``None``: anywhere). Most overlap in conversation is
        at interruptions; away from them the counter's false alarms cost more than its hits gain.

    Examples
    --------
    >>> DiarizerTuning(turn_overlap=0.0).changed()
    {'turn_overlap': 0.0}
    >>> DiarizerTuning(fine_window=None).fine_window is None
    True
    >>> DiarizerTuning(max_speakers=0)
    Traceback (most recent call last):
    ...
    voxref.errors.ConfigError: max_speakers must be a whole number >= 1; got 0.
    """

    window: float = 1.5
    hop: float = 0.25
    frame_step: float = 0.01
    switch_penalty: float = 2.0
    score_scale: float = 10.0
    min_duration: float = 0.3
    min_ratio: float = 1.25
    merge_threshold: float = 0.9
    extra_clusters: int = 1
    min_cluster_fraction: float = 0.05
    max_speakers: int = 8
    fine_window: float | None = 0.75
    fine_hop: float = 0.25
    fine_weight: float = 1.0
    detect_overlap: bool = False
    overlap_threshold: float = 2.5
    min_overlap: float = 0.3
    turn_overlap: float | None = None
    count_threshold: float = COUNT_THRESHOLD
    min_count_overlap: float = 0.1
    count_near_turn: float | None = COUNT_NEAR_TURN

    def __post_init__(self) -> None:
        def optional(name: str, rule: tuple[str, Any]) -> float | None:
            value = getattr(self, name)
            if value is None:
                return None
            return _real(name, value, f"{rule[0]} (or None)", rule[1])

        checked: dict[str, Any] = {
            name: _real(name, getattr(self, name), *_POSITIVE)
            for name in ("window", "hop", "frame_step", "fine_hop")
        }
        checked.update(
            {
                name: _real(name, getattr(self, name), *_NON_NEGATIVE)
                for name in ("switch_penalty", "min_duration", "min_overlap", "min_count_overlap")
            }
        )
        checked["score_scale"] = _real(
            "score_scale", self.score_scale, "a number > 0", _POSITIVE[1]
        )
        checked["min_ratio"] = _real("min_ratio", self.min_ratio, "a ratio >= 1", lambda v: v >= 1)
        checked["merge_threshold"] = _real(
            "merge_threshold", self.merge_threshold, "a cosine in [-1, 1]", lambda v: -1 <= v <= 1
        )
        checked["extra_clusters"] = _whole("extra_clusters", self.extra_clusters, 0)
        checked["min_cluster_fraction"] = _real(
            "min_cluster_fraction", self.min_cluster_fraction, *_UNIT
        )
        checked["max_speakers"] = _whole("max_speakers", self.max_speakers, 1)
        checked["fine_window"] = optional("fine_window", _POSITIVE)
        checked["fine_weight"] = _real("fine_weight", self.fine_weight, *_UNIT)
        if not isinstance(self.detect_overlap, bool):
            raise ConfigError(f"detect_overlap must be True or False; got {self.detect_overlap!r}.")
        checked["overlap_threshold"] = _real(
            "overlap_threshold", self.overlap_threshold, "a finite z-score"
        )
        checked["turn_overlap"] = optional("turn_overlap", _NON_NEGATIVE)
        checked["count_threshold"] = _real("count_threshold", self.count_threshold, *_UNIT)
        checked["count_near_turn"] = optional("count_near_turn", _NON_NEGATIVE)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def changed(self) -> dict[str, Any]:
        """The fields set to something else than their default (what a result records)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }

    @classmethod
    def coerce(cls, value: Any) -> DiarizerTuning:
        """``Diarizer(advanced=...)``: ``None`` (defaults), a :class:`DiarizerTuning`, or a
        mapping of its fields."""
        return advanced_options(cls, value)


#: Names of the advanced options (fields of :class:`DiarizerTuning`).
DIARIZER_TUNING_FIELDS = tuple(f.name for f in dataclasses.fields(DiarizerTuning))

#: Options the diarizer no longer has, and why.
_REMOVED = {
    "clustering": "the diarizer clusters with Ward's method only (the spectral path is gone)",
    "seed": "the diarizer's clustering draws no random numbers (Ward's method is deterministic)",
}


def check_removed_diarizer_options(options: Mapping[str, Any]) -> None:
    """Raise for keywords ``Diarizer`` no longer takes, naming their new spelling.

    Examples
    --------
    >>> check_removed_diarizer_options({})
    >>> check_removed_diarizer_options({"switch_penalty": 3.0})
    Traceback (most recent call last):
    ...
    voxref.errors.ConfigError: Diarizer(switch_penalty=...) is an advanced option now: pass Diarizer(advanced=DiarizerTuning(switch_penalty=...)) (from voxref.separation.diarization_tuning import DiarizerTuning).
    """
    for name in options:
        if name in DIARIZER_TUNING_FIELDS:
            raise ConfigError(
                f"Diarizer({name}=...) is an advanced option now: pass "
                f"Diarizer(advanced=DiarizerTuning({name}=...)) "
                "(from voxref.separation.diarization_tuning import DiarizerTuning)."
            )
        if name in _REMOVED:
            raise ConfigError(f"Diarizer({name}=...) was removed: {_REMOVED[name]}.")
        raise ConfigError(
            f"Diarizer() got an unknown option {name!r}; it takes encoder, vad, "
            "overlap_detector, level_dbfs and advanced=DiarizerTuning(...)."
        )
