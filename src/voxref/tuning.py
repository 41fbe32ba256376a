"""Advanced options of :class:`voxref.Embedder`: the knobs that exist for experiments.

Most users never set them: the defaults are the ones the quality benchmark chose (see
BENCHMARKS.md). They sit in one frozen object, :class:`EmbedderTuning`, passed as
``Embedder(advanced=...)``, so that the ``Embedder`` signature keeps the options a user needs,
and every result records which of them were changed (:meth:`EmbedderTuning.changed`).

Examples
--------
>>> t = EmbedderTuning(hop=0.8)
>>> t.hop, t.window
(0.8, None)
>>> t.changed()
{'hop': 0.8}
>>> EmbedderTuning(window_temperature=0)
Traceback (most recent call last):
...
voxref.errors.ConfigError: window_temperature must be > 0 (inf: plain mean over the windows; None: the default); got 0.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError
from .option_checks import advanced_options, check_seconds

__all__ = ["EmbedderTuning", "TUNING_FIELDS", "check_removed_options"]


def _optional_float(name: str, value: Any, what: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, (bool, str, bytes))
        or not isinstance(value, numbers.Real)
        or math.isnan(float(value))
    ):
        raise ConfigError(f"{name} must be {what} (or None: the default); got {value!r}.")
    return float(value)


@dataclasses.dataclass(frozen=True)
class EmbedderTuning:
    """Advanced options of :class:`voxref.Embedder` (``Embedder(advanced=EmbedderTuning(...))``).

    Every field defaults to ``None``: the behaviour of ``Embedder()``. A wrong value raises a
    :class:`~voxref.errors.ConfigError` when the object is made, before any audio is read.

    Parameters
    ----------
    window, hop
        Window length / step in seconds of the window embeddings (``None``: the encoder's, 1.6 s
        and 0.4 s for GE2E).
    window_temperature
        Cosine temperature of the attention over one reference's windows
        (:func:`voxref.embedder.pooling.guided_window_pool`); ``inf`` = plain masked mean.
        ``None``: :data:`voxref.embedder.pooling.attention.WINDOW_TEMPERATURE` (``inf`` with
        ``pooling="mean"``).
    separate_margin
        With ``Embedder(separate=...)``: a separated stream is kept only when it is this much
        closer (cosine) to the target than the unseparated reference (negative: kept even when a
        little farther); applied after the one/two-voice gate. ``None``: ``-inf`` behind the
        gate, ``0`` without one.
    separate_threshold_db
        With ``Embedder(separate=...)``: a reference is separated only when its quieter stream is
        at least this loud relative to the reference (dB,
        :func:`voxref.separation.separator.weaker_stream_db`). ``None``: the checkpoint's
        ``separation_threshold_db`` (-12 dB for the shipped one; none for other separators).
        Raise it to separate fewer references; it also gates a separator without a threshold of
        its own. CLI: ``--separate-threshold DB``.

    Examples
    --------
    >>> EmbedderTuning()
    EmbedderTuning(window=None, hop=None, window_temperature=None, separate_margin=None, separate_threshold_db=None)
    >>> EmbedderTuning(separate_threshold_db=-15).changed()
    {'separate_threshold_db': -15.0}
    >>> EmbedderTuning(hop=-1)
    Traceback (most recent call last):
    ...
    voxref.errors.ConfigError: hop must be a positive number of seconds (or None: the encoder's); got -1.
    """

    window: float | None = None
    hop: float | None = None
    window_temperature: float | None = None
    separate_margin: float | None = None
    separate_threshold_db: float | None = None

    def __post_init__(self) -> None:
        checked = {
            "window": check_seconds("window", self.window),
            "hop": check_seconds("hop", self.hop),
            "window_temperature": _optional_float(
                "window_temperature", self.window_temperature, "a number > 0"
            ),
            "separate_margin": _optional_float(
                "separate_margin", self.separate_margin, "a cosine margin (a number, e.g. 0.05)"
            ),
            "separate_threshold_db": _optional_float(
                "separate_threshold_db", self.separate_threshold_db, "a level in dB (e.g. -12)"
            ),
        }
        temperature = checked["window_temperature"]
        if temperature is not None and not temperature > 0:
            raise ConfigError(
                "window_temperature must be > 0 (inf: plain mean over the windows; None: the "
                f"default); got {self.window_temperature!r}."
            )
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def changed(self) -> dict[str, float]:
        """The fields set to something else than their default ``None`` (what a result records)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def coerce(cls, value: Any) -> EmbedderTuning:
        """``Embedder(advanced=...)``: ``None`` (defaults), an :class:`EmbedderTuning`, or a
        mapping of its fields."""
        return advanced_options(cls, value)


#: Names of the advanced options (fields of :class:`EmbedderTuning`).
TUNING_FIELDS = tuple(f.name for f in dataclasses.fields(EmbedderTuning))


def check_removed_options(options: Mapping[str, Any]) -> None:
    """Raise for keywords ``Embedder`` no longer takes, naming their new spelling.

    Examples
    --------
    >>> check_removed_options({})
    >>> check_removed_options({"hop": 0.8})
    Traceback (most recent call last):
    ...
    voxref.errors.ConfigError: Embedder(hop=...) is an advanced option now: pass Embedder(advanced=EmbedderTuning(hop=...)) (from voxref.tuning import EmbedderTuning).
    """
    for name, value in options.items():
        if name in TUNING_FIELDS:
            raise ConfigError(
                f"Embedder({name}=...) is an advanced option now: pass "
                f"Embedder(advanced=EmbedderTuning({name}=...)) "
                "(from voxref.tuning import EmbedderTuning)."
            )
        if name == "guide":
            flag = repr(value) if isinstance(value, bool) else "True/False"
            raise ConfigError(
                f"Embedder(guide=...) is spelled Embedder(guiding={flag}) now (guiding on or "
                "off); guide= is the enrollment vector of embed(..., guide=vector)."
            )
        raise TypeError(f"Embedder() got an unexpected keyword argument {name!r}")
