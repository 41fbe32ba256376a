"""The :class:`Encoder` interface every embedding backend implements, and its window embeddings.

It stands below every package that uses an encoder: separation (the diarizer and the guide embed
windows) as well as the encoders themselves (:mod:`voxref.embedder`) and the pipeline.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import AudioShapeError, TooShortAudioError

__all__ = [
    "Encoder",
    "VariableLengthEncoder",
    "ModuleEncoder",
    "WindowEmbeddings",
    "l2_normalize",
    "window_starts",
    "probe_dimension",
]


def l2_normalize(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """Divide by the L2 norm along ``axis`` (float32 out).

    Examples
    --------
    >>> import numpy as np
    >>> l2_normalize(np.array([3.0, 4.0])).tolist()
    [0.6000000238418579, 0.800000011920929]
    """
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(n, eps)).astype(np.float32)


@dataclass(frozen=True)
class WindowEmbeddings:
    """Embeddings of fixed-length windows of one signal.

    Attributes
    ----------
    embeddings
        ``(num_windows, dimension)`` float32, each row unit-norm.
    starts, ends
        Window bounds in seconds on the signal's own timeline, shape ``(num_windows,)``.
    """

    embeddings: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def centers(self) -> np.ndarray:
        return (self.starts + self.ends) / 2.0

    def select(self, mask: np.ndarray) -> WindowEmbeddings:
        """The windows where boolean ``mask`` is true."""
        m = np.asarray(mask, dtype=bool)
        return WindowEmbeddings(self.embeddings[m], self.starts[m], self.ends[m])

    def mean(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Unit-norm (weighted) mean of the window embeddings."""
        if weights is None:
            return l2_normalize(self.embeddings.mean(axis=0))
        w = np.asarray(weights, dtype=np.float64)
        return l2_normalize((w[:, None] * self.embeddings).sum(axis=0) / max(w.sum(), 1e-12))


def window_starts(
    num_samples: int, window: int, hop: int, min_coverage: float = 0.75
) -> np.ndarray:
    """Start indices of windows of ``window`` samples every ``hop`` samples.

    The last window is kept (zero-padded) if it covers at least ``min_coverage`` of a window;
    a signal shorter than one window gives a single (padded) window.

    Examples
    --------
    >>> window_starts(16000 * 3, 16000, 8000).tolist()
    [0, 8000, 16000, 24000, 32000]
    """
    if num_samples <= window:
        return np.array([0], dtype=np.int64)
    starts = list(range(0, num_samples - window + 1, hop))
    nxt = starts[-1] + hop
    if nxt < num_samples and (num_samples - nxt) >= min_coverage * window:
        starts.append(nxt)
    return np.asarray(starts, dtype=np.int64)


class Encoder(ABC):
    """A speaker-embedding backend.

    Every backend exposes the same properties (modelled on pyannote's embedding adapters):
    ``name``, ``sample_rate``, ``dimension``, ``metric`` (always ``"cosine"`` here),
    ``min_num_samples``, ``window_seconds`` and ``hop_seconds`` (default window layout), and
    implements :meth:`embed_batch` on equal-length windows. :meth:`embed_windows` and
    :meth:`embed_utterance` are built on it (a backend may override them for speed).
    Calls are thread-safe: one lock serialises model forward passes.
    """

    name: str = "encoder"
    sample_rate: int = 16_000
    dimension: int = 0
    metric: str = "cosine"
    window_seconds: float = 1.6
    hop_seconds: float = 0.4
    batch_size: int = 64

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @property
    def min_num_samples(self) -> int:
        """Fewest samples that give a meaningful embedding (half a window)."""
        return int(0.5 * self.window_seconds * self.sample_rate)

    @abstractmethod
    def embed_batch(self, windows: np.ndarray) -> np.ndarray:
        """Embed a ``(batch, num_samples)`` float32 array of equal-length windows.

        Returns ``(batch, dimension)`` float32 embeddings (not necessarily normalised).
        """

    def describe(self) -> dict:
        """Name, dimension, sample rate: what an export sidecar records."""
        return {
            "name": self.name,
            "dimension": self.dimension,
            "sample_rate": self.sample_rate,
            "metric": self.metric,
            "window_seconds": self.window_seconds,
            "hop_seconds": self.hop_seconds,
        }

    def _check(self, samples: np.ndarray, source: str | None) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise AudioShapeError(
                f"{self.name} expects mono samples of shape (num_samples,), got {x.shape}; "
                "load it with voxref.load_audio first.",
                source,
            )
        if len(x) < self.min_num_samples:
            raise TooShortAudioError(
                f"{len(x) / self.sample_rate:.2f} s of audio is shorter than the "
                f"{self.min_num_samples / self.sample_rate:.2f} s {self.name} needs.",
                source,
            )
        return x

    def _embed_starts(self, x: np.ndarray, starts: np.ndarray, win: int) -> np.ndarray:
        """Unit-norm embeddings of the windows ``x[s : s + win]``, ``batch_size`` at a time."""
        out = []
        for i in range(0, len(starts), self.batch_size):
            chunk = np.stack([x[s : s + win] for s in starts[i : i + self.batch_size]])
            with self._lock:
                out.append(self.embed_batch(chunk))
        return l2_normalize(np.concatenate(out, axis=0))

    def embed_windows(
        self,
        samples: np.ndarray,
        window: float | None = None,
        hop: float | None = None,
        *,
        min_coverage: float = 0.75,
        source: str | None = None,
    ) -> WindowEmbeddings:
        """Unit-norm embeddings of sliding windows over mono ``samples`` at :attr:`sample_rate`.

        Parameters
        ----------
        samples
            Mono float32 at ``self.sample_rate``.
        window, hop
            Window length and step in seconds (default: the backend's).
        min_coverage
            Keep a zero-padded last window when it covers this fraction of a window.
        """
        x = self._check(samples, source)
        win = int(round((window or self.window_seconds) * self.sample_rate))
        hp = int(round((hop or self.hop_seconds) * self.sample_rate))
        starts = window_starts(len(x), win, hp, min_coverage)
        need = int(starts[-1]) + win
        if need > len(x):
            x = np.pad(x, (0, need - len(x)))
        emb = self._embed_starts(x, starts, win)
        st = starts.astype(np.float64) / self.sample_rate
        en = np.minimum(st + win / self.sample_rate, len(samples) / self.sample_rate)
        return WindowEmbeddings(emb, st, en)

    def embed_utterance(self, samples: np.ndarray, *, source: str | None = None) -> np.ndarray:
        """One unit-norm embedding of a whole utterance: mean of its window embeddings."""
        return self.embed_windows(samples, source=source).mean()


