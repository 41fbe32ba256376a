"""Voice activity detection on real speech with silences at known places."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxref.audio import resample
from voxref.cleaning.vad import (
    EnergyVAD,
    SileroVAD,
    SpeechRegions,
    detect_speech,
    get_vad,
    regions_from_probabilities,
)
from voxref.errors import ConfigError

from .clean_signals import SR, add_noise, white_noise


def recall_precision(regions: SpeechRegions, truth_mask: np.ndarray) -> tuple[float, float]:
    pred = regions.mask(len(truth_mask), SR)
    tp = np.sum(pred & truth_mask)
    return tp / max(truth_mask.sum(), 1), tp / max(pred.sum(), 1)


@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_finds_the_inserted_silences(speech_with_pauses, vad):
    regions = detect_speech(speech_with_pauses.samples, SR, vad=vad)
    recall, precision = recall_precision(regions, speech_with_pauses.mask)
    assert recall >= 0.9 and precision >= 0.9, (recall, precision, regions.regions)
    # one region per utterance: each inserted silence (>= 0.9 s) splits the speech
    assert len(regions) == len(speech_with_pauses.spans)
    for (s, e), (ts, te) in zip(regions, speech_with_pauses.spans):
        assert abs(s - ts) < 0.25 and abs(e - te) < 0.25


def test_silero_in_white_noise_at_5_db(speech_with_pauses):
    x = speech_with_pauses
    noisy = add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=3), 5.0)
    recall, precision = recall_precision(detect_speech(noisy, SR), x.mask)
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)


def test_regions_are_on_the_input_timeline_at_other_rates(speech_with_pauses):
    ref = detect_speech(speech_with_pauses.samples, SR)
    for rate in (8000, 44100):
        got = detect_speech(resample(speech_with_pauses.samples, SR, rate), rate)
        assert got.duration == pytest.approx(ref.duration, abs=1e-3)
        assert len(got) == len(ref)
        for (a, b), (c, d) in zip(got, ref):
            assert abs(a - c) < 0.1 and abs(b - d) < 0.1


def test_noise_and_silence_have_no_speech():
    noise = 0.05 * white_noise(3 * SR, seed=0).astype(np.float32)
    assert detect_speech(noise, SR).is_empty
    quiet = 1e-4 * white_noise(3 * SR, seed=1).astype(np.float32)
    assert detect_speech(quiet, SR).is_empty
    assert detect_speech(quiet, SR, vad="energy").is_empty


def test_backends_give_the_same_probabilities(speech_with_pauses):
    x = speech_with_pauses.samples[: 4 * SR]
    p_seq = SileroVAD("onnx").probabilities(x)
    p_stream = SileroVAD("onnx-stream").probabilities(x)
    p_jit = SileroVAD("jit").probabilities(x)
    assert p_seq.shape == p_stream.shape == p_jit.shape == (int(np.ceil(len(x) / 512)),)
    np.testing.assert_allclose(p_seq, p_stream, atol=1e-6)
    np.testing.assert_allclose(p_seq, p_jit, atol=1e-4)
    assert p_seq.max() > 0.9 and p_seq.min() < 0.1  # it is speech with silence, not a constant


def test_probabilities_are_deterministic_and_independent_of_previous_calls(speech_with_pauses):
    vad = get_vad("silero")
    x = speech_with_pauses.samples
    first = vad.probabilities(x)
    vad.probabilities(white_noise(SR, seed=9).astype(np.float32))  # state must not leak
    assert np.array_equal(first, vad.probabilities(x))


def test_two_threads_share_the_model_safely(speech_with_pauses, utterances):
    vad = get_vad("silero")
    signals = [speech_with_pauses.samples, np.concatenate(utterances[sorted(utterances)[1]][:3])]
    expected = [vad.probabilities(s) for s in signals]
    results: dict[tuple[int, int], np.ndarray] = {}

    def work(i: int) -> None:
        for rep in range(4):
            results[(i, rep)] = vad.probabilities(signals[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (i, _), got in results.items():
        assert np.array_equal(got, expected[i])
    assert len(results) == 8


def test_model_is_loaded_once():
    assert get_vad("silero") is get_vad("silero")
    assert SileroVAD("onnx")._model is SileroVAD("onnx")._model


def test_unknown_vad_name():
    with pytest.raises(ConfigError, match="unknown vad"):
        get_vad("webrtc")


def test_energy_vad_is_a_detector():
    p = EnergyVAD().probabilities(np.zeros(SR, np.float32))
    assert p.shape == (32,) and np.all((p >= 0) & (p <= 1))


@settings(max_examples=60, deadline=None)
@given(
    probs=st.lists(st.floats(0, 1), min_size=0, max_size=120),
    pad=st.floats(0, 0.3),
    min_gap=st.floats(0, 0.5),
    min_speech=st.floats(0, 0.5),
)
def test_region_post_processing_invariants(probs, pad, min_gap, min_speech):
    hop = 0.032
    duration = len(probs) * hop
    regions = regions_from_probabilities(
        np.array(probs), hop, duration, pad=pad, min_gap=min_gap, min_speech=min_speech
    )
    flat = [t for r in regions for t in r]
    assert flat == sorted(flat)  # sorted, non-overlapping
    for s, e in regions:
        assert 0 <= s < e <= duration + 1e-9
        assert e - s >= min(min_speech, duration) - 1e-6
    # every frame above the threshold is either inside a region or part of a dropped short burst
    if min_speech == 0 and pad == 0:
        for i, p in enumerate(probs):
            if p >= 0.5:
                assert any(s - 1e-6 <= i * hop < e for s, e in regions)
