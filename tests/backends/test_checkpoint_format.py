"""voxref's own checkpoint format: GE2E round trip (bit-identical), ECAPA/x-vector, validation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from voxref.embedder.checkpoint import (
    EncoderCheckpoint,
    build_network,
    load_checkpoint,
    save_checkpoint,
)
from voxref.embedder.ge2e import CheckpointGE2EEncoder, GE2EEncoder, bundled_weights_path
from voxref.embedder.loader import detect_format, load_pretrained
from voxref.embedder.testing import TINY_CONFIGS, make_voxref_checkpoint
from voxref.errors import (
    CheckpointError,
    ConfigError,
    MissingCheckpointError,
    UnsafeCheckpointError,
)
from voxref.pipeline import Embedder
from voxref.seeding import seeded_init


@pytest.fixture(scope="module")
def ge2e() -> GE2EEncoder:
    return GE2EEncoder()


def _bundled_state() -> dict:
    state = torch.load(bundled_weights_path(), map_location="cpu", weights_only=True)
    state = state.get("model_state", state)
    return {k: v for k, v in state.items() if not k.startswith("similarity")}


def test_bundled_ge2e_saved_in_voxref_format_is_bit_identical(tmp_path, ge2e, clip):
    path = save_checkpoint(tmp_path / "ge2e.pt", "ge2e-lstm", None, _bundled_state())
    enc = load_pretrained(path)
    assert isinstance(enc, CheckpointGE2EEncoder) and isinstance(enc, GE2EEncoder)
    assert enc.dimension == 256 and enc.sample_rate == 16000
    np.testing.assert_array_equal(enc.embed_utterance(clip), ge2e.embed_utterance(clip))
    a, b = enc.embed_windows(clip), ge2e.embed_windows(clip)
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(a.starts, b.starts)


def test_fine_tuned_ge2e_loads_back_and_its_network_matches_the_encoder(tmp_path, ge2e, clip):
    g = torch.Generator().manual_seed(3)
    tuned = {k: v + 0.01 * torch.randn(v.shape, generator=g) for k, v in _bundled_state().items()}
    path = save_checkpoint(
        tmp_path / "tuned", "ge2e-lstm", {}, tuned, metadata={"epochs": 2, "loss": "ge2e"}
    )
    assert path.name == "encoder.pt" and (tmp_path / "tuned" / "encoder.json").is_file()
    enc = load_pretrained(tmp_path / "tuned")
    assert isinstance(enc, GE2EEncoder)
    e_tuned, e_orig = enc.embed_utterance(clip), ge2e.embed_utterance(clip)
    cos = float(e_tuned @ e_orig)
    assert 0.5 < cos < 1 - 1e-4  # the weights moved, not the space
    # the trainable network (waveform in) computes what the encoder computes (mels in)
    net = load_checkpoint(path).build_network()
    window = clip[:25440]  # 160 frames: GE2E's partial
    with torch.inference_mode():
        direct = net(torch.from_numpy(window)[None]).numpy()[0]
    np.testing.assert_allclose(direct, enc.embed_batch(window[None])[0], atol=1e-6)
    assert load_checkpoint(path).metadata["epochs"] == 2


@pytest.mark.parametrize(
    "architecture, dim", [("ge2e-lstm", 256), ("ecapa-tdnn", 192), ("xvector-tdnn", 512)]
)
def test_tiny_checkpoints_round_trip(tmp_path, architecture, dim, clip):
    path = make_voxref_checkpoint(tmp_path / "enc.pt", architecture, seed=5)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, EncoderCheckpoint) and ckpt.architecture == architecture
    for k, v in TINY_CONFIGS[architecture].items():
        assert ckpt.config[k] == v
    side = json.loads((tmp_path / "enc.json").read_text())
    assert side["format"] == "voxref-encoder" and side["architecture"] == architecture
    assert side["num_parameters"] == sum(t.numel() for t in ckpt.state_dict.values())
    # the same seed gives the same weights; another seed does not
    again = load_checkpoint(make_voxref_checkpoint(tmp_path / "again.pt", architecture, seed=5))
    other = load_checkpoint(make_voxref_checkpoint(tmp_path / "other.pt", architecture, seed=6))
    for k, v in ckpt.state_dict.items():
        torch.testing.assert_close(v, again.state_dict[k], rtol=0, atol=0)
    assert any(not torch.equal(v, other.state_dict[k]) for k, v in ckpt.state_dict.items())

    enc = load_pretrained(path)
    assert enc.dimension == dim
    e1, e2 = enc.embed_utterance(clip), load_pretrained(path).embed_utterance(clip)
    assert e1.shape == (dim,) and e1.dtype == np.float32
    assert abs(float(np.linalg.norm(e1)) - 1) < 1e-5
    np.testing.assert_array_equal(e1, e2)  # bit-identical across loads
    w = enc.embed_windows(clip)
    np.testing.assert_allclose(np.linalg.norm(w.embeddings, axis=1), 1, atol=1e-5)
    v = Embedder(encoder=enc).embed([(clip, 16000)])
    assert v.shape == (dim,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5


def test_own_ecapa_computes_what_speechbrain_computes(tmp_path, sb_ecapa_dir, clip):
    """Weights from SpeechBrain's embedding_model.ckpt in voxref's format: same embeddings."""
    cfg = {**TINY_CONFIGS["ecapa-tdnn"], "se_channels": 128}  # the SB dir keeps SB's default
    net = build_network("ecapa-tdnn", cfg)
    sb_state = torch.load(sb_ecapa_dir / "embedding_model.ckpt", weights_only=True)
    state = net.state_dict()
    state.update({f"embedding_model.{k}": v for k, v in sb_state.items()})
    path = save_checkpoint(tmp_path / "ecapa.pt", "ecapa-tdnn", cfg, state)
    ours = load_pretrained(path)
    theirs = load_pretrained(sb_ecapa_dir)
    x = np.stack([clip[:32000], clip[8000:40000]])
    np.testing.assert_allclose(ours.embed_batch(x), theirs.embed_batch(x), rtol=1e-5, atol=1e-6)


def test_malicious_voxref_checkpoint_is_refused_and_never_runs(tmp_path, payload):
    evil, marker = payload
    obj = {
        "format": "voxref-encoder",
        "version": 1,
        "architecture": "ge2e-lstm",
        "config": {},
        "state_dict": {"lstm.weight_ih_l0": evil},
    }
    torch.save(obj, tmp_path / "evil.pt")
    torch.save(evil, tmp_path / "bare.pt")
    for name in ("evil.pt", "bare.pt"):
        with pytest.raises(UnsafeCheckpointError, match="open"):
            load_pretrained(tmp_path / name)
        with pytest.raises(UnsafeCheckpointError):
            load_checkpoint(tmp_path / name)
    assert not marker.exists()
    # control: the payload is real (an unrestricted unpickle runs it)
    torch.load(tmp_path / "bare.pt", weights_only=False)
    assert marker.exists()


def test_modified_checkpoint_fails_its_sidecar_checksum(tmp_path):
    path = make_voxref_checkpoint(tmp_path / "enc", "ge2e-lstm")
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(path)


def test_invalid_configs_and_versions(tmp_path):
    with pytest.raises(ConfigError, match="unknown encoder architecture"):
        build_network("transformer-xl")
    with pytest.raises(ConfigError, match="unknown ge2e-lstm config"):
        build_network("ge2e-lstm", {"hiden_size": 3})
    with pytest.raises(ConfigError, match="GE2E front end"):
        build_network("ge2e-lstm", {"n_mels": 80})
    net = build_network("ge2e-lstm", TINY_CONFIGS["ge2e-lstm"])
    with pytest.raises(ConfigError, match="plain JSON"):
        save_checkpoint(tmp_path / "a.pt", "ge2e-lstm", None, net.state_dict(), metadata={"x": {1}})
    torch.save(
        {"format": "voxref-encoder", "version": 99, "architecture": "ge2e-lstm", "state_dict": {}},
        tmp_path / "future.pt",
    )
    with pytest.raises(CheckpointError, match="upgrade voxref"):
        load_checkpoint(tmp_path / "future.pt")
    # weights that do not fit the config
    path = save_checkpoint(tmp_path / "b.pt", "ge2e-lstm", {"hidden_size": 32}, net.state_dict())
    with pytest.raises(CheckpointError, match="do not fit"):
        load_pretrained(path).embed_utterance(np.zeros(16000, dtype=np.float32))


def test_detect_format_and_missing_paths(tmp_path, sb_ecapa_dir):
    ge2e_file = make_voxref_checkpoint(tmp_path / "g.pt")
    assert detect_format(ge2e_file) == "voxref"
    assert detect_format(sb_ecapa_dir) == "speechbrain"
    assert detect_format(sb_ecapa_dir / "hyperparams.yaml") == "speechbrain"
    assert detect_format(bundled_weights_path()) == "ge2e"
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="does not recognise"):
        load_pretrained(tmp_path / "other.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="none of"):
        load_pretrained(tmp_path / "empty")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_pretrained(tmp_path / "junk.pt")
    for missing in (tmp_path / "nope.pt", "./nope", "a/b/c"):
        with pytest.raises(MissingCheckpointError):
            load_pretrained(missing)


def test_resemblyzer_style_checkpoint_loads_as_ge2e(tmp_path, ge2e, clip):
    shutil.copy(bundled_weights_path(), tmp_path / "pretrained.pt")
    enc = load_pretrained(tmp_path / "pretrained.pt")
    assert type(enc) is GE2EEncoder
    np.testing.assert_array_equal(enc.embed_utterance(clip), ge2e.embed_utterance(clip))


def test_seeded_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    with seeded_init(123):
        torch.rand(3)
    assert torch.equal(state, torch.random.get_rng_state())
