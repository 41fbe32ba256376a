"""Truth-known reference sets for the prompt benchmark (reporting voices only).

A *set* is three references of about :data:`REFERENCE_SECONDS` s each, of one target voice,
under one condition. Every reference is a sum of separately kept tracks on one timeline: the
target's utterances, an interferer's utterances (a different voice per reference) and noise
(coloured noise or babble). So the truth is known for every sample: who speaks (utterance
spans) and what is noise.

Conditions (:data:`SETS`):

* ``clean``: the target alone, 0.3-0.9 s pauses between utterances;
* ``white-5dB`` / ``pink-5dB``: coloured noise at 5 dB SNR (active speech power);
* ``babble-5dB``: :data:`BABBLE_TALKERS` other voices summed at equal level, 5 dB SNR
  (counted as noise, not as an interferer: no single talker stands out);
* ``overlap-sir0dB`` / ``overlap-sir5dB``: an interferer talks over a seeded 40-60 % stretch of
  each reference at that SIR (the target alone in the rest);
* ``conversation``: turn-taking, no overlap: one or two utterances of the target, a 0.3-0.8 s
  pause, one or two of the interferer, ... at the same level (the target about half the speech);
* ``mixed``: one clean reference, one with babble at 5 dB, one conversation.

The target's utterances of reference ``k`` are the same in every set (only the condition
changes), so the sets differ by their degradation alone. All randomness is seeded.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = [
    "SETS",
    "TARGETS",
    "TUNING_TARGETS",
    "REFERENCE_SECONDS",
    "BABBLE_TALKERS",
    "Reference",
    "held_out_clean",
    "reference_set",
]

SR = 16000
REFERENCE_SECONDS = 30.0
BABBLE_TALKERS = 4
SETS = (
    "clean",
    "white-5dB",
    "pink-5dB",
    "babble-5dB",
    "overlap-sir0dB",
    "overlap-sir5dB",
    "conversation",
    "mixed",
)
MIXED_ROLES = ("clean", "babble-5dB", "conversation")

#: Target voice -> (its three interferers, one per reference; its babble talkers). Group B only
#: (benchmarks.corpus.voice_split). Interferers share the target's gender (harder to tell apart).
TARGETS: dict[str, tuple[tuple[str, str, str], tuple[str, ...]]] = {
    "festival-it-pc": (
        ("festival-ru-nsh", "flite-awb", "festival-fi-mv"),
        ("flite-kal", "festival-ca-ona", "festival-cs-dita", "flite-slt"),
    ),
    "festival-ca-ona": (
        ("festival-cs-dita", "flite-slt", "festival-fi-lj"),
        ("festival-it-lp", "flite-awb", "festival-ru-nsh", "flite-kal"),
    ),
    "flite-slt": (
        ("festival-it-lp", "festival-ca-ona", "festival-fi-lj"),
        ("flite-awb", "festival-it-pc", "festival-cs-dita", "festival-fi-mv"),
    ),
}

#: The same layout on tuning voices (group A, espeak-ng): rules and thresholds of the prompt
#: are chosen on these sets (``--voice-group A``), never on :data:`TARGETS`.
TUNING_TARGETS: dict[str, tuple[tuple[str, str, str], tuple[str, ...]]] = {
    "espeak-us-m3": (
        ("espeak-gb-m2", "espeak-rp-m7", "espeak-scot-m4"),
        ("espeak-nyc-m6", "espeak-us-f1", "espeak-029-m5", "espeak-gb-f2"),
    ),
    "espeak-us-f3": (
        ("espeak-rp-f4", "espeak-scot-f5", "espeak-us-belinda"),
        ("espeak-gb-anika", "espeak-us-m1", "espeak-us-steph", "espeak-gb-victor"),
    ),
}


def _roles(target: str) -> tuple[tuple[str, str, str], tuple[str, ...]]:
    if target in TARGETS:
        return TARGETS[target]
    if target in TUNING_TARGETS:
        return TUNING_TARGETS[target]
    raise ValueError(
        f"unknown target {target!r}; use one of {', '.join([*TARGETS, *TUNING_TARGETS])}"
    )


@dataclass
class Reference:
    """One reference: the mixture and its truth (all on the same 16 kHz timeline)."""

    samples: np.ndarray
    target_spans: list[tuple[float, float]]
    interferer_spans: list[tuple[float, float]]
    speech: np.ndarray  # target + interferer tracks (no noise)
    noise: np.ndarray
    condition: str
    interferer: str | None = None
    info: dict = field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        return SR


def _rng(*keys: object) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def _sentences(voice_id: str) -> tuple[str, ...]:
    from benchmarks.corpus.sentences import SENTENCES
    from benchmarks.corpus.sentences_intl import SENTENCES_INTL
    from benchmarks.corpus.synth import voice_by_id

    lang = voice_by_id(voice_id).language
    return SENTENCES if lang == "en" else SENTENCES_INTL[lang]


@lru_cache(maxsize=512)
def _utterance(voice_id: str, index: int) -> np.ndarray:
    from benchmarks.corpus.synth import synthesize, voice_by_id
    from voxref.audio.level import normalize_level

    sentences = _sentences(voice_id)
    y, sr = synthesize(voice_by_id(voice_id), sentences[index % len(sentences)], seed=index)
    return np.asarray(normalize_level(y, sr, -20.0, band=None)[0], dtype=np.float64)


def _timeline(
    voice_id: str, first: int, seconds: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[float, float]], int]:
    """Utterances ``first, first+1, ...`` of a voice with 0.3-0.9 s pauses, ``seconds`` long."""
    n = int(seconds * SR)
    out = np.zeros(n)
    spans = []
    pos = int(rng.uniform(0.2, 0.6) * SR)
    k = first
    while True:
        u = _utterance(voice_id, k)
        if pos + len(u) > n:
            break
        out[pos : pos + len(u)] = u
        spans.append((pos / SR, (pos + len(u)) / SR))
        pos += len(u) + int(rng.uniform(0.3, 0.9) * SR)
        k += 1
    return out, spans, k


def held_out_clean(target: str) -> np.ndarray:
    """Clean target speech used in no reference (utterances 40-42): the truth's embedding."""
    return np.concatenate([_utterance(target, 40 + j) for j in range(3)]).astype(np.float32)


