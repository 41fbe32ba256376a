"""The speaker counter's training augmentation (scripts/train_overlap_detector.py) on real speech:
the formant warp moves the spectral envelope and keeps the pitch, the speed factor moves both,
and conversations made of transformed voices keep labels that match their tracks."""

from __future__ import annotations

import numpy as np
import pytest

SR = 16_000


@pytest.fixture(scope="module")
def train():
    from ._helpers import script_module

    return script_module("train_overlap_detector")


@pytest.fixture(scope="module")
def speech(voices):
    from ._helpers import utterances

    return utterances(voices["espeak-us-m3"], [0, 1], gap=0.2)


def _f0(x: np.ndarray) -> float:
    """Median F0 (Hz) of the loud 40 ms frames, from the autocorrelation peak in 70-400 Hz."""
    n, hop = 640, 320
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop]
    energy = (frames**2).mean(axis=1)
    f0 = []
    for f in frames[energy > 0.1 * energy.max()]:
        f = f - f.mean()
        ac = np.correlate(f, f, "full")[n - 1 :]
        lo, hi = SR // 400, SR // 70
        f0.append(SR / (lo + int(np.argmax(ac[lo:hi]))))
    return float(np.median(f0))


def _centroid(x: np.ndarray) -> float:
    """Spectral centroid (Hz) below 4 kHz."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    keep = freqs < 4000
    return float((spec[keep] * freqs[keep]).sum() / spec[keep].sum())


def _only(train, **parts):
    t = train.VoiceTransform(np.random.default_rng(0), 0.0)
    for k, v in parts.items():
        setattr(t, k, v)
    return t


def test_formant_warp_moves_the_envelope_and_keeps_the_pitch(train, speech):
    f0, c0 = _f0(speech), _centroid(speech)
    up = _only(train, warp=1.18)(speech)
    down = _only(train, warp=0.85)(speech)
    assert up.size == speech.size and down.size == speech.size
    assert abs(_f0(up) / f0 - 1) < 0.04 and abs(_f0(down) / f0 - 1) < 0.04
    assert _centroid(up) > 1.06 * c0 and _centroid(down) < 0.95 * c0
    rms = np.sqrt(np.mean(speech**2))
    assert np.sqrt(np.mean(up**2)) == pytest.approx(rms, rel=1e-3)


def test_speed_factor_moves_the_pitch(train, speech):
    f0 = _f0(speech)
    fast = _only(train, speed=1.2)(speech)
    assert fast.size == pytest.approx(speech.size / 1.2, rel=0.01)
    assert _f0(fast) / f0 == pytest.approx(1.2, rel=0.05)


def test_eq_and_breath_change_the_sound_not_the_silence(train, speech):
    t = _only(train, eq_db=train.random_eq(np.random.default_rng(3)), breath=0.3)
    y = t(speech)
    assert not np.allclose(y, speech, atol=1e-3)
    # samples at least 50 ms from any speech (STFT frames of 32 ms smear the edges)
    loud = np.convolve(np.abs(speech) > 1e-6, np.ones(1601), "same") > 0
    quiet = ~loud
    assert quiet.sum() > SR // 20  # most of the 0.2 s pause between the sentences
    assert np.sqrt(np.mean(y[quiet] ** 2)) < 0.01 * np.sqrt(np.mean(y**2))


def test_augmented_conversations_keep_labels_that_match_the_tracks(train, voices):
    from voxref.separation.synthetic import SENTENCES, synthesize

    pool = {
        name: [synthesize(voices[name], SENTENCES[i]) for i in range(3)]
        for name in ("espeak-us-m3", "espeak-en-f4", "espeak-gb-m7")
    }
    rng = np.random.default_rng(0)
    shares = []
    for _ in range(6):
        x, y = train.make_conversation(
            rng, pool, sorted(pool), 4 * SR, 160, reverb=0.0, noise=0.0, phone=0.0, augment=1.0
        )
        assert x.shape == (4 * SR,) and y.shape == (400,) and np.isfinite(x).all()
        frames = x[: y.size * 160].reshape(y.size, 160)
        level = np.sqrt((frames**2).mean(axis=1))
        if (y == 0).any() and (y > 0).any():
            assert np.median(level[y > 0]) > 10 * np.median(level[y == 0])
        shares.append(np.mean(y == 2))
    assert max(shares) > 0.05  # some of them overlap


def _frame_f0(x: np.ndarray, frames_at: np.ndarray) -> np.ndarray:
    """F0 (Hz, autocorrelation peak in 70-400 Hz) of the 40 ms frames starting at ``frames_at``."""
    n, lo, hi = 640, SR // 400, SR // 70
    out = []
    for a in frames_at:
        f = x[a : a + n] - x[a : a + n].mean()
        ac = np.correlate(f, f, "full")[n - 1 :]
        out.append(SR / (lo + int(np.argmax(ac[lo:hi]))))
    return np.array(out)


def test_wobble_makes_the_pitch_drift_around_the_same_median(train, speech):
    t = train.VoiceTransform(np.random.default_rng(5), 0.0, wobble=1.0)
    t.wobble = (0.05, 3.0, 0.0, 0.0)  # 5 % vibrato at 3 Hz, no random walk
    y = t(speech)
    assert abs(y.size / speech.size - 1) < 0.02
    starts = np.arange(0, min(y.size, speech.size) - 640, 320)
    energy = np.array([np.mean(speech[a : a + 640] ** 2) for a in starts])
    starts = starts[energy > 0.1 * energy.max()]
    ratio = _frame_f0(y, starts) / _frame_f0(speech, starts)
    ratio = ratio[(ratio > 0.8) & (ratio < 1.25)]  # octave errors of the estimator out
    assert abs(np.median(ratio) - 1) < 0.02
    assert np.std(ratio) > 0.02  # the pitch moves with the vibrato
    t.wobble = None  # the control: without it the pitch does not move
    steady = _frame_f0(t(speech), starts) / _frame_f0(speech, starts)
    assert np.std(steady[(steady > 0.8) & (steady < 1.25)]) < 0.005
