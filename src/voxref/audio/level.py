"""Speech level: measure the active level of a signal and scale it to a target.

A speaker encoder whose input is not level-invariant sees a quiet and a loud recording of the
same voice as different inputs. The GE2E encoder (Resemblyzer's weights) takes a *power* mel
spectrogram, with no log and no normalisation: a gain moves a clip's embedding away from
itself. Resemblyzer's own preprocessing only raises quiet audio to -30 dBFS and leaves loud audio
as it is; scaling the speech to a fixed active level removes the gain's effect. The quality
benchmark's ``quiet-20dB`` and ``level-random`` conditions measure it end to end
(``Embedder(level_dbfs=...)``; figures in BENCHMARKS.md, the run that decided it in
docs/decisions.md, "Speech level").

The level references are scaled by is measured in the speech band (:data:`SPEECH_BAND_HZ`,
300-3400 Hz), not over the full band: energy below 300 Hz (a deep voice's fundamental, room
rumble, reverberant build-up, brown noise) and its absence (a telephone channel) says little
about how loud the voice is, yet it swings a full-band meter between voices. On the quality
benchmark the speech-band meter beat the full-band one, and a full-band meter merely set louder
did not do it: the band does (docs/decisions.md, "Speech level").
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..errors import ConfigError
from .signal import Audio

__all__ = [
    "TARGET_LEVEL_DBFS",
    "SPEECH_BAND_HZ",
    "ActiveLevelMeter",
    "active_frame_powers",
    "active_level_db",
    "normalize_level",
    "scale_to",
    "band_pass_sos",
    "butter_sos",
    "check_level_dbfs",
    "level_audio",
]

TARGET_LEVEL_DBFS = -22.0
"""Default speech level references are scaled to: dBFS, RMS over the active 20 ms frames of the
signal band-passed to :data:`SPEECH_BAND_HZ`. An average voice then has a full-band active level
of about -20 dBFS (docs/decisions.md, "Speech level")."""

SPEECH_BAND_HZ: tuple[float, float] = (300.0, 3400.0)
"""Band (Hz) of the speech level meter (the telephone band), see the module text."""

MAX_GAIN_DB = 40.0
"""Largest gain (either way) :func:`normalize_level` applies."""

_FRAME_S = 0.02
_ACTIVE_BELOW_DB = 40.0


def active_level_db(
    samples: np.ndarray, sample_rate: int, band: tuple[float, float] | None = None
) -> float:
    """Active level of ``samples`` in dBFS: RMS over the 20 ms frames within 40 dB of the loudest.

    Pauses do not lower it (unlike the RMS of the whole signal). ``-inf`` for digital silence.

    Parameters
    ----------
    samples
        Mono samples.
    sample_rate
        Their rate (Hz).
    band
        ``(low, high)`` Hz: measure the signal band-passed to it (4th-order Butterworth, causal;
        e.g. :data:`SPEECH_BAND_HZ`); ``None``: the full band.

    Examples
    --------
    >>> x = np.concatenate([0.1 * np.ones(1600), np.zeros(16000)]).astype(np.float32)
    >>> round(active_level_db(x, 16000), 1)  # the long pause does not count
    -20.0
    """
    meter = ActiveLevelMeter(sample_rate, band)
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
    band
        ``(low, high)`` Hz band the level is measured in (``None``: full band); the band-pass
        filter keeps its state from piece to piece.

    Examples
    --------
    >>> x = np.concatenate([0.1 * np.ones(1600), np.zeros(16000)]).astype(np.float32)
    >>> meter = ActiveLevelMeter(16000)
    >>> for piece in np.array_split(x, 7):
    ...     meter.update(piece)
    >>> round(meter.level_db(), 6) == round(active_level_db(x, 16000), 6)
    True
    """

    #: Samples measured at a time (a float64 copy of this many is the meter's working memory).
    block: int = 1 << 18

    def __init__(self, sample_rate: int, band: tuple[float, float] | None = None) -> None:
        self.frame = max(1, int(round(_FRAME_S * sample_rate)))
        self._rest = np.zeros(0, dtype=np.float64)
        self._powers: list[np.ndarray] = []
        self._sos = None if band is None else band_pass_sos(sample_rate, band)
        self._zi = None if self._sos is None else np.zeros((self._sos.shape[0], 2))

    def update(self, samples: np.ndarray) -> None:
        """Add the next piece of the signal (any length; long pieces are measured in blocks of
        :attr:`block` samples, so memory stays small and the result is the same)."""
        flat = np.asarray(samples).reshape(-1)
        for start in range(0, len(flat), self.block):
            self._update_block(flat[start : start + self.block])

    def _update_block(self, samples: np.ndarray) -> None:
        piece = np.asarray(samples, dtype=np.float64)
        if self._sos is not None and piece.size:
            from scipy.signal import sosfilt

            piece, self._zi = sosfilt(self._sos, piece, zi=self._zi)
        x = np.concatenate([self._rest, piece])
        m = len(x) // self.frame
        if m:
            self._powers.append(np.mean(x[: m * self.frame].reshape(m, self.frame) ** 2, axis=1))
        self._rest = x[m * self.frame :]

    def frame_powers(self) -> np.ndarray:
        """Mean power of every 20 ms frame fed so far, in order (a trailing partial frame is not
        counted unless the signal is shorter than one frame: then it is the one frame)."""
        if self._powers:
            return np.concatenate(self._powers)
        # shorter than one frame: the whole signal is one frame
        return np.array([np.mean(self._rest**2)]) if self._rest.size else np.zeros(0)

    def active_powers(self) -> np.ndarray:
        """Mean powers of the frames within 40 dB of the loudest (empty for digital silence)."""
        power = self.frame_powers()
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
    band: tuple[float, float] | None = SPEECH_BAND_HZ,
) -> tuple[np.ndarray, float]:
    """Scale ``samples`` so that their active level (in ``band``) is ``target_dbfs``.

    The output is float32 and is not clipped: a loud target may exceed 1.0 in places, which is
    harmless for an encoder (write it to a file only after limiting it). Only the measurement is
    band-limited: the whole signal is scaled.

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
    band
        Band the level is measured in (default :data:`SPEECH_BAND_HZ`; ``None``: full band).

    Returns
    -------
    samples, gain_db
        Scaled samples and the gain applied (dB).

    Examples
    --------
    >>> tone = 0.01 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)  # inside the band
    >>> y, gain = normalize_level(tone, 16000, -20.0)
    >>> round(gain, 1), round(active_level_db(y, 16000, SPEECH_BAND_HZ), 1)
    (23.0, -20.0)
    >>> hum = 0.01 * np.sin(2 * np.pi * 50 * np.arange(16000) / 16000)  # below the band
    >>> round(normalize_level(tone + hum, 16000, -20.0)[1], 1)  # the hum does not count
    23.0
    """
    x = np.asarray(samples, dtype=np.float32)
    level = active_level_db(x, sample_rate, band)
    return scale_to(x, level, target_dbfs, max_gain_db=max_gain_db)


