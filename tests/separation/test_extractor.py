"""TargetExtractor: mask range, lengths, level invariance, checkpoints, determinism, gradients,
that the guide conditions the mask (a tiny model learns to keep the guided one of two tones), and,
when a trained checkpoint is shipped, that it pulls a 0 dB mixture's embedding toward the target."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxref.errors import (
    AudioShapeError,
    CheckpointError,
    ConfigError,
    MissingCheckpointError,
    UnsafeCheckpointError,
)
from voxref.separation.extractor import TargetExtractor, default_checkpoint

SR = 16_000


def tiny(seed: int = 0, **kw) -> TargetExtractor:
    cfg = {"hidden": 16, "layers": 1, "embedding_dim": 8} | kw
    return TargetExtractor(seed=seed, **cfg)


def guide(i: int = 0, dim: int = 8) -> np.ndarray:
    g = np.random.default_rng(i).standard_normal(dim).astype(np.float32)
    return g / np.linalg.norm(g)


def noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def randomize_film(net: TargetExtractor, seed: int = 1) -> None:
    """The FiLM layers start as the identity; give them weights so the guide matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for film in (net.film_in, net.film_out):
            film.weight.copy_(0.5 * torch.randn(film.weight.shape, generator=gen))


@pytest.mark.parametrize("n", [16000, 12345, 700])
def test_mask_in_unit_interval_and_same_length(n):
    net = tiny()
    x = noise(n)
    y = net.extract(x, SR, guide())
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    spec = net.stft(torch.from_numpy(x)[None])
    m = net(spec.abs(), torch.from_numpy(guide())[None])
    m = m.detach()
    assert float(m.min()) >= 0.0 and float(m.max()) <= 1.0
    # masking can only remove energy from each bin: the output's STFT is never louder overall
    assert np.sum(y**2) <= np.sum(x**2) * 1.05


def test_other_sample_rate_keeps_length():
    x = noise(8000 * 2 + 3)
    assert tiny().extract(x, 8000, guide()).shape == x.shape


def test_mask_is_level_invariant():
    net = tiny()
    randomize_film(net)
    x = noise(16000, 3)
    y1 = net.extract(x, SR, guide())
    y10 = net.extract(10 * x, SR, guide())
    np.testing.assert_allclose(y10, 10 * y1, rtol=1e-3, atol=1e-4)


def test_guide_changes_the_output_and_is_normalised():
    net = tiny()
    randomize_film(net)
    x = noise(16000, 4)
    a = net.extract(x, SR, guide(0))
    b = net.extract(x, SR, guide(1))
    assert not np.allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(net.extract(x, SR, 3 * guide(0)), a, atol=1e-6)


def test_deterministic():
    x = noise(12000, 5)
    a = tiny(seed=3).extract(x, SR, guide())
    net = tiny(seed=3)
    assert np.array_equal(a, net.extract(x, SR, guide()))
    assert np.array_equal(a, net.extract(x, SR, guide()))
    assert not np.array_equal(a, tiny(seed=4).extract(x, SR, guide()))


def test_seed_does_not_touch_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny(seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_save_load_round_trip(tmp_path):
    net = tiny(seed=2)
    randomize_film(net)
    path = net.save(tmp_path / "ex.pt", metadata={"steps": 7})
    back = TargetExtractor.load(path)
    assert back.config == net.config and back.metadata == {"steps": 7}
    x = noise(9000, 6)
    assert np.array_equal(back.extract(x, SR, guide()), net.extract(x, SR, guide()))
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == "voxref.target_extractor/1"


def test_checkpoint_errors(tmp_path):
    with pytest.raises(MissingCheckpointError):
        TargetExtractor.load(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something-else", "state_dict": {}}, bad)
    with pytest.raises(CheckpointError):
        TargetExtractor.load(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        TargetExtractor.load(junk)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "voxref.target_extractor/1", "obj": ConfigError("x")}, unsafe)
    with pytest.raises(UnsafeCheckpointError):
        TargetExtractor.load(unsafe)
    wrong = tmp_path / "wrong.pt"
    net = tiny()
    net.save(wrong)
    ckpt = torch.load(wrong, weights_only=True)
    ckpt["config"]["hidden"] = 32
    torch.save(ckpt, wrong)
    with pytest.raises(CheckpointError):
        TargetExtractor.load(wrong)


def test_bad_inputs():
    net = tiny()
    with pytest.raises(ConfigError):
        net.extract(noise(4000), SR, np.ones(5, dtype=np.float32))
    with pytest.raises(AudioShapeError):
        net.extract(np.zeros((2, 100), dtype=np.float32), SR, guide())
    with pytest.raises(ConfigError):
        TargetExtractor(hop=0)


def test_gradients_reach_every_parameter():
    net = tiny()
    randomize_film(net)
    x = torch.from_numpy(noise(8000, 7))[None].repeat(2, 1)
    g = torch.from_numpy(np.stack([guide(0), guide(1)]))
    y, mask = net.separate(x, g)
    loss = (y - 0.5 * x).pow(2).mean() + mask.mean()
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_learns_to_follow_the_guide():
    """Two tones mixed; guide 0 asks for the low one, guide 1 for the high one."""
    t = np.arange(8000) / SR
    low = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    high = (0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    mix = torch.from_numpy(low + high)[None].repeat(2, 1)
    target = torch.from_numpy(np.stack([low, high]))
    g = torch.eye(4)[:2]
    net = TargetExtractor(hidden=16, layers=1, embedding_dim=4, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(60):
        gain = torch.exp(torch.randn(2, 1, generator=gen) * 0.3)
        spec_mix = net.stft(mix * gain)
        mask = net(spec_mix.abs(), g)
        loss = (mask * spec_mix.abs() - net.stft(target * gain).abs()).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    mixture = (low + high).astype(np.float32)
    got_low = net.extract(mixture, SR, g[0].numpy())
    got_high = net.extract(mixture, SR, g[1].numpy())

    def err(y, ref):
        return float(np.sum((y - ref) ** 2) / np.sum(ref**2))

    assert err(got_low, low) < 0.1 and err(got_high, high) < 0.1
    assert err(got_low, high) > 0.5 and err(got_high, low) > 0.5


def test_shipped_checkpoint_moves_a_0db_mixture_toward_the_target(voices, encoder):
    """No extractor ships today: loading the default must say how to train one. A shipped one
    must move a 0 dB mixture towards the target."""
    from voxref.augment.overlap import add_overlap
    from voxref.errors import MissingCheckpointError
    from voxref.separation.synthetic import SENTENCES, synthesize

    if not default_checkpoint().is_file():
        with pytest.raises(MissingCheckpointError, match="train_target_extractor"):
            TargetExtractor.load()
        return
    net = TargetExtractor.load()
    target_voice, other_voice = voices["espeak-us-m3"], voices["espeak-en-f4"]
    g = encoder.embed_utterance(synthesize(target_voice, SENTENCES[0]))
    gains = []
    for i in (1, 2, 3):
        clean = synthesize(target_voice, SENTENCES[i])
        other = synthesize(other_voice, SENTENCES[i + 5])
        mix = add_overlap(clean, SR, other, 0.0, 1.0, seed=i).samples
        ref = encoder.embed_utterance(clean)
        out = net.extract(mix, SR, g)
        gains.append(float(ref @ encoder.embed_utterance(out) - ref @ encoder.embed_utterance(mix)))
    assert np.mean(gains) > 0.0, gains
