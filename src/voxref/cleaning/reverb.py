"""How reverberant a recording is: a blind decay-time estimate from speech offsets.

In a dry recording the energy of speech falls by tens of dB within a few milliseconds when a
sound ends; in a room it cannot fall faster than the room's reverberation lets it (60 dB in
RT60 seconds). :func:`decay_time` therefore looks at the fastest decays of the short-time
energy envelope (10 ms frames, 5 ms hop) over 60 ms spans that start within
:data:`DECAY_RANGE_DB` of the loudest frame, and converts the typical rate of the fastest of
them into the time 60 dB of decay would take. It is a ranking of recordings by reverberation
(a dry clip gives a short time, a reverberant one a longer time), not a calibrated RT60: the
direct sound and the early reflections make it shorter than the room's RT60, and a high noise
floor stops decays early (noisy clips are judged by their SNR instead).

Examples
--------
>>> import numpy as np
>>> from voxref.augment.reverb import reverberate
>>> rng = np.random.default_rng(0)
>>> bursts = np.concatenate([rng.standard_normal(1600) * 0.1 if i % 2 == 0 else np.zeros(2400)
...                          for i in range(12)]).astype(np.float32)
>>> dry = decay_time(bursts, 16000)
>>> wet = decay_time(reverberate(bursts, 16000, rt60=0.6, drr_db=3.0, seed=0), 16000)
>>> dry < 0.1 < wet
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["DECAY_RANGE_DB", "decay_time"]

#: Decays are measured only where they start within this many dB of the loudest frame.
DECAY_RANGE_DB = 30.0
_FRAME_S = 0.010
_HOP_S = 0.005
_SPAN_S = 0.060
#: Share of the measured spans, the fastest, whose median decay rate is used.
_FASTEST = 0.1


def decay_time(samples: np.ndarray, sample_rate: int) -> float | None:
    """Seconds 60 dB of decay would take at the rate of the fastest energy decays of ``samples``.

    Parameters
    ----------
    samples
        Mono audio as read (pauses included: the decays are at the ends of sounds).
    sample_rate
        Rate of ``samples`` in Hz.

    Returns
    -------
    float or None
        The decay time; ``None`` when the clip has no span that decays (too short, or silent).
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    sr = int(sample_rate)
    frame, hop = max(1, int(_FRAME_S * sr)), max(1, int(_HOP_S * sr))
    if x.size < frame + hop * 4:
        return None
    n = 1 + (x.size - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    power = np.mean(x[idx] ** 2, axis=1)
    if not np.any(power > 0):
        return None
    env = 10.0 * np.log10(np.maximum(power, 1e-20))
    top = float(np.max(env))
    # a digitally silent pause would make every offset look infinitely fast: floor the envelope
    env = np.maximum(env, top - 2.0 * DECAY_RANGE_DB)
    span = max(3, int(round(_SPAN_S / _HOP_S)))
    if n <= span:
        return None
    t = np.arange(span) * _HOP_S
    t = t - t.mean()
    windows = np.lib.stride_tricks.sliding_window_view(env, span)
    slopes = (windows - windows.mean(axis=1, keepdims=True)) @ t / float(t @ t)  # dB per second
    start_ok = windows[:, 0] >= top - DECAY_RANGE_DB
    falling = slopes < 0
    rates = -slopes[start_ok & falling]
    if rates.size == 0:
        return None
    k = max(1, int(np.ceil(_FASTEST * rates.size)))
    fastest = np.sort(rates)[-k:]
    return float(60.0 / max(float(np.median(fastest)), 1e-6))
