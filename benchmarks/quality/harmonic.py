"""Pitch-comb separation of overlapped references: a training-free variant (not in the library).

A learned separator knows only the voices it was trained on (voxref's own, trained on espeak-ng
variants, separates flite and recorded voices poorly: ``benchmarks/results/separation.md``).
Voiced speech, whoever speaks, is a comb of harmonics of its pitch; two talkers at different
pitches put their energy on two combs. :class:`HarmonicSeparator` needs no voice to learn:

1. **Two pitches per frame** (64 ms Hann window, 10 ms hop). The magnitude spectrum is
   compressed and whitened (cube root minus its local mean over about 200 Hz); a pitch
   *salience* is the weighted sum of the whitened magnitudes at a candidate's harmonics up to
   4 kHz (Klapuri's harmonic summation, weights ``(f0 + 20) / (h f0 + 320)``). The most salient
   pitch is the first talker's; its harmonics are cancelled and the most salient pitch of the
   rest (not an octave relative of the first) is the second talker's when its salience is at
   least ``second_ratio`` of the first's.
2. **Two streams by pitch range.** Two-pitch frames give the lower pitch to stream 0 and the
   higher to stream 1; a one-pitch frame goes to the stream whose median pitch (over the
   two-pitch frames) is closer. In a two-pitch frame each bin is shared by how close it lies to
   either comb (Gaussian of width ``comb_width_hz``); in a one-pitch frame the owner keeps its
   comb and the other stream what lies between the harmonics; frames with no pitch stay in both.

Two benchmark methods use it on ``voxref.Embedder()`` defaults (:class:`HarmonicVariant`):
``harmonic-keep`` replaces a reference by its stream closest to the other references'
leave-one-out mean when that stream is closer than the reference itself (the rule of
``separate=``); ``harmonic-blend`` pools every reference's windows with those of its stream
closest to that mean (a lone reference: closest to itself, the dominant voice), with no
one/two-voice gate. The decision record (tuning voices only) is
``benchmarks/results/harmonic_separation.md``.

Examples
--------
>>> import numpy as np
>>> sr = 16000
>>> t = np.arange(2 * sr) / sr
>>> low = sum(np.sin(2 * np.pi * 110 * h * t) / h for h in range(1, 20))
>>> high = sum(np.sin(2 * np.pi * 185 * h * t) / h for h in range(1, 12))
>>> streams = HarmonicSeparator().split((low + high).astype(np.float32), sr)
>>> streams.shape
(2, 32000)
>>> def share(s, ref):
...     return float(np.dot(s, ref) / np.dot(ref, ref))
>>> share(streams[0], low) > 0.8 and share(streams[1], high) > 0.8
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .methods import Failed, VoxrefMethod, _unit, register_method

__all__ = ["HarmonicSeparator", "HarmonicVariant", "PitchTracks"]

MIN_PITCH_HZ = 60.0
MAX_PITCH_HZ = 450.0
MAX_HARMONIC_HZ = 4000.0
CANDIDATES_PER_OCTAVE = 60
WINDOW_SECONDS = 0.064
HOP_SECONDS = 0.010
ANALYSIS_RATE = 16000
"""The tracker and the masks work at 16 kHz; other rates are resampled in and out."""


@dataclass(frozen=True)
class PitchTracks:
    """The two-pitch tracker's result, one value per frame.

    Attributes
    ----------
    first, second
        Most salient pitch and the most salient one after cancelling the first (Hz).
    voiced
        A pitch was found (the first talker's salience is above the frame floor).
    two
        Two pitches were found.
    """

    first: np.ndarray
    second: np.ndarray
    voiced: np.ndarray
    two: np.ndarray


def _candidates() -> np.ndarray:
    n = int(CANDIDATES_PER_OCTAVE * np.log2(MAX_PITCH_HZ / MIN_PITCH_HZ))
    return MIN_PITCH_HZ * 2.0 ** (np.arange(n) / CANDIDATES_PER_OCTAVE)


class HarmonicSeparator:
    """Split two talkers by the harmonic combs of their pitches (no training, any voice).

    Parameters
    ----------
    second_ratio
        Salience of the second pitch, relative to the first, from which a frame holds two
        talkers.
    comb_width_hz
        Width (standard deviation, Hz) of each harmonic of a comb mask.
    floor
        Share every bin keeps in both streams of a two-pitch frame, however far from either
        comb (what lies between the harmonics of two talkers is split evenly).

    Notes
    -----
    :meth:`split` has the interface of voxref's separators (``(2, N)`` streams at the input's
    rate), so ``voxref.separation.streams.stream_windows`` embeds its streams.
    """

    def __init__(
        self, second_ratio: float = 0.5, comb_width_hz: float = 12.0, floor: float = 0.05
    ) -> None:
        if not 0.0 < second_ratio <= 1.0:
            raise ValueError(f"second_ratio must be in (0, 1], got {second_ratio!r}")
        if not comb_width_hz > 0:
            raise ValueError(f"comb_width_hz must be > 0, got {comb_width_hz!r}")
        if not 0.0 < floor < 1.0:
            raise ValueError(f"floor must be in (0, 1), got {floor!r}")
        self.second_ratio = float(second_ratio)
        self.comb_width_hz = float(comb_width_hz)
        self.floor = float(floor)
        self._f0 = _candidates()

    def __repr__(self) -> str:
        return (
            f"HarmonicSeparator(second_ratio={self.second_ratio}, "
            f"comb_width_hz={self.comb_width_hz}, floor={self.floor})"
        )

    # -- analysis ---------------------------------------------------------------------------
    def _stft(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        from scipy.signal import stft

        n = int(round(WINDOW_SECONDS * ANALYSIS_RATE))
        kw = {
            "fs": ANALYSIS_RATE,
            "window": "hann",
            "nperseg": n,
            "noverlap": n - int(round(HOP_SECONDS * ANALYSIS_RATE)),
            "nfft": 2 * n,
        }
        _, _, z = stft(x, **kw)
        return z, kw

    def _bin_hz(self, kw: dict) -> float:
        return ANALYSIS_RATE / kw["nfft"]

    def _salience(self, whitened: np.ndarray, bin_hz: float) -> np.ndarray:
        from scipy.ndimage import maximum_filter1d

        peaks = maximum_filter1d(whitened, size=3, axis=0)
        out = np.zeros((len(self._f0), whitened.shape[1]))
        for i, f0 in enumerate(self._f0):
            h = np.arange(1, int(MAX_HARMONIC_HZ // f0) + 1)
            bins = np.round(h * f0 / bin_hz).astype(int)
            weights = (f0 + 20.0) / (h * f0 + 320.0)
            out[i] = weights @ peaks[bins]
        return out

    def tracks(self, samples: np.ndarray, sample_rate: int) -> PitchTracks:
        """The two-pitch tracks of ``samples`` (mono, any rate), 10 ms frames.

        Examples
        --------
        >>> import numpy as np
        >>> t = np.arange(16000) / 16000
        >>> x = sum(np.sin(2 * np.pi * 150 * h * t) / h for h in range(1, 20))
        >>> tr = HarmonicSeparator().tracks(x.astype(np.float32), 16000)
        >>> bool(abs(np.median(tr.first[tr.voiced]) - 150) < 3), float(tr.two.mean()) < 0.1
        (True, True)
        """
        x = _at_rate(np.asarray(samples, dtype=np.float64), sample_rate, ANALYSIS_RATE)
        z, kw = self._stft(x)
        return self._tracks(np.abs(z), self._bin_hz(kw))

    def _tracks(self, magnitude: np.ndarray, bin_hz: float) -> PitchTracks:
        from scipy.ndimage import uniform_filter1d

        c = np.cbrt(magnitude)
        w = np.maximum(c - uniform_filter1d(c, size=25, axis=0, mode="constant"), 0.0)
        s1 = self._salience(w, bin_hz)
        first = self._f0[s1.argmax(0)]
        top = s1.max(0)
        floor = 0.25 * np.quantile(top, 0.7) if top.size else 0.0
        voiced = top > max(floor, 1e-9)
        # cancel the first pitch's harmonics (+-2 bins) where voiced
        bins = np.arange(w.shape[0]) * bin_hz
        near = _comb_distance(bins, np.where(voiced, first, np.inf)) <= 2.0 * bin_hz
        near &= bins[:, None] >= 0.5 * first[None, :]
        near &= bins[:, None] <= MAX_HARMONIC_HZ
        s2 = self._salience(np.where(near, 0.0, w), bin_hz)
        ratio = self._f0[:, None] / first[None, :]
        relatives = np.zeros_like(s2, dtype=bool)
        for r in (1.0, 0.5, 2.0, 1 / 3, 3.0):
            relatives |= np.abs(np.log2(ratio / r)) < 0.05
        s2 = np.where(relatives, 0.0, s2)
        second = self._f0[s2.argmax(0)]
        two = voiced & (s2.max(0) > self.second_ratio * top)
        return PitchTracks(first=first, second=second, voiced=voiced, two=two)

    # -- masks ------------------------------------------------------------------------------
    def masks(self, tracks: PitchTracks, bins_hz: np.ndarray) -> np.ndarray:
        """Soft masks ``(2, bins, frames)`` of the low- and high-pitch streams (sum to 1 or 2)."""
        first, second, voiced, two = tracks.first, tracks.second, tracks.voiced, tracks.two
        n_frames = len(first)
        m = np.ones((2, len(bins_hz), n_frames))
        low = np.minimum(first, second)
        high = np.maximum(first, second)
        g_low = self._comb(bins_hz, low)
        g_high = self._comb(bins_hz, high)
        rho = self.floor
        share = (g_low + rho) / (g_low + g_high + 2 * rho)
        m[0][:, two] = share[:, two]
        m[1][:, two] = 1.0 - share[:, two]
        single = voiced & ~two
        if two.sum() >= 5 and single.any():
            mid_low = np.median(np.log2(low[two]))
            mid_high = np.median(np.log2(high[two]))
            lf = np.log2(first)
            to_low = single & (np.abs(lf - mid_low) < np.abs(lf - mid_high))
            to_high = single & ~to_low
            g = self._comb(bins_hz, first)
            own = (g + rho) / (g + 2 * rho)
            m[0][:, to_low] = own[:, to_low]
            m[1][:, to_low] = 1.0 - own[:, to_low]
            m[1][:, to_high] = own[:, to_high]
            m[0][:, to_high] = 1.0 - own[:, to_high]
        return m

    def _comb(self, bins_hz: np.ndarray, f0: np.ndarray) -> np.ndarray:
        d = _comb_distance(bins_hz, f0)
        g = np.exp(-0.5 * (d / self.comb_width_hz) ** 2)
        return np.where(bins_hz[:, None] < 0.5 * f0[None, :], 0.0, g)

    # -- separation -------------------------------------------------------------------------
    def split(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """The two talkers of ``samples``: float32 ``(2, N)`` at ``sample_rate``.

        Stream 0 holds the lower-pitched talker, stream 1 the higher-pitched one; a recording
        of one voice gives that voice's comb to one stream and what lies between its harmonics
        to the other.
        """
        from scipy.signal import istft

        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
        n_in = len(x)
        y = _at_rate(x, sample_rate, ANALYSIS_RATE)
        z, kw = self._stft(y)
        bin_hz = self._bin_hz(kw)
        tracks = self._tracks(np.abs(z), bin_hz)
        m = self.masks(tracks, np.arange(z.shape[0]) * bin_hz)
        out = []
        for mask in m:
            _, s = istft(z * mask, **kw)
            s = _fit(s, len(y))
            out.append(_fit(_at_rate(s, ANALYSIS_RATE, sample_rate), n_in))
        return np.stack(out).astype(np.float32)


def _comb_distance(bins_hz: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """Distance (Hz) of every bin to the nearest harmonic of each frame's pitch, ``(bins, frames)``."""
    f = np.asarray(f0, dtype=np.float64)[None, :]
    b = bins_hz[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.abs(b - np.maximum(np.round(b / f), 1.0) * f)
    return np.where(np.isfinite(d), d, np.inf)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def _at_rate(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    if int(rate) == int(target):
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(x, int(target) // g, int(rate) // g)


class HarmonicVariant(VoxrefMethod):
    """``voxref.Embedder()`` defaults with each reference's pitch-comb streams (see the module).

    Parameters
    ----------
    name
        Method name.
    rule
        ``"keep"``: a reference becomes its stream closest to the other references' leave-one-out
        mean when that stream is closer than the reference; ``"blend"``: the reference's windows
        are pooled with those of that stream (a lone reference: the stream closest to itself).
    """

    def __init__(self, name: str, rule: str) -> None:
        if rule not in ("keep", "blend"):
            raise ValueError(f"rule must be 'keep' or 'blend', got {rule!r}")
        super().__init__(name, {}, description=f"voxref defaults + pitch-comb streams ({rule})")
        self.rule = rule
        self.separator = HarmonicSeparator()

    @property
    def prepare_group(self) -> str:
        return "voxref-harmonic:{}"

    def prepare(self, samples: np.ndarray, sample_rate: int, source: str) -> Any:
        import dataclasses

        from voxref.separation.streams import stream_windows

        prepared = self.prepared_or_failed(samples, sample_rate)
        if isinstance(prepared, Failed):
            return prepared
        sp = prepared.speech
        prepared.extras["harmonic_streams"] = stream_windows(
            self.separator.split(sp.samples, sp.sample_rate),
            sp.sample_rate,
            self.embedder.encoder,
            level_dbfs=self.embedder.level_dbfs,
        )
        return dataclasses.replace(prepared, audio=None, speech=None)

    def combine(self, items: Sequence[Any]) -> np.ndarray | None:
        from voxref.embedder.pooling import guided_window_pool
        from voxref.encoding import WindowEmbeddings
        from voxref.separation.streams import choose_stream

        res = self.combined(items)
        if res is None:
            return None
        refs = [r for r in res.references if r.embedding is not None]
        e = np.stack([np.asarray(r.embedding, np.float64) for r in refs])
        new = []
        for i, r in enumerate(refs):
            streams = r.prepared.extras.get("harmonic_streams") if r.prepared is not None else None
            emb = r.embedding
            if streams:
                if len(refs) >= 2:
                    goal = _unit(e.sum(axis=0) - e[i])
                elif self.rule == "blend":
                    goal = _unit(e[i])
                else:
                    goal = None  # "keep" never separates a lone reference
                if goal is not None:
                    choice = choose_stream(
                        [w.embeddings for w, _ in streams],
                        np.asarray(emb)[None],
                        goal,
                        stream_weights=[a for _, a in streams],
                        margin=0.0 if self.rule == "keep" else float("-inf"),
                    )
                    if choice.index is not None:
                        sw, sz = streams[choice.index]
                        if self.rule == "keep":
                            emb, _ = guided_window_pool(sw, sz)
                        else:
                            own = r.windows
                            both = WindowEmbeddings(
                                np.concatenate([own.embeddings, sw.embeddings]),
                                np.concatenate([own.starts, sw.starts]),
                                np.concatenate([own.ends, sw.ends]),
                            )
                            own_z = (
                                np.ones(len(own))
                                if r.activity is None
                                else np.asarray(r.activity.weights, np.float64)
                            )
                            emb, _ = guided_window_pool(both, np.concatenate([own_z, sz]))
            new.append(emb)
        for r, emb in zip(refs, new):
            r.embedding = emb
        return self.pool_kept(refs)


for _rule in ("keep", "blend"):
    register_method(
        f"harmonic-{_rule}", lambda n=f"harmonic-{_rule}", r=_rule: HarmonicVariant(n, r)
    )
