"""Several channels -> one: average them, unless averaging destroys the signal.

A recording whose channels carry the same voice with opposite polarity (a phase-inverted cable
or mixer channel, a mid/side file read as left/right) cancels when averaged: the mono mix is
digital silence or a faint residue, and every later stage would blame the recording ("no speech",
"check the gain"). Mixed, uncorrelated channels keep ``1 / C`` of their mean power and identical
ones all of it; when the mix keeps less than :data:`CANCEL_RATIO` of the uncorrelated figure the
channels are cancelling, and the loudest channel is used alone, with a warning and a note in
``Audio.history``.

Examples
--------
>>> import numpy as np
>>> t = np.arange(16000) / 16000
>>> voice = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
>>> mono, note = mix_to_mono(np.stack([voice, -voice], axis=1))
>>> float(np.abs(mono).max()) > 0.29, note.startswith("channel 1 of 2 alone")
(True, True)
>>> print(mix_to_mono(np.stack([voice, 0.5 * voice], axis=1))[1])
None
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["mix_to_mono", "choose_channel", "CANCEL_RATIO"]

log = logging.getLogger(__name__)

#: The channels cancel when their mean keeps less than this fraction of the power that averaging
#: uncorrelated channels keeps (``mean channel power / C``): 6 dB below it.
CANCEL_RATIO = 0.25


def choose_channel(channel_power: np.ndarray, mix_power: float) -> tuple[int | None, str | None]:
    """The channel to use alone when the channels cancel in their mean (``None``: average them).

    Parameters
    ----------
    channel_power
        Mean square of each channel.
    mix_power
        Mean square of their mean.

    Returns
    -------
    channel, note
        Index of the loudest channel and why, or ``(None, None)``.

    Examples
    --------
    >>> choose_channel(np.array([0.1, 0.1]), 0.0)[0], choose_channel(np.array([0.1, 0.1]), 0.05)
    (0, (None, None))
    """
    p = np.asarray(channel_power, dtype=np.float64)
    c = p.size
    if c < 2:
        return None, None
    uncorrelated = float(p.mean()) / c
    if not uncorrelated > 0 or mix_power >= CANCEL_RATIO * uncorrelated:
        return None, None
    k = int(np.argmax(p))
    drop = 10.0 * np.log10(max(mix_power, 1e-30) / float(p.max()))
    mean = "is digital silence" if drop < -120 else f"is {-drop:.0f} dB below the loudest channel"
    return k, (
        f"channel {k + 1} of {c} alone: the channels cancel when averaged (their mean {mean}; "
        "one is phase-inverted?)"
    )


def mix_to_mono(frames: np.ndarray, source: str = "<array>") -> tuple[np.ndarray, str | None]:
    """Mono float32 ``(num_samples,)`` from ``(num_samples, channels)``, and a note.

    The mean of the channels (note ``None``), or the loudest channel alone when they cancel (see
    the module text; the note says so and is logged as a warning). One channel: returned as it is.
    """
    x = np.asarray(frames)
    if x.ndim == 1:
        return x.astype(np.float32, copy=False), None
    c = x.shape[1]
    if c == 1:
        return np.ascontiguousarray(x[:, 0], dtype=np.float32), None
    mix = x.mean(axis=1, dtype=np.float32)
    t = max(1, len(x))
    power = np.einsum("tc,tc->c", x, x, dtype=np.float64) / t
    k, note = choose_channel(power, float(np.einsum("t,t->", mix, mix, dtype=np.float64)) / t)
    if k is None:
        return mix, None
    log.warning("%s: %s", source, note)
    return np.ascontiguousarray(x[:, k], dtype=np.float32), note
