"""Deterministic synthetic speakers from apt synthesisers and fixed sox transforms.

A :class:`Voice` names one synthetic speaker: an engine, its parameters, and a fixed chain of sox
effects applied after synthesis (e.g. ``pitch -250`` shifts F0 *and* formants, which mimics a
longer vocal tract; combined with an engine F0 change it moves formants and F0 independently).
:func:`voices` is the catalogue of speakers used by the test fixtures and the benchmark corpus.
:func:`synthesize` renders one utterance at 16 kHz mono float32 with leading/trailing silence
trimmed to :data:`PAD_SECONDS` and peak-normalised to :data:`PEAK`; mild rate/pitch jitter is drawn
from a numpy Generator seeded by ``seed``, so the same call gives the same bytes.

Engines: espeak-ng (formant synthesis), flite's awb/slt/kal (built from recordings of real
people; ``kal`` is the 8 kHz diphone voice, resampled), and festival's non-English voices
(Catalan, Czech, Italian, Russian, Finnish; see :data:`FESTIVAL_VOICES`), each speaking
sentences in its own language (:mod:`benchmarks.corpus.sentences_intl`).

Reserved voices: festival's English voices, MBROLA, RHVoice, Pico and flite's ``kal16`` and
``rms`` are kept for independent checks of anything tuned here. :data:`RESERVED_VOICES` names
them; a :class:`Voice` built on one raises :class:`ReservedVoiceError`, and so does
:func:`synthesize`, so they cannot enter the corpus, a tuning run, a training run or a test.

Examples
--------
>>> from benchmarks.corpus.synth import synthesize, voice_by_id
>>> samples, sr = synthesize(voice_by_id("espeak-us-m3"), "Hello there.", seed=0)
>>> sr, samples.dtype.name, round(float(abs(samples).max()), 3)
(16000, 'float32', 0.708)
>>> again, _ = synthesize(voice_by_id("espeak-us-m3"), "Hello there.", seed=0)
>>> samples.tobytes() == again.tobytes()
True
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
"""Output sample rate of :func:`synthesize` (Hz)."""

PEAK = 10 ** (-3 / 20)
"""Peak level of every synthesised utterance (-3 dBFS, ~0.708)."""

PAD_SECONDS = 0.15
"""Silence kept (or zero-padded) before the first and after the last speech frame."""

TRIM_THRESHOLD_DB = -40.0
"""A 10 ms frame counts as speech if its RMS is within this many dB of the loudest frame."""

ESPEAK_DEFAULT_SPEED = 165
"""espeak-ng words per minute used when a voice does not set ``speed``."""

_ESPEAK_PITCH_STEP = math.log(176.1 / 73.6) / 99
"""ln F0 change per unit of espeak-ng ``-p`` (measured: p=0 -> 73.6 Hz, p=99 -> 176.1 Hz)."""

FLITE_BASE_F0 = {"slt": 170.0, "awb": 130.0, "kal": 88.0}
"""Median F0 (Hz) of the flite voices used here (all honour ``int_f0_target_mean``; pYIN)."""

FESTIVAL_VOICES: dict[str, tuple[str, str]] = {
    "upc_ca_ona_hts": ("ca", "latin-1"),
    "czech_dita": ("cs", "iso-8859-2"),
    "lp_diphone": ("it", "latin-1"),
    "pc_diphone": ("it", "latin-1"),
    "msu_ru_nsh_clunits": ("ru", "utf-8"),
    "suo_fi_lj_diphone": ("fi", "latin-1"),
    "hy_fi_mv_diphone": ("fi", "latin-1"),
}
"""festival voices allowed here: voice name -> (language, text encoding the voice reads).

