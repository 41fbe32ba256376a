"""Two timelines of one recording: the recording's, and that of its spans cut out and joined.

The cleaning stage keeps the speech regions of a reference and joins them; the voice split joins
the spans where one voice speaks alone. Window embeddings are computed on the joined audio, and
reports draw them on the recording: these functions map times between the two.

With ``sample_rate`` the span lengths are those of the cut, in whole samples (bounds rounded to
the nearest sample, as :func:`span_samples` cuts them); without it they are exact differences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["concatenated_to_source", "source_to_concatenated", "span_samples"]


def span_samples(spans: Sequence[tuple[float, float]] | np.ndarray, sample_rate: int) -> np.ndarray:
    """Sample bounds ``(n, 2)`` of ``spans`` (seconds), rounded: where the cut is made.

    Examples
    --------
    >>> span_samples([(0.0, 0.5), (0.7, 1.0)], 16000).tolist()
    [[0, 8000], [11200, 16000]]
    """
    s = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    return np.round(s * sample_rate).astype(np.int64)


def _layout(
    spans: Sequence[tuple[float, float]] | np.ndarray, sample_rate: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    if sample_rate is None:
        lengths = s[:, 1] - s[:, 0]
    else:
        n = span_samples(s, sample_rate)
        lengths = (n[:, 1] - n[:, 0]) / float(sample_rate)
    offsets = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    return s, lengths, offsets


def concatenated_to_source(
    t: np.ndarray,
    spans: Sequence[tuple[float, float]] | np.ndarray,
    *,
    sample_rate: int | None = None,
    at_end: bool = False,
) -> np.ndarray:
    """Map times on the joined spans to the recording's timeline.

    A time at a junction belongs to the next span (a window start), or with ``at_end`` to the
    previous one (a window end).

    Examples
    --------
    >>> spans = np.array([[1.0, 2.0], [5.0, 7.0]])
    >>> concatenated_to_source(np.array([0.0, 0.5, 1.0, 2.5]), spans).tolist()
    [1.0, 1.5, 5.0, 6.5]
    >>> concatenated_to_source(np.array([1.0]), spans, at_end=True).tolist()
    [2.0]
    """
    t = np.asarray(t, dtype=np.float64)
    s, lengths, offsets = _layout(spans, sample_rate)
    if not len(s):
        return t.copy()
    side = "left" if at_end else "right"
    idx = np.clip(np.searchsorted(offsets, t, side=side) - 1, 0, len(s) - 1)
    return s[idx, 0] + np.minimum(t - offsets[idx], lengths[idx])


def source_to_concatenated(
    t: np.ndarray,
    spans: Sequence[tuple[float, float]] | np.ndarray,
    *,
    sample_rate: int | None = None,
) -> np.ndarray:
    """Map recording times to the joined spans' timeline (``nan`` outside every span).

    Examples
    --------
    >>> source_to_concatenated(np.array([0.5, 1.5, 2.25]), [(1.0, 2.0), (2.0, 3.0)]).tolist()
    [nan, 0.5, 1.25]
    """
    t = np.asarray(t, dtype=np.float64)
    s, _, offsets = _layout(spans, sample_rate)
    if not len(s):
        return np.full_like(t, np.nan)
    idx = np.clip(np.searchsorted(s[:, 0], t, side="right") - 1, 0, len(s) - 1)
    inside = (t >= s[idx, 0]) & (t < s[idx, 1])
    return np.where(inside, offsets[idx] + (t - s[idx, 0]), np.nan)
