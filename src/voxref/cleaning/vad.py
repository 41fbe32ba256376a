"""Voice activity detection: where in a recording someone is speaking.

Two detectors share one post-processing step (:func:`regions_from_probabilities`):

* :class:`SileroVAD` runs the Silero VAD model whose weights ship inside the ``silero-vad`` wheel
  (``silero_vad/data/*.onnx`` / ``silero_vad.jit``, MIT). It is loaded here from the package's data
  files, without importing :mod:`silero_vad` (which imports torch) and without its ``read_audio``.
  Three backends compute the same frame probabilities (512-sample frames at 16 kHz, each fed with
  the 64 samples before it as context, LSTM state carried from frame to frame):

  ``"onnx"`` (default)
      ``silero_vad_16k_sequence.onnx`` through onnxruntime: one call per block of up to 512 frames.
      Measured here on 60 s of speech, one thread: 0.13 s (~470x real time).
  ``"onnx-stream"``
      ``silero_vad.onnx``, one call per frame: 0.26 s for 60 s (same probabilities, bit-exact).
  ``"jit"``
      ``silero_vad.jit`` (TorchScript), one call per frame: 0.80 s for 60 s (probabilities within
      3e-6 of ONNX).

* :class:`EnergyVAD`: a frame-energy detector with an adaptive noise floor, the fallback when
  silero-vad / onnxruntime are not installed. Fine for clean recordings, poor in loud noise.

Models are loaded once per process (a lock guards the first load). An onnxruntime session is
shared between threads (its ``run`` is thread-safe); the recurrent state lives in local variables
of each call, so concurrent calls never share it. The TorchScript model keeps its state inside the
module, so its calls are serialised by a lock.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..audio.resample import resample
from ..errors import ConfigError, MissingDependencyError, optional_dependency

__all__ = [
    "SpeechRegions",
    "VoiceActivityDetector",
    "SileroVAD",
    "EnergyVAD",
    "detect_speech",
    "get_vad",
    "regions_from_probabilities",
    "silero_model_path",
    "VAD_SAMPLE_RATE",
    "DEFAULT_THRESHOLD",
    "DEFAULT_PAD_S",
    "DEFAULT_MIN_GAP_S",
    "DEFAULT_MIN_SPEECH_S",
    "SILERO_BACKENDS",
    "check_vad_name",
]

log = logging.getLogger(__name__)

#: Rate every detector works at (other rates are resampled explicitly).
VAD_SAMPLE_RATE = 16_000
#: A frame is speech when its probability reaches this value...
DEFAULT_THRESHOLD = 0.5
#: ...and speech continues until the probability falls below ``threshold - HYSTERESIS``.
HYSTERESIS = 0.15
#: Seconds of context kept on each side of a speech region.
DEFAULT_PAD_S = 0.1
#: Pauses shorter than this (seconds) inside speech are bridged.
DEFAULT_MIN_GAP_S = 0.3
#: Regions shorter than this (seconds) are dropped as clicks / breaths.
DEFAULT_MIN_SPEECH_S = 0.25

_FRAME = 512  # samples per silero frame at 16 kHz (32 ms)
_CONTEXT = 64  # samples of the previous frame the model sees
_STATE = 128  # LSTM width
_BLOCK_FRAMES = 512  # frames per sequence-model call (16.4 s)

#: Model file of each silero backend, inside the ``silero_vad/data`` folder.
SILERO_BACKENDS = {
    "onnx": "silero_vad_16k_sequence.onnx",
    "onnx-stream": "silero_vad.onnx",
    "jit": "silero_vad.jit",
}


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class SpeechRegions:
    """Where speech is in one signal.

    Attributes
    ----------
    regions
        ``(start, end)`` pairs in seconds, sorted and non-overlapping (padding included).
    probabilities
        Speech probability of each analysis frame, shape ``(num_frames,)``; frame ``i`` covers
        ``[i * frame_hop, (i + 1) * frame_hop)`` seconds.
    frame_hop
        Seconds between frames (0.032 for silero).
    duration
        Length of the analysed signal in seconds.
    backend
        Which detector produced it (``"silero-onnx"``, ``"energy"``, ...).

    Examples
    --------
    >>> r = SpeechRegions(((0.5, 1.5), (2.0, 2.5)), np.zeros(94, np.float32), 0.032, 3.0)
    >>> r.speech_duration, len(r)
    (1.5, 2)
    >>> r.non_speech()
    ((0.0, 0.5), (1.5, 2.0), (2.5, 3.0))
    >>> int(r.mask(30, 10).sum())
    15
    """

    regions: tuple[tuple[float, float], ...]
    probabilities: np.ndarray
    frame_hop: float
    duration: float
    backend: str = ""

    def __len__(self) -> int:
        return len(self.regions)

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return iter(self.regions)

    @property
    def speech_duration(self) -> float:
        """Total seconds inside the regions."""
        return float(sum(e - s for s, e in self.regions))

    @property
    def is_empty(self) -> bool:
        return not self.regions

    def non_speech(self, margin: float = 0.0) -> tuple[tuple[float, float], ...]:
        """The complement of the regions, each shrunk by ``margin`` seconds on both sides."""
        out, t = [], 0.0
        for s, e in (*self.regions, (self.duration, self.duration)):
            a, b = t + (margin if t > 0 else 0.0), s - (margin if s < self.duration else 0.0)
            if b > a:
                out.append((round(a, 6), round(b, 6)))
            t = e
        return tuple(out)

    def mask(self, num_samples: int, sample_rate: int) -> np.ndarray:
        """Boolean per-sample mask (``True`` inside a region) for a signal at ``sample_rate``."""
        m = np.zeros(int(num_samples), dtype=bool)
        for s, e in self.regions:
            m[int(round(s * sample_rate)) : int(round(e * sample_rate))] = True
        return m

    def to_dict(self) -> dict:
        return {
            "regions": [[round(s, 3), round(e, 3)] for s, e in self.regions],
            "speech_s": round(self.speech_duration, 3),
            "duration_s": round(self.duration, 3),
            "frame_hop": self.frame_hop,
            "backend": self.backend,
        }


def regions_from_probabilities(
    probabilities: np.ndarray,
    frame_hop: float,
    duration: float,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    neg_threshold: float | None = None,
    pad: float = DEFAULT_PAD_S,
    min_gap: float = DEFAULT_MIN_GAP_S,
    min_speech: float = DEFAULT_MIN_SPEECH_S,
) -> tuple[tuple[float, float], ...]:
    """Speech regions from frame probabilities.

    A region opens at a frame with ``p >= threshold`` and closes at the first frame with
    ``p < neg_threshold`` (hysteresis, default ``threshold - 0.15``). Then: pauses shorter than
    ``min_gap`` are bridged, regions shorter than ``min_speech`` dropped, each region padded by
    ``pad`` seconds on both sides (clipped to ``[0, duration]``), and overlaps merged.

    Examples
    --------
    >>> p = np.array([0, 0.9, 0.9, 0.9, 0.9, 0.5, 0.1, 0.8, 0.9, 0.9, 0.9, 0.0, 0.0])
    >>> regions_from_probabilities(p, 0.1, 1.3, pad=0.05, min_gap=0.2, min_speech=0.25)
    ((0.05, 1.15),)
    >>> regions_from_probabilities(p, 0.1, 1.3, pad=0.0, min_gap=0.0, min_speech=0.25)
    ((0.1, 0.6), (0.7, 1.1))
    """
    p = np.asarray(probabilities, dtype=np.float64)
    lo = threshold - HYSTERESIS if neg_threshold is None else neg_threshold
    raw: list[list[float]] = []
    start = None
    for i, v in enumerate(p):
        if start is None and v >= threshold:
            start = i
        elif start is not None and v < lo:
            raw.append([start * frame_hop, i * frame_hop])
            start = None
    if start is not None:
        raw.append([start * frame_hop, len(p) * frame_hop])
    merged: list[list[float]] = []
    for s, e in raw:
        if merged and s - merged[-1][1] < min_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    kept = [(s, e) for s, e in merged if e - s >= min_speech - 1e-9]
    out: list[list[float]] = []
    for s, e in kept:
        s, e = max(0.0, s - pad), min(float(duration), e + pad)
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return tuple((round(s, 6), round(e, 6)) for s, e in out)


# --------------------------------------------------------------------------- detectors
@runtime_checkable
class VoiceActivityDetector(Protocol):
    """Anything that gives frame speech probabilities for mono 16 kHz samples."""

    name: str
    frame_hop: float

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability per frame of mono float32 samples at :data:`VAD_SAMPLE_RATE`."""
        ...


