"""Where a reference may be cut, and which pieces make the prompt.

Pure numpy: no model here. :mod:`.make` measures the pieces and calls these.

Cut points
----------
A prompt is cut only inside pauses, so as not to cut inside a word (limits: a long voiceless
closure, strong noise; see the constants). A *pause* is a 10 ms frame outside the
voice activity detector's speech regions, or a run of at least :data:`MIN_PAUSE_S` of frames
inside a region whose power is :data:`PAUSE_BELOW_SPEECH_DB` below its median speech frame,
or a run of at least :data:`MIN_NOISE_PAUSE_S` within :data:`PAUSE_ABOVE_NOISE_DB` of the
recording's noise floor (the gaps between phrases that a
detector bridges: in a conversation one speaker often follows the other after such a gap, with
no pause long enough for the detector). The speech between two pauses is one *piece*.

When a reference never pauses long enough (babble fills the gaps between sentences), a piece
can be longer than a preset allows. Such a piece is then cut at its deepest energy dips
(:func:`dip_cuts`): the quietest moments of the speech, where a word boundary is most likely;
a cut there is not guaranteed to fall between words (a known limit) and is reported as such.

Selection
---------
Only usable pieces (target-only, target voice, see :mod:`.make`) are chosen, best first by
:func:`piece_score`. A preset that wants one contiguous stretch gets the best run of consecutive
usable pieces of one reference separated by pauses of at most :data:`MAX_JOIN_PAUSE_S`; other
presets get the best pieces until the target length, joined in reference order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "FRAME_S",
    "MIN_PAUSE_S",
    "PAUSE_ABOVE_NOISE_DB",
    "PAUSE_BELOW_SPEECH_DB",
    "MIN_NOISE_PAUSE_S",
    "MAX_JOIN_PAUSE_S",
    "pause_frames",
    "pieces_between_pauses",
    "MIN_DIP_PIECE_S",
    "DIP_SMOOTH_S",
    "dip_cuts",
    "frame_powers",
    "piece_score",
    "choose_contiguous",
    "choose_pieces",
]

FRAME_S = 0.01
#: Shortest gap inside a speech region that counts as a pause (s): longer than most closures of
#: plosives (about 30-60 ms), so a cut there rarely splits a word (a long voiceless closure can
#: still reach it: a known limit).
MIN_PAUSE_S = 0.08
#: A frame at most this far above the noise floor is quiet (dB) ...
PAUSE_ABOVE_NOISE_DB = 1.0
#: ... in runs of at least this long (s). Chosen on espeak-ng speech (three sentences of
#: ``espeak-us-m3`` with 0.5 s gaps, seeded white noise; a cut is wrong when the clean signal is
#: not silent within 20 ms of it): 3 dB / 80 ms put 27 of 40 cuts inside speech at 10 dB SNR;
#: 1 dB / 120 ms 1 of 8 and 0 of 8 at 10 dB (two noise seeds), 5 of 10 at 5 dB (a known
#: limit in strong noise).
MIN_NOISE_PAUSE_S = 0.12
#: ... or this far below the median speech frame (dB). How these two values were set: on the
#: pyannote sample's frame levels (its speech frames' 5th / 10th percentiles lie 28 / 23 dB below
#: their median; 35 dB found no pause between phrases, 20 dB found the gaps between them), so the
#: sample is not an independent check of the cut points; the similarity threshold
#: (:data:`voxref.prompting.pieces.MIN_TARGET_SIMILARITY`) was not chosen on it.
PAUSE_BELOW_SPEECH_DB = 20.0
#: Shortest part a cut at an energy dip may leave on either side (s).
MIN_DIP_PIECE_S = 2.0
#: Length of the moving average over 10 ms frame powers in which a dip is looked for (s): about
#: a syllable's gap, so one quiet frame inside a word (a closure) is not the deepest dip.
DIP_SMOOTH_S = 0.05
#: Consecutive pieces form one contiguous stretch when the pause between them is at most this (s).
MAX_JOIN_PAUSE_S = 1.0


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(a, b)]`` half-open index runs where ``mask`` is true."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def pause_frames(
    samples: np.ndarray,
    sample_rate: int,
    regions: Sequence[tuple[float, float]],
    noise_power: float,
    *,
    min_pause: float = MIN_PAUSE_S,
) -> np.ndarray:
    """Boolean per 10 ms frame: ``True`` where a cut is allowed (see the module text).

    Examples
    --------
    >>> sr = 16000
    >>> t = np.arange(sr) / sr
    >>> x = np.sin(2 * np.pi * 200 * t).astype(np.float32)
    >>> x[7000:9000] = 0.0  # a 125 ms gap inside one detected region
    >>> p = pause_frames(x, sr, [(0.0, 1.0)], noise_power=0.0)
    >>> bool(p[45:55].all()), bool(p[:40].any()), bool(p[60:].any())
    (True, False, False)
    """
    power = frame_powers(samples, sample_rate)
    n = len(power)
    speech = np.zeros(n, dtype=bool)
    for s, e in regions:
        speech[int(round(s / FRAME_S)) : int(round(e / FRAME_S))] = True
    if not speech.any():
        return np.ones(n, dtype=bool)
    median_speech = float(np.median(power[speech]))
    quiet_speech = speech & (power <= median_speech * 10 ** (-PAUSE_BELOW_SPEECH_DB / 10))
    quiet_noise = speech & (power <= float(noise_power) * 10 ** (PAUSE_ABOVE_NOISE_DB / 10))
    pause = ~speech
    for quiet, shortest in ((quiet_speech, min_pause), (quiet_noise, MIN_NOISE_PAUSE_S)):
        need = max(1, int(round(shortest / FRAME_S)))
        for a, b in _runs(quiet):
            if b - a >= need:
                pause[a:b] = True
    return pause


def pieces_between_pauses(
    pause: np.ndarray, *, min_duration: float = 0.0
) -> list[tuple[float, float, float, float]]:
    """``[(start, end, pause_before, pause_after)]`` seconds: the speech between pauses.

    ``pause_before`` / ``pause_after`` are the lengths of the pauses around the piece (the room a
    cut has on each side).

    Examples
    --------
    >>> p = np.array([1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    >>> [tuple(round(v, 2) for v in t) for t in pieces_between_pauses(p)]
    [(0.02, 0.05, 0.02, 0.01), (0.06, 0.08, 0.01, 0.03)]
    """
    speech_runs = _runs(~np.asarray(pause, dtype=bool))
    out = []
    n = len(pause)
    for i, (a, b) in enumerate(speech_runs):
        prev_end = speech_runs[i - 1][1] if i > 0 else 0
        next_start = speech_runs[i + 1][0] if i + 1 < len(speech_runs) else n
        if (b - a) * FRAME_S < min_duration - 1e-9:
            continue
        out.append((a * FRAME_S, b * FRAME_S, (a - prev_end) * FRAME_S, (next_start - b) * FRAME_S))
    return out


def frame_powers(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean power of every 10 ms frame (the last one zero-padded)."""
    x = np.asarray(samples, dtype=np.float64)
    hop = int(round(FRAME_S * sample_rate))
    n = int(math.ceil(len(x) / hop))
    pad = np.zeros(n * hop)
    pad[: len(x)] = x
    return np.mean(pad.reshape(n, hop) ** 2, axis=1)


def dip_cuts(
    power: np.ndarray,
    *,
    maximum: float,
    min_piece: float = MIN_DIP_PIECE_S,
    smooth: float = DIP_SMOOTH_S,
) -> list[int]:
    """Frames at which to cut a stretch of speech so that no part is longer than ``maximum`` s.

    ``power`` holds the stretch's 10 ms frame powers. The stretch is cut at the lowest point of
    their ``smooth``-second moving average, at least ``min_piece`` from either end, and each part
    again until every part fits (parts shorter than ``2 * min_piece`` are not cut further).

    Examples
    --------
    >>> p = np.ones(1000)
    >>> p[300:305] = 1e-4  # a quiet gap at 3.0 s
    >>> p[700:705] = 1e-3  # a less quiet one at 7.0 s
    >>> dip_cuts(p, maximum=6.0)
    [302, 702]
    """
    p = np.asarray(power, dtype=np.float64)
    w = max(1, int(round(smooth / FRAME_S)))
    sm = np.convolve(p, np.ones(w) / w, mode="same")
    lo, top = int(round(min_piece / FRAME_S)), int(round(maximum / FRAME_S))
    cuts: list[int] = []
    todo = [(0, len(p))]
    while todo:
        a, b = todo.pop()
        if b - a <= top or b - a < 2 * lo:
            continue
        k = a + lo + int(np.argmin(sm[a + lo : b - lo + 1]))
        cuts.append(k)
        todo += [(a, k), (k, b)]
    return sorted(cuts)


def piece_score(
    snr_db: float,
    similarity: float,
    bandwidth_hz: float,
    clipping: float,
    *,
    min_similarity: float,
    dnsmos_ovrl: float | None = None,
) -> float:
    """How good a usable piece is for a prompt, about 0 (poor) to 1 (clean, full band, sure).

    SNR (0-40 dB) weighs 0.4, the margin of the similarity above the threshold 0.3, the
    bandwidth (up to 8 kHz) 0.2, DNSMOS OVRL (1-5) 0.3 when known; any clipping costs up to 1.

    Examples
    --------
    >>> clean = piece_score(40.0, 0.95, 8000.0, 0.0, min_similarity=0.8)
    >>> noisy = piece_score(5.0, 0.95, 8000.0, 0.0, min_similarity=0.8)
    >>> clean > noisy
    True
    """
    snr = 0.0 if not math.isfinite(snr_db) else min(max(snr_db, 0.0), 40.0) / 40.0
    sim = 0.0
    if math.isfinite(similarity):
        sim = min(max((similarity - min_similarity) / max(1.0 - min_similarity, 1e-6), 0.0), 1.0)
    bw = min(max(bandwidth_hz, 0.0), 8000.0) / 8000.0
    score = 0.4 * snr + 0.3 * sim + 0.2 * bw
    if dnsmos_ovrl is not None and math.isfinite(dnsmos_ovrl):
        score += 0.3 * min(max((dnsmos_ovrl - 1.0) / 4.0, 0.0), 1.0)
    return score - min(1.0, 100.0 * float(clipping))


def choose_contiguous(
    starts: np.ndarray,
    ends: np.ndarray,
    groups: np.ndarray,
    usable: np.ndarray,
    scores: np.ndarray,
    *,
    target: float,
    maximum: float,
    max_pause: float = MAX_JOIN_PAUSE_S,
) -> list[int]:
    """Indices of the best run of consecutive usable pieces of one group (reference).

    Pieces are sorted by ``(group, start)``. A run may not hold an unusable piece, a pause
    longer than ``max_pause`` or span more than ``maximum`` seconds. Value of a run: the share of
    ``target`` it fills times ``0.5 + 0.5 x`` its mean score (a full-length run of clean pieces
    beats a short cleaner one).

    Examples
    --------
    >>> s, e = np.array([0.0, 2.0, 4.0, 9.0]), np.array([1.8, 3.8, 6.0, 11.0])
    >>> choose_contiguous(s, e, np.zeros(4, int), np.array([1, 1, 1, 1], bool),
    ...                   np.full(4, 0.5), target=6.0, maximum=12.0)
    [0, 1, 2]
    """
    best: tuple[float, list[int]] = (-math.inf, [])
    n = len(starts)
    for i in range(n):
        if not usable[i] or ends[i] - starts[i] > maximum:
            continue
        j = i
        while True:
            span = ends[j] - starts[i]
            idx = list(range(i, j + 1))
            fill = min(span, target) / target
            value = fill * (0.5 + 0.5 * float(np.mean(scores[idx])))
            if value > best[0] + 1e-12:
                best = (value, idx)
            k = j + 1
            if (
                k >= n
                or groups[k] != groups[i]
                or not usable[k]
                or starts[k] - ends[j] > max_pause
                or ends[k] - starts[i] > maximum
                or span >= target
            ):
                break
            j = k
    return best[1]


def choose_pieces(
    durations: np.ndarray,
    usable: np.ndarray,
    scores: np.ndarray,
    *,
    target: float,
    maximum: float,
    join_pause: float,
) -> list[int]:
    """Indices of the best usable pieces, best first, until ``target`` seconds (never beyond
    ``maximum``, counting ``join_pause`` between pieces); returned in input order.

    Examples
    --------
    >>> choose_pieces(np.array([3.0, 3.0, 3.0]), np.array([1, 0, 1], bool),
    ...               np.array([0.2, 0.9, 0.8]), target=5.0, maximum=10.0, join_pause=0.3)
    [0, 2]
    """
    order = [int(i) for i in np.argsort(-np.asarray(scores), kind="stable") if usable[i]]
    chosen: list[int] = []
    total = 0.0
    for i in order:
        if total >= target:
            break
        extra = durations[i] + (join_pause if chosen else 0.0)
        if total + extra > maximum:
            continue
        chosen.append(i)
        total += extra
    return sorted(chosen)
