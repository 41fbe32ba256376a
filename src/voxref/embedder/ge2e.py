"""GE2E speaker encoder (the d-vector space of SV2TTS / Real-Time-Voice-Cloning).

The network is Resemblyzer's (3-layer LSTM 256 + linear 256 + ReLU, 40 mel bands, 16 kHz,
1.6 s partials) and so are the trained weights: ``resemblyzer/pretrained.pt`` from the
``resemblyzer`` wheel (Apache-2.0, by Corentin Jemine / Resemble AI), loaded here with
``torch.load(weights_only=True)``. voxref re-implements the forward pass and the mel front end in
torch so it can batch windows, run without Resemblyzer's prints and global state, and stay
deterministic. Outputs match ``resemblyzer.VoiceEncoder`` to float precision (see the tests).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..encoding import Encoder, WindowEmbeddings, l2_normalize, window_starts
from ..errors import CheckpointError, MissingCheckpointError, MissingDependencyError
from ..loading.safe import safe_torch_load

__all__ = [
    "GE2EEncoder",
    "CheckpointGE2EEncoder",
    "WindowPlan",
    "DEFAULT_CONFIG",
    "build_ge2e_network",
    "bundled_weights_path",
    "mel_filterbank",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s

# the ``ge2e-lstm`` architecture of voxref checkpoints (Resemblyzer's sizes); the front end is fixed
DEFAULT_CONFIG: dict[str, Any] = {
    "sample_rate": SAMPLE_RATE,
    "n_mels": N_MELS,
    "hidden_size": 256,
    "num_layers": 3,
    "embedding_dim": 256,
    "window_seconds": 1.6,
    "hop_seconds": 0.4,
}


def bundled_weights_path() -> Path:
    """Path of the GE2E weights shipped inside the ``resemblyzer`` wheel (without importing it)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "resemblyzer", "resemblyzer==0.1.4", "The default GE2E encoder's weights"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.exists():
        raise MissingCheckpointError(
            f"resemblyzer is installed but {path} is missing; reinstall resemblyzer."
        )
    return path


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_region = f >= 1000.0
    logstep = np.log(6.4) / 27.0
    mel = np.where(log_region, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, mel)
    return mel


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f = m * (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), f)


@lru_cache(maxsize=8)
def mel_filterbank(
    sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS
) -> np.ndarray:
    """Slaney-normalised triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``.

    Same construction as ``librosa.filters.mel(sr, n_fft, n_mels)`` (htk=False, norm="slaney").

    Examples
    --------
    >>> mel_filterbank().shape
    (40, 201)
    """
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_pts = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _ge2e_network_class() -> type:
    import torch
    from torch import nn

    class GE2ENetwork(nn.Module):
        """GE2E d-vector network; ``forward`` takes waveforms ``(B, T)`` or mels ``(B, F, 40)``."""

        architecture = "ge2e-lstm"

        def __init__(self, config: Mapping[str, Any]) -> None:
            super().__init__()
            self.config = dict(config)
            self.lstm = nn.LSTM(
                config["n_mels"], config["hidden_size"], config["num_layers"], batch_first=True
            )
            self.linear = nn.Linear(config["hidden_size"], config["embedding_dim"])
            self.register_buffer(
                "stft_window", torch.hann_window(N_FFT, periodic=True), persistent=False
            )
            self.register_buffer("mel_basis", torch.from_numpy(mel_filterbank()), persistent=False)

        def mel(self, waveforms):
            """Mel power spectrogram ``(B, frames, 40)`` as :meth:`GE2EEncoder.mel`."""
            spec = torch.stft(
                waveforms,
                N_FFT,
                HOP,
                N_FFT,
                window=self.stft_window,
                center=True,
                pad_mode="constant",
                return_complex=True,
            )
            power = spec.real**2 + spec.imag**2  # (B, freq, frames)
            return (self.mel_basis @ power).transpose(1, 2)

        def forward(self, x):
            mels = self.mel(x) if x.dim() == 2 else x
            _, (hidden, _) = self.lstm(mels)
            e = torch.relu(self.linear(hidden[-1]))
            return e / torch.linalg.vector_norm(e, dim=1, keepdim=True).clamp_min(1e-12)

    return GE2ENetwork


def build_ge2e_network(config: Mapping[str, Any] | None = None):
    """A fresh GE2E network (``config`` over :data:`DEFAULT_CONFIG`, not validated: see
    :func:`voxref.embedder.checkpoint.build_network`), carrying ``.architecture`` and ``.config``.

    Examples
    --------
    >>> import torch
    >>> build_ge2e_network({"num_layers": 1})(torch.zeros(2, 16000)).shape
    torch.Size([2, 256])
    """
    cfg = {**DEFAULT_CONFIG, **dict(config or {})}
    net = _ge2e_network_class()(cfg)
    net.architecture = "ge2e-lstm"
    net.config = cfg
    return net


