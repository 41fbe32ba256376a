"""Per-window values of a reference drawn on its recording's timeline, and its target-only audio.

The encoder's windows live on the concatenated-speech timeline (speech regions end to end);
:func:`window_mask` spreads per-window values (pooling weights, target activity, overlap) back on
the recording's timeline, :func:`target_only_audio` keeps the speech of the windows judged target.
Plain arrays in, plain arrays out: no model runs here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..audio.timeline import source_to_concatenated
from ..errors import ConfigError

__all__ = ["MASK_HOP_S", "TARGET_THRESHOLD", "speech_time", "target_only_audio", "window_mask"]

#: Resolution (s) of the target mask drawn on a recording's timeline.
MASK_HOP_S = 0.01
#: Speech where the target mask is at least this is kept in the "target-only" audio.
TARGET_THRESHOLD = 0.5


def speech_time(t: np.ndarray, regions: Sequence[tuple[float, float]] | None) -> np.ndarray:
    """Map recording times to the concatenated-speech timeline (``nan`` outside speech).

    The inverse of :meth:`voxref.pipeline.PreparedReference.to_original_time` on speech.

    Examples
    --------
    >>> speech_time(np.array([0.5, 1.5, 2.25]), [(1.0, 2.0), (2.0, 3.0)]).tolist()
    [nan, 0.5, 1.25]
    >>> speech_time(np.array([0.5]), None).tolist()
    [0.5]
    """
    t = np.asarray(t, dtype=np.float64)
    if regions is None:
        return t.copy()
    return source_to_concatenated(t, regions)


#: Grid step (s) on which window values are accumulated before being read back at any time.
_COVER_STEP_S = 0.001


def _covering_mean(t: np.ndarray, window_times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` over the windows covering each time ``t`` (``nan`` where none does).

    Windows are accumulated on a 1 ms grid with difference arrays (linear in the number of
    windows and grid points, so hour-long recordings with thousands of windows stay cheap).
    """
    step = _COVER_STEP_S
    first = np.ceil(window_times[:, 0] / step - 1e-6).astype(np.int64)
    last = np.ceil(window_times[:, 1] / step - 1e-6).astype(np.int64)
    size = int(max(last.max(initial=0), 0)) + 2
    count = np.zeros(size)
    total = np.zeros(size)
    np.add.at(count, np.clip(first, 0, size - 1), 1.0)
    np.add.at(count, np.clip(last, 0, size - 1), -1.0)
    np.add.at(total, np.clip(first, 0, size - 1), values)
    np.add.at(total, np.clip(last, 0, size - 1), -values)
    count, total = np.cumsum(count), np.cumsum(total)
    k = np.floor(np.asarray(t, dtype=np.float64) / step + 1e-6).astype(np.int64)
    ok = (k >= 0) & (k < size)
    out = np.full(len(k), np.nan)
    kk = k[ok]
    c = count[kk]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = np.where(c > 0.5, total[kk] / np.maximum(c, 1.0), np.nan)
    return out


def window_mask(
    duration: float,
    regions: Sequence[tuple[float, float]] | None,
    window_times: np.ndarray | None,
    values: np.ndarray | None,
    *,
    hop: float = MASK_HOP_S,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-window values spread on the recording's timeline.

    Each instant of the recording inside a speech region is mapped to the concatenated-speech
    timeline the windows live on; its value is the mean over the windows covering it. Instants
    outside speech (or covered by no window) are ``nan``.

    Parameters
    ----------
    duration
        Length of the recording (s).
    regions
        Speech regions on the recording's timeline (``None``: the windows cover the recording).
    window_times
        ``(N, 2)`` window start/end on the speech timeline.
    values
        ``(N,)`` per-window values (weights, activity...).
    hop
        Step of the returned grid (s).

    Returns
    -------
    times, mask
        Grid times (s) on the recording's timeline and the mask there.

    Examples
    --------
    >>> wt = np.array([[0.0, 1.0], [0.5, 1.5]])
    >>> t, m = window_mask(3.0, [(1.0, 2.5)], wt, np.array([1.0, 0.0]), hop=0.5)
    >>> t.tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    >>> m.tolist()
    [nan, nan, 1.0, 0.5, 0.0, nan]
    """
    n = max(1, int(np.ceil(duration / hop - 1e-9)))
    times = np.arange(n) * hop
    if window_times is None or values is None or len(values) == 0:
        return times, np.full(n, np.nan)
    wt = np.asarray(window_times, dtype=np.float64).reshape(-1, 2)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(v) != len(wt):
        raise ConfigError(f"{len(v)} values for {len(wt)} windows; give one value per window.")
    st = speech_time(times, regions)
    mask = np.full(n, np.nan)
    ok = np.isfinite(st)
    mask[ok] = _covering_mean(st[ok], wt, v)
    return times, mask


def target_only_audio(
    speech: np.ndarray,
    sample_rate: int,
    window_times: np.ndarray | None,
    mask_values: np.ndarray | None,
    *,
    threshold: float = TARGET_THRESHOLD,
    max_seconds: float | None = None,
) -> np.ndarray:
    """The cleaned speech where the per-window target mask is at least ``threshold``.

    Without window values the whole speech is kept. At most ``max_seconds`` are returned.

    Examples
    --------
    >>> x = np.arange(40, dtype=np.float32)
    >>> wt = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 4.0]])
    >>> target_only_audio(x, 10, wt, np.array([1.0, 0.0, 1.0]), max_seconds=2.5).shape
    (25,)
    >>> target_only_audio(x, 10, None, None).shape
    (40,)
    """
    x = np.asarray(speech, dtype=np.float32)
    if window_times is not None and mask_values is not None and len(mask_values):
        t = (np.arange(len(x)) + 0.5) / float(sample_rate)
        wt = np.asarray(window_times, dtype=np.float64).reshape(-1, 2)
        v = np.asarray(mask_values, dtype=np.float64).reshape(-1)
        keep = np.zeros(len(x), dtype=bool)
        # window by window (a (T, N) matrix would be large for long recordings)
        cover = np.zeros(len(x), dtype=np.float64)
        total = np.zeros(len(x), dtype=np.float64)
        for (s, e), value in zip(wt, v):
            a, b = np.searchsorted(t, [s, e])
            cover[a:b] += 1.0
            total[a:b] += value
        keep = (cover > 0) & (total >= threshold * np.maximum(cover, 1.0))
        x = x[keep]
    if max_seconds is not None:
        x = x[: int(round(max_seconds * sample_rate))]
    return x
