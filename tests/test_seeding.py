"""seeded_init: the same seed gives the same weights in every voxref module that makes weights,
and the caller's global torch RNG is never changed (also when the block raises)."""

from __future__ import annotations

import pytest
import torch

from voxref.seeding import seeded_init


def _weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _builders():
    from voxref.embedder.pooling.head import AttentivePooling
    from voxref.separation.extractor import TargetExtractor
    from voxref.separation.overlap_detector import SpeakerCountNet
    from voxref.separation.separator import TwoSpeakerSeparator

    return {
        "separator": lambda seed: TwoSpeakerSeparator(
            channels=8, hidden=8, blocks=2, repeats=1, seed=seed
        ),
        "extractor": lambda seed: TargetExtractor(hidden=8, layers=1, seed=seed),
        "counter": lambda seed: SpeakerCountNet(channels=8, hidden=4, seed=seed),
        "pooling head": lambda seed: AttentivePooling(hidden=16, heads=2, seed=seed),
    }


@pytest.mark.parametrize("name", ["separator", "extractor", "counter", "pooling head"])
def test_modules_are_reproducible_and_leave_global_rng(name):
    build = _builders()[name]
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b, c = _weights(build(0)), _weights(build(0)), _weights(build(1))
    assert torch.equal(torch.random.get_rng_state(), before), "global RNG state changed"
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, z) for x, z in zip(a, c, strict=True))


def test_unseeded_module_uses_global_rng():
    from voxref.separation.overlap_detector import SpeakerCountNet

    torch.manual_seed(5)
    a = _weights(SpeakerCountNet(channels=8, hidden=4))
    torch.manual_seed(5)
    b = _weights(SpeakerCountNet(channels=8, hidden=4))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    after = torch.random.get_rng_state()
    torch.manual_seed(5)
    assert not torch.equal(after, torch.random.get_rng_state()), "seed=None must draw from it"


def test_state_restored_when_block_raises():
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    with pytest.raises(RuntimeError), seeded_init(0):
        torch.rand(3)
        raise RuntimeError("boom")
    assert torch.equal(torch.random.get_rng_state(), before)
