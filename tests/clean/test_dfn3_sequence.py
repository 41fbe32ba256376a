"""DeepFilterNet3 over the whole clip (onnxruntime) against the C runtime, frame by frame."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.cleaning import dfn3 as dfn3_module
from voxref.cleaning import dfn3_sequence
from voxref.cleaning.dfn3 import DFN3_DELAY_48K, DFN3_SAMPLE_RATE, DeepFilterNet3
from voxref.cleaning.snr import snr_against_reference
from voxref.errors import ConfigError

from .clean_signals import SR, add_noise, white_noise


@pytest.fixture(scope="module")
def noisy(speech_with_pauses) -> tuple[np.ndarray, np.ndarray]:
    """(clean, white noise at 5 dB): 4 s of real speech with a pause."""
    x = speech_with_pauses
    n = 4 * SR
    clean, mask = x.samples[:n], x.mask[:n]
    return clean, add_noise(clean, mask, white_noise(n, seed=11), 5.0)


def agreement_db(reference: np.ndarray, other: np.ndarray) -> float:
    """Energy of ``reference`` over the energy of the difference (dB)."""
    r = reference.astype(np.float64)
    return float(10 * np.log10(np.sum(r**2) / max(np.sum((r - other) ** 2), 1e-30)))


@pytest.mark.parametrize("limit", [100.0, 6.0])
def test_sequence_engine_gives_the_c_runtime_output(noisy, limit):
    clean, x = noisy
    frames = DeepFilterNet3(limit, engine="frames").denoise(x, SR)
    seq = DeepFilterNet3(limit).denoise(x, SR)
    assert seq.shape == x.shape and seq.dtype == np.float32
    assert agreement_db(frames, seq) > 60.0  # float rounding, not another enhancement
    # and it is the enhancement: the SNR goes up as with the runtime (less with a limit)
    gain = snr_against_reference(seq, clean) - snr_against_reference(x, clean)
    assert gain > (5.0 if limit >= 100 else 2.0), gain


def test_sequence_engine_gives_the_runtime_local_snr(noisy):
    from voxref.audio import resample

    x48 = resample(noisy[1], SR, DFN3_SAMPLE_RATE)
    _, lsnr_frames = DeepFilterNet3(engine="frames").process_48k(x48)
    _, lsnr_seq = DeepFilterNet3().process_48k(x48)
    assert lsnr_seq.shape == lsnr_frames.shape
    assert np.max(np.abs(lsnr_seq - lsnr_frames)) < 0.05
    assert np.ptp(lsnr_frames) > 10.0  # speech and pauses: the estimate moves


def test_near_silent_frames_go_through_the_c_runtime(speech_with_pauses):
    """The runtime stops after 5 near-silent frames in a row; the sequence path leaves those
    clips to it, so the output is the runtime's, bit for bit."""
    x = speech_with_pauses.samples[: 3 * SR].copy()
    x[SR : SR + SR // 5] = 0.0  # 200 ms of digital silence
    from voxref.audio import resample

    x48 = resample(x, SR, DFN3_SAMPLE_RATE)
    _, model_path = dfn3_module._runtime()
    assert dfn3_sequence.denoise_48k(x48, model_path, 100.0, DFN3_DELAY_48K) is None
    a = DeepFilterNet3(engine="frames").denoise(x, SR)
    b = DeepFilterNet3().denoise(x, SR)
    assert np.array_equal(a, b)


def test_erb_bands_cover_the_spectrum_as_libdf():
    w = dfn3_sequence.erb_widths()
    assert w.sum() == 481 and len(w) == 32
    assert np.all(w >= 2) and np.all(np.diff(w[4:]) >= 0)  # at least 2 bins, widening upwards


def test_unknown_engine_is_refused():
    with pytest.raises(ConfigError, match="engine"):
        DeepFilterNet3(engine="gpu")


def test_a_clip_over_the_sequence_limit_goes_through_the_c_runtime(monkeypatch, noisy):
    """Memory: the sequence path holds every frame's activations; long clips are left to the
    runtime (frame by frame), whose output they then get bit for bit."""
    monkeypatch.setattr(dfn3_sequence, "MAX_SEQUENCE_SECONDS", 1.0)
    x = noisy[1][: 2 * SR]
    assert np.array_equal(
        DeepFilterNet3().denoise(x, SR), DeepFilterNet3(engine="frames").denoise(x, SR)
    )


def test_decoders_side_by_side_give_the_same_output(noisy):
    """With two torch threads the two decoders run at once: the same graphs, the same output."""
    import torch

    x = noisy[1][: 2 * SR]
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = DeepFilterNet3().denoise(x, SR)
        torch.set_num_threads(2)
        two = DeepFilterNet3().denoise(x, SR)
    finally:
        torch.set_num_threads(n)
    assert np.array_equal(one, two)
    assert dfn3_sequence._POOL  # the pool was used
