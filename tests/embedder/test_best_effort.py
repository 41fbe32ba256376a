"""A lone reference voxref would reject still gives a vector, flagged as low confidence."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxref.errors import LowConfidenceWarning, NoUsableReferenceError
from voxref.pipeline import Embedder

SR = 16_000


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def voices(speech_by_speaker: dict[str, list[Path]]) -> dict[str, list[np.ndarray]]:
    out = {}
    for spk in ("espeak-gb-f2", "espeak-us-m3", "flite-awb"):
        out[spk] = [sf.read(p, dtype="float32")[0] for p in speech_by_speaker[spk][:2]]
    return out


@pytest.fixture(scope="module")
def others(voices: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Each speaker's embedding (same encoder, clean clip as it is) from another utterance than
    the one the tests degrade."""
    plain = Embedder(clean=False, guiding=False)
    return {spk: plain.embed([(utts[1], SR)]) for spk, utts in voices.items()}


def _short(x: np.ndarray, seconds: float) -> np.ndarray:
    """``seconds`` of ``x`` from its first loud sample (a clip the checks call too short)."""
    onset = int(np.argmax(np.abs(x) > 0.05 * np.abs(x).max()))
    return x[max(0, onset - 800) : onset - 800 + int(seconds * SR)]


def _noisy(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(x.size).astype(np.float32)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def _best_effort(embedder: Embedder, clip: np.ndarray):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = embedder.embed([(clip, SR)], return_details=True)
    assert any(issubclass(w.category, LowConfidenceWarning) for w in caught)
    (fate,) = res.report.fates
    assert fate.status == "down-weighted" and fate.reason.startswith("best effort, low confidence")
    assert abs(float(np.linalg.norm(res.embedding)) - 1) < 1e-5
    return res, fate


@pytest.mark.parametrize("make", ["short", "noisy"])
def test_lone_rejected_reference_gives_a_flagged_vector_of_the_right_voice(
    embedder: Embedder,
    voices: dict[str, list[np.ndarray]],
    others: dict[str, np.ndarray],
    make: str,
) -> None:
    strict = Embedder(strict=True)
    own, other = [], []
    for i, (spk, utts) in enumerate(voices.items()):
        clip = _short(utts[0], 0.55) if make == "short" else _noisy(utts[0], -7.0, seed=i)
        if i == 0:
            with pytest.raises(NoUsableReferenceError):  # strict=True: what voxref did before
                strict.embed([(clip, SR)])
        res, fate = _best_effort(embedder, clip)
        assert ("short" in fate.reason) if make == "short" else ("noisy" in fate.reason)
        # the vector still points at its speaker: on average closer to its own other utterance
        # than to the other speakers'
        for o, e in others.items():
            (own if o == spk else other).append(float(res.embedding @ e))
    assert np.mean(own) > np.mean(other) + 0.05, (own, other)


def test_no_best_effort_for_silence_or_when_one_reference_is_usable(
    embedder: Embedder, voices: dict[str, list[np.ndarray]]
) -> None:
    with pytest.raises(NoUsableReferenceError):
        embedder.embed([(np.zeros(SR, np.float32), SR)])
    good = voices["flite-awb"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowConfidenceWarning)
        res = embedder.embed([(good, SR), (_short(good, 0.55), SR)], return_details=True)
    assert [f.status for f in res.report.fates][1] == "rejected"
    assert res.weights[1] == 0