Debian packages ``festvox-ca-ona-hts``, ``festvox-czech-dita``, ``festvox-italp16k``,
``festvox-itapc16k``, ``festvox-ru``, ``festvox-suopuhe-lj`` and ``festvox-suopuhe-mv``
(``scripts/setup.sh`` installs them where it can). The encodings were checked by ear-free means:
the wrong one makes the voice spell out bytes, and the utterance gets markedly longer.
The Hindi/Marathi/Telugu ``NSK`` voices are one speaker in three languages and fail here with
festival's "Feature Int_Method not defined", so they are not used.
"""

RESERVED_VOICES: frozenset[tuple[str, str]] = frozenset(
    {
        ("flite", "rms"),
        ("flite", "kal16"),
        ("flite", "awb_time"),
        ("espeak-ng", "mb-*"),
        ("festival", "*english*"),
        ("mbrola", "*"),
        ("rhvoice", "*"),
        ("pico", "*"),
    }
)
"""(engine, voice pattern) pairs that must never be synthesised for the corpus, tuning, training
or tests: festival's English voices (any festival voice not in :data:`FESTIVAL_VOICES` counts as
one), MBROLA (also through espeak-ng's ``mb-*`` voices), RHVoice, Pico, and flite's ``kal16``,
``rms`` and ``awb_time``. They are kept for independent evaluation."""

ENGINES = ("espeak-ng", "flite", "festival")
"""Engines :func:`synthesize` can drive."""


class ReservedVoiceError(ValueError):
    """A reserved voice (:data:`RESERVED_VOICES`) was asked for."""


def check_not_reserved(engine: str, voice: str) -> None:
    """Raise :class:`ReservedVoiceError` if ``voice`` of ``engine`` is reserved.

    Examples
    --------
    >>> check_not_reserved("flite", "slt")
    >>> check_not_reserved("flite", "rms")
    Traceback (most recent call last):
    ...
    benchmarks.corpus.synth.ReservedVoiceError: flite voice 'rms' is reserved for independent evaluation; use espeak-ng, flite awb/slt/kal or a festival voice in FESTIVAL_VOICES
    """
    from fnmatch import fnmatch

    name = str(voice).lower()
    engine = str(engine).lower()
    reserved = any(e == engine and fnmatch(name, pattern) for e, pattern in RESERVED_VOICES)
    if engine == "festival" and name not in FESTIVAL_VOICES:
        reserved = True
    if engine == "flite" and name not in FLITE_BASE_F0:
        reserved = True
    if engine not in ENGINES:
        reserved = True
    if reserved:
        raise ReservedVoiceError(
            f"{engine} voice {voice!r} is reserved for independent evaluation; use espeak-ng, "
            "flite awb/slt/kal or a festival voice in FESTIVAL_VOICES"
        )


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker.

    Parameters
    ----------
    id
        Stable speaker id used in file names and manifests (``[a-z0-9-]+``).
    engine
        ``"espeak-ng"``, ``"flite"`` or ``"festival"``.
    params
        Engine parameters. espeak-ng: ``voice`` (e.g. ``"en-us+m3"``), optional ``pitch`` (0–99,
        default 50) and ``speed`` (words per minute). flite: ``voice`` (``slt``, ``awb``,
        ``kal``), optional ``f0`` (target mean F0 in Hz) and ``stretch`` (duration factor).
        festival: ``voice`` (a key of :data:`FESTIVAL_VOICES`), optional ``stretch``.
    gender
        ``"m"`` or ``"f"``: a guess from the variant name and the resulting F0.
    effects
        Fixed sox effect chain applied after synthesis, e.g. ``("pitch", "-250")``.

    Raises
    ------
    ReservedVoiceError
        When the engine's voice is reserved (:data:`RESERVED_VOICES`).

    Examples
    --------
    >>> Voice("x", "flite", {"voice": "slt"}, "f").engine
    'flite'
    """

    id: str
    engine: str
    params: Mapping[str, Any]
    gender: str
    effects: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if "voice" not in self.params:
            raise ValueError(f"voice {self.id!r}: params need a 'voice' entry")
        check_not_reserved(self.engine, str(self.params["voice"]))
        if self.gender not in ("m", "f"):
            raise ValueError(f"gender must be 'm' or 'f', got {self.gender!r}")
        if self.engine == "festival" and "f0" in self.params:
            raise ValueError(f"voice {self.id!r}: festival voices take no 'f0' here")

    @property
    def language(self) -> str:
        """Language of the voice's sentences (``"en"`` for espeak-ng and flite)."""
        if self.engine == "festival":
            return FESTIVAL_VOICES[str(self.params["voice"])][0]
        return "en"


def _espeak(id_: str, voice: str, gender: str, *effects: str, **params: Any) -> Voice:
    return Voice(id_, "espeak-ng", {"voice": voice, **params}, gender, tuple(effects))


def _flite(id_: str, voice: str, gender: str, *effects: str, **params: Any) -> Voice:
    return Voice(id_, "flite", {"voice": voice, **params}, gender, tuple(effects))


def _festival(id_: str, voice: str, gender: str, *effects: str, **params: Any) -> Voice:
    return Voice(id_, "festival", {"voice": voice, **params}, gender, tuple(effects))


_CATALOGUE: tuple[Voice, ...] = (
    # espeak-ng: accent x variant (different formant / pitch settings)
    _espeak("espeak-us-m1", "en-us+m1", "m", speed=160),
    _espeak("espeak-us-m3", "en-us+m3", "m", speed=170),
    _espeak("espeak-gb-m2", "en+m2", "m", speed=155),
    _espeak("espeak-rp-m7", "en-gb-x-rp+m7", "m", speed=165),
    _espeak("espeak-scot-m4", "en-gb-scotland+m4", "m", speed=150),
    _espeak("espeak-nyc-m6", "en-us-nyc+m6", "m", speed=175),
    _espeak("espeak-029-m5", "en-029+m5", "m", speed=160),
    _espeak("espeak-lanc-m8", "en-gb-x-gbclan+m8", "m", speed=150),
    _espeak("espeak-wmid-croak", "en-gb-x-gbcwmd+croak", "m", speed=155),
    _espeak("espeak-us-travis", "en-us+travis", "m", speed=170),
    _espeak("espeak-gb-victor", "en+victor", "m", speed=160),
    _espeak("espeak-us-norbert", "en-us+norbert", "m", speed=165),
    _espeak("espeak-us-grandpa", "en-us+grandpa", "m", speed=145),
    _espeak("espeak-us-klatt", "en-us+klatt", "m", speed=165),
    _espeak("espeak-gb-klatt2", "en+klatt2", "m", speed=160),
    _espeak("espeak-rp-klatt4", "en-gb-x-rp+klatt4", "m", speed=170),
    _espeak("espeak-us-iven3", "en-us+iven3", "m", speed=155),
    _espeak("espeak-us-f1", "en-us+f1", "f", speed=160),
    _espeak("espeak-gb-f2", "en+f2", "f", speed=165),
    _espeak("espeak-us-f3", "en-us+f3", "f", speed=170),
    _espeak("espeak-rp-f4", "en-gb-x-rp+f4", "f", speed=155),
    _espeak("espeak-scot-f5", "en-gb-scotland+f5", "f", speed=165),
    _espeak("espeak-us-belinda", "en-us+belinda", "f", speed=160),
    _espeak("espeak-gb-anika", "en+anika", "f", speed=140),
    _espeak("espeak-us-andrea", "en-us+Andrea", "f", speed=145),
    _espeak("espeak-029-aunty", "en-029+aunty", "f", speed=160),
    _espeak("espeak-us-steph", "en-us+steph", "f", speed=165),
    _espeak("espeak-gb-alicia", "en+Alicia", "f", speed=175),
    _espeak("espeak-gb-grandma", "en+grandma", "f", speed=150),
    # flite built-in voices (kal: the 8 kHz diphone voice, resampled to 16 kHz by sox)
    _flite("flite-slt", "slt", "f"),
    _flite("flite-awb", "awb", "m"),
    _flite("flite-kal", "kal", "m", stretch=1.12),
    # derived: fixed sox transforms (pitch shifts F0 and formants) + engine F0 changes
    _flite("flite-slt-low", "slt", "f", "pitch", "-180", f0=175.0),
    _flite("flite-slt-high", "slt", "f", "pitch", "+150", f0=165.0, stretch=0.95),
    _flite("flite-awb-deep", "awb", "m", "pitch", "-220", f0=120.0, stretch=1.1),
    _flite("flite-awb-high", "awb", "f", "pitch", "+350", f0=160.0),
    _flite("flite-kal-fem", "kal", "f", "pitch", "+500", f0=130.0, stretch=1.05),
    _flite("flite-kal-deep", "kal", "m", "pitch", "-150", f0=95.0, stretch=1.18),
    _espeak("espeak-us-m3-deep", "en-us+m3", "m", "pitch", "-250", pitch=62, speed=150),
    _espeak("espeak-gb-f2-low", "en+f2", "f", "pitch", "-200", pitch=58, speed=160),
    _espeak("espeak-rp-m7-bright", "en-gb-x-rp+m7", "m", "pitch", "+200", pitch=38, speed=175),
    _espeak("espeak-us-f4-tall", "en-us+f4", "f", "pitch", "-150", pitch=60, speed=155),
    _espeak("espeak-scot-m1-fast", "en-gb-scotland+m1", "m", "speed", "1.08", speed=150),
    # festival's non-English voices, each speaking its own language (F0 measured with pYIN:
    # ona 165 Hz, dita 217, lp 205, pc 100, nsh 130, lj 168, mv 87)
    _festival("festival-ca-ona", "upc_ca_ona_hts", "f"),
    _festival("festival-cs-dita", "czech_dita", "f"),
    _festival("festival-it-lp", "lp_diphone", "f"),
    _festival("festival-it-pc", "pc_diphone", "m"),
    _festival("festival-ru-nsh", "msu_ru_nsh_clunits", "m"),
    _festival("festival-fi-lj", "suo_fi_lj_diphone", "f"),
    _festival("festival-fi-mv", "hy_fi_mv_diphone", "m"),
    # derived festival voices: fixed sox pitch shifts (F0 and formants move together)
    _festival("festival-ca-ona-low", "upc_ca_ona_hts", "f", "pitch", "-200", stretch=1.05),
    _festival("festival-it-pc-high", "pc_diphone", "m", "pitch", "+250", stretch=0.95),
    _festival("festival-ru-nsh-deep", "msu_ru_nsh_clunits", "m", "pitch", "-180"),
    _festival("festival-fi-mv-high", "hy_fi_mv_diphone", "f", "pitch", "+600", stretch=0.95),
    _festival("festival-cs-dita-low", "czech_dita", "f", "pitch", "-250", stretch=1.08),
    _festival("festival-it-lp-deep", "lp_diphone", "m", "pitch", "-500", stretch=1.05),
)


def voices() -> tuple[Voice, ...]:
    """Return the catalogue of synthetic speakers (fixed order, unique ids).

    Returns
    -------
    tuple of Voice
        At least 30 speakers: espeak-ng accent/variant pairs, flite's awb/slt/kal, festival's
        non-English voices, and voices derived from them by fixed sox pitch/speed transforms.
        No reserved voice (:data:`RESERVED_VOICES`).

    Examples
    --------
    >>> vs = voices()
    >>> len(vs) >= 30, len({v.id for v in vs}) == len(vs)
    (True, True)
    """
    return _CATALOGUE


def voice_by_id(voice_id: str) -> Voice:
    """Return the catalogue voice called ``voice_id``.

    Examples
    --------
    >>> voice_by_id("flite-slt").params["voice"]
    'slt'
    """
    for voice in _CATALOGUE:
        if voice.id == voice_id:
            return voice
    raise KeyError(f"no voice {voice_id!r}; known: {', '.join(v.id for v in _CATALOGUE)}")


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        package = "festival" if tool == "text2wave" else tool
        hint = " (and the festvox voices; see scripts/setup.sh)" if package == "festival" else ""
        raise RuntimeError(
            f"{tool} is not installed; install it with `apt-get install {package}`{hint}"
        )
    return path


def _engine_command(
    voice: Voice, text_file: Path, out: Path, rate: float, pitch: float
) -> list[str]:
    """Command line rendering ``text_file`` with ``voice`` at relative rate/pitch factors."""
    check_not_reserved(voice.engine, str(voice.params["voice"]))
    p = voice.params
    if voice.engine == "espeak-ng":
        speed = round(p.get("speed", ESPEAK_DEFAULT_SPEED) * rate)
        base_pitch = p.get("pitch", 50)
        pitch_value = int(np.clip(round(base_pitch + math.log(pitch) / _ESPEAK_PITCH_STEP), 0, 99))
        return [
            _require("espeak-ng"),
            "-v",
            str(p["voice"]),
            "-s",
            str(speed),
            "-p",
            str(pitch_value),
            "-w",
            str(out),
            "-f",
            str(text_file),
        ]
    name = str(p["voice"])
    stretch = float(p.get("stretch", 1.0)) / rate
    if voice.engine == "festival":
        return [
            _require("text2wave"),
            "-eval",
            f"(voice_{name})",
            "-eval",
            f"(Parameter.set 'Duration_Stretch {stretch:.4f})",
            str(text_file),
            "-o",
            str(out),
        ]
    f0 = float(p.get("f0", FLITE_BASE_F0[name])) * pitch
    return [
        _require("flite"),
        "-voice",
        name,
        "--setf",
        f"duration_stretch={stretch:.4f}",
        "--setf",
        f"int_f0_target_mean={f0:.2f}",
        "-f",
        str(text_file),
        "-o",
        str(out),
    ]


def _effects(voice: Voice, pitch: float) -> list[str]:
    """sox effects: the voice's fixed chain, plus the pitch jitter where the engine cannot do it."""
    effects = list(voice.effects)
    if voice.engine == "festival" and pitch != 1.0:
        effects = ["pitch", f"{1200 * math.log2(pitch):.2f}", *effects]
    return effects


def text_encoding(voice: Voice) -> str:
    """Encoding the engine reads ``voice``'s text in (festival voices differ; others UTF-8)."""
    if voice.engine == "festival":
        return FESTIVAL_VOICES[str(voice.params["voice"])][1]
    return "utf-8"


def trim_silence(
    samples: np.ndarray,
    sample_rate: int,
    *,
    pad: float = PAD_SECONDS,
    threshold_db: float = TRIM_THRESHOLD_DB,
) -> np.ndarray:
    """Cut leading/trailing silence to ``pad`` seconds (zero-padding if there is less).

    Parameters
    ----------
    samples
        Mono float signal.
    sample_rate
        Sample rate of ``samples`` in Hz.
    pad
        Seconds of signal kept before the first and after the last speech frame.
    threshold_db
        Frames (10 ms) whose RMS is within ``threshold_db`` of the loudest frame count as speech.

    Examples
    --------
    >>> sr = 16000
    >>> x = np.zeros(sr * 2, dtype=np.float32)
    >>> x[sr // 2 : sr] = 0.5
    >>> y = trim_silence(x, sr, pad=0.1)
    >>> round(len(y) / sr, 2)
    0.7
    """
    hop = max(1, sample_rate // 100)
    n_frames = len(samples) // hop
    if n_frames == 0:
        return samples.copy()
    frames = samples[: n_frames * hop].reshape(n_frames, hop).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = rms > rms.max() * 10 ** (threshold_db / 20)
    if not loud.any():
        return samples.copy()
    first = int(np.argmax(loud)) * hop
    last = (n_frames - int(np.argmax(loud[::-1]))) * hop
    pad_n = round(pad * sample_rate)
    start, stop = first - pad_n, last + pad_n
    out = samples[max(start, 0) : min(stop, len(samples))]
    return np.pad(out, (max(-start, 0), max(stop - len(samples), 0)))


def synthesize(
    voice: Voice,
    text: str,
    rate_jitter: float = 0.06,
    pitch_jitter: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, int]:
    """Render ``text`` with ``voice`` as 16 kHz mono float32 speech.

    Parameters
    ----------
    voice
        Speaker from :func:`voices` (or any :class:`Voice`).
    text
        Text in the voice's language (:attr:`Voice.language`); passed to the engine through a
        file in the encoding it reads (:func:`text_encoding`), never a shell.
    rate_jitter
        Speaking-rate factor drawn uniformly from ``[1 - rate_jitter, 1 + rate_jitter]``.
    pitch_jitter
        F0 factor drawn uniformly from ``[1 - pitch_jitter, 1 + pitch_jitter]``, applied in the
        engine so formants do not move (festival voices take no F0 target here: there a sox
        ``pitch`` shift of the same size moves formants too).
    seed
        Seed of the numpy Generator drawing the jitter: same seed, same bytes.

    Returns
    -------
    samples : np.ndarray
        float32 (T,), silence trimmed to :data:`PAD_SECONDS`, peak :data:`PEAK`.

    Raises
    ------
    ReservedVoiceError
        When ``voice`` is reserved (:data:`RESERVED_VOICES`).
    sample_rate : int
        Always 16000.

    Examples
    --------
    >>> y, sr = synthesize(voice_by_id("flite-slt"), "Good morning.", seed=3)
    >>> 0.5 < len(y) / sr < 2.0
    True
    """
    check_not_reserved(voice.engine, str(voice.params["voice"]))
    if not text.strip():
        raise ValueError("text is empty")
    rng = np.random.default_rng(seed)
    rate = 1.0 + rng.uniform(-rate_jitter, rate_jitter)
    pitch = 1.0 + rng.uniform(-pitch_jitter, pitch_jitter)
    with tempfile.TemporaryDirectory(prefix="voxref-synth-") as tmp:
        tmp_dir = Path(tmp)
        text_file = tmp_dir / "text.txt"
        text_file.write_bytes((text.strip() + "\n").encode(text_encoding(voice)))
        raw = tmp_dir / "raw.wav"
        out = tmp_dir / "out.wav"
        subprocess.run(
            _engine_command(voice, text_file, raw, rate, pitch),
            check=True,
            capture_output=True,
        )
        # -R: repeatable mode; -D: no dither; float output so nothing is quantised twice.
        sox = [_require("sox"), "-R", "-D", str(raw), "-e", "floating-point", "-b", "32"]
        sox += [str(out), *_effects(voice, pitch), "rate", "-v", str(SAMPLE_RATE), "channels", "1"]
        subprocess.run(sox, check=True, capture_output=True)
        samples, sr = sf.read(str(out), dtype="float32", always_2d=False)
    if sr != SAMPLE_RATE:
        raise RuntimeError(f"sox wrote {sr} Hz, expected {SAMPLE_RATE}")
    samples = trim_silence(np.asarray(samples, dtype=np.float32), SAMPLE_RATE)
    peak = float(np.max(np.abs(samples)))
    if peak == 0.0:
        raise RuntimeError(f"{voice.id} produced silence for {text!r}")
    samples = (samples * np.float32(PEAK / peak)).astype(np.float32)
    logger.debug(
        "synthesised %s: %.2f s (rate %.3f, pitch %.3f)", voice.id, len(samples) / sr, rate, pitch
    )
    return samples, SAMPLE_RATE
