"""Synthetic TTS training sets with planted faults, for the audit's tests and benchmark.

:func:`planted_dataset` writes an LJSpeech-style folder (``wavs/*.wav`` + ``metadata.csv``
``id|text|normalized``) of clips by one synthetic voice (:mod:`voxref.separation.synthetic`:
espeak-ng / flite), some of them damaged on purpose. Each fault kind mimics what real sets hold:

==================  ==========================================================================
kind                how the clip is made
==================  ==========================================================================
``wrong_speaker``   the sentence said by another voice
``second_voice``    the target's sentence; from a third of the way in, another voice talks over it
                    (equal level)
``noisy``           white noise at 0 dB SNR over the whole clip
``clipped``         the clip driven 6 dB past full scale (hard clipping)
``silent``          1.5 s of faint noise (-70 dBFS), no speech
``too_short``       one word (a truncated clip)
``narrowband``      the clip through a 300-3400 Hz telephone band
``level_outlier``   the clip 30 dB quieter than the rest
==================  ==========================================================================

The returned truth (``{clip id: fault kind or ""}``) is what the audit should find. Everything is
deterministic for a given ``seed``.

Examples
--------
>>> import tempfile
>>> from voxref.separation.synthetic import VOICES
>>> truth = planted_dataset(tempfile.mkdtemp(), VOICES[0], [VOICES[2]], n_clean=2,
...                         faults=("silent",), seed=0)  # doctest: +SKIP
>>> sorted(truth.values())  # doctest: +SKIP
['', '', 'silent']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_write, atomic_write_text
from ..separation.synthetic import SAMPLE_RATE, SENTENCES, SyntheticVoice, synthesize

__all__ = ["FAULT_KINDS", "planted_dataset", "plant_fault"]

#: Fault kinds :func:`planted_dataset` can plant (the audit's reasons, see ``flags``).
FAULT_KINDS = (
    "wrong_speaker",
    "second_voice",
    "noisy",
    "clipped",
    "silent",
    "too_short",
    "narrowband",
    "level_outlier",
)


def _power(x: np.ndarray) -> float:
    """Mean power of the active (non-silent) samples."""
    a = x[np.abs(x) > 0.01]
    return float(np.mean(a**2)) if a.size else 0.0


def _telephone(x: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(8, [300.0, 3400.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return sosfiltfilt(sos, x).astype(np.float32)


def plant_fault(
    kind: str,
    voice: SyntheticVoice,
    others: Sequence[SyntheticVoice],
    text: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """One clip of ``voice`` saying ``text`` with the fault ``kind`` (see the module docstring).

    ``others`` are the voices a ``wrong_speaker`` or ``second_voice`` clip borrows (one is drawn
    with ``rng``). Returns mono float32 at :data:`SAMPLE_RATE`.
    """
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}.")
    if kind in ("wrong_speaker", "second_voice") and not others:
        raise ValueError(f"a {kind!r} clip needs at least one other voice.")
    if kind == "wrong_speaker":
        return synthesize(others[int(rng.integers(len(others)))], text)
    if kind == "silent":
        return (rng.standard_normal(int(1.5 * SAMPLE_RATE)) * 10 ** (-70 / 20)).astype(np.float32)
    if kind == "too_short":
        word = text.split()[0].strip(",.?!")
        return synthesize(voice, word)
    x = synthesize(voice, text)
    if kind == "second_voice":
        other = others[int(rng.integers(len(others)))]
        pool = [s for s in SENTENCES if s != text]
        y = synthesize(other, pool[int(rng.integers(len(pool)))])
        # the other talker cuts in after the first third and talks to the end, as loud
        start = len(x) // 3
        over = np.zeros_like(x)
        n = min(len(y), len(x) - start)
        over[start : start + n] = y[:n]
        mixed = x + over * np.sqrt(_power(x[start:]) / max(_power(over[start:]), 1e-12))
        return (0.5 * mixed / max(float(np.abs(mixed).max()), 1e-9)).astype(np.float32)
    if kind == "noisy":
        n = rng.standard_normal(len(x)) * np.sqrt(_power(x))
        y = x + n
        return (0.5 * y / np.abs(y).max()).astype(np.float32)
    if kind == "clipped":
        return np.clip(x * 4.0, -1.0, 1.0).astype(np.float32)  # peak 0.5 -> 2.0: 6 dB over
    if kind == "narrowband":
        return _telephone(x)
    # level_outlier
    return (x * 10 ** (-30 / 20)).astype(np.float32)


def planted_dataset(
    root: str | os.PathLike,
    voice: SyntheticVoice,
    others: Sequence[SyntheticVoice],
    *,
    n_clean: int = 10,
    faults: Sequence[str] = ("wrong_speaker", "wrong_speaker", "second_voice", "clipped"),
    speaker: str | None = None,
    seed: int = 0,
    prefix: str = "",
    metadata: str | None = "metadata.csv",
) -> dict[str, str]:
    """Write an LJSpeech-style set of ``voice`` with planted ``faults`` under ``root``.

    Parameters
    ----------
    root
        Output folder: ``root/wavs/<id>.wav`` (16-bit PCM, 16 kHz) and ``root/<metadata>``.
    voice
        The set's speaker.
    others
        Voices for the ``wrong_speaker`` / ``second_voice`` faults.
    n_clean
        Clean clips.
    faults
        One planted clip per entry (kinds from :data:`FAULT_KINDS`, repeats allowed).
    speaker
        When given, a fourth metadata column holds it (``id|text|normalized|speaker``).
    seed
        Seeds the choice of sentences, borrowed voices and noise.
    prefix
        Prepended to every clip id.
    metadata
        Metadata file name; ``None`` writes none (a bare folder of clips).

    Returns
    -------
    dict
        ``{clip id: fault kind}``, ``""`` for a clean clip, in file order.
    """
    import soundfile as sf

    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "wavs").mkdir(parents=True, exist_ok=True)
    kinds = [""] * n_clean + list(faults)
    order = rng.permutation(len(kinds))
    sentences = [SENTENCES[int(i)] for i in rng.permutation(len(SENTENCES))]
    truth: dict[str, str] = {}
    lines = []
    for n, k in enumerate(order):
        kind = kinds[int(k)]
        text = sentences[n % len(sentences)]
        x = synthesize(voice, text) if not kind else plant_fault(kind, voice, others, text, rng)
        cid = f"{prefix}{n:04d}"
        atomic_write(
            root / "wavs" / f"{cid}.wav",
            lambda tmp, x=x: sf.write(tmp, x, SAMPLE_RATE, subtype="PCM_16", format="WAV"),
        )
        truth[cid] = kind
        cols = [cid, text, text.lower()] + ([speaker] if speaker is not None else [])
        lines.append("|".join(cols))
    if metadata is not None:
        atomic_write_text(root / metadata, "\n".join(lines) + "\n")
    return truth
