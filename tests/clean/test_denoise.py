"""Denoisers on noisy real speech: length, rate, alignment, SNR gain, determinism, policy."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from voxref.cleaning import dfn3 as dfn3_module
from voxref.cleaning.denoise import (
    AUTO_BABBLE_ATTEN_LIM_DB,
    AUTO_SNR_THRESHOLD_DB,
    AutoDenoiser,
    Denoiser,
    NoDenoiser,
    SpectralGate,
    get_denoiser,
)
from voxref.cleaning.dfn3 import DeepFilterNet3
from voxref.cleaning.snr import snr_against_reference
from voxref.errors import ConfigError

from .clean_signals import SR, add_noise, white_noise


@pytest.fixture(scope="module")
def pair(speech_with_pauses) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy at 5 dB white) - the first 6 s, to keep DeepFilterNet3 calls short."""
    x = speech_with_pauses
    n = 6 * SR
    clean, mask = x.samples[:n], x.mask[:n]
    return clean, add_noise(clean, mask, white_noise(n, seed=5), 5.0)


@pytest.fixture(scope="module")
def dfn3_out(pair) -> np.ndarray:
    return DeepFilterNet3().denoise(pair[1], SR)


def lag(a: np.ndarray, b: np.ndarray, max_lag: int = 2000) -> int:
    """Lag (samples) of ``a`` relative to ``b`` maximising their cross-correlation."""
    c = np.correlate(a, b[max_lag:-max_lag], mode="valid")
    return int(np.argmax(c)) - max_lag


def test_dfn3_keeps_length_rate_and_alignment(pair, dfn3_out):
    clean, noisy = pair
    assert dfn3_out.shape == noisy.shape and dfn3_out.dtype == np.float32
    assert lag(dfn3_out, clean) == 0  # the 30 ms runtime delay is compensated


def test_dfn3_raises_snr(pair, dfn3_out):
    clean, noisy = pair
    before, after = snr_against_reference(noisy, clean), snr_against_reference(dfn3_out, clean)
    assert before == pytest.approx(5.0, abs=1.5)
    assert after > before + 5.0, (before, after)


def test_dfn3_is_deterministic(pair, dfn3_out):
    assert np.array_equal(DeepFilterNet3().denoise(pair[1], SR), dfn3_out)


def test_dfn3_at_another_rate(pair):
    clean, noisy = pair
    x = noisy[: 2 * SR]
    from voxref.audio import resample

    x22 = resample(x, SR, 22050)
    y22 = DeepFilterNet3().denoise(x22, 22050)
    assert y22.shape == x22.shape
    assert lag(y22, resample(clean[: 2 * SR], SR, 22050)) == 0


def test_dfn3_state_is_freed(monkeypatch):
    freed = []
    lib, model = dfn3_module._runtime()

    class Spy:
        def __getattr__(self, name):
            return getattr(lib, name)

        def df_free(self, ptr):
            freed.append(ptr)
            lib.df_free(ptr)

    state = dfn3_module._State(Spy(), model, 100.0)
    assert state.frame_length == 480
    ptr = state.ptr
    del state
    gc.collect()
    assert freed == [ptr]  # freed when collected
    with dfn3_module._State(Spy(), model, 100.0) as s:
        ptr2 = s.ptr
    s.close()  # idempotent
    assert freed == [ptr, ptr2]


@pytest.mark.parametrize("stationary", [False, True])
def test_gate_raises_snr_at_0_db_and_is_deterministic(pair, speech_with_pauses, stationary):
    clean = pair[0]
    noisy = add_noise(
        clean, speech_with_pauses.mask[: len(clean)], white_noise(len(clean), seed=0), 0.0
    )
    gate = SpectralGate(stationary=stationary)
    out = gate.denoise(noisy, SR)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert snr_against_reference(out, clean) > snr_against_reference(noisy, clean) + 3.0
    assert np.array_equal(out, gate.denoise(noisy, SR))


