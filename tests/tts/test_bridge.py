"""Bridges recover known maps, save/load exactly, and wire real encoders together."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxref.errors import ConfigError, UnsafeCheckpointError
from voxref.tts.bridge import (
    MLPBridge,
    ProcrustesBridge,
    evaluate_bridge,
    fit_and_evaluate,
    fit_bridge,
    load_bridge,
    paired_embeddings,
)
from voxref.tts.export import export_speecht5


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _labels(n, per=10):
    return [f"spk{i // per:03d}" for i in range(n)]


def _orthogonal(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q


@pytest.mark.parametrize("ds, dt", [(32, 32), (48, 32), (24, 32)])
def test_procrustes_recovers_a_rotation_across_dimensions(unit_vectors, ds, dt):
    rng = np.random.default_rng(1)
    z = unit_vectors(400, min(ds, dt), seed=2)
    if ds > dt:  # source lives in a dt-dim subspace of R^ds: PCA finds it
        basis = np.linalg.qr(rng.standard_normal((ds, dt)))[0].T  # (dt, ds) orthonormal rows
        x, latent = z @ basis, z
    elif ds < dt:  # target is the zero-padded source, rotated
        x, latent = z, np.pad(z, ((0, 0), (0, dt - ds)))
    else:
        x, latent = z, z
    y = _unit(latent @ _orthogonal(dt, 3) + 0.01 * rng.standard_normal((400, dt)))
    bridge, report = fit_and_evaluate("procrustes", x, y, _labels(400), center=False)
    assert (bridge.source_dim, bridge.target_dim) == (ds, dt)
    assert report.test_cosine > 0.99
    assert report.test_cosine > report.baseline_cosine + 0.5
    assert report.structure_correlation > 0.99
    assert not set(report.test_speakers) & set(report.train_speakers)


def test_ridge_and_mlp_recover_maps(unit_vectors):
    x = unit_vectors(600, 32, seed=4)
    a = np.random.default_rng(5).standard_normal((32, 16))
    y_lin = _unit(x @ a)
    _, rep = fit_and_evaluate("ridge", x, y_lin, _labels(600), alpha=1e-3)
    assert rep.test_cosine > 0.995
    y_nonlin = _unit(np.maximum(x @ a, 0) + 0.1)  # post-ReLU, like GE2E embeddings
    _, rep_ridge = fit_and_evaluate("ridge", x, y_nonlin, _labels(600), alpha=1e-3)
    _, rep_mlp = fit_and_evaluate("mlp", x, y_nonlin, _labels(600), hidden=64, epochs=200)
    assert rep_mlp.test_cosine > 0.99  # measured 0.997
    assert rep_mlp.test_cosine > rep_ridge.test_cosine + 0.03  # ridge: 0.92


def test_unrelated_spaces_do_not_beat_the_input_blind_baseline(unit_vectors):
    x, y = unit_vectors(400, 32, seed=6), unit_vectors(400, 16, seed=7) + 0.5
    _, rep = fit_and_evaluate("ridge", x, _unit(y), _labels(400), alpha=10.0)
    assert rep.test_cosine < rep.baseline_cosine + 0.02
    assert abs(rep.structure_correlation) < 0.2


@pytest.mark.parametrize("kind", ["ridge", "procrustes", "mlp"])
def test_save_load_round_trip_is_exact(tmp_path, unit_vectors, kind):
    x, y = unit_vectors(200, 24, 8), unit_vectors(200, 16, 9)
    opts = {"epochs": 20} if kind == "mlp" else {}
    bridge = fit_bridge(
        kind, x, y, source_encoder={"name": "a"}, target_encoder={"name": "b"}, **opts
    )
    path = bridge.save(tmp_path / f"{kind}.pt")
    again = load_bridge(path)
    assert type(again) is type(bridge) and again.describe() == bridge.describe()
    np.testing.assert_array_equal(again.transform(x), bridge.transform(x))
    out = again.transform(x[0])
    assert out.shape == (16,) and abs(float(np.linalg.norm(out)) - 1) < 1e-5
    with pytest.raises(ConfigError, match="24-d"):
        again.transform(np.ones(7))


def test_mlp_is_deterministic_and_leaves_global_rng_alone(unit_vectors):
    x, y = unit_vectors(100, 16, 10), unit_vectors(100, 8, 11)
    state = torch.random.get_rng_state()
    a = MLPBridge(epochs=30, seed=3).fit(x, y)
    b = MLPBridge(epochs=30, seed=3).fit(x, y)
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(a.transform(x), b.transform(x))
    c = MLPBridge(epochs=30, seed=4).fit(x, y)
    assert not np.array_equal(a.transform(x), c.transform(x))


def test_bad_inputs(tmp_path, unit_vectors, payload):
    with pytest.raises(ConfigError, match="unknown bridge"):
        fit_bridge("cca", np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ConfigError, match="paired"):
        fit_bridge("ridge", np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ConfigError, match="not fitted"):
        ProcrustesBridge().transform(np.ones(3))
    evil, marker = payload
    torch.save({"format": "voxref-bridge", "tensors": {"w": evil}}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError):
        load_bridge(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.fixture(scope="module")
def paired_fixture_speech(speech_by_speaker, ge2e, tmp_path_factory):
    """GE2E (real) paired with a GE2E whose weights were perturbed (a related but different
    space), on the 24 fixture clips."""
    from voxref.embedder.checkpoint import save_checkpoint
    from voxref.embedder.ge2e import bundled_weights_path
    from voxref.embedder.loader import load_pretrained

    state = torch.load(bundled_weights_path(), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state["model_state"].items() if not k.startswith("similarity")}
    g = torch.Generator().manual_seed(1)
    tuned = {k: v + 0.02 * torch.randn(v.shape, generator=g) for k, v in state.items()}
    path = save_checkpoint(tmp_path_factory.mktemp("b") / "tuned.pt", "ge2e-lstm", None, tuned)
    clips = [str(p) for paths in speech_by_speaker.values() for p in paths]
    speakers = [s for s, paths in speech_by_speaker.items() for _ in paths]
    x, y = paired_embeddings(clips, ge2e, load_pretrained(path))
    return x, y, speakers


def test_bridge_between_real_encoder_spaces_fits_and_reports(paired_fixture_speech):
    """GE2E -> perturbed GE2E on real (synthetic-voice) audio.

    Only the fit and the report are asserted: 16 training pairs cannot determine a 256-d map,
    and on held-apart speakers no bridge beats the input-blind baseline here (measured: ridge
    0.82 vs 0.80). Real bridges need thousands of paired clips (see voxref.tts.bridge).
    """
    x, y, speakers = paired_fixture_speech
    assert x.shape == (24, 256) and y.shape == (24, 256)
    identity = float(np.mean(np.sum(x * y, axis=1)))  # the spaces differ: ~0.63
    assert identity < 0.9
    bridge, rep = fit_and_evaluate("ridge", x, y, speakers, seed=0)
    assert rep.num_train + rep.num_test == 24 and len(rep.test_speakers) == 2
    assert not set(rep.test_speakers) & set(rep.train_speakers)
    assert rep.train_cosine > max(identity, rep.baseline_cosine) + 0.1  # it does fit
    held = np.isin(speakers, rep.test_speakers)
    again = evaluate_bridge(bridge, x[held], y[held])
    assert again["mean_cosine"] == pytest.approx(rep.test_cosine)
    assert -1 <= rep.structure_correlation <= 1


def test_wiring_ge2e_to_random_encoders_and_speecht5(tmp_path, speech_by_speaker, ge2e):
    """Wiring only: random target weights make the numbers meaningless."""
    from voxref.embedder.loader import load_pretrained
    from voxref.embedder.testing import make_voxref_checkpoint

    xvec = load_pretrained(make_voxref_checkpoint(tmp_path / "x.pt", "xvector-tdnn"))
    clips = [str(p) for paths in speech_by_speaker.values() for p in paths[:2]]
    speakers = [s for s, paths in speech_by_speaker.items() for _ in paths[:2]]
    x, y = paired_embeddings(clips, ge2e, xvec)
    assert x.shape == (12, 256) and y.shape == (12, 512)
    bridge, rep = fit_and_evaluate(
        "procrustes", x, y, speakers, source_encoder=ge2e, target_encoder=xvec
    )
    for value in (rep.train_cosine, rep.test_cosine, rep.baseline_cosine):
        assert -1 <= value <= 1
    assert bridge.describe()["source_encoder"]["name"] == "ge2e-resemblyzer"
    path = export_speecht5(x[0], tmp_path / "spk.pt", bridge=bridge)
    assert tuple(torch.load(path).shape) == (1, 512)
