"""voxref.augment.speed: speed perturbation and pitch shift, measured on tones and speech."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.augment import PitchShift, SpeedPerturb, pitch_shift, speed_perturb, time_stretch
from voxref.augment.levels import active_power

SR = 16000


def harmonic_tone(f0: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))).astype(np.float32)


def fundamental(x: np.ndarray, lo: float = 80.0, hi: float = 400.0) -> float:
    """Strongest spectral peak in [lo, hi] Hz of the middle of ``x`` (zero-padded FFT)."""
    seg = x[SR // 4 : -SR // 4].astype(np.float64)
    n = 1 << 20
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), n))
    f = np.fft.rfftfreq(n, 1 / SR)
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(spec[band])])


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_changes_pitch_and_duration(factor):
    x = harmonic_tone(200.0)
    y = speed_perturb(x, SR, factor, keep_length=False)
    assert y.size == pytest.approx(x.size / factor, abs=1)
    assert fundamental(y) == pytest.approx(200.0 * factor, rel=0.002)
    z = speed_perturb(x, SR, factor)
    assert z.shape == x.shape and z.dtype == np.float32


@pytest.mark.parametrize("semitones", [-3.0, 2.0, 4.0])
def test_pitch_shift_moves_f0_keeps_duration_and_level(semitones):
    x = harmonic_tone(200.0)
    y = pitch_shift(x, SR, semitones)
    assert y.shape == x.shape and y.dtype == np.float32
    assert fundamental(y) == pytest.approx(200.0 * 2 ** (semitones / 12), rel=0.005)
    assert active_power(y, SR) == pytest.approx(active_power(x, SR), rel=1e-3)


def test_pitch_shift_keeps_the_timing_of_speech(real_speech):
    """Pitch shift keeps where the syllables are; speed perturbation moves them."""

    def envelope(v):
        frames = v[: v.size // 320 * 320].astype(np.float64).reshape(-1, 320)
        return np.log(np.mean(frames**2, axis=1) + 1e-10)

    e = envelope(real_speech)
    shifted = np.corrcoef(e, envelope(pitch_shift(real_speech, SR, 3.0)))[0, 1]
    sped = np.corrcoef(e, envelope(speed_perturb(real_speech, SR, 1.1)))[0, 1]
    assert shifted > 0.9 and shifted > sped + 0.2


def test_time_stretch_length_and_pitch():
    x = harmonic_tone(200.0)
    y = time_stretch(x, SR, 0.8)
    assert y.size == round(x.size / 0.8)
    assert fundamental(y) == pytest.approx(200.0, rel=0.005)


def test_transforms_draw_and_log(speech):
    t = SpeedPerturb([0.9, 1.0, 1.1])
    seen = {t.apply(speech, SR, np.random.default_rng(s))[1]["speed"] for s in range(20)}
    assert seen == {0.9, 1.0, 1.1}
    out, p = t.apply(speech, SR, np.random.default_rng(0))
    assert out.shape == speech.shape and p["natural_length"] == pytest.approx(
        speech.size / p["speed"], abs=1
    )
    ps = PitchShift((-2.0, 2.0))
    a = ps(speech, SR, seed=1)
    assert np.array_equal(a, ps(speech, SR, seed=1)) and not np.array_equal(
        a, ps(speech, SR, seed=2)
    )
    _, q = ps.apply(speech, SR, np.random.default_rng(1))
    assert abs(q["semitones"] - q["requested_semitones"]) < 0.05
