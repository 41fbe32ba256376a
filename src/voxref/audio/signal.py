"""The :class:`Audio` value passed between voxref's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .properties import SignalProperties

__all__ = ["Audio"]


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
        downmix (:class:`~voxref.audio.properties.SignalProperties`: clipping, peak, DC offset,
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
