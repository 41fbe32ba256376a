"""Degradation conditions of the quality benchmark, built on :mod:`voxref.augment`.

Every degraded clip is a pure function of (condition, clip): its random numbers come from a
generator seeded with ``crc32(condition name)``, ``crc32(clip key)`` and the run seed, so every
method sees the same bytes, in any process and any order. After degradation a clip whose peak
exceeds :data:`PEAK_LIMIT` is scaled down to it (a recorder's level, applied to all methods alike).

Conditions (:func:`standard_conditions`):

* ``clean``;
* ``{white,pink,brown}-{20,10,5,0}dB``: coloured noise at an SNR (active speech power);
* ``babble-{20,10,5,0}dB``: :data:`BABBLE_TALKERS` interferer speakers summed at equal level;
* ``reverb-{0.3,0.6,0.9}s``: synthetic RIR with that RT60 (DRR :data:`REVERB_DRR_DB`);
* ``telephone``: 300-3400 Hz band, 8 kHz, 8-bit mu-law round trip;
* ``overlap-sir{0,5,10}dB``: one interferer speaker over a seeded 30-100 % of the clip; the
  interferer of enrollment clip ``j`` of speaker ``s`` is interferer speaker
  ``(crc32(s) + j) mod n``, so the references of one set never share an interferer;
* ``overlap-sir{S}dB-oracle-{irm,ibm}`` (not in a full run, :func:`extra_conditions`): the
  overlap mixture through an oracle time-frequency mask, the headroom of separation;
* ``conversation``: another speaker takes a turn in the middle of the clip (no overlap, same
  level): the interferer (chosen as for ``overlap``) speaks for a seeded 20-45 % of the speech
  (the target stays the main speaker of their own reference), spliced in at the quietest point
  of the middle of the clip with 0.25 s pauses (an interview, a call);
* ``quiet-20dB``: the clip 20 dB quieter (a distant microphone, a low recording gain);
* ``level-random``: each clip at its own seeded gain in [-30, +6] dB, clipped at full scale
  (references recorded on different days and devices; the loudest ones saturate);
* ``mixed``: not a degradation of its own; each reference of a set is taken from another
  condition by role (clean, noisy, reverberant, overlapped, noisy again), see
  :func:`mixed_roles`.

Examples
--------
>>> [c.name for c in standard_conditions()][:3]
['clean', 'white-20dB', 'white-10dB']
>>> get_condition("overlap-sir5dB").params
{'sir_db': 5.0, 'fraction': (0.3, 1.0)}
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .split import Clip, CorpusSplit, speaker_offset

__all__ = [
    "Condition",
    "standard_conditions",
    "get_condition",
    "QUICK_CONDITIONS",
    "InterfererBank",
    "degrade",
    "condition_rng",
    "mixed_roles",
    "MIXED_ROLE_ORDER",
    "CORPUS_LEVEL_DBFS",
    "corpus_clip",
]

SNRS_DB = (20.0, 10.0, 5.0, 0.0)
NOISE_COLORS = ("white", "pink", "brown")
RT60S = (0.3, 0.6, 0.9)
SIRS_DB = (0.0, 5.0, 10.0)
OVERLAP_FRACTION = (0.3, 1.0)
CONVERSATION_SHARE = (0.2, 0.45)
CONVERSATION_GAP_S = 0.25
BABBLE_TALKERS = 4
REVERB_DRR_DB = 3.0
LEVEL_RANDOM_DB = (-30.0, 6.0)
PEAK_LIMIT = 0.99

CORPUS_LEVEL_DBFS = -20.0
"""Full-band active level (dBFS, :func:`voxref.audio.level.active_level_db`) every corpus clip is
scaled to when it is read, before any degradation. The synthetic voices come out of espeak-ng /
flite at speaker-specific gains (clip levels: between-speaker std 2.0 dB, within-speaker 0.78 dB;
the level difference of two clips alone tells same from different speaker at 30 % EER), and the
encoder's input is level-sensitive: unscaled, a method that keeps the level "as recorded" gets a
speaker cue real recordings (made on other days and devices) do not give. The ``quiet`` and
``level-random`` conditions then test level handling on top of this common level."""

MIXED_ROLE_ORDER = ("clean", "noisy", "reverb", "overlap", "noisy")
"""Roles of a mixed-bag set of 4 or 5 references (a 3-reference set: clean + 2 of the next 3)."""

MIXED_NOISY_MAX_SNR_DB = 10.0
"""The ``noisy`` role of a mixed set takes noise/babble conditions at this SNR or below."""

QUICK_CONDITIONS = (
    "clean",
    "white-5dB",
    "babble-5dB",
    "reverb-0.6s",
    "telephone",
    "overlap-sir5dB",
    "mixed",
)
"""Conditions of ``--quick`` runs."""


@dataclass(frozen=True)
class Condition:
    """One degradation condition.

    Attributes
    ----------
    name
        Unique name (also seeds its randomness).
    family
        ``clean``, ``noise``, ``babble``, ``reverb``, ``telephone``, ``overlap``,
        ``conversation``, ``level``, ``mixed`` or ``oracle`` (overlap through an oracle mask).
    params
        Its parameters (SNR, colour, RT60, SIR, ...).
    """

    name: str
    family: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "family": self.family, "params": dict(self.params)}


def _db(x: float) -> str:
    return f"{x:g}dB"


def standard_conditions() -> list[Condition]:
    """All conditions of a full run, in table order."""
    out = [Condition("clean", "clean")]
    for color in NOISE_COLORS:
        out += [
            Condition(f"{color}-{_db(s)}", "noise", {"color": color, "snr_db": s}) for s in SNRS_DB
        ]
    out += [
        Condition(f"babble-{_db(s)}", "babble", {"snr_db": s, "talkers": BABBLE_TALKERS})
        for s in SNRS_DB
    ]
    out += [
        Condition(f"reverb-{r:g}s", "reverb", {"rt60": r, "drr_db": REVERB_DRR_DB}) for r in RT60S
    ]
    out.append(Condition("telephone", "telephone", {"codec": "mulaw", "band_hz": (300.0, 3400.0)}))
    out += [
        Condition(f"overlap-sir{_db(s)}", "overlap", {"sir_db": s, "fraction": OVERLAP_FRACTION})
        for s in SIRS_DB
    ]
    out.append(
        Condition("conversation", "conversation", {"share": CONVERSATION_SHARE, "sir_db": 0.0})
    )
    out.append(Condition("quiet-20dB", "level", {"gain_db": (-20.0, -20.0), "clip": False}))
    out.append(Condition("level-random", "level", {"gain_db": LEVEL_RANDOM_DB, "clip": True}))
    out.append(Condition("mixed", "mixed", {"roles": list(MIXED_ROLE_ORDER)}))
    return out


ORACLE_MASKS = ("irm", "ibm")
"""Oracle time-frequency masks of the ``overlap-sir{S}dB-oracle-{mask}`` conditions."""


def extra_conditions() -> list[Condition]:
    """Conditions outside the full run, by name only (``--conditions``).

    ``overlap-sir{0,5,10}dB-oracle-{irm,ibm}``: the ``overlap-sir{S}dB`` mixture of every clip
    (the same interferer, region and draws: it is seeded as that condition), then masked with
    the *oracle* ideal ratio / binary mask computed from the known target and interferer
    (STFT 512 / hop 160 at 16 kHz, mixture phase): what a perfect time-frequency separator
    would hand the encoder, the headroom of separation.
    """
    return [
        Condition(
            f"overlap-sir{_db(s)}-oracle-{m}",
            "oracle",
            {
                "sir_db": s,
                "fraction": OVERLAP_FRACTION,
                "oracle_mask": m,
                "seed_as": f"overlap-sir{_db(s)}",
            },
        )
        for s in SIRS_DB
        for m in ORACLE_MASKS
    ]


def known_conditions() -> dict[str, Condition]:
    """Every condition by name: :func:`standard_conditions`, then :func:`extra_conditions`."""
    return {c.name: c for c in (*standard_conditions(), *extra_conditions())}


def get_condition(name: str) -> Condition:
    """The standard (or :func:`extra_conditions`) condition called ``name``."""
    known = known_conditions()
    if name not in known:
        raise KeyError(f"unknown condition {name!r}; known: {', '.join(known)}")
    return known[name]


def oracle_masked(target: np.ndarray, mixture: np.ndarray, mask: str) -> np.ndarray:
    """``mixture`` through the oracle ``"irm"`` (sqrt of target / total power per bin) or
    ``"ibm"`` (target louder than the rest) mask of ``target`` in it; same length, float32.

    Examples
    --------
    >>> t = np.sin(np.arange(16000) / 3).astype(np.float32)
    >>> i = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.01
    >>> y = oracle_masked(t, t + i, "irm")
    >>> float(np.mean((y - t) ** 2)) < float(np.mean(i**2))
    True
    """
    from scipy.signal import istft, stft

    n, hop = 512, 160
    kw = {"nperseg": n, "noverlap": n - hop, "window": "hann"}
    t = np.asarray(target, dtype=np.float64)
    x = np.asarray(mixture, dtype=np.float64)
    T = stft(t, **kw)[2]
    X = stft(x, **kw)[2]
    pt, pi = np.abs(T) ** 2, np.abs(X - T) ** 2
    if mask == "irm":
        m = np.sqrt(pt / (pt + pi + 1e-12))
    elif mask == "ibm":
        m = (pt > pi).astype(np.float64)
    else:
        raise ValueError(f"unknown oracle mask {mask!r}; use one of {ORACLE_MASKS}")
    y = istft(X * m, **kw)[1]
    out = np.zeros(x.size, dtype=np.float32)
    out[: min(x.size, y.size)] = y[: x.size]
    return out


def condition_rng(condition: str, clip_key: str, seed: int = 0) -> np.random.Generator:
    """Generator seeded by (condition, clip, run seed), stable across processes.

    Examples
    --------
    >>> a = condition_rng("white-5dB", "spk_00").integers(1 << 30)
    >>> b = condition_rng("white-5dB", "spk_00").integers(1 << 30)
    >>> bool(a == b), bool(a == condition_rng("pink-5dB", "spk_00").integers(1 << 30))
    (True, False)
    """
    ss = np.random.SeedSequence(
        [zlib.crc32(condition.encode()), zlib.crc32(clip_key.encode()), int(seed)]
    )
    return np.random.default_rng(ss)


class InterfererBank:
    """Audio of the interferer speakers (babble talkers and overlapping talkers).

    Parameters
    ----------
    split
        The corpus split (its ``interferers``).
    sample_rate
        Rate the clips are loaded at.
    level_dbfs
        Active level they are read at (:func:`corpus_clip`; mixtures are set by SNR / SIR
        relative to the target, so this only keeps every clip of the corpus alike).
    """

    def __init__(
        self,
        split: CorpusSplit,
        sample_rate: int,
        level_dbfs: float | None = CORPUS_LEVEL_DBFS,
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.speakers = sorted(split.interferers)
        self._audio = {
            s: [corpus_clip(c.path, sample_rate, level_dbfs) for c in split.interferers[s]]
            for s in self.speakers
        }
        self._enroll_index = {c.key: j for s, cl in split.enroll.items() for j, c in enumerate(cl)}

    def babble_talkers(self, rng: np.random.Generator) -> list[np.ndarray]:
        """One seeded utterance of every interferer speaker."""
        return [self._audio[s][int(rng.integers(len(self._audio[s])))] for s in self.speakers]

    def interferer_for(self, clip: Clip, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        """The overlapping speaker of ``clip`` (distinct within a speaker's enrollment pool)."""
        j = self._enroll_index.get(clip.key, clip.utt)
        spk = self.speakers[
            (speaker_offset(clip.speaker, len(self.speakers)) + j) % len(self.speakers)
        ]
        utts = self._audio[spk]
        return spk, utts[int(rng.integers(len(utts)))]


def corpus_clip(
    path: str | Any, sample_rate: int, level_dbfs: float | None = CORPUS_LEVEL_DBFS
) -> np.ndarray:
    """Samples of a corpus clip at ``sample_rate``, scaled to ``level_dbfs`` active level.

    ``level_dbfs=None`` reads the clip as rendered (the benchmark before the corpus was levelled; see
    :data:`CORPUS_LEVEL_DBFS` for why not).
    """
    from voxref.audio.level import normalize_level
    from voxref.audio.load import load_audio

    x = load_audio(path, sample_rate).samples
    if level_dbfs is not None:
        x, _ = normalize_level(x, sample_rate, level_dbfs, band=None)
    return np.asarray(x, dtype=np.float32)


def degrade(
    condition: Condition,
    samples: np.ndarray,
    sample_rate: int,
    clip: Clip,
    bank: InterfererBank,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``clip``'s samples under ``condition`` (deterministic), and what was done.

    Returns
    -------
    samples, info
        float32 mono at ``sample_rate``; ``info`` holds the drawn parameters.
    """
    from voxref.augment.babble import add_babble
    from voxref.augment.bandlimit import telephone
    from voxref.augment.noise import add_noise
    from voxref.augment.overlap import add_overlap
    from voxref.augment.reverb import reverberate

    x = np.asarray(samples, dtype=np.float32)
    p = condition.params
    rng = condition_rng(p.get("seed_as", condition.name), clip.key, seed)
    info: dict[str, Any] = {}
    if condition.family == "clean":
        y = x
    elif condition.family == "noise":
        y = add_noise(x, sample_rate, p["snr_db"], p["color"], rng=rng)
    elif condition.family == "babble":
        talkers = bank.babble_talkers(rng)
        n = min(int(p["talkers"]), len(talkers))
        y = add_babble(x, sample_rate, p["snr_db"], talkers, num_speakers=n, rng=rng)
    elif condition.family == "reverb":
        y = reverberate(x, sample_rate, rt60=p["rt60"], drr_db=p["drr_db"], rng=rng)
    elif condition.family == "telephone":
        y = telephone(x, sample_rate, codec=p["codec"], band=tuple(p["band_hz"]))
    elif condition.family in ("overlap", "oracle"):
        low, high = p["fraction"]
        fraction = float(rng.uniform(low, high))
        speaker, interferer = bank.interferer_for(clip, rng)
        res = add_overlap(x, sample_rate, interferer, p["sir_db"], fraction, rng=rng)
        y = res.samples
        if p.get("oracle_mask"):
            y = oracle_masked(x, y, p["oracle_mask"])
        info.update(interferer=speaker, fraction=res.fraction)
    elif condition.family == "conversation":
        speaker, interferer = bank.interferer_for(clip, rng)
        y, share = _conversation(x, sample_rate, interferer, p, rng)
        info.update(interferer=speaker, share=share)
    elif condition.family == "level":
        gain_db = float(rng.uniform(*p["gain_db"]))
        y = x * np.float32(10.0 ** (gain_db / 20.0))
        if p.get("clip"):
            y = np.clip(y, -1.0, 1.0)
        info.update(gain_db=gain_db)
    else:
        raise ValueError(f"condition {condition.name!r} ({condition.family}) is not a degradation")
    y = np.asarray(y, dtype=np.float32)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > PEAK_LIMIT:
        y = y * np.float32(PEAK_LIMIT / peak)
        info["peak_scaled"] = peak
    return y, info


def _active_frames(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Powers of the 20 ms frames within 40 dB of the loudest (speech, not pauses)."""
    from voxref.audio.level import active_frame_powers

    return active_frame_powers(x, sample_rate)


def _active_rms(x: np.ndarray, sample_rate: int) -> float:
    """RMS over the active frames (:func:`_active_frames`)."""
    active = _active_frames(x, sample_rate)
    return float(np.sqrt(active.mean())) if active.size else 0.0


def _conversation(
    x: np.ndarray,
    sample_rate: int,
    interferer: np.ndarray,
    params: dict[str, Any],
    rng: np.random.Generator,
) -> tuple[np.ndarray, float]:
    """``x`` with a turn of ``interferer`` spliced in (see the ``conversation`` condition)."""
    share = float(rng.uniform(*params["share"]))
    speech = _active_frames(x, sample_rate).size * max(1, int(0.02 * sample_rate))
    n_turn = int(speech * share / (1.0 - share))
    loop = np.tile(interferer, int(np.ceil(n_turn / max(len(interferer), 1))) + 1)
    start = int(rng.integers(max(len(interferer), 1)))
    turn = loop[start : start + n_turn].astype(np.float64)
    gain = _active_rms(x, sample_rate) / max(_active_rms(turn, sample_rate), 1e-9)
    turn *= gain * 10.0 ** (-float(params.get("sir_db", 0.0)) / 20.0)
    # splice at the quietest 20 ms frame of the middle 60 % of the clip
    n = max(1, int(0.02 * sample_rate))
    lo, hi = int(0.2 * len(x)) // n, int(0.8 * len(x)) // n
    energy = [float(np.sum(x[i * n : (i + 1) * n] ** 2)) for i in range(lo, max(hi, lo + 1))]
    cut = (lo + int(np.argmin(energy))) * n
    gap = np.zeros(int(CONVERSATION_GAP_S * sample_rate))
    y = np.concatenate([x[:cut], gap, turn, gap, x[cut:]])
    return y.astype(np.float32), share


def mixed_roles(k: int, set_id: str, conditions: Sequence[Condition], seed: int = 0) -> list[str]:
    """Condition name of each of the ``k`` references of one mixed-bag set (seeded by ``set_id``).

    Roles follow :data:`MIXED_ROLE_ORDER` (a 3-reference set keeps ``clean`` and two of
    ``noisy``/``reverb``/``overlap``); each role is realised by a seeded choice among the run's
    conditions of that kind, and the roles are shuffled over the set's positions.

    Examples
    --------
    >>> roles = mixed_roles(5, "spk/0", standard_conditions())
    >>> len(roles), roles.count("clean")
    (5, 1)
    """
    if k < 3:
        raise ValueError("a mixed-bag set holds 3 to 5 references")
    rng = condition_rng("mixed", set_id, seed)
    if k == 3:
        others = list(MIXED_ROLE_ORDER[1:4])
        drop = int(rng.integers(3))
        roles = ["clean"] + [r for i, r in enumerate(others) if i != drop]
    else:
        roles = list(MIXED_ROLE_ORDER[:k]) + ["noisy"] * max(0, k - len(MIXED_ROLE_ORDER))
    candidates = {
        "clean": [c.name for c in conditions if c.family == "clean"],
        "noisy": [
            c.name
            for c in conditions
            if c.family in ("noise", "babble") and c.params["snr_db"] <= MIXED_NOISY_MAX_SNR_DB
        ],
        "reverb": [c.name for c in conditions if c.family == "reverb"],
        "overlap": [c.name for c in conditions if c.family == "overlap"],
    }
    out = []
    for role in roles:
        names = candidates[role]
        if not names:
            raise ValueError(f"the mixed condition needs a {role!r} condition in the run")
        out.append(names[int(rng.integers(len(names)))])
    return [out[i] for i in rng.permutation(len(out))]
