"""voxref.augment.bandlimit: telephone channel, companding, filters."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.augment import BandLimit, Telephone, bandpass, companding, lowpass, telephone
from voxref.augment.bandlimit import a_law_decode, a_law_encode, mu_law_decode, mu_law_encode

SR = 16000


def band_energy(x: np.ndarray, lo: float, hi: float, sr: int = SR) -> float:
    """Energy in [lo, hi) Hz of the Hann-windowed signal (no leakage from the clip's edges)."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size))) ** 2
    f = np.fft.rfftfreq(x.size, 1 / sr)
    return float(spec[(f >= lo) & (f < hi)].sum())


@pytest.mark.parametrize("codec", ["mulaw", "alaw", None])
def test_telephone_has_no_energy_above_4khz(speech, real_speech, codec):
    white = (0.1 * np.random.default_rng(0).standard_normal(2 * SR)).astype(np.float32)
    for x in (speech, real_speech, white):
        y = telephone(x, SR, codec)
        assert y.shape == x.shape and y.dtype == np.float32
        total = band_energy(y, 0, SR / 2)
        assert band_energy(y, 4000, SR / 2) < 10**-4.5 * total  # < -45 dB
        assert band_energy(y, 0, 150) < 1e-2 * total  # low end removed too
    # the pass band survives: white noise keeps most of its 500-3000 Hz energy
    y = telephone(white, SR, None)
    assert band_energy(y, 500, 3000) == pytest.approx(band_energy(white, 500, 3000), rel=0.1)


def test_codec_adds_quantisation_noise_only(real_speech):
    x = real_speech * (0.5 / np.abs(real_speech).max())  # peak at -6 dBFS
    clean = telephone(x, SR, None)
    snrs = []
    for level in (1.0, 0.1):  # 0 dB and -20 dB
        coded = telephone(level * x, SR, "mulaw") / level
        err = coded.astype(np.float64) - clean
        snrs.append(10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum(err**2)))
    # 8-bit mu-law: 25-45 dB SNR; 20 dB quieter input loses far less than the 20 dB a linear
    # 8-bit quantiser would (that is what companding is for)
    assert all(25.0 < s < 45.0 for s in snrs), snrs
    assert snrs[0] - snrs[1] < 12.0
    assert telephone(np.zeros(800, np.float32), SR).max() == 0.0  # silence stays silent


def test_companding_codes():
    x = np.linspace(-1, 1, 10001)
    for enc, dec in ((mu_law_encode, mu_law_decode), (a_law_encode, a_law_decode)):
        codes = enc(x)
        assert codes.min() >= 0 and codes.max() <= 255
        y = dec(codes)
        assert len(np.unique(y)) == 255  # 256 codes, +0 and -0 decode alike
        assert np.all(np.diff(y[x > 0]) >= 0)  # monotonic
        big = np.abs(x) > 0.01
        assert (
            np.max(np.abs(y[big] - x[big]) / np.abs(x[big])) < 0.07
        )  # log-spaced: ~relative error
    assert companding(np.array([0.5], np.float32), "alaw").dtype == np.float32


def test_lowpass_and_bandpass_attenuate(real_speech):
    y = lowpass(real_speech, SR, 2000.0)
    assert band_energy(y, 3000, 8000) < 1e-4 * band_energy(real_speech, 3000, 8000)
    assert band_energy(y, 100, 1500) == pytest.approx(band_energy(real_speech, 100, 1500), rel=0.05)
    z = bandpass(real_speech, SR, 500.0, 2500.0)
    assert band_energy(z, 0, 200) < 1e-3 * band_energy(real_speech, 0, 200)
    assert z.shape == real_speech.shape and z.dtype == np.float32


def test_transforms_log_and_are_deterministic(speech):
    t = Telephone(codec=["mulaw", "alaw"])
    codecs = {t.apply(speech, SR, np.random.default_rng(s))[1]["codec"] for s in range(10)}
    assert codecs == {"mulaw", "alaw"}
    b = BandLimit(high_hz=(3000.0, 6000.0), low_hz=(100.0, 300.0))
    out, p = b.apply(speech, SR, np.random.default_rng(0))
    assert 3000 <= p["high_hz"] <= 6000 and 100 <= p["low_hz"] <= 300 and p["band_limited"]
    assert np.array_equal(b(speech, SR, seed=3), b(speech, SR, seed=3))
    assert not np.array_equal(b(speech, SR, seed=3), b(speech, SR, seed=4))


def test_telephone_at_8k_input(speech):
    x8 = speech[::2].copy()
    y = telephone(x8, 8000)
    assert y.shape == x8.shape
