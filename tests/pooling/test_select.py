"""pool_references: one entry point for "attention" | "mean" | "trained" | checkpoint | module."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.embedder.pooling import attention_pool, mean_pool, pool_references
from voxref.embedder.pooling.select import default_head_path
from voxref.errors import ConfigError, MissingCheckpointError


def test_named_methods_match_the_functions(utterance_embeddings, noisy_embeddings):
    refs = np.concatenate(
        [utterance_embeddings["flite-slt"][:2], noisy_embeddings["flite-slt"][2:]]
    )
    q = [{"snr_db": 40.0}] * 2 + [{"snr_db": 0.0}] * 2
    for got, want in (
        (pool_references(refs, q), attention_pool(refs, q)),
        (
            pool_references(refs, q, "attention", min_effective=0.5),
            attention_pool(refs, q, min_effective=0.5),
        ),
        (pool_references(refs, q, "mean"), mean_pool(refs)),
    ):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    # the quality prior moves the result away from the plain mean
    assert float(pool_references(refs, q)[1][:2].sum()) > 0.9


def test_trained_uses_the_shipped_head_or_says_how_to_get_one(utterance_embeddings):
    refs = utterance_embeddings["flite-awb"]
    if default_head_path().is_file():
        emb, w = pool_references(refs, None, "trained")
        assert emb.shape == (256,) and w.shape == (4,)
        assert abs(float(w.sum()) - 1) < 1e-5 and abs(float(np.linalg.norm(emb)) - 1) < 1e-5
    else:
        with pytest.raises(MissingCheckpointError, match="attention"):
            pool_references(refs, None, "trained")


def test_shipped_head_drops_intruders_and_noisy_references(utterance_embeddings, noisy_embeddings):
    """What the shipped head learned (measured: intruder weight 0.027 on average, worst 0.27;
    0 dB references 0.001-0.005): another speaker's clip and 0 dB references lose their weight."""
    import itertools

    from voxref.embedder.pooling import RefQuality

    assert default_head_path().is_file(), "the shipped pooling head is missing from voxref/data"
    intruder_w = []
    for target, intruder in itertools.permutations(utterance_embeddings, 2):
        own = utterance_embeddings[target][:3]
        for j in range(4):
            refs = np.concatenate([own, utterance_embeddings[intruder][j : j + 1]])
            intruder_w.append(float(pool_references(refs, None, "trained")[1][-1]))
    assert np.mean(intruder_w) < 1.0 / (2 * 4) and np.median(intruder_w) < 0.05
    for spk in utterance_embeddings:
        refs = np.concatenate([utterance_embeddings[spk][:2], noisy_embeddings[spk][2:]])
        q = [RefQuality(snr_db=40.0, speech_s=3.0)] * 2 + [RefQuality(snr_db=0.0, speech_s=3.0)] * 2
        w = pool_references(refs, q, "trained")[1]
        assert w[2:].max() < 0.05 and w[:2].min() > 0.2


def test_checkpoint_path_and_module(utterance_embeddings, tmp_path):
    torch = pytest.importorskip("torch")
    from voxref.embedder.pooling.head import AttentivePooling

    refs = utterance_embeddings["espeak-gb-f2"]
    head = AttentivePooling(dim=256, seed=0)
    with torch.no_grad():
        head.query.mul_(5.0)
    path = head.save(tmp_path / "head.pt")
    by_module = pool_references(refs, None, head)
    by_path = pool_references(refs, None, path)
    by_str = pool_references(refs, None, str(path))
    for got in (by_path, by_str):
        np.testing.assert_array_equal(got[0], by_module[0])
        np.testing.assert_array_equal(got[1], by_module[1])


def test_unknown_method_and_bad_options(utterance_embeddings):
    refs = utterance_embeddings["espeak-gb-f2"]
    with pytest.raises(ConfigError, match="unknown pooling"):
        pool_references(refs, None, "median")
    with pytest.raises(ConfigError):
        pool_references(refs, None, 42)
    with pytest.raises(ConfigError):
        pool_references(refs, None, "mean", temperature=0.1)
    with pytest.raises(ConfigError):
        pool_references(refs[0], None, "mean")
