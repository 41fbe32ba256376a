"""Speech level: measure the active level of a signal and scale it to a target.

A speaker encoder whose input is not level-invariant sees a quiet and a loud recording of the
same voice as different inputs. The GE2E encoder (Resemblyzer's weights) takes a *power* mel
spectrogram, with no log and no normalisation: a gain of ±10 dB moves a clip's embedding to a
cosine of 0.85-0.93 with itself, ±20 dB to 0.53-0.81. Resemblyzer's own preprocessing only
raises quiet audio to -30 dBFS and leaves loud audio as it is. Measured on the benchmark corpus
(26 synthetic voices, 5 enrollment clips, GE2E embed_utterance, cosine scoring): with each
enrollment clip at a random gain in ±15 dB, EER 5.42 % as recorded and 5.50 % with
Resemblyzer's rule, 1.13-1.32 % with the speech scaled to a fixed active level (-30, -25 or
-20 dBFS), the same as without the gains (1.21 %). The quality benchmark's ``quiet-20dB`` and
``level-random`` conditions measure it end to end (``Embedder(level_dbfs=...)``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "TARGET_LEVEL_DBFS",
    "ActiveLevelMeter",
    "active_frame_powers",
    "active_level_db",
    "normalize_level",
    "scale_to",
]

TARGET_LEVEL_DBFS = -20.0
"""Default active speech level (dBFS, RMS over the active 20 ms frames) references are scaled to."""

MAX_GAIN_DB = 40.0
"""Largest gain (either way) :func:`normalize_level` applies."""

_FRAME_S = 0.02
_ACTIVE_BELOW_DB = 40.0


def active_level_db(samples: np.ndarray, sample_rate: int) -> float:
    """Active level of ``samples`` in dBFS: RMS over the 20 ms frames within 40 dB of the loudest.

    Pauses do not lower it (unlike the RMS of the whole signal). ``-inf`` for digital silence.

    Parameters
    ----------
    samples
        Mono samples.
    sample_rate
        Their rate (Hz).

    Examples
    --------
    >>> x = np.concatenate([0.1 * np.ones(1600), np.zeros(16000)]).astype(np.float32)
    >>> round(active_level_db(x, 16000), 1)  # the long pause does not count
    -20.0
    """
    meter = ActiveLevelMeter(sample_rate)
    meter.update(samples)
    return meter.level_db()


def active_frame_powers(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean powers of the 20 ms frames :func:`active_level_db` averages (empty for silence).

    Examples
    --------
    >>> x = np.concatenate([0.1 * np.ones(1600), np.zeros(16000)]).astype(np.float32)
    >>> active_frame_powers(x, 16000).size  # 0.1 s of signal = 5 frames of 20 ms
    5
    """
    meter = ActiveLevelMeter(sample_rate)
    meter.update(samples)
    return meter.active_powers()


class ActiveLevelMeter:
    """:func:`active_level_db` of a signal fed in consecutive pieces (a long file, block by block).

    Gives the same value as :func:`active_level_db` on the whole signal; keeps one float per
    20 ms frame (about 1.4 MB per hour of audio).

    Parameters
    ----------
    sample_rate
        Rate of the pieces (Hz).

    Examples
    --------
    >>> x = np.concatenate([0.1 * np.ones(1600), np.zeros(16000)]).astype(np.float32)
    >>> meter = ActiveLevelMeter(16000)
    >>> for piece in np.array_split(x, 7):
    ...     meter.update(piece)
    >>> round(meter.level_db(), 6) == round(active_level_db(x, 16000), 6)
    True
    """

    def __init__(self, sample_rate: int) -> None:
        self.frame = max(1, int(round(_FRAME_S * sample_rate)))
        self._rest = np.zeros(0, dtype=np.float64)
        self._powers: list[np.ndarray] = []

    def update(self, samples: np.ndarray) -> None:
        """Add the next piece of the signal."""
        x = np.concatenate([self._rest, np.asarray(samples, dtype=np.float64).reshape(-1)])
        m = len(x) // self.frame
        if m:
            self._powers.append(np.mean(x[: m * self.frame].reshape(m, self.frame) ** 2, axis=1))
        self._rest = x[m * self.frame :]

    def active_powers(self) -> np.ndarray:
        """Mean powers of the frames within 40 dB of the loudest (empty for digital silence)."""
        if self._powers:
            power = np.concatenate(self._powers)
        else:  # shorter than one frame: the whole signal is one frame
            power = np.array([np.mean(self._rest**2)]) if self._rest.size else np.zeros(0)
        if power.size == 0 or power.max() <= 0:
            return np.zeros(0)
        return power[power >= power.max() * 10.0 ** (-_ACTIVE_BELOW_DB / 10.0)]

    def level_db(self) -> float:
        """Active level (dBFS) of everything fed so far; ``-inf`` for digital silence."""
        active = self.active_powers()
        return float(10.0 * np.log10(active.mean())) if active.size else float("-inf")


def normalize_level(
    samples: np.ndarray,
    sample_rate: int,
    target_dbfs: float = TARGET_LEVEL_DBFS,
    *,
    max_gain_db: float = MAX_GAIN_DB,
) -> tuple[np.ndarray, float]:
    """Scale ``samples`` so that their active level is ``target_dbfs``.

    The output is float32 and is not clipped: a loud target may exceed 1.0 in places, which is
    harmless for an encoder (write it to a file only after limiting it).

    Parameters
    ----------
    samples
        Mono samples.
    sample_rate
        Their rate (Hz).
    target_dbfs
        Active level to reach (:func:`active_level_db`).
    max_gain_db
        The gain is limited to ``±max_gain_db`` (digital silence is returned as it is).

    Returns
    -------
    samples, gain_db
        Scaled samples and the gain applied (dB).

    Examples
    --------
    >>> y, gain = normalize_level(0.01 * np.ones(16000, np.float32), 16000, -20.0)
    >>> round(gain, 1), round(active_level_db(y, 16000), 1)
    (20.0, -20.0)
    """
    x = np.asarray(samples, dtype=np.float32)
    return scale_to(x, active_level_db(x, sample_rate), target_dbfs, max_gain_db=max_gain_db)


def scale_to(
    samples: np.ndarray,
    level_db: float,
    target_dbfs: float = TARGET_LEVEL_DBFS,
    *,
    max_gain_db: float = MAX_GAIN_DB,
) -> tuple[np.ndarray, float]:
    """Scale ``samples`` whose active level is ``level_db`` to ``target_dbfs``.

    :func:`normalize_level` with the level measured elsewhere (e.g. over a whole long file by
    :class:`ActiveLevelMeter`, applied to each of its chunks).

    Examples
    --------
    >>> y, gain = scale_to(np.full(4, 0.5, np.float32), -6.0, -26.0)
    >>> gain, y.dtype
    (-20.0, dtype('float32'))
    """
    x = np.asarray(samples, dtype=np.float32)
    if not np.isfinite(level_db):
        return x, 0.0
    gain = float(np.clip(target_dbfs - level_db, -max_gain_db, max_gain_db))
    return (x * np.float32(10.0 ** (gain / 20.0))).astype(np.float32), gain