def band_pass_sos(sample_rate: int, band: tuple[float, float]) -> np.ndarray:
    """Second-order sections of the 4th-order Butterworth band-pass the level meter uses.

    The upper edge is kept below 0.45 x ``sample_rate`` (an 8 kHz telephone file keeps 300-3400).

    Examples
    --------
    >>> band_pass_sos(16000, SPEECH_BAND_HZ).shape
    (4, 6)
    """
    low, high = float(band[0]), min(float(band[1]), 0.45 * sample_rate)
    if not 0 < low < high:
        raise ValueError(f"band must be 0 < low < high < sample_rate / 2 Hz; got {band}")
    return butter_sos(4, (low, high), "bandpass", float(sample_rate))


def butter_sos(order: int, edges: float | tuple[float, ...], btype: str, fs: float) -> np.ndarray:
    """``scipy.signal.butter(order, edges, btype, fs=fs, output="sos")``, designed once per set
    of arguments (a design costs 1-2 ms, more than filtering a short clip); a fresh copy each call.

    Examples
    --------
    >>> from scipy.signal import butter
    >>> sos = butter_sos(2, 10.0, "highpass", 16000.0)
    >>> bool(np.array_equal(sos, butter(2, 10.0, btype="highpass", fs=16000.0, output="sos")))
    True
    """
    return _butter_design(order, edges, btype, float(fs)).copy()


@functools.lru_cache(maxsize=32)
def _butter_design(order: int, edges: Any, btype: str, fs: float) -> np.ndarray:
    from scipy.signal import butter

    return butter(
        order, edges if np.isscalar(edges) else list(edges), btype=btype, fs=fs, output="sos"
    )


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


def check_level_dbfs(level_dbfs: Any) -> float | None:
    """``level_dbfs`` as a float, or ``None`` (levelling off); anything else is a ConfigError.

    Examples
    --------
    >>> check_level_dbfs(-22), check_level_dbfs(None)
    (-22.0, None)
    """
    if level_dbfs is None:
        return None
    try:
        value = float(level_dbfs)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value):
        raise ConfigError(f"level_dbfs must be a finite dBFS value or None; got {level_dbfs!r}.")
    return value


def level_audio(audio: Audio, target_dbfs: float | None, what: str = "speech") -> Audio:
    """``audio`` scaled to ``target_dbfs`` active level (speech band), the gain in its history.

    ``target_dbfs=None`` returns ``audio`` unchanged. ``what`` names the signal in the history
    note (e.g. ``"recording (for analysis)"``).

    Examples
    --------
    >>> from voxref.audio import Audio
    >>> tone = 0.01 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    >>> out = level_audio(Audio(tone.astype(np.float32), 16000), -20.0)
    >>> out.history[-1]
    'level: speech scaled by +23.0 dB to -20 dBFS active (speech band)'
    """
    if target_dbfs is None:
        return audio
    scaled, gain = normalize_level(audio.samples, audio.sample_rate, target_dbfs)
    return audio.replace(
        scaled,
        f"level: {what} scaled by {gain:+.1f} dB to {target_dbfs:g} dBFS active (speech band)",
    )