def silero_model_path(backend: str = "onnx") -> Path:
    """Path of the silero model file for ``backend``, inside the installed ``silero_vad`` wheel.

    Examples
    --------
    >>> silero_model_path("onnx").name
    'silero_vad_16k_sequence.onnx'
    """
    if backend not in SILERO_BACKENDS:
        raise ConfigError(
            f"unknown silero backend {backend!r}; use one of {sorted(SILERO_BACKENDS)}."
        )
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "silero_vad", "silero-vad>=6", "Silero voice activity detection"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / SILERO_BACKENDS[backend]
    if not path.exists():
        raise MissingDependencyError(
            "silero_vad",
            "--force-reinstall 'silero-vad>=6'",
            f"Silero VAD ({path.name} is missing)",
        )
    return path


_LOAD_LOCK = threading.Lock()
_MODELS: dict[str, object] = {}


def _onnx_session(path: Path):
    key = f"onnx:{path}"
    with _LOAD_LOCK:
        if key not in _MODELS:
            with optional_dependency("onnxruntime", "onnxruntime", "Silero VAD (ONNX)"):
                import onnxruntime as ort
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            _MODELS[key] = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            log.debug("loaded %s", path)
        return _MODELS[key]


def _jit_model(path: Path):
    key = f"jit:{path}"
    with _LOAD_LOCK:
        if key not in _MODELS:
            import warnings

            import torch

            with warnings.catch_warnings():  # torch >= 2.9 deprecates jit.load in favour of export
                warnings.simplefilter("ignore", DeprecationWarning)
                model = torch.jit.load(str(path), map_location="cpu")
            model.eval()
            _MODELS[key] = model
            log.debug("loaded %s", path)
        return _MODELS[key]


