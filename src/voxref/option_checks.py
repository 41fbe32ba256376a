"""Checks of the numeric and device options of an embedding call, made before any audio is read.

Every option either does something or raises a :class:`~voxref.errors.ConfigError` naming the
valid values: a NaN, a negative window or a level no recording can have is never accepted
silently.

Examples
--------
>>> check_seconds("window", 1.6), check_seconds("window", None)
(1.6, None)
>>> check_seconds("window", -1)
Traceback (most recent call last):
...
voxref.errors.ConfigError: window must be a positive number of seconds (or None: the encoder's); got -1.
>>> check_count("num_speakers", 2.5)
Traceback (most recent call last):
...
voxref.errors.ConfigError: num_speakers must be a whole number >= 1 (or None: found automatically); got 2.5.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import ConfigError

__all__ = [
    "check_seconds",
    "check_min_seconds",
    "check_level_range",
    "check_count",
    "check_device",
    "check_speakers_mapping",
    "advanced_options",
    "LEVEL_RANGE_DBFS",
]

_Options = TypeVar("_Options")

#: Active speech levels (dBFS) a recording can be scaled to without clipping or vanishing.
LEVEL_RANGE_DBFS = (-80.0, 0.0)


def _number(value: Any) -> float | None:
    if isinstance(value, (bool, str, bytes)) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def check_seconds(name: str, value: Any) -> float | None:
    """A window/hop length: ``None`` (the encoder's) or a finite number of seconds > 0."""
    if value is None:
        return None
    v = _number(value)
    if v is None or not math.isfinite(v) or v <= 0:
        raise ConfigError(
            f"{name} must be a positive number of seconds (or None: the encoder's); got {value!r}."
        )
    return v


def check_cosine(name: str, value: Any) -> float:
    """A cosine threshold: a finite real number in [-1, 1] (numpy scalars included).

    Examples
    --------
    >>> check_cosine("min_guide_similarity", 0.5)
    0.5
    """
    v = _number(value)
    if v is None or not -1.0 <= v <= 1.0:
        raise ConfigError(f"{name} must be a cosine in [-1, 1]; got {value!r}.")
    return v


def check_min_seconds(value: Any) -> float:
    """``min_seconds``: a finite number of seconds >= 0."""
    v = _number(value)
    if v is None or not math.isfinite(v) or v < 0:
        raise ConfigError(f"min_seconds must be a finite number of seconds >= 0; got {value!r}.")
    return v


def check_level_range(value: float | None) -> float | None:
    """A target speech level inside :data:`LEVEL_RANGE_DBFS` (or ``None``: levelling off)."""
    lo, hi = LEVEL_RANGE_DBFS
    if value is not None and not lo <= value <= hi:
        raise ConfigError(
            f"level_dbfs={value:g} is no level a recording can be scaled to; give a dBFS value "
            f"between {lo:g} and {hi:g} (default -22), or None to keep the recorded level."
        )
    return value


def check_count(name: str, value: Any) -> int | None:
    """A count such as ``num_speakers``: ``None`` or a whole number >= 1."""
    if value is None:
        return None
    v = _number(value)
    if v is None or not math.isfinite(v) or v != int(v) or v < 1:
        raise ConfigError(
            f"{name} must be a whole number >= 1 (or None: found automatically); got {value!r}."
        )
    return int(v)


def check_device(device: Any) -> str:
    """A torch device this machine has (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``)."""
    if not isinstance(device, str) or not device.strip():
        raise ConfigError(f"device must be a torch device name such as 'cpu'; got {device!r}.")
    if device == "cpu":
        return device
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'.") from exc
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise ConfigError(
                f"device={device!r} but this machine has {count} usable CUDA device(s); "
                "use device='cpu' (or install a CUDA build of torch)."
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device={device!r} but MPS is not available here; use device='cpu'.")
    elif dev.type not in ("cuda", "mps", "cpu"):
        raise ConfigError(f"device={device!r} is not supported; use 'cpu' or 'cuda'.")
    return device


def check_speakers_mapping(speakers: Any) -> Mapping:
    """``embed_many``'s argument: a mapping ``{speaker: references}``."""
    if not isinstance(speakers, Mapping):
        raise ConfigError(
            f"embed_many takes a mapping {{speaker: [files...]}}, got {type(speakers).__name__}; "
            "for one speaker's references use embed([files...])."
        )
    return speakers


def advanced_options(cls: type[_Options], value: Any) -> _Options:
    """An ``advanced=`` argument as an instance of the frozen options dataclass ``cls``.

    ``None`` gives the defaults, an instance passes through, a mapping of its fields builds one
    (and its checks run); anything else, or an unknown field, is a ConfigError.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class Knobs:
    ...     hop: float = 0.4
    >>> advanced_options(Knobs, None), advanced_options(Knobs, {"hop": 0.8})
    (Knobs(hop=0.4), Knobs(hop=0.8))
    >>> advanced_options(Knobs, {"hopp": 0.8})
    Traceback (most recent call last):
    ...
    voxref.errors.ConfigError: unknown advanced option(s) ['hopp']; Knobs takes ('hop',).
    """
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        fields = tuple(f.name for f in dataclasses.fields(cls))
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ConfigError(
                f"unknown advanced option(s) {unknown}; {cls.__name__} takes {fields}."
            )
        return cls(**value)
    raise ConfigError(
        f"advanced= takes a {cls.__module__}.{cls.__name__} (or a dict of its fields), got "
        f"{type(value).__name__}."
    )
