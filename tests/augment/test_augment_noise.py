"""voxref.augment.noise: colored / recorded noise at a target SNR."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from voxref.augment import AddNoise, add_noise, colored_noise
from voxref.errors import AudioShapeError, ConfigError, SilentAudioError

SR = 16000


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0, 20.0])
def test_achieved_snr_on_speech(speech, real_speech, measure_snr, color, snr):
    for i, x in enumerate((speech, real_speech)):
        y = add_noise(x, SR, snr, color, seed=i)
        assert abs(measure_snr(x, y) - snr) <= 0.5


@pytest.mark.parametrize("color,exponent", [("white", 0.0), ("pink", 1.0), ("brown", 2.0)])
def test_colored_noise_spectral_slope(color, exponent):
    from scipy.signal import welch

    n = colored_noise(4 * SR, SR, color, seed=3)
    f, p = welch(n.astype(np.float64), fs=SR, nperseg=4096)
    band = (f >= 100) & (f <= 6000)
    slope = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.15)
    assert float(np.sqrt(np.mean(n.astype(np.float64) ** 2))) == pytest.approx(1.0, rel=1e-4)


def test_noise_level_ignores_leading_silence(speech):
    """Padding speech with silence must not lower the noise that is added (SNR on active speech)."""
    padded = np.concatenate([np.zeros(SR, np.float32), speech])
    noise_plain = add_noise(speech, SR, 10.0, "white", seed=0) - speech
    noise_padded = add_noise(padded, SR, 10.0, "white", seed=0) - padded
    rms = lambda v: float(np.sqrt(np.mean(v.astype(np.float64) ** 2)))  # noqa: E731
    assert rms(noise_padded) == pytest.approx(rms(noise_plain), rel=0.02)


def test_determinism_dtype_shape(speech):
    t = AddNoise((0.0, 20.0), ["white", "pink", "brown"])
    a, b = t(speech, SR, seed=11), t(speech, SR, seed=11)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, t(speech, SR, seed=12))
    assert a.dtype == np.float32 and a.shape == speech.shape
    d = t(speech.astype(np.float64), SR, seed=11)
    assert d.dtype == np.float64 and d.shape == speech.shape
    rng1, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    assert np.array_equal(t(speech, SR, rng=rng1), t(speech, SR, rng=rng2))


def test_choice_among_colors_is_logged_and_covers_all(speech):
    t = AddNoise((0.0, 20.0), ["white", "pink", "brown"])
    seen = {t.apply(speech, SR, np.random.default_rng(s))[1]["noise_type"] for s in range(30)}
    assert seen == {"white", "pink", "brown"}


def test_recorded_noise_loops_and_crops(speech):
    rng = np.random.default_rng(0)
    short = rng.standard_normal(1000).astype(np.float32)
    y, p = AddNoise(10.0, short).apply(speech, SR, np.random.default_rng(1))
    n = y.astype(np.float64) - speech
    assert p["noise_type"] == "recorded" and p["noise_source"] == "<array 0>"
    assert np.allclose(n[1000:2000], n[:1000], atol=1e-6)  # looped with the source's period
    long = rng.standard_normal(speech.size * 3).astype(np.float32)
    n2 = AddNoise(10.0, long)(speech, SR, seed=2).astype(np.float64) - speech
    from scipy.signal import correlate

    corr = correlate(long.astype(np.float64), n2, mode="valid", method="fft")
    o = int(np.argmax(corr))
    crop = long[o : o + speech.size].astype(np.float64)
    assert np.corrcoef(crop, n2)[0, 1] > 0.9999  # a contiguous crop of the long noise


def test_recorded_noise_from_files_and_folder(speech, tmp_path, measure_snr):
    rng = np.random.default_rng(0)
    folder = tmp_path / "noises"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "a.wav", 0.1 * rng.standard_normal(8000), 8000)  # resampled to 16 kHz
    sf.write(folder / "sub" / "b.flac", 0.1 * rng.standard_normal(20000), SR)
    (folder / "notes.txt").write_text("not audio")
    t = AddNoise(5.0, folder)
    sources = set()
    for s in range(12):
        y, p = t.apply(speech, SR, np.random.default_rng(s))
        assert abs(measure_snr(speech, y) - 5.0) <= 0.5
        sources.add(p["noise_source"].rsplit("/", 1)[-1])
    assert sources == {"a.wav", "b.flac"}
    y = add_noise(speech, SR, 5.0, str(folder / "a.wav"), seed=0)
    assert abs(measure_snr(speech, y) - 5.0) <= 0.5
    with pytest.raises(ConfigError):
        AddNoise(5.0, "purple")


def test_batch_path_matches_numpy(speech, real_speech):
    n = min(speech.size, real_speech.size)
    batch = torch.from_numpy(np.stack([speech[:n], real_speech[:n]]))
    t = AddNoise((0.0, 20.0), ["white", "brown"])
    out, params = t.apply_batch_logged(batch, SR, seeds=[3, 4])
    assert out.dtype == torch.float32 and out.shape == batch.shape
    for i, s in enumerate([3, 4]):
        ref, p = t.apply(batch[i].numpy(), SR, np.random.default_rng(s))
        assert p == params[i]
        np.testing.assert_allclose(out[i].numpy(), ref, rtol=0, atol=1e-6)
    g1 = t.apply_batch(batch, SR, generator=torch.Generator().manual_seed(0))
    g2 = t.apply_batch(batch, SR, generator=torch.Generator().manual_seed(0))
    assert torch.equal(g1, g2)


def test_bad_inputs():
    with pytest.raises(SilentAudioError):
        add_noise(np.zeros(1600, np.float32), SR, 10.0, seed=0)
    with pytest.raises(AudioShapeError):
        add_noise(np.zeros((2, 1600), np.float32), SR, 10.0, seed=0)
    with pytest.raises(ConfigError):
        AddNoise(10.0)(np.ones(10, np.float32), SR, seed=1, rng=np.random.default_rng(1))