def probe_dimension(forward: Any, sample_rate: int, device: str) -> int:
    """Output size of ``forward`` on one second of a quiet sine (deterministic)."""
    import torch

    t = np.arange(sample_rate, dtype=np.float32) / sample_rate
    x = torch.from_numpy((0.05 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32))[None]
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(0)
        out = forward(x.to(device))
    return int(out.reshape(1, -1).shape[1])


class VariableLengthEncoder(Encoder):
    """An encoder whose network accepts any input length (ECAPA, x-vector, WeSpeaker...).

    Windows are never zero-padded (silence would enter the statistics pooling): a signal shorter
    than a window is embedded whole, and the last window is aligned to the signal's end.
    """

    min_seconds: float = 0.5
    max_utterance_seconds: float = 60.0

    @property
    def min_num_samples(self) -> int:
        return int(round(self.min_seconds * self.sample_rate))

    def embed_windows(
        self,
        samples: np.ndarray,
        window: float | None = None,
        hop: float | None = None,
        *,
        min_coverage: float = 0.75,
        source: str | None = None,
    ) -> WindowEmbeddings:
        """Unit-norm embeddings of sliding windows (see the class docstring for the edges).

        ``min_coverage`` is accepted for interface compatibility and unused: nothing is padded.
        """
        x = self._check(samples, source)
        win = int(round((window or self.window_seconds) * self.sample_rate))
        hp = max(1, int(round((hop or self.hop_seconds) * self.sample_rate)))
        if len(x) <= win:
            with self._lock:
                emb = l2_normalize(self.embed_batch(x[None]))
            return WindowEmbeddings(
                emb, np.zeros(1), np.array([len(x) / self.sample_rate], dtype=np.float64)
            )
        starts = window_starts(len(x), win, hp, 1.0)
        if starts[-1] + win < len(x):
            starts = np.append(starts, len(x) - win)
        st = starts.astype(np.float64) / self.sample_rate
        return WindowEmbeddings(self._embed_starts(x, starts, win), st, st + win / self.sample_rate)

    def embed_utterance(self, samples: np.ndarray, *, source: str | None = None) -> np.ndarray:
        """One unit-norm embedding of the whole signal in one forward pass (as SpeechBrain and
        pyannote users do); signals longer than ``max_utterance_seconds`` fall back to the
        mean of window embeddings."""
        x = self._check(samples, source)
        if len(x) > self.max_utterance_seconds * self.sample_rate:
            return self.embed_windows(x, source=source).mean()
        with self._lock:
            return l2_normalize(self.embed_batch(x[None])[0])


class ModuleEncoder(VariableLengthEncoder):
    """An encoder around a callable mapping waveforms ``(B, T)`` (torch) to ``(B, D)``.

    Parameters
    ----------
    forward
        Called under ``torch.inference_mode()`` on a float32 tensor on ``device``.
    name, sample_rate, dimension, window_seconds, hop_seconds
        The :class:`~voxref.encoding.Encoder` properties.
    min_seconds
        Shortest input accepted.
    info
        Extra fields for :meth:`describe` (backend, architecture, source).

    Examples
    --------
    >>> import numpy as np, torch
    >>> enc = ModuleEncoder(lambda w: torch.stack([w.mean(1), w.std(1)], 1), name="toy",
    ...                     sample_rate=16000, dimension=2)
    >>> enc.embed_utterance(np.ones(16000, dtype="float32")).round(3).tolist()
    [1.0, 0.0]
    """

    def __init__(
        self,
        forward: Callable[[Any], Any],
        *,
        name: str,
        sample_rate: int,
        dimension: int,
        window_seconds: float = 3.0,
        hop_seconds: float = 1.5,
        min_seconds: float = 0.5,
        device: str = "cpu",
        info: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.forward = forward
        self.name = name
        self.sample_rate = int(sample_rate)
        self.dimension = int(dimension)
        self.window_seconds = float(window_seconds)
        self.hop_seconds = float(hop_seconds)
        self.min_seconds = float(min_seconds)
        self.device = device
        self.info = dict(info or {})
        self.rng_seed = 0

    def embed_batch(self, windows: np.ndarray) -> np.ndarray:
        """Run the network on ``(B, T)`` windows.

        The call runs under a private, fixed-seed torch RNG: some networks draw random numbers
        at inference (SpeechBrain's ``StatisticsPooling``, used by the x-vector, adds tiny
        Gaussian noise to the mean), which would otherwise make embeddings differ between calls
        and consume the caller's global RNG.
        """
        import torch

        x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(self.device)
        dev = torch.device(self.device)
        devices = [dev.index or 0] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(self.rng_seed)
            out = self.forward(x)
        return out.reshape(len(windows), -1).float().cpu().numpy()

    def describe(self) -> dict:
        return {**super().describe(), **self.info}
