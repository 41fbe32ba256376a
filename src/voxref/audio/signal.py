"""The values passed between voxref's stages: :class:`Audio` and what its recording was as read.

:class:`SignalProperties` are measured by :func:`voxref.audio.properties.measure` (clipping,
peak, level; see that module) and carried on :attr:`Audio.as_read`; both are plain values, so
this module imports nothing of voxref.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Audio", "SignalProperties"]


@dataclass(frozen=True)
class SignalProperties:
    """Properties of a recording measured on its samples as read (all channels, its own rate).

    Attributes
    ----------
    sample_rate
        The recording's rate (Hz).
    channels
        Its channel count.
    num_frames
        Its length in samples per channel.
    peak
        Largest sample magnitude over all channels (after any rescaling noted in ``notes``).
    clipping_ratio
        Fraction of frames in which a channel sits in a flat run at a rail (:func:`~voxref.audio.properties.clipping_ratio`).
    dc_offset
        Largest mean of a channel (signed; a few 1e-3 is common for cheap converters).
    level_dbfs
        Active level of the mono signal voxref goes on with (RMS over the 20 ms frames within
        40 dB of the loudest, full band), ``-inf`` for digital silence.
    frame_power
        Mean power of each 20 ms frame of that mono signal (for levels over speech regions).
    frame_s
        Frame length of ``frame_power`` (s).
    notes
        What reading the input assumed or changed (integer PCM stored as floats rescaled, one
        channel used alone...), in words.
    """

    sample_rate: int
    channels: int
    num_frames: int
    peak: float
    clipping_ratio: float
    dc_offset: float
    level_dbfs: float
    frame_power: np.ndarray = field(repr=False, compare=False)
    frame_s: float = 0.02
    notes: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / float(self.sample_rate)

    @property
    def peak_dbfs(self) -> float:
        """:attr:`peak` in dBFS (``-inf`` for digital silence)."""
        return 20.0 * math.log10(self.peak) if self.peak > 0 else float("-inf")

    def describes(self, duration: float) -> bool:
        """Whether these properties are of a signal ``duration`` seconds long (the same timeline,
        within one 20 ms frame), i.e. of the recording an :class:`Audio` still holds."""
        return abs(self.duration - float(duration)) <= self.frame_s

    def level_over(self, regions: Iterable[tuple[float, float]]) -> float:
        """RMS level (dBFS) over the frames whose centre lies in ``regions`` (``(start, end)`` s);
        ``nan`` when no frame does.

        Examples
        --------
        >>> from voxref.audio.properties import measure
        >>> x = np.concatenate([np.full(16000, 0.1), np.zeros(16000)])
        >>> p = measure(x[:, None], x, 16000)
        >>> round(p.level_over([(0.0, 1.0)]), 1), round(p.level_over([(0.0, 2.0)]), 1)
        (-20.0, -23.0)
        """
        p = self.frame_power
        centres = (np.arange(p.size) + 0.5) * self.frame_s
        inside = np.zeros(p.size, dtype=bool)
        for start, end in regions:
            inside |= (centres >= start) & (centres < end)
        if not inside.any():
            return float("nan")
        return float(10.0 * np.log10(max(float(p[inside].mean()), 1e-20)))


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples with their sample rate and a record of what was done to them.

    Parameters
    ----------
    samples
        1-D ``float32`` array in [-1, 1] (nominally), shape ``(num_samples,)``.
    sample_rate
        Samples per second of ``samples``.
    source
        Name of the input it came from (file path or ``"<array i>"``).
    original_sample_rate
        Sample rate of the input before any resampling.
    original_channels
        Channel count of the input before any downmix.
    history
        Human-readable list of the conversions applied (downmix, resample, ...), so
        nothing happens silently.
    as_read
        Properties of the recording measured on its samples as read, before resampling and
        downmix (:class:`SignalProperties`: clipping, peak, DC offset,
        level, notes on what reading it assumed); ``None`` when unknown. Kept by :meth:`replace`:
        they describe the recording, not what voxref did to it.

    Examples
    --------
    >>> import numpy as np
    >>> a = Audio(np.zeros(16000, dtype=np.float32), 16000)
    >>> a.duration
    1.0
    """

    samples: np.ndarray
    sample_rate: int
    source: str = "<array>"
    original_sample_rate: int | None = None
    original_channels: int = 1
    history: tuple[str, ...] = field(default_factory=tuple)
    as_read: SignalProperties | None = field(default=None, repr=False, compare=False)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / float(self.sample_rate)

    @property
    def num_samples(self) -> int:
        return int(len(self.samples))

    def replace(
        self, samples: np.ndarray, step: str | None = None, sample_rate: int | None = None
    ) -> Audio:
        """A copy with new samples (and optionally rate), appending ``step`` to the history."""
        hist = self.history + ((step,) if step else ())
        return Audio(
            samples=np.ascontiguousarray(samples, dtype=np.float32),
            sample_rate=int(sample_rate or self.sample_rate),
            source=self.source,
            original_sample_rate=self.original_sample_rate,
            original_channels=self.original_channels,
            history=hist,
            as_read=self.as_read,
        )

    def crop(self, start: float, end: float) -> np.ndarray:
        """Samples between ``start`` and ``end`` seconds (clipped to the signal)."""
        a = max(0, int(round(start * self.sample_rate)))
        b = min(self.num_samples, int(round(end * self.sample_rate)))
        return self.samples[a:b]
