"""Synthetic multi-speaker conversations with known turns, for tests and benchmarks.

Speech comes from the command-line synthesisers in Debian main (``espeak-ng``, ``flite``); each
:class:`SyntheticVoice` is one fixed engine + voice + pitch/speed setting, so it always gives the
same speaker. :func:`synthetic_conversation` lays utterances of several voices on a timeline with
pauses and (optionally) overlaps, keeps every speaker's clean track, and returns the ground-truth
turns, so diarization error, target purity and SIR can be measured exactly.

Everything random takes ``seed``; synthesis is deterministic for a given voice and text.

Examples
--------
>>> conv = synthetic_conversation(VOICES[:2], num_turns=4, seed=0)  # doctest: +SKIP
>>> sorted(conv.tracks)  # doctest: +SKIP
['espeak-us-m3', 'espeak-en-f4']
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..audio.resample import resample
from ..errors import MissingDependencyError
from ..sample_data import Turn

__all__ = [
    "SENTENCES",
    "VOICES",
    "Conversation",
    "SyntheticVoice",
    "synthesize",
    "synthetic_conversation",
    "mix_at_sir",
]

SAMPLE_RATE = 16_000

#: Sentences written for voxref's tests (no external corpus); 2–4 s each at normal speed.
SENTENCES: tuple[str, ...] = (
    "The old lighthouse keeper climbed the stairs before dawn.",
    "Please bring three apples and a loaf of fresh bread.",
    "Rain drummed softly on the tin roof all night long.",
    "Could you tell me where the nearest train station is?",
    "She painted the garden fence a bright shade of yellow.",
    "A cold wind swept across the empty harbour at noon.",
    "The children laughed as the puppy chased its own tail.",
    "Our train leaves at half past seven tomorrow morning.",
    "He forgot his umbrella on the crowded bus again today.",
    "Fresh coffee always smells better than it really tastes.",
    "The museum opens its new gallery next Thursday evening.",
    "Bright stars filled the sky above the quiet valley.",
    "We measured the river twice before building the bridge.",
    "Nobody expected the concert to sell out in an hour.",
    "My grandmother keeps her recipes in a wooden box.",
    "The pilot announced a short delay because of fog.",
    "Seven purple balloons drifted slowly over the market.",
    "Turn left at the bakery and walk past the fountain.",
    "The library will be closed for repairs until June.",
    "Thick snow covered every road leading out of town.",
    "Which of these jackets do you think suits me best?",
    "The engineer checked each valve with great patience.",
    "A family of ducks crossed the road in single file.",
    "I would rather walk home than wait for the last bus.",
)


@dataclass(frozen=True)
class SyntheticVoice:
    """One synthetic speaker: an engine and a fixed voice setting.

    Parameters
    ----------
    name
        Stable id (used as the speaker label).
    engine
        ``"espeak-ng"`` or ``"flite"``.
    voice
        Engine voice (``"en-us+m3"`` for espeak-ng, ``"slt"`` / ``"awb"`` / ``"kal"`` for flite).
    pitch
        espeak-ng pitch 0–99 (ignored by flite).
    speed
        espeak-ng words per minute (ignored by flite).
    """

    name: str
    engine: str
    voice: str
    pitch: int = 50
    speed: int = 165


#: Voices that GE2E tells apart clearly (different engines, variants and pitch).
VOICES: tuple[SyntheticVoice, ...] = (
    SyntheticVoice("espeak-us-m3", "espeak-ng", "en-us+m3", pitch=40, speed=160),
    SyntheticVoice("flite-slt", "flite", "slt"),
    SyntheticVoice("flite-awb", "flite", "awb"),
    SyntheticVoice("espeak-en-f4", "espeak-ng", "en+f4", pitch=70, speed=175),
    SyntheticVoice("flite-kal", "flite", "kal"),
    SyntheticVoice("espeak-gb-m7", "espeak-ng", "en-gb+m7", pitch=30, speed=150),
)


def _run_engine(voice: SyntheticVoice, text: str, path: Path) -> None:
    if voice.engine == "espeak-ng":
        cmd = [
            "espeak-ng",
            "-v",
            voice.voice,
            "-p",
            str(voice.pitch),
            "-s",
            str(voice.speed),
            "-w",
            str(path),
            text,
        ]
    elif voice.engine == "flite":
        cmd = ["flite", "-voice", voice.voice, "-t", text, "-o", str(path)]
    else:
        raise ValueError(f"unknown engine {voice.engine!r}; use 'espeak-ng' or 'flite'.")
    if shutil.which(cmd[0]) is None:
        raise MissingDependencyError(cmd[0], f"(apt) {cmd[0]}", "Synthetic test speech")
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@lru_cache(maxsize=256)
def _synthesize_cached(voice: SyntheticVoice, text: str) -> bytes:
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "utt.wav"
        _run_engine(voice, text, path)
        x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        x = resample(x, sr, SAMPLE_RATE)
    # trim leading/trailing silence (10 ms frames within 40 dB of the loudest)
    hop = SAMPLE_RATE // 100
    n = len(x) // hop
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    active = np.flatnonzero(20 * np.log10(rms / rms.max()) > -40.0)
    if len(active):
        x = x[active[0] * hop : (active[-1] + 1) * hop]
    x = 0.5 * x / max(float(np.abs(x).max()), 1e-9)
    return x.astype(np.float32).tobytes()


def synthesize(voice: SyntheticVoice, text: str) -> np.ndarray:
    """One utterance of ``text`` by ``voice``: mono float32 at 16 kHz, trimmed, peak 0.5.

    Deterministic (and cached per process) for a given voice and text.
    """
    return np.frombuffer(_synthesize_cached(voice, text), dtype=np.float32).copy()


@dataclass
class Conversation:
    """A mixture of several speakers with its ground truth.

    Attributes
    ----------
    samples
        The mixture, mono float32.
    sample_rate
        Its rate (16 kHz).
    turns
        Ground-truth turns (one per utterance), sorted by start.
    tracks
        Each speaker's clean track on the mixture's timeline (same length as ``samples``), after the
        gain applied in the mixture: ``samples == sum(tracks.values())``.
    """

    samples: np.ndarray
    sample_rate: int
    turns: list[Turn]
    tracks: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def overlap_seconds(self) -> float:
        """Seconds where two or more speakers are active."""
        step = 0.01
        n = int(np.ceil(self.duration / step)) + 1
        count = np.zeros(n, dtype=np.int32)
        for t in self.turns:
            count[int(round(t.start / step)) : int(round(t.end / step))] += 1
        return float((count >= 2).sum() * step)


def _active_power(x: np.ndarray) -> float:
    """Mean power of the 20 ms frames within 30 dB of the loudest (speech-active level)."""
    hop = SAMPLE_RATE // 50
    n = max(1, len(x) // hop)
    p = np.mean(np.pad(x, (0, max(0, n * hop - len(x))))[: n * hop].reshape(n, hop) ** 2, axis=1)
    p = p.astype(np.float64)
    act = p[p > p.max() * 1e-3]
    return float(act.mean()) if len(act) else 0.0


def mix_at_sir(target: np.ndarray, interferer: np.ndarray, sir_db: float) -> np.ndarray:
    """Scale ``interferer`` so the active-speech power ratio target/interferer is ``sir_db``.

    Uses ``voxref.augment.levels.gain_for_snr`` when that module is available (same definition of
    active power as the rest of voxref), else an equivalent local computation. Returns the scaled
    interferer (same length as ``interferer``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.standard_normal(16000).astype(np.float32)
    >>> n = mix_at_sir(s, 3 * s, 0.0)
    >>> round(float(np.std(n) / np.std(s)), 3)
    1.0
    """
    t = np.asarray(target, dtype=np.float32)
    i = np.asarray(interferer, dtype=np.float32)
    try:
        from ..augment.levels import gain_for_snr

        g = float(gain_for_snr(t, i, SAMPLE_RATE, sir_db))
    except (ImportError, AttributeError, TypeError):
        pt, pi = _active_power(t), _active_power(i)
        g = float(np.sqrt(pt / max(pi, 1e-12) / 10 ** (sir_db / 10)))
    return (g * i).astype(np.float32)


def synthetic_conversation(
    voices: tuple[SyntheticVoice, ...] | list[SyntheticVoice] = VOICES[:2],
    *,
    num_turns: int = 8,
    overlap_prob: float = 0.3,
    max_overlap: float = 1.0,
    pause: tuple[float, float] = (0.2, 0.8),
    lead_silence: float = 0.5,
    level_db: tuple[float, float] = (-3.0, 3.0),
    seed: int = 0,
) -> Conversation:
    """A conversation of ``num_turns`` utterances by ``voices`` taking turns.

    Speakers alternate (never the same speaker twice in a row; with three or more voices the next
    one is drawn at random). Each turn starts after a pause drawn from ``pause``, or, with
    probability ``overlap_prob``, up to ``max_overlap`` seconds *before* the previous turn ends
    (an interruption). Each speaker gets a fixed gain drawn from ``level_db``.

    Parameters
    ----------
    voices
        Two or more :class:`SyntheticVoice`.
    num_turns
        Number of utterances.
    overlap_prob, max_overlap
        How often, and by how much, a turn overlaps the previous one.
    pause
        Range of the silence between non-overlapping turns (seconds).
    lead_silence
        Silence before the first and after the last turn.
    level_db
        Range of each speaker's gain.
    seed
        Seed of every random choice (sentences, order, pauses, gains).
    """
    if len(voices) < 2:
        raise ValueError("a conversation needs at least two voices")
    rng = np.random.default_rng(seed)
    gains = {v.name: 10 ** (rng.uniform(*level_db) / 20) for v in voices}
    order = rng.permutation(len(SENTENCES))
    placed: list[tuple[float, str, np.ndarray]] = []
    t = lead_silence
    prev_end = lead_silence
    speaker = int(rng.integers(len(voices)))
    for k in range(num_turns):
        if k > 0:
            others = [j for j in range(len(voices)) if j != speaker]
            speaker = others[int(rng.integers(len(others)))]
        v = voices[speaker]
        utt = synthesize(v, SENTENCES[int(order[k % len(order)])]) * gains[v.name]
        if k > 0 and rng.random() < overlap_prob:
            t = max(lead_silence, prev_end - rng.uniform(0.3, max_overlap))
        elif k > 0:
            t = prev_end + rng.uniform(*pause)
        placed.append((t, v.name, utt))
        prev_end = max(prev_end, t + len(utt) / SAMPLE_RATE)
    total = int(np.ceil((prev_end + lead_silence) * SAMPLE_RATE))
    tracks = {v.name: np.zeros(total, dtype=np.float32) for v in voices}
    turns = []
    for start, name, utt in placed:
        a = int(round(start * SAMPLE_RATE))
        tracks[name][a : a + len(utt)] += utt
        turns.append(Turn(a / SAMPLE_RATE, (a + len(utt)) / SAMPLE_RATE, name))
    mix = np.sum(list(tracks.values()), axis=0).astype(np.float32)
    peak = float(np.abs(mix).max())
    if peak > 0.99:
        mix /= peak / 0.99
        tracks = {k: (v / (peak / 0.99)).astype(np.float32) for k, v in tracks.items()}
    return Conversation(mix, SAMPLE_RATE, sorted(turns, key=lambda u: u.start), tracks)
