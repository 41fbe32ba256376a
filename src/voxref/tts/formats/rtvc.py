"""Real-Time-Voice-Cloning / SV2TTS: its exact encoder preprocessing, and its ``embeds/`` files.

RTVC's synthesizer is trained on utterance embeddings its encoder computed in one precise way
(``encoder/audio.py::preprocess_wav`` and ``encoder/inference.py::embed_utterance`` in
CorentinJ/Real-Time-Voice-Cloning; the same code ships in ``resemblyzer``):

1. resample to 16 kHz (``librosa.resample``);
2. ``normalize_volume(wav, -30, increase_only=True)``: scale to -30 dBFS RMS (over the whole
   clip, int16 scale) only if it is quieter;
3. ``trim_long_silences``: webrtcvad (mode 3) on 30 ms frames of 16-bit PCM, a moving average
   over 8 frames rounded to a mask, dilated by 6 + 1 frames; samples outside are dropped;
4. partial utterances of 160 mel frames (1.6 s) at 1.3 per second (the last one kept, zero
   padded, when it covers >= 75 %), one d-vector each from the mel spectrogram of the whole
   (padded) clip, averaged and L2-normalised.

:func:`rtvc_preprocess` and :func:`rtvc_embed_utterance` reproduce that on voxref's GE2E encoder
(Resemblyzer's weights, or RTVC's ``encoder.pt`` loaded with ``GE2EEncoder(weights=...)``). The
tests check it against ``resemblyzer.VoiceEncoder.embed_utterance(preprocess_wav(path))`` on
espeak-ng and flite speech (cosine >= 0.999).

The synthesizer reads ``np.load(embed_path)`` for each ``train.txt`` line
(``synthesizer/synthesizer_dataset.py``: column 3 names ``embed-<utt>.npy`` in ``embeds/``),
float32 ``(256,)``. ``synthesizer_preprocess_embeds.py`` fills ``embeds/`` from ``audio/``
(``np.load`` of ``audio-<utt>.npy``, 16 kHz float arrays); :func:`read_train_txt` lists those
pairs so voxref can fill ``embeds/`` instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import atomic_save_npy
from ...errors import (
    ConfigError,
    MissingDependencyError,
    SilentAudioError,
    TooShortAudioError,
)
from ..export import RTVC_DIM

__all__ = [
    "RTVC_SAMPLE_RATE",
    "RTVC_DIM",
    "RTVC_PREPROCESSING",
    "RtvcItem",
    "rtvc_normalize_volume",
    "rtvc_trim_long_silences",
    "rtvc_preprocess",
    "rtvc_load",
    "rtvc_partial_slices",
    "rtvc_embed_utterance",
    "read_train_txt",
    "write_rtvc_embeds",
    "load_rtvc_embed",
    "export_rtvc",
]

log = logging.getLogger(__name__)

RTVC_SAMPLE_RATE = 16_000
INT16_MAX = 2**15 - 1
AUDIO_NORM_TARGET_DBFS = -30.0
VAD_WINDOW_MS = 30
VAD_MOVING_AVERAGE_WIDTH = 8
VAD_MAX_SILENCE_LENGTH = 6
PARTIAL_FRAMES = 160
HOP = 160  # 10 ms at 16 kHz
PARTIALS_RATE = 1.3
MIN_COVERAGE = 0.75

RTVC_PREPROCESSING = {
    "mode": "rtvc-exact",
    "rtvc_preprocessing": True,
    "description": (
        "Real-Time-Voice-Cloning's encoder preprocessing, reproduced: librosa resample to "
        "16 kHz, normalize_volume(-30 dBFS, increase_only=True), webrtcvad (mode 3) "
        "trim_long_silences (30 ms frames, moving average 8, dilation 6), then embed_utterance: "
        "1.6 s partials at 1.3/s (min coverage 0.75) averaged and L2-normalised. No cleaning, "
        "no levelling, no target-voice selection."
    ),
    "target_dbfs": AUDIO_NORM_TARGET_DBFS,
    "vad_window_ms": VAD_WINDOW_MS,
    "vad_moving_average_width": VAD_MOVING_AVERAGE_WIDTH,
    "vad_max_silence_length": VAD_MAX_SILENCE_LENGTH,
    "partials_rate": PARTIALS_RATE,
    "min_coverage": MIN_COVERAGE,
}


# =========================================================================== preprocessing
def rtvc_normalize_volume(
    wav: np.ndarray, target_dbfs: float = AUDIO_NORM_TARGET_DBFS
) -> np.ndarray:
    """RTVC's ``normalize_volume(wav, target_dbfs, increase_only=True)``.

    Raises
    ------
    SilentAudioError
        All-zero input (RTVC would produce NaN).
    """
    x = np.asarray(wav)
    rms = np.sqrt(np.mean((x * INT16_MAX) ** 2))
    if not rms > 0:
        raise SilentAudioError("the clip is digital silence; RTVC cannot embed it.")
    change = target_dbfs - 20 * np.log10(rms / INT16_MAX)
    if change < 0:
        return x
    return x * (10 ** (change / 20))


def rtvc_trim_long_silences(wav: np.ndarray) -> np.ndarray:
    """RTVC's ``trim_long_silences``: drop the samples webrtcvad (mode 3) calls long silence."""
    try:
        import webrtcvad
    except ImportError:
        raise MissingDependencyError(
            "webrtcvad", "webrtcvad", "RTVC's exact preprocessing"
        ) from None
    from scipy.ndimage import binary_dilation

    win = VAD_WINDOW_MS * RTVC_SAMPLE_RATE // 1000
    x = np.asarray(wav)
    x = x[: len(x) - (len(x) % win)]
    # as RTVC: round to int16 with numpy's wrap-around cast, native byte order
    pcm = np.round(x * INT16_MAX).astype(np.int16).tobytes()
    vad = webrtcvad.Vad(3)
    flags = np.array(
        [
            vad.is_speech(pcm[s * 2 : (s + win) * 2], sample_rate=RTVC_SAMPLE_RATE)
            for s in range(0, len(x), win)
        ],
        dtype=float,
    )
    w = VAD_MOVING_AVERAGE_WIDTH
    padded = np.concatenate((np.zeros((w - 1) // 2), flags, np.zeros(w // 2)))
    acc = np.cumsum(padded, dtype=float)
    acc[w:] = acc[w:] - acc[:-w]
    mask = np.round(acc[w - 1 :] / w).astype(bool)
    mask = binary_dilation(mask, np.ones(VAD_MAX_SILENCE_LENGTH + 1))
    return x[np.repeat(mask, win)]


def _resample(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == RTVC_SAMPLE_RATE:
        return wav
    try:
        import librosa
    except ImportError:  # resemblyzer depends on librosa; this only happens in odd installs
        from ...audio.resample import resample

        log.warning(
            "librosa is not installed: resampling %d -> 16000 Hz with voxref's polyphase "
            "filter, not RTVC's librosa.resample; embeddings will differ slightly",
            sample_rate,
        )
        return resample(wav, sample_rate, RTVC_SAMPLE_RATE)
    return librosa.resample(wav, orig_sr=int(sample_rate), target_sr=RTVC_SAMPLE_RATE)


def rtvc_preprocess(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """RTVC's ``preprocess_wav`` on mono float samples at ``sample_rate`` (explicit).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> quiet = 0.001 * rng.standard_normal(16000).astype("float32")
    >>> out = rtvc_preprocess(quiet, 16000)
    >>> round(float(20 * np.log10(np.sqrt(np.mean(out ** 2)))), 1) >= -31.0 or len(out) == 0
    True
    """
    if sample_rate is None:
        raise ConfigError("rtvc_preprocess needs the samples' sample_rate.")
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ConfigError(f"rtvc_preprocess takes mono samples, got shape {x.shape}.")
    x = _resample(x, int(sample_rate))
    x = rtvc_normalize_volume(x)
    return rtvc_trim_long_silences(x)


def rtvc_load(path: str | os.PathLike) -> np.ndarray:
    """Read a file as RTVC does (``librosa.load(sr=None)``: soundfile, channels averaged) and
    apply :func:`rtvc_preprocess`; a ``.npy`` (RTVC's ``audio-*.npy``, 16 kHz) is loaded as is."""
    p = Path(path)
    if p.suffix == ".npy":
        wav = np.load(p, allow_pickle=False).astype(np.float32)
        return rtvc_preprocess(wav, RTVC_SAMPLE_RATE)
    from ...audio.load import read_file

    data, sr = read_file(p)
    return rtvc_preprocess(data.mean(axis=1).astype(np.float32), sr)


# =========================================================================== embedding
def rtvc_partial_slices(
    num_samples: int, rate: float = PARTIALS_RATE, min_coverage: float = MIN_COVERAGE
) -> list[slice]:
    """Mel-frame slices of RTVC's ``compute_partial_slices`` (160 frames each).

    Examples
    --------
    >>> [(s.start, s.stop) for s in rtvc_partial_slices(16000 * 3)]
    [(0, 160), (77, 237), (154, 314)]
    """
    n_frames = int(np.ceil((num_samples + 1) / HOP))
    step = int(np.round((RTVC_SAMPLE_RATE / rate) / HOP))
    if not 0 < step <= PARTIAL_FRAMES:
        raise ConfigError(f"partial rate {rate} is out of range (0.625 .. 100 per second).")
    steps = max(1, n_frames - PARTIAL_FRAMES + step + 1)
    slices = [slice(i, i + PARTIAL_FRAMES) for i in range(0, steps, step)]
    last = slices[-1]
    coverage = (num_samples - last.start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(slices) > 1:
        slices = slices[:-1]
    return slices


def rtvc_embed_utterance(encoder: Any, wav: np.ndarray) -> np.ndarray:
    """RTVC's ``embed_utterance`` on an already preprocessed 16 kHz clip.

    Parameters
    ----------
    encoder
        A GE2E encoder (:class:`voxref.embedder.ge2e.GE2EEncoder`): RTVC's architecture and mel
        front end; other encoders are refused.
    wav
        Output of :func:`rtvc_preprocess`.

    Raises
    ------
    ConfigError
        Not a GE2E encoder.
    TooShortAudioError
        Nothing left after the silence trimming.
    """
    import torch

    if not (hasattr(encoder, "mel") and hasattr(encoder, "model")) or encoder.sample_rate != 16000:
        raise ConfigError(
            f"RTVC's exact mode needs a GE2E encoder (voxref's 'ge2e' or RTVC's encoder.pt); "
            f"got {getattr(encoder, 'name', type(encoder).__name__)}."
        )
    x = np.asarray(wav, dtype=np.float32)
    if len(x) == 0:
        raise TooShortAudioError(
            "no speech left after RTVC's webrtcvad trimming; the clip holds no voiced audio."
        )
    slices = rtvc_partial_slices(len(x))
    need = slices[-1].stop * HOP
    if need >= len(x):
        x = np.pad(x, (0, need - len(x)))
    mel = encoder.mel(x)
    mels = torch.stack([mel[s] for s in slices])
    with torch.inference_mode():
        partial = encoder.model(mels).float().cpu().numpy()
    partial = partial / np.maximum(np.linalg.norm(partial, axis=1, keepdims=True), 1e-12)
    raw = partial.mean(axis=0)
    return (raw / np.linalg.norm(raw)).astype(np.float32)


# =========================================================================== files
@dataclass(frozen=True)
class RtvcItem:
    """One ``train.txt`` line: the audio array it was made from and the embed file it needs."""

    audio: Path
    embed_name: str
    utt_id: str


def read_train_txt(synth_root: str | os.PathLike) -> list[RtvcItem]:
    """The ``(audio/audio-X.npy, embed-X.npy)`` pairs of an SV2TTS synthesizer folder.

    ``train.txt`` lines are ``audio-X.npy|mel-X.npy|embed-X.npy|samples|frames|text``, written
    by RTVC's ``synthesizer_preprocess_audio.py``.

    Raises
    ------
    ConfigError
        No ``train.txt`` / ``audio/``, a malformed line, or a missing audio file.
    """
    root = Path(synth_root)
    meta, audio_dir = root / "train.txt", root / "audio"
    if not meta.is_file() or not audio_dir.is_dir():
        raise ConfigError(
            f"{root} is not an SV2TTS synthesizer folder (train.txt + audio/); run RTVC's "
            "synthesizer_preprocess_audio.py first, or export a dataset folder instead."
        )
    items = []
    for n, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("|")
        if len(cols) < 3 or not cols[2].startswith("embed-") or not cols[2].endswith(".npy"):
            raise ConfigError(f"{meta}:{n}: not an RTVC train.txt line (audio|mel|embed|...).")
        audio = audio_dir / cols[0]
        if not audio.is_file():
            raise ConfigError(f"{meta}:{n}: {audio} does not exist.")
        items.append(RtvcItem(audio, cols[2], cols[2][len("embed-") : -len(".npy")]))
    if not items:
        raise ConfigError(f"{meta} lists no utterance.")
    return items


def write_rtvc_embeds(embeds_dir: str | os.PathLike, vectors: Mapping[str, Any]) -> list[Path]:
    """Write ``{embed file name: vector}`` as RTVC does: ``np.save(..., allow_pickle=False)`` of a
    float32 ``(256,)`` unit vector each. Names are ``embed-<utt>.npy`` (added when missing).

    Raises
    ------
    EmbeddingDimensionError
        A vector is not 256-d.
    """
    from ..export import EmbeddingDimensionError

    out_dir = Path(embeds_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, vec in vectors.items():
        v = np.asarray(vec, dtype=np.float32).reshape(-1)
        if v.shape != (RTVC_DIM,):
            raise EmbeddingDimensionError(
                f"RTVC's synthesizer takes 256-d GE2E embeddings; {name} is {v.shape[0]}-d. Use "
                "the 'ge2e' encoder or RTVC's encoder.pt."
            )
        fname = name if name.startswith("embed-") and name.endswith(".npy") else f"embed-{name}.npy"
        p = out_dir / fname
        atomic_save_npy(p, (v / np.linalg.norm(v)).astype(np.float32))
        written.append(p)
    return written


def load_rtvc_embed(path: str | os.PathLike) -> np.ndarray:
    """``np.load(embed_path)`` as RTVC's synthesizer dataset does, checked to be ``(256,)``.

    The same reader and checks as :func:`voxref.tts.export.load_rtvc` (a file that is not an
    ``.npy`` raises :class:`~voxref.errors.ConfigError`, another shape
    ``EmbeddingDimensionError``).
    """
    from ..export import load_rtvc

    return load_rtvc(path)


def export_rtvc(
    emb: Any,
    embeds_dir: str | os.PathLike,
    *,
    names: Mapping[str, str] | None = None,
    vectors: str = "clip",
    allow_missing: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> tuple[list[Path], Path]:
    """Write a dataset's vectors as RTVC ``embeds/embed-<utt>.npy`` files, plus the sidecar
    ``embeds/voxref-export.json``.

    ``names`` maps a clip's relpath to its embed file name (from ``train.txt``); default
    ``embed-<utt_id>.npy``.
    """
    from .provenance import ClipRecord, write_export_provenance

    notes = emb.require_complete(
        "rtvc",
        "RTVC's synthesizer np.loads the embed file of every train.txt line.",
        allow_missing,
    )
    if emb.preprocessing.get("mode") != "rtvc-exact":
        notes.append(
            "made with voxref's preprocessing, not RTVC's: fine for a synthesizer you train on "
            "these files; for a synthesizer trained on RTVC's own embeds, use --mode rtvc."
        )
    chosen = emb.clip_vectors(vectors)
    utt = {c.relpath: c.utt_id for c in emb.clips}
    names = dict(names or {})
    files = write_rtvc_embeds(
        embeds_dir, {names.get(k, f"embed-{utt[k]}.npy"): v for k, v in chosen.items()}
    )
    records = [
        ClipRecord(**{**r.to_dict(), "key": names.get(r.key, f"embed-{utt[r.key]}.npy")})
        for r in emb.records
    ]
    side = write_export_provenance(
        Path(embeds_dir),
        emb,
        fmt="rtvc",
        settings={**(settings or {}), "vectors": vectors},
        clips=records,
        files=files,
        notes=notes,
    )
    return files, side
