"""Where a second speaker is added to the diarizer's single-speaker path (overlapped speech).

Three rules, each giving a second speaker per 10 ms frame (``-1`` = none), the runner-up by frame
score:

* :func:`counted_overlap` — where the frame-level speaker counter (:mod:`.overlap_detector`) says
  two or more voices, near a change of speaker (the default with the counter);
* :func:`turn_change_overlap` — a fixed reach across every change of speaker inside continuous
  speech, since the next talker often starts before the previous one stops (the default without
  the counter);
* :func:`misfit_overlap` — where the windows persistently fit no single speaker (optional,
  ``DiarizerTuning(detect_overlap=True)``).
"""

from __future__ import annotations

import numpy as np

from ..encoding import WindowEmbeddings
from .resegment import frame_scores, runs

__all__ = [
    "counted_overlap",
    "misfit_overlap",
    "turn_change_overlap",
    "runner_up",
    "on_grid",
]


def counted_overlap(
    probabilities: np.ndarray,
    path: np.ndarray,
    scores: np.ndarray,
    *,
    frame_step: float,
    threshold: float,
    min_seconds: float,
    near_turn: float | None,
) -> np.ndarray:
    """Second speaker (the runner-up by frame score) where the speaker counter says overlap
    inside a speaker's turn, else ``-1``.

    Parameters
    ----------
    probabilities
        ``(F, 3)`` per-frame probabilities of nobody / one speaker / overlap, on the frame grid.
    path
        ``(F,)`` speaker per frame, ``-1`` = nobody.
    scores
        ``(F, K)`` frame score of each speaker.
    frame_step
        Seconds per frame.
    threshold, min_seconds
        Overlap probability above which a frame counts, and the shortest run kept (seconds).
    near_turn
        Keep only frames this close (seconds) to a change of speaker (``None``: anywhere).
    """
    from .overlap_detector import overlap_frames

    min_frames = max(1, int(round(min_seconds / frame_step)))
    hit = overlap_frames(probabilities, threshold, min_frames) & (path >= 0)
    if near_turn is not None:
        reach = int(round(near_turn / frame_step))
        hit &= turn_change_overlap(path, reach) >= 0
    return np.where(hit, runner_up(scores, path), -1).astype(np.int64)


def misfit_overlap(
    windows: WindowEmbeddings,
    misfit: np.ndarray,
    path: np.ndarray,
    scores: np.ndarray,
    *,
    frame_step: float,
    threshold: float,
    min_seconds: float,
) -> np.ndarray:
    """Frames where a second speaker is added: speech whose windows persistently fit no one.

    ``misfit`` is each window's robust z-score (:func:`.resegment.overlap_scores`); frames where
    it is above ``threshold`` for at least ``min_seconds`` get the runner-up speaker.
    """
    n_frames = len(path)
    f = frame_scores(misfit[:, None], windows.starts, windows.ends, n_frames, frame_step)[:, 0]
    second = runner_up(scores, path)
    out = np.where((np.nan_to_num(f) > threshold) & (path >= 0), second, -1)
    min_frames = int(round(min_seconds / frame_step))
    for a, b, v in runs(out):
        if v >= 0 and b - a < min_frames:
            out[a:b] = -1
    return out.astype(np.int64)


def runner_up(scores: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Per frame, the best-scoring speaker other than the one on ``path``."""
    ranked = np.argsort(-np.nan_to_num(scores, nan=-np.inf), axis=1)
    return np.where(ranked[:, 0] == path, ranked[:, 1], ranked[:, 0])


def on_grid(values: np.ndarray, step: float, n_frames: int, frame_step: float) -> np.ndarray:
    """Rows of ``values`` (one per ``step`` seconds) at the centres of ``n_frames`` frames of
    ``frame_step`` seconds (nearest row; the last row repeats past the end)."""
    centres = (np.arange(n_frames) + 0.5) * frame_step
    idx = np.clip((centres / step).astype(np.int64), 0, len(values) - 1)
    return values[idx]


def turn_change_overlap(path: np.ndarray, frames: int) -> np.ndarray:
    """Second speaker per frame around changes of speaker inside continuous speech.

    At each frame where the speaker changes from ``a`` to ``b`` with no silence between, ``a`` is
    added to the first ``frames`` frames of ``b``'s turn and ``b`` to the last ``frames`` of
    ``a``'s (never past another change).

    Parameters
    ----------
    path
        ``(F,)`` speaker index per frame, ``-1`` = nobody.
    frames
        Frames added on each side of a change.

    Returns
    -------
    np.ndarray
        ``(F,)`` second speaker per frame, ``-1`` = none.

    Examples
    --------
    >>> turn_change_overlap(np.array([0, 0, 0, 1, 1, 1, -1, 1, 0]), 2).tolist()
    [-1, 1, 1, 0, 0, -1, -1, 0, 1]
    """
    p = np.asarray(path, dtype=np.int64)
    out = np.full(len(p), -1, dtype=np.int64)
    if frames <= 0:
        return out
    changes = np.flatnonzero((p[1:] >= 0) & (p[:-1] >= 0) & (p[1:] != p[:-1])) + 1
    for c in changes:
        a, b = p[c - 1], p[c]
        after = slice(c, min(len(p), c + frames))
        out[after] = np.where(p[after] == b, a, out[after])
        before = slice(max(0, c - frames), c)
        out[before] = np.where(p[before] == a, b, out[before])
    return out
