"""The target's stream of a two-talker separation, chosen by the guide.

Where another voice covers most of a reference, no window of it is the target alone and window
selection has nothing to keep. :class:`~voxref.separation.separator.TwoSpeakerSeparator` splits
the speech into two streams without knowing who is who; here each stream is levelled and
embedded with the encoder's windows (:func:`stream_windows`), and :func:`choose_stream` keeps
the stream whose embedding is closest to the target direction (the other references' consensus
or an enrollment embedding), but only when it is closer than the unseparated reference: a
reference of one voice keeps its own windows.

Examples
--------
>>> import numpy as np
>>> t = np.eye(4)[0]
>>> mixture = np.array([[0.7, 0.7, 0.0, 0.0]])
>>> streams = [np.array([[0.0, 1.0, 0.0, 0.0]]), np.array([[0.95, 0.0, 0.3, 0.0]])]
>>> choice = choose_stream(streams, mixture, t)
>>> choice.index, round(choice.stream_cosine, 2), round(choice.mixture_cosine, 2)
(1, 0.95, 0.71)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..encoding import WindowEmbeddings, l2_normalize

__all__ = [
    "QUIET_WINDOW_DB",
    "StreamChoice",
    "choose_stream",
    "stream_activity",
    "stream_windows",
]

QUIET_WINDOW_DB = 25.0
"""A stream window this many dB below the stream's loudest window holds no speech of its talker
(the other talker's turn, or separation residue): activity 0."""


@dataclass
class StreamChoice:
    """Which separated stream is the target.

    Attributes
    ----------
    index
        Stream index, or ``None`` when no stream is closer to the target than the unseparated
        reference.
    stream_cosine
        Cosine of the best stream's mean window embedding to the target.
    mixture_cosine
        Same for the unseparated reference's windows.
    """

    index: int | None
    stream_cosine: float
    mixture_cosine: float


def _mean_direction(embeddings: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    e = np.asarray(embeddings, dtype=np.float64)
    w = np.ones(len(e)) if weights is None else np.asarray(weights, dtype=np.float64)
    if e.size == 0 or w.sum() <= 0:
        return np.zeros(e.shape[-1] if e.ndim == 2 else 0)
    return l2_normalize((e * w[:, None]).sum(axis=0))


def choose_stream(
    streams: list[np.ndarray],
    mixture: np.ndarray,
    target: np.ndarray,
    *,
    stream_weights: list[np.ndarray] | None = None,
    margin: float = 0.0,
) -> StreamChoice:
    """The stream closest to ``target``, if it is closer than the unseparated ``mixture``.

    Parameters
    ----------
    streams
        Window embeddings ``(N_s, D)`` of each separated stream.
    mixture
        Window embeddings ``(N, D)`` of the unseparated reference.
    target
        Target direction ``(D,)`` (normalised here).
    stream_weights
        Per-window activity of each stream (e.g. :func:`stream_activity`); default all 1.
    margin
        The stream must beat the mixture's cosine by this much.
    """
    t = l2_normalize(np.asarray(target, dtype=np.float64))
    weights = stream_weights or [None] * len(streams)
    # a stream with no (active) window cannot be the target's
    cos = [
        float(_mean_direction(s, w) @ t)
        if len(s) and (w is None or np.sum(w) > 0)
        else float("-inf")
        for s, w in zip(streams, weights)
    ]
    mix = float(_mean_direction(mixture) @ t)
    if not cos:
        return StreamChoice(None, float("nan"), mix)
    best = int(np.argmax(cos))
    chosen = best if np.isfinite(cos[best]) and cos[best] > mix + margin else None
    return StreamChoice(chosen, cos[best], mix)


def stream_activity(
    samples: np.ndarray,
    sample_rate: int,
    windows: WindowEmbeddings,
    quiet_db: float = QUIET_WINDOW_DB,
) -> np.ndarray:
    """Per-window activity of one stream: 0 where the stream is ``quiet_db`` below its loudest
    window, else 1.

    Examples
    --------
    >>> sr = 100
    >>> x = np.r_[np.ones(200), np.zeros(200) + 1e-4].astype(np.float32)
    >>> w = WindowEmbeddings(np.zeros((2, 3)), np.array([0.0, 2.0]), np.array([2.0, 4.0]))
    >>> stream_activity(x, sr, w).tolist()
    [1.0, 0.0]
    """
    x = np.asarray(samples, dtype=np.float64)
    starts = np.round(np.asarray(windows.starts) * sample_rate).astype(int)
    ends = np.maximum(np.round(np.asarray(windows.ends) * sample_rate).astype(int), starts + 1)
    rms = [np.sqrt(np.mean(x[a:b] ** 2)) if x[a:b].size else 0.0 for a, b in zip(starts, ends)]
    db = 20 * np.log10(np.maximum(np.asarray(rms), 1e-10))
    if db.size == 0:
        return np.zeros(0)
    return (db > db.max() - quiet_db).astype(np.float64)


def stream_windows(
    streams: np.ndarray,
    sample_rate: int,
    encoder: object,
    *,
    level_dbfs: float | None,
    window: float | None = None,
    hop: float | None = None,
) -> list[tuple[WindowEmbeddings, np.ndarray]]:
    """Each stream levelled to ``level_dbfs`` (speech band; as the references are) and embedded.

    Returns ``(windows, activity)`` per stream (:func:`stream_activity`); a stream the encoder
    refuses (too short for one window) gets empty windows.
    """
    from ..audio.level import normalize_level
    from ..errors import VoxrefError

    out = []
    for s in np.asarray(streams, dtype=np.float32):
        x = s if level_dbfs is None else normalize_level(s, sample_rate, level_dbfs)[0]
        try:
            w = encoder.embed_windows(np.asarray(x, dtype=np.float32), window, hop)  # type: ignore[attr-defined]
        except VoxrefError:
            dim = int(getattr(encoder, "dimension", 0))
            out.append(
                (WindowEmbeddings(np.zeros((0, dim)), np.zeros(0), np.zeros(0)), np.zeros(0))
            )
            continue
        out.append((w, stream_activity(x, sample_rate, w)))
    return out