def _frame_blocks(x: np.ndarray, block: int = _BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Blocks of ``(<= block, 64 + 512)`` frames: each zero-padded 512-sample frame preceded by the
    64 samples before it (zeros before the first frame)."""
    n = max(1, -(-len(x) // _FRAME))
    for first in range(0, n, block):
        count = min(block, n - first)
        a = first * _FRAME - _CONTEXT
        seg = np.zeros(count * _FRAME + _CONTEXT, dtype=np.float32)
        src = x[max(0, a) : min(len(x), (first + count) * _FRAME)]
        off = max(0, -a)
        seg[off : off + len(src)] = src
        idx = np.arange(count)[:, None] * _FRAME + np.arange(_FRAME + _CONTEXT)[None, :]
        yield seg[idx]


class SileroVAD:
    """Silero VAD from the weights bundled in the ``silero-vad`` wheel.

    Parameters
    ----------
    backend
        ``"onnx"`` (sequence model, fastest), ``"onnx-stream"`` or ``"jit"``; see the module notes.

    Examples
    --------
    >>> vad = SileroVAD()
    >>> p = vad.probabilities(np.zeros(16000, dtype=np.float32))
    >>> p.shape, bool(p.max() < 0.5)
    ((32,), True)
    """

    frame_hop = _FRAME / VAD_SAMPLE_RATE

    def __init__(self, backend: str = "onnx") -> None:
        self.path = silero_model_path(backend)
        self.backend = backend
        self.name = f"silero-{backend}"
        self._jit_lock = threading.Lock()
        if backend == "jit":
            self._model = _jit_model(self.path)
        else:
            self._model = _onnx_session(self.path)

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of each 32 ms frame of mono float32 samples at 16 kHz."""
        x = np.ascontiguousarray(samples, dtype=np.float32)
        run = {"onnx": self._run_sequence, "onnx-stream": self._run_stream, "jit": self._run_jit}
        return run[self.backend](x)

    def _run_sequence(self, x: np.ndarray) -> np.ndarray:
        # state is local to the call: concurrent calls on the shared session never mix
        h = np.zeros((1, 1, _STATE), dtype=np.float32)
        c = np.zeros((1, 1, _STATE), dtype=np.float32)
        out = []
        for frames in _frame_blocks(x):
            probs, h, c = self._model.run(
                ["speech_probs", "hn", "cn"], {"input": frames, "h": h, "c": c}
            )
            out.append(probs.reshape(-1))
        return np.concatenate(out).astype(np.float32)

    def _run_stream(self, x: np.ndarray) -> np.ndarray:
        state = np.zeros((2, 1, _STATE), dtype=np.float32)
        sr = np.array(VAD_SAMPLE_RATE, dtype=np.int64)
        out = []
        for frames in _frame_blocks(x):
            for frame in frames:
                prob, state = self._model.run(
                    None, {"input": frame[None], "state": state, "sr": sr}
                )
                out.append(float(prob[0, 0]))
        return np.asarray(out, dtype=np.float32)

    def _run_jit(self, x: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with self._jit_lock, torch.inference_mode():
            self._model.reset_states()  # the TorchScript module holds its state: one call at a time
            for frames in _frame_blocks(x):
                chunks = torch.from_numpy(np.ascontiguousarray(frames[:, _CONTEXT:]))
                for i in range(len(chunks)):
                    out.append(float(self._model(chunks[i : i + 1], VAD_SAMPLE_RATE)))
            self._model.reset_states()
        return np.asarray(out, dtype=np.float32)


class EnergyVAD:
    """Frame-energy voice activity detection with an adaptive noise floor (the fallback).

    A 32 ms frame is speech when its level is ``margin_db`` above the noise floor (the
    ``floor_percentile`` of frame levels), at most ``dynamic_range_db`` below the loudest frame and
    above ``absolute_floor_dbfs``. The "probability" is a logistic function of the distance to that
    threshold, so :func:`regions_from_probabilities` applies unchanged.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = 0.001 * rng.standard_normal(32000).astype(np.float32)
    >>> x[8000:24000] += 0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)
    >>> p = EnergyVAD().probabilities(x)
    >>> bool(p[:14].max() < 0.5), bool(p[17:45].min() > 0.5)
    (True, True)
    """

    name = "energy"
    frame_hop = _FRAME / VAD_SAMPLE_RATE

    def __init__(
        self,
        margin_db: float = 10.0,
        floor_percentile: float = 10.0,
        dynamic_range_db: float = 45.0,
        absolute_floor_dbfs: float = -60.0,
    ) -> None:
        self.margin_db = margin_db
        self.floor_percentile = floor_percentile
        self.dynamic_range_db = dynamic_range_db
        self.absolute_floor_dbfs = absolute_floor_dbfs

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        power = np.concatenate(
            [np.mean(f[:, _CONTEXT:].astype(np.float64) ** 2, axis=1) for f in _frame_blocks(x)]
        )
        level = 10.0 * np.log10(power + 1e-12)
        floor = np.percentile(level, self.floor_percentile)
        thr = max(
            floor + self.margin_db, level.max() - self.dynamic_range_db, self.absolute_floor_dbfs
        )
        return (1.0 / (1.0 + np.exp(-(level - thr) / 1.5))).astype(np.float32)


_VADS: dict[str, VoiceActivityDetector] = {}


def get_vad(name: str | VoiceActivityDetector = "silero") -> VoiceActivityDetector:
    """The shared detector called ``name`` (built once per process).

    ``"silero"`` is silero's fastest backend here (``"onnx"``), falling back to
    :class:`EnergyVAD` with a warning when silero-vad or onnxruntime is missing;
    ``"silero-onnx"``, ``"silero-onnx-stream"``, ``"silero-jit"`` pick a backend (and raise if it
    is missing); ``"energy"`` is :class:`EnergyVAD`. A detector object is returned as is.
    """
    if not isinstance(name, str):
        if not isinstance(name, VoiceActivityDetector):
            raise ConfigError(
                f"vad must be a name or a VoiceActivityDetector, got {type(name).__name__}."
            )
        return name
    with _LOAD_LOCK:
        vad = _VADS.get(name)
    if vad is not None:
        return vad
    if name == "energy":
        vad = EnergyVAD()
    elif name == "silero":
        try:
            vad = SileroVAD("onnx")
        except MissingDependencyError as exc:
            log.warning("%s; falling back to the energy VAD", exc)
            vad = EnergyVAD()
    elif name.startswith("silero-") and name[len("silero-") :] in SILERO_BACKENDS:
        vad = SileroVAD(name[len("silero-") :])
    else:
        names = ["silero", "energy", *(f"silero-{b}" for b in SILERO_BACKENDS)]
        raise ConfigError(f"unknown vad {name!r}; use one of {names}.")
    with _LOAD_LOCK:
        return _VADS.setdefault(name, vad)


def detect_speech(
    samples: np.ndarray,
    sample_rate: int,
    *,
    vad: str | VoiceActivityDetector = "silero",
    threshold: float = DEFAULT_THRESHOLD,
    pad: float = DEFAULT_PAD_S,
    min_gap: float = DEFAULT_MIN_GAP_S,
    min_speech: float = DEFAULT_MIN_SPEECH_S,
) -> SpeechRegions:
    """Find the speech regions of mono ``samples``.

    Parameters
    ----------
    samples
        Mono float samples at ``sample_rate`` (resampled to 16 kHz for the detector).
    sample_rate
        Rate of ``samples`` in Hz.
    vad
        Detector name (see :func:`get_vad`) or object.
    threshold, pad, min_gap, min_speech
        See :func:`regions_from_probabilities`.

    Returns
    -------
    SpeechRegions
        Regions in seconds on the input's timeline.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = 0.01 * rng.standard_normal(3 * 16000).astype(np.float32)
    >>> detect_speech(noise, 16000).regions
    ()
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ConfigError(
            f"detect_speech expects mono samples of shape (num_samples,), got {x.shape}."
        )
    duration = len(x) / float(sample_rate)
    if sample_rate != VAD_SAMPLE_RATE:
        log.debug("VAD: resampling %d -> %d Hz", sample_rate, VAD_SAMPLE_RATE)
        x = resample(x, sample_rate, VAD_SAMPLE_RATE)
    detector = get_vad(vad)
    probs = detector.probabilities(x) if len(x) else np.zeros(0, dtype=np.float32)
    regions = regions_from_probabilities(
        probs,
        detector.frame_hop,
        duration,
        threshold=threshold,
        pad=pad,
        min_gap=min_gap,
        min_speech=min_speech,
    )
    return SpeechRegions(regions, probs, float(detector.frame_hop), duration, detector.name)


def check_vad_name(vad: Any) -> Any:
    """A detector name voxref knows (``"silero"``, ``"energy"``, ``"silero-<backend>"``) or an
    object; a misspelt name fails here, not at the first reference."""
    if not isinstance(vad, str):
        return vad
    names = ["silero", "energy", *(f"silero-{b}" for b in SILERO_BACKENDS)]
    if vad not in names:
        raise ConfigError(f"unknown vad {vad!r}; use one of {names}.")
    return vad