class GE2EEncoder(Encoder):
    """The bundled GE2E d-vector encoder (256-d, 16 kHz): voxref's offline default.

    Parameters
    ----------
    weights
        A Resemblyzer-format checkpoint (``{"model_state": state_dict}``); default: the weights
        inside the ``resemblyzer`` wheel.
    device
        Torch device (``"cpu"`` default).
    num_threads
        If given, ``torch.set_num_threads`` is *not* touched globally; inference runs under
        this many intra-op threads only inside calls.

    Examples
    --------
    >>> import numpy as np
    >>> enc = GE2EEncoder()
    >>> rng = np.random.default_rng(0)
    >>> e = enc.embed_utterance(0.1 * rng.standard_normal(32000).astype("float32"))
    >>> e.shape, round(float(np.linalg.norm(e)), 5)
    ((256,), 1.0)
    """

    name = "ge2e-resemblyzer"
    sample_rate = SAMPLE_RATE
    dimension = 256
    window_seconds = PARTIAL_FRAMES * HOP / SAMPLE_RATE  # 1.6 s: the network was trained on it
    hop_seconds = 0.4
    batch_size = 32
    """Windows per network pass, about: at one intra-op thread a pass of 32 windows costs less per
    window than one of 8 (fixed cost per pass) or of 128 (the activations fall out of cache)."""
    prefix_cache_signals = 8
    """Signals whose half-window embeddings are kept (see :meth:`embed_windows`): enough for
    two enrollments prepared side by side (:meth:`voxref.pipeline.Embedder.embed_many`)."""

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "cpu") -> None:
        super().__init__()
        self.weights_path = Path(weights) if weights is not None else bundled_weights_path()
        self.device = device
        self._model = None
        # digest of a signal -> {(window frames, start frame): embedding}: the first halves of
        # the windows of the last few signals, which cost nothing extra (see embed_windows)
        self._prefixes: OrderedDict[bytes, dict[tuple[int, int], np.ndarray]] = OrderedDict()

    # ----------------------------------------------------------------- model
    def _build(self):

        if not self.weights_path.exists():
            raise MissingCheckpointError(f"GE2E weights not found at {self.weights_path}.")
        state = safe_torch_load(self.weights_path)
        if isinstance(state, dict):
            state = state.get("model_state", state)
        if not isinstance(state, dict):
            raise CheckpointError(
                f"{self.weights_path} holds a {type(state).__name__}, not a GE2E state dict "
                "({'model_state': {...}} as Resemblyzer saves it)."
            )
        net = build_ge2e_network()  # one definition of the network, shared with training
        # the checkpoint also holds GE2E's similarity scale/bias; they are not part of inference
        try:
            missing, _unexpected = net.load_state_dict(
                {k: v for k, v in state.items() if not k.startswith("similarity")}, strict=False
            )
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise CheckpointError(
                f"{self.weights_path} does not fit the GE2E network ({str(exc).splitlines()[0]})."
            ) from None
        if missing:
            raise MissingCheckpointError(
                f"{self.weights_path} is not a GE2E checkpoint (missing {missing})."
            )
        return net.eval().to(self.device)

    @property
    def model(self):
        """The torch module (loaded on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._build()
        return self._model

    # ----------------------------------------------------------------- features
    def mel(self, samples: np.ndarray):
        """Mel power spectrogram ``(frames, 40)`` (torch), frames every 10 ms (centered STFT).

        The network's own front end (``model.mel``), the one training uses too.
        """
        import torch

        x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).to(self.device)
        return self.model.mel(x[None])[0].contiguous()

    def _forward_mels(self, mels):
        import torch

        with torch.inference_mode():
            return self.model(mels).cpu().numpy().astype(np.float32)

    def _forward_with_prefix(self, mels, prefix: int):
        """Embeddings of ``mels`` ``(B, T, 40)`` and of their first ``prefix`` frames.

        One LSTM pass: a window's first ``prefix`` frames are a window of their own (the LSTM
        starts from zero state either way), and its embedding is the last layer's output at
        that step through the same linear + ReLU + norm. ``None`` for the prefixes when the
        network is not the plain LSTM + linear one.
        """
        import torch

        net = self.model
        lstm, linear = getattr(net, "lstm", None), getattr(net, "linear", None)
        if not isinstance(lstm, torch.nn.LSTM) or not isinstance(linear, torch.nn.Linear):
            return self._forward_mels(mels), None
        with torch.inference_mode():
            out, (hidden, _) = lstm(mels)
            both = torch.relu(linear(torch.stack([hidden[-1], out[:, prefix - 1]])))
            both = both / torch.linalg.vector_norm(both, dim=2, keepdim=True).clamp_min(1e-12)
            both = both.cpu().numpy().astype(np.float32)
        return both[0], both[1]

    def embed_batch(self, windows: np.ndarray) -> np.ndarray:
        import torch

        mels = torch.stack([self.mel(w)[:PARTIAL_FRAMES] for w in windows])
        return self._forward_mels(mels)

    def embed_windows(
        self,
        samples: np.ndarray,
        window: float | None = None,
        hop: float | None = None,
        *,
        min_coverage: float = 0.75,
        source: str | None = None,
    ) -> WindowEmbeddings:
        """Sliding-window d-vectors; the mel spectrogram is computed once for the whole signal.

        The embeddings of each window's first half come out of the same LSTM pass at no extra
        cost; they are kept for the last :attr:`prefix_cache_signals` signals (keyed by a
        digest of the samples), so a second call on the same signal with half the window and a
        hop that lands on those starts (the short windows of
        :func:`voxref.separation.dominant.split_voices`: 0.8 s every 0.2 s after 1.6 s every
        0.4 s) runs the network on the other windows only. The result is the same as without
        the cache (up to float rounding of batched matrix products; see the tests).
        """
        return self.embed_windows_many(
            [samples], window, hop, min_coverage=min_coverage, sources=[source]
        )[0]

    def embed_windows_many(
        self,
        signals: list[np.ndarray],
        window: float | None = None,
        hop: float | None = None,
        *,
        min_coverage: float = 0.75,
        sources: list[str | None] | None = None,
    ) -> list[WindowEmbeddings]:
        """:meth:`embed_windows` of each signal, their windows through the network together.

        The windows of all signals go through the network in batches of about
        :attr:`batch_size` (:meth:`plan_windows`); with more than one torch thread the batches
        run side by side (:mod:`voxref.embedder.workers`), each with one intra-op thread, so
        the output does not depend on the thread count.
        """
        from .workers import run_all

        plan = self.plan_windows(signals, window, hop, min_coverage=min_coverage, sources=sources)
        run_all(plan.batches)
        return plan.result()

    def plan_windows(
        self,
        signals: list[np.ndarray],
        window: float | None = None,
        hop: float | None = None,
        *,
        min_coverage: float = 0.75,
        sources: list[str | None] | None = None,
    ) -> WindowPlan:
        """The work of :meth:`embed_windows_many`, split into batches that may run side by side.

        Run every callable of ``plan.batches`` (in any order, on any threads), then
        ``plan.result()`` gives each signal's :class:`~voxref.encoding.WindowEmbeddings`. The
        windows the prefix cache does not hold are cut into ``ceil(n / batch_size)`` batches of
        equal size (within one): which window goes into which batch depends on the signals
        only. Raises what :meth:`embed_windows` raises for a signal it cannot encode.
        """
        import torch

        from .workers import one_intra_op_thread

        _ = self.model  # built once, under the lock
        sources = list(sources) if sources is not None else [None] * len(signals)
        win_f = int(round((window or self.window_seconds) * self.sample_rate / HOP))
        hop_f = max(1, int(round((hop or self.hop_seconds) * self.sample_rate / HOP)))
        plans = []
        for samples, source in zip(signals, sources):
            x = self._check(samples, source)
            n_frames = len(x) // HOP + 1
            starts = window_starts(n_frames, win_f, hop_f, min_coverage)
            need_frames = int(starts[-1]) + win_f
            key = hashlib.blake2b(np.ascontiguousarray(x).view(np.uint8), digest_size=16).digest()
            if need_frames > n_frames:  # zero-pad the waveform so the last window is complete
                x = np.pad(x, (0, (need_frames - n_frames) * HOP + HOP))
            plans.append((x, starts, key, len(samples)))
        plan = WindowPlan(self, win_f, [(starts, key, n) for _, starts, key, n in plans])
        mels = []
        with self._lock:
            for j, (x, starts, key, _) in enumerate(plans):
                known = self._prefixes.get(key, {})
                todo = np.array([(win_f, int(s)) not in known for s in starts], dtype=bool)
                for i in np.flatnonzero(~todo):
                    plan.embs[j][i] = known[(win_f, int(starts[i]))]
                plan.todos.append(todo)
                if todo.any():
                    mels.append((j, x, starts[todo]))
        pieces = []
        with one_intra_op_thread():
            for j, x, run in mels:
                mel = self.mel(x)
                idx = torch.as_tensor(run)[:, None] + torch.arange(win_f)[None, :]
                pieces.append(mel[idx])
                plan.owners += [(j, int(s)) for s in run]
        n = len(plan.owners)
        if n:
            bounds = np.linspace(0, n, -(-n // self.batch_size) + 1).round().astype(int)
            plan.windows = torch.cat(pieces) if len(pieces) > 1 else pieces[0]
            plan.batches = [
                (lambda a=int(a), b=int(b): plan.run_batch(a, b))
                for a, b in zip(bounds[:-1], bounds[1:])
            ]
        return plan

    def _remember(self, key: bytes, prefixes: dict[tuple[int, int], np.ndarray]) -> None:
        """Keep ``prefixes`` for signal ``key`` (the oldest signal is dropped beyond the cap)."""
        self._prefixes.setdefault(key, {}).update(prefixes)
        self._prefixes.move_to_end(key)
        while len(self._prefixes) > self.prefix_cache_signals:
            self._prefixes.popitem(last=False)

    def embed_utterance(self, samples: np.ndarray, *, source: str | None = None) -> np.ndarray:
        """Resemblyzer-compatible utterance d-vector: mean of 1.6 s partials at 1.3 per second."""
        hop = round(self.sample_rate / 1.3 / HOP) * HOP / self.sample_rate
        return self.embed_windows(samples, hop=hop, source=source).mean()


class WindowPlan:
    """The pending work of :meth:`GE2EEncoder.plan_windows` (see there)."""

    def __init__(self, encoder: GE2EEncoder, win_f: int, signals: list[tuple[Any, bytes, int]]):
        self.encoder = encoder
        self.win_f = win_f
        self.signals = signals
        self.embs = [np.empty((len(st), encoder.dimension), np.float32) for st, _, _ in signals]
        self.todos: list[np.ndarray] = []
        self.windows: Any = None  # every window to run, one tensor (set by plan_windows)
        self.owners: list[tuple[int, int]] = []
        self.done: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self.batches: list[Any] = []

    def run_batch(self, a: int, b: int) -> None:
        """Windows ``a:b`` through the network (thread-safe: each batch writes its own slot)."""
        from .workers import one_intra_op_thread

        with one_intra_op_thread():  # the same arithmetic whatever the caller's thread count
            self.done[a] = self.encoder._forward_with_prefix(self.windows[a:b], self.win_f // 2)

    def result(self) -> list[WindowEmbeddings]:
        """Each signal's window embeddings (every batch must have run)."""
        enc, half = self.encoder, self.win_f // 2
        if self.owners:
            parts = [self.done[a] for a in sorted(self.done)]
            done_all = np.concatenate([e for e, _ in parts], axis=0)
            prefixes: list[dict[tuple[int, int], np.ndarray]] = [{} for _ in self.signals]
            if half > 0 and all(p is not None for _, p in parts):
                pre = np.concatenate([p for _, p in parts], axis=0)
                for (j, s), v in zip(self.owners, pre):
                    prefixes[j][(half, s)] = v
            first = 0
            with enc._lock:
                for j, todo in enumerate(self.todos):
                    k = int(todo.sum())
                    self.embs[j][todo] = done_all[first : first + k]
                    first += k
                    if prefixes[j]:
                        enc._remember(self.signals[j][1], prefixes[j])
        out = []
        for (starts, _, length), emb in zip(self.signals, self.embs):
            st = starts.astype(np.float64) * HOP / enc.sample_rate
            en = np.minimum(st + self.win_f * HOP / enc.sample_rate, length / enc.sample_rate)
            out.append(WindowEmbeddings(l2_normalize(emb), st, en))
        return out


class CheckpointGE2EEncoder(GE2EEncoder):
    """A :class:`GE2EEncoder` running weights from a voxref checkpoint.

    Same front end, windowing and Resemblyzer-compatible ``embed_utterance``; only the weights
    (and, if the config says so, the LSTM size / embedding dimension) differ. ``checkpoint`` is a
    ``ge2e-lstm`` :class:`voxref.embedder.checkpoint.EncoderCheckpoint`.
    """

    def __init__(self, checkpoint: Any, device: str = "cpu") -> None:
        super().__init__(weights=checkpoint.path or "<in-memory checkpoint>", device=device)
        self.checkpoint = checkpoint
        self.name = checkpoint.name
        self.dimension = int(checkpoint.config["embedding_dim"])
        self.window_seconds = float(checkpoint.config["window_seconds"])
        self.hop_seconds = float(checkpoint.config["hop_seconds"])

    def _build(self):
        return self.checkpoint.build_network().to(self.device)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "backend": "voxref",
            "architecture": "ge2e-lstm",
            "source": str(self.checkpoint.path),
        }