@pytest.mark.parametrize("limit", [6.0, 12.0])
def test_dfn3_attenuation_limit_caps_how_much_noise_is_removed(limit):
    """On noise alone the limited network removes its limit (+-1 dB); unlimited, far more."""
    noise = white_noise(2 * SR, seed=11)
    limited = DeepFilterNet3(atten_lim_db=limit)
    assert limited.name == f"dfn3-lim{limit:g}"

    def removed(d):
        y = d.denoise(noise, SR)
        return 10 * np.log10(np.mean(noise[SR // 4 :] ** 2) / np.mean(y[SR // 4 :] ** 2))

    assert abs(removed(limited) - limit) < 1.0
    full = DeepFilterNet3()
    assert full.name == "dfn3" and removed(full) > 30.0


def test_dfn3_rejects_a_limit_that_is_not_positive():
    for bad in (0.0, -6.0, float("nan")):
        with pytest.raises(ConfigError, match="atten_lim_db"):
            DeepFilterNet3(atten_lim_db=bad)


def test_auto_policy_by_snr_and_noise_kind():
    strong, gentle = SpectralGate(), SpectralGate(prop_decrease=0.5)
    auto = AutoDenoiser(strong=strong, babble=gentle)
    low, high = AUTO_SNR_THRESHOLD_DB - 5, AUTO_SNR_THRESHOLD_DB + 5
    assert auto.choose(low, modulation=0.3) is strong  # stationary noise
    assert auto.choose(low, modulation=1.3) is gentle  # babble
    assert auto.choose(low, modulation=13.0).name == "off"  # reverberant tails, other talkers
    assert auto.choose(high, modulation=1.3).name == "off"  # not noisy enough
    assert AutoDenoiser(max_babble_modulation=1.0).choose(low, 1.3).name == "off"  # branch off
    default = AutoDenoiser().babble
    assert isinstance(default, DeepFilterNet3) and default.atten_lim_db == AUTO_BABBLE_ATTEN_LIM_DB


def test_auto_policy_picks_by_snr():
    auto = AutoDenoiser(strong=SpectralGate())
    assert auto.choose(AUTO_SNR_THRESHOLD_DB - 1).name == "gate"
    assert auto.choose(AUTO_SNR_THRESHOLD_DB + 1).name == "off"
    assert auto.choose(float("nan")).name == "off"


def test_auto_denoise_estimates_snr_itself(speech_with_pauses):
    x = speech_with_pauses
    auto = AutoDenoiser(threshold_db=15.0, strong=SpectralGate(stationary=True))
    noisy = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=1), 0.0)
    assert not np.array_equal(auto.denoise(noisy, SR), noisy)  # 0 dB < 15 dB: gated
    quiet = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=1), 40.0)
    assert np.array_equal(auto.denoise(quiet, SR), quiet)  # 40 dB: untouched


def test_policies_by_name():
    assert isinstance(get_denoiser("off"), NoDenoiser)
    assert get_denoiser("gate-stationary").stationary
    assert isinstance(get_denoiser("auto"), AutoDenoiser)
    for name in ("off", "gate", "dfn3", "auto"):
        assert isinstance(get_denoiser(name), Denoiser)
    mine = NoDenoiser()
    assert get_denoiser(mine) is mine
    with pytest.raises(ConfigError, match="unknown denoise policy"):
        get_denoiser("wiener")
    assert get_denoiser("dfn3-lim6").atten_lim_db == 6.0
    for bad in ("dfn3-lim", "dfn3-limx", "dfn3-lim-3"):
        with pytest.raises(ConfigError, match="dfn3-lim<N>"):
            get_denoiser(bad)


def test_a_misspelt_policy_fails_when_the_embedder_is_built():
    from voxref import Embedder

    with pytest.raises(ConfigError, match="unknown denoise policy 'dfn'"):
        Embedder(denoise="dfn")
    assert Embedder(denoise="dfn3-lim9") is not None


def test_dfn3_spare_state_gives_the_output_of_a_state_made_on_the_spot(pair, dfn3_out):
    """Each call takes a state made ahead; a state used once more would carry its buffers over."""
    lib, model = dfn3_module._runtime()
    noisy = pair[1]
    x48 = dfn3_module.resample(noisy, SR, dfn3_module.DFN3_SAMPLE_RATE)

    def on_the_spot(state) -> np.ndarray:
        n, out = state.frame_length, []
        buf = np.zeros(-(-(len(x48) + dfn3_module.DFN3_DELAY_48K) // n) * n, np.float32)
        buf[: len(x48)] = x48
        for i in range(len(buf) // n):
            y = np.empty(n, np.float32)
            f = np.ascontiguousarray(buf[i * n : (i + 1) * n])
            lib.df_process_frame(
                state.ptr,
                f.ctypes.data_as(dfn3_module._FLOAT_P),
                y.ctypes.data_as(dfn3_module._FLOAT_P),
            )
            out.append(y)
        return np.concatenate(out)[dfn3_module.DFN3_DELAY_48K :][: len(x48)]

    with dfn3_module._State(lib, model, 100.0) as fresh:
        expected = on_the_spot(fresh)
        reused = on_the_spot(fresh)  # the same state again: its memory changes the output
    frames = DeepFilterNet3(engine="frames")
    got, _ = frames.process_48k(x48)
    assert np.array_equal(got, expected)
    assert not np.array_equal(reused, expected)
    first = frames.denoise(noisy, SR)
    # the pool keeps one spare per attenuation limit, made on a background thread
    thread, _ = dfn3_module._SPARES._pending[100.0]
    thread.join()
    assert np.array_equal(frames.denoise(noisy, SR), first)