def _active_power(x: np.ndarray) -> float:
    from voxref.audio.level import active_frame_powers

    p = active_frame_powers(np.asarray(x, np.float32), SR)
    return float(p.mean()) if p.size else 0.0


def _conversation(target: str, other: str, k: int, rng: np.random.Generator) -> Reference:
    n = int(REFERENCE_SECONDS * SR)
    speech = np.zeros(n)
    t_spans, i_spans = [], []
    pos = int(rng.uniform(0.2, 0.6) * SR)
    ti, oi = 13 * k, 13 * k + 5
    speaker = 0
    while True:
        who = target if speaker == 0 else other
        turn = []
        for _ in range(int(rng.integers(1, 3))):
            u = _utterance(who, ti if speaker == 0 else oi)
            if speaker == 0:
                ti += 1
            else:
                oi += 1
            turn.append(u)
        if pos + sum(len(u) for u in turn) + 0.3 * SR * (len(turn) - 1) > n:
            break
        for u in turn:
            speech[pos : pos + len(u)] += u
            (t_spans if speaker == 0 else i_spans).append((pos / SR, (pos + len(u)) / SR))
            pos += len(u) + int(rng.uniform(0.3, 0.6) * SR)
        pos += int(rng.uniform(0.0, 0.2) * SR)
        speaker = 1 - speaker
    return Reference(
        speech.astype(np.float32),
        t_spans,
        i_spans,
        speech,
        np.zeros(n),
        "conversation",
        interferer=other,
    )


def _reference(target: str, condition: str, k: int) -> Reference:
    """Reference ``k`` (0, 1, 2) of ``target``'s set under ``condition``."""
    from voxref.augment.noise import colored_noise

    others, babblers = _roles(target)
    rng = _rng(target, condition, k)
    if condition == "conversation":
        return _conversation(target, others[k], k, rng)
    x, spans, _ = _timeline(target, 13 * k, REFERENCE_SECONDS, _rng(target, "timeline", k))
    n = len(x)
    speech, noise = x.copy(), np.zeros(n)
    i_spans: list[tuple[float, float]] = []
    info: dict = {}
    interferer = None
    if condition.startswith(("white", "pink")):
        color, snr = condition.split("-")
        noise = colored_noise(n, SR, color, rng=rng).astype(np.float64)
        noise *= np.sqrt(_active_power(x) / 10 ** (float(snr[:-2]) / 10))
    elif condition.startswith("babble"):
        snr = float(condition.split("-")[1][:-2])
        noise = np.zeros(n)
        for j, v in enumerate(babblers[:BABBLE_TALKERS]):
            track, _, _ = _timeline(v, 20 + 3 * k, REFERENCE_SECONDS, _rng(target, v, k, j))
            noise += track / np.sqrt(max(_active_power(track), 1e-12))
        noise *= np.sqrt(_active_power(x) / max(_active_power(noise), 1e-12) / 10 ** (snr / 10))
    elif condition.startswith("overlap"):
        sir = float(condition.split("sir")[1][:-2])
        interferer = others[k]
        share = float(rng.uniform(0.4, 0.6))
        length = int(share * n)
        start = int(rng.integers(0, n - length))
        track, spans_i, _ = _timeline(interferer, 13 * k + 5, length / SR, rng)
        gain = np.sqrt(_active_power(x) / max(_active_power(track), 1e-12) / 10 ** (sir / 10))
        speech[start : start + len(track)] += gain * track
        i_spans = [(s + start / SR, e + start / SR) for s, e in spans_i]
        info = {"overlap_share": share}
    elif condition != "clean":
        raise ValueError(f"unknown condition {condition!r}")
    y = speech + noise
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:
        scale = 0.99 / peak
        y, speech, noise = y * scale, speech * scale, noise * scale
    return Reference(
        y.astype(np.float32), spans, i_spans, speech, noise, condition, interferer, info
    )


def reference_set(target: str, condition: str) -> list[Reference]:
    """The three references of ``target``'s set under ``condition`` (a name of :data:`SETS`)."""
    if condition not in SETS:
        raise ValueError(f"unknown set {condition!r}; use one of {', '.join(SETS)}")
    if condition == "mixed":
        return [_reference(target, role, k) for k, role in enumerate(MIXED_ROLES)]
    return [_reference(target, condition, k) for k in range(3)]
