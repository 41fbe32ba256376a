"""Frame-level speaker assignment from window embeddings: scores, Viterbi smoothing, overlap.

Windows are long (about 1.5 s) and overlap each other, so the evidence for a speaker at time ``t``
is spread over every window covering ``t``. :func:`frame_scores` turns window-to-centroid cosine
scores into a frame grid (each window weighted by a Hann taper, so a window speaks mostly for its
centre). :func:`viterbi_path` picks one speaker per frame with a switch penalty; turns shorter than
a minimum duration are then absorbed by their neighbours (:func:`enforce_min_duration`).

:func:`overlap_scores` looks for frames that fit no single speaker: where a frame's windows are
better explained by the sum of two speakers' centroids than by either alone (a mixed window's
embedding lies between the two voices). The evidence is weak for short overlaps; it is a score, and
the diarizer only labels overlap where it persists.

Examples
--------
>>> starts, ends = np.array([0.0, 0.5, 1.0]), np.array([1.0, 1.5, 2.0])
>>> s = frame_scores(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]), starts, ends, 20, 0.1)
>>> viterbi_path(s * 10, switch_penalty=1.0).tolist()
[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "frame_scores",
    "viterbi_path",
    "enforce_min_duration",
    "runs",
    "overlap_scores",
]


def _taper(n: int) -> np.ndarray:
    return np.hanning(n + 2)[1:-1] if n > 0 else np.zeros(0)


def frame_scores(
    window_scores: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    num_frames: int,
    frame_step: float,
) -> np.ndarray:
    """Taper-weighted average of the window scores covering each frame, ``(num_frames, K)``.

    Frames no window covers get ``nan``.
    """
    ws = np.asarray(window_scores, dtype=np.float64)
    k = ws.shape[1]
    acc = np.zeros((num_frames, k))
    wsum = np.zeros(num_frames)
    for i in range(len(ws)):
        a = max(0, int(round(starts[i] / frame_step)))
        b = min(num_frames, int(round(ends[i] / frame_step)))
        if b <= a:
            continue
        w = _taper(b - a)
        acc[a:b] += w[:, None] * ws[i]
        wsum[a:b] += w
    out = np.full((num_frames, k), np.nan)
    ok = wsum > 1e-9
    out[ok] = acc[ok] / wsum[ok, None]
    return out


def viterbi_path(log_scores: np.ndarray, switch_penalty: float) -> np.ndarray:
    """Most likely state per frame given per-frame ``log_scores`` (T, K) and a switch penalty.

    Examples
    --------
    >>> viterbi_path(np.array([[1.0, 0.0], [0.0, 0.4], [1.0, 0.0]]), 1.0).tolist()
    [0, 0, 0]
    """
    sc = np.asarray(log_scores, dtype=np.float64)
    t_, k = sc.shape
    if t_ == 0:
        return np.zeros(0, dtype=np.int64)
    trans = -switch_penalty * (1.0 - np.eye(k))
    dp = sc[0].copy()
    back = np.zeros((t_, k), dtype=np.int64)
    for t in range(1, t_):
        cand = dp[:, None] + trans
        back[t] = cand.argmax(axis=0)
        dp = cand[back[t], np.arange(k)] + sc[t]
    path = np.zeros(t_, dtype=np.int64)
    path[-1] = int(dp.argmax())
    for t in range(t_ - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start, end, value)`` runs of equal values (end exclusive).

    Examples
    --------
    >>> runs(np.array([1, 1, 2, 2, 2, 1]))
    [(0, 2, 1), (2, 5, 2), (5, 6, 1)]
    """
    v = np.asarray(values)
    if len(v) == 0:
        return []
    cut = np.flatnonzero(np.diff(v) != 0) + 1
    bounds = np.concatenate([[0], cut, [len(v)]])
    return [(int(a), int(b), int(v[a])) for a, b in zip(bounds[:-1], bounds[1:])]


def enforce_min_duration(path: np.ndarray, scores: np.ndarray, min_frames: int) -> np.ndarray:
    """Reassign runs shorter than ``min_frames`` to the neighbour whose score is higher there.

    Runs are absorbed shortest first; ``-1`` (non-speech) runs are left alone and never absorb.

    Examples
    --------
    >>> p = np.array([0, 0, 0, 1, 0, 0, -1, 1, 1])
    >>> s = np.zeros((9, 2))
    >>> enforce_min_duration(p, s, 2).tolist()
    [0, 0, 0, 0, 0, 0, -1, 1, 1]
    """
    p = np.asarray(path).copy()
    while True:
        rs = [r for r in runs(p) if r[2] >= 0]
        short = [r for r in rs if r[1] - r[0] < min_frames]
        if not short:
            return p
        changed = False
        for a, b, v in sorted(short, key=lambda r: r[1] - r[0]):
            left = p[a - 1] if a > 0 else -1
            right = p[b] if b < len(p) else -1
            opts = [o for o in (left, right) if o >= 0 and o != v]
            if not opts:
                continue
            best = max(opts, key=lambda o: float(np.nansum(scores[a:b, o])))
            p[a:b] = best
            changed = True
            break
        if not changed:
            return p


def overlap_scores(
    window_embeddings: np.ndarray,
    centroids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per window: how badly its best speaker fits it (robust z-score), and the runner-up speaker.

    A window where two voices are mixed matches neither centroid well, so its best cosine
    ``s1 = max_k cos(e, c_k)`` is low. The score is ``(median(s1) - s1) / (1.4826 * MAD(s1))``
    over the recording's windows: about 0 for a typical clean window, above ~2.5 for windows
    that fit no single speaker (mixtures, but also noise or an unseen voice). On synthetic
    conversations and pyannote's sample it separates overlapped from clean frames well, but at a
    usable threshold its precision is too low to add overlapped turns to a diarization, enough to
    down-weight windows (docs/decisions.md, "Diarization: misfit overlap").

    Returns
    -------
    misfit, second
        ``(N,)`` scores and ``(N,)`` index of the second-best speaker (``-1`` with one speaker).

    Examples
    --------
    >>> c = np.eye(3)[:2]
    >>> e = np.array([[1.0, 0, 0.1], [0, 1.0, 0.1], [0.9, 0, 0.2], [0.7, 0.7, 0.1]])
    >>> m, second = overlap_scores(e / np.linalg.norm(e, axis=1, keepdims=True), c)
    >>> int(np.argmax(m)), second.tolist()
    (3, [1, 0, 1, 1])
    """
    e = np.asarray(window_embeddings, dtype=np.float64)
    c = np.asarray(centroids, dtype=np.float64)
    n, k = len(e), len(c)
    if n == 0 or k == 0:
        return np.zeros(n), np.full(n, -1, dtype=np.int64)
    s = e @ c.T
    order = np.argsort(-s, axis=1)
    s1 = s[np.arange(n), order[:, 0]]
    second = order[:, 1] if k >= 2 else np.full(n, -1, dtype=np.int64)
    med = float(np.median(s1))
    mad = 1.4826 * float(np.median(np.abs(s1 - med)))
    misfit = (med - s1) / max(mad, 1e-3)
    return misfit, second.astype(np.int64)
