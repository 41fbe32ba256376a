"""The trainable pooling head: masks, permutation invariance, gradients, checkpoints, vCLUB."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from voxref.embedder.pooling.head import CHECKPOINT_FORMAT, AttentivePooling  # noqa: E402
from voxref.embedder.pooling.quality import RefQuality, quality_features  # noqa: E402
from voxref.errors import (  # noqa: E402
    CheckpointError,
    ConfigError,
    MissingCheckpointError,
    UnsafeCheckpointError,
)


@pytest.fixture(scope="module")
def head() -> AttentivePooling:
    h = AttentivePooling(dim=256, seed=0)
    with torch.no_grad():  # non-trivial attention: random queries / head mix instead of the init
        g = torch.Generator().manual_seed(1)
        h.query.copy_(3.0 * torch.randn(h.query.shape, generator=g))
        h.head_logits.copy_(torch.randn(h.head_logits.shape, generator=g))
    return h.eval()


@pytest.fixture(scope="module")
def ref_set(utterance_embeddings, noisy_embeddings):
    """5 real GE2E references of one speaker (3 clean, 2 noisy) + their quality features."""
    spk = "espeak-rp-m7"
    e = np.concatenate(
        [utterance_embeddings[spk][:3], noisy_embeddings[spk][3:], noisy_embeddings[spk][:1]]
    )
    q = [RefQuality(snr_db=40.0, speech_s=3.0)] * 3 + [RefQuality(snr_db=0.0, speech_s=3.0)] * 2
    return torch.from_numpy(e), torch.from_numpy(quality_features(q))


def test_padded_slots_change_nothing_and_get_zero_weight(head, ref_set):
    e, q = ref_set
    with torch.no_grad():
        ref_emb, ref_w = head(e[:2][None], q[:2][None])
        garbage = torch.randn(1, 3, 256, generator=torch.Generator().manual_seed(3))
        e_pad = torch.cat([e[:2][None], garbage], dim=1)
        q_pad = torch.cat([q[:2][None], torch.randn(1, 3, q.shape[1])], dim=1)
        mask = torch.tensor([[True, True, False, False, False]])
        emb, w = head(e_pad, q_pad, mask)
    torch.testing.assert_close(emb, ref_emb, atol=1e-6, rtol=0)
    torch.testing.assert_close(w[:, :2], ref_w, atol=1e-6, rtol=0)
    assert torch.all(w[:, 2:] == 0)


def test_variable_set_sizes_in_one_batch(head, ref_set):
    e, q = ref_set
    mask = torch.tensor(
        [[True] * 5, [True, True, True, False, False], [True, False, False, False, False]]
    )
    batch_e, batch_q = e[None].repeat(3, 1, 1), q[None].repeat(3, 1, 1)
    with torch.no_grad():
        emb, w = head(batch_e, batch_q, mask)
        for i, n in enumerate((5, 3, 1)):
            emb_i, w_i = head(e[:n], q[:n])
            torch.testing.assert_close(emb[i], emb_i, atol=1e-6, rtol=0)
            torch.testing.assert_close(w[i, :n], w_i, atol=1e-6, rtol=0)
    torch.testing.assert_close(w.sum(1), torch.ones(3))
    # one reference -> that reference
    torch.testing.assert_close(
        emb[2], torch.nn.functional.normalize(e[0], dim=0), atol=1e-6, rtol=0
    )
    with pytest.raises(ConfigError):
        head(batch_e, batch_q, torch.zeros(3, 5, dtype=torch.bool))


def test_permutation_invariance(head, ref_set):
    e, q = ref_set
    with torch.no_grad():
        emb, w = head(e, q)
        assert float(w.max() - w.min()) > 0.01  # the weights are not trivially uniform
        for seed in range(4):
            perm = torch.randperm(5, generator=torch.Generator().manual_seed(seed))
            emb_p, w_p = head(e[perm], q[perm])
            torch.testing.assert_close(emb_p, emb, atol=1e-5, rtol=0)
            torch.testing.assert_close(w_p, w[perm], atol=1e-5, rtol=0)


def test_gradients_reach_every_parameter(ref_set):
    e, q = ref_set
    h = AttentivePooling(dim=256, seed=0).train()
    batch = torch.stack([e, e.flip(0)])
    mask = torch.tensor([[True] * 5, [True, True, True, True, False]])
    emb, _ = h(batch, q[None].repeat(2, 1, 1), mask)
    target = torch.nn.functional.normalize(e[:3].mean(0), dim=0)
    (1 - emb @ target).sum().backward()
    for name, p in h.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert sum(float(p.grad.abs().sum()) for p in h.parameters()) > 0


def test_checkpoint_round_trip_gives_identical_outputs(head, ref_set, tmp_path):
    e, q = ref_set
    path = head.save(tmp_path / "head.pt", metadata={"note": "test", "eer": [1.5, 2.0]})
    raw = torch.load(path, weights_only=True)  # plain dict of tensors and python values
    assert raw["format"] == CHECKPOINT_FORMAT and raw["config"]["dim"] == 256
    loaded = AttentivePooling.load(path)
    assert loaded.metadata == {"note": "test", "eer": [1.5, 2.0]}
    with torch.no_grad():
        a, wa = head(e, q)
        b, wb = loaded(e, q)
    assert torch.equal(a, b) and torch.equal(wa, wb)
    emb_np, w_np = loaded.pool(e.numpy(), [{"snr_db": 40.0}] * 3 + [{"snr_db": 0.0}] * 2)
    assert emb_np.dtype == np.float32 and abs(float(np.linalg.norm(emb_np)) - 1) < 1e-5


def test_checkpoint_errors(tmp_path):
    with pytest.raises(MissingCheckpointError):
        AttentivePooling.load(tmp_path / "missing.pt")

    from fractions import Fraction

    evil = tmp_path / "evil.pt"  # a pickled Python object: not loadable weights-only
    torch.save({"format": CHECKPOINT_FORMAT, "obj": Fraction(1, 3)}, evil)
    with pytest.raises(UnsafeCheckpointError):
        AttentivePooling.load(evil)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError):
        AttentivePooling.load(other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        AttentivePooling.load(garbage)
    bad_config = tmp_path / "bad_config.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "config": {"bogus": 1}, "state_dict": {}}, bad_config)
    with pytest.raises(CheckpointError, match="config"):
        AttentivePooling.load(bad_config)
    wrong_shapes = tmp_path / "wrong_shapes.pt"
    AttentivePooling(dim=8, seed=0).save(wrong_shapes)
    ckpt = torch.load(wrong_shapes, weights_only=True)
    ckpt["config"]["dim"] = 16
    torch.save(ckpt, wrong_shapes)
    with pytest.raises(CheckpointError, match="do not match"):
        AttentivePooling.load(wrong_shapes)


def test_construction_is_seeded_and_leaves_global_rng_alone():
    before = torch.random.get_rng_state()
    a, b = AttentivePooling(dim=8, seed=5), AttentivePooling(dim=8, seed=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    for (na, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), na


def _toy_batch(g: torch.Generator, n_sets: int = 64, n_refs: int = 4, dim: int = 8):
    """Toy reference sets: speaker direction in dims 0-5 plus a nuisance shift along dim 6.

    Each reference is shifted by ``a_i * u`` with ``a_i`` in {0, 1.5}; the set's nuisance label is
    ``mean(a_i)``. Uniform weights leak the label into the pooled embedding; a head can hide it by
    weighting the unshifted references.
    """
    spk = torch.nn.functional.pad(torch.randn(n_sets, 1, 6, generator=g), (0, dim - 6))
    a = 1.5 * torch.randint(0, 2, (n_sets, n_refs, 1), generator=g).float()
    u = torch.zeros(dim)
    u[6] = 1.0
    e = spk + a * u + 0.1 * torch.randn(n_sets, n_refs, dim, generator=g)
    return torch.nn.functional.normalize(e, dim=-1), a.mean(dim=1)


def _fit_mi(x: torch.Tensor, y: torch.Tensor) -> float:
    """vCLUB estimate (nats) after fitting a fresh estimator on ``(x, y)``."""
    from voxref.losses import VCLUB

    club = VCLUB(x.shape[1], y.shape[1], hidden=32, seed=0)
    opt = torch.optim.Adam(club.parameters(), lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        club.learning_loss(x, y).backward()
        opt.step()
    with torch.no_grad():
        return float(club(x, y, torch.Generator().manual_seed(0)))


def _linear_r2(x: torch.Tensor, y: torch.Tensor) -> float:
    """R^2 of the best linear prediction of ``y`` from ``x`` (an estimator-free leak measure)."""
    design = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    coef = torch.linalg.lstsq(design, y).solution
    return float(1 - (y - design @ coef).var() / y.var())


def _train_toy(lambda_mi: float) -> tuple[float, float]:
    """Same head, data and main loss; only the vCLUB penalty weight differs."""
    from voxref.losses import VCLUB, MIRegularizer

    g = torch.Generator().manual_seed(0)
    h = AttentivePooling(dim=8, quality_dim=1, hidden=16, heads=2, embedding_dim=4, seed=0)
    club = VCLUB(8, 1, hidden=32, seed=0)
    reg = MIRegularizer(
        club, torch.optim.Adam(club.parameters(), lr=1e-2), lambda_mi=lambda_mi, steps=5
    )
    opt = torch.optim.Adam(h.parameters(), lr=1e-2)
    for _ in range(100):
        e, y = _toy_batch(g)
        pooled, _ = h(e)
        x = pooled * np.sqrt(8)  # unit-norm rows -> ~unit variance per dimension for vCLUB
        # main loss: stay close to the plain mean (which keeps the nuisance)
        loss = (1 - (pooled * torch.nn.functional.normalize(e.mean(1), dim=-1)).sum(-1)).mean()
        if lambda_mi > 0:
            reg.update_estimator(x, y)
            loss = loss + reg.penalty(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        e, y = _toy_batch(torch.Generator().manual_seed(99), n_sets=512)
        x = h(e)[0] * np.sqrt(8)
    return _fit_mi(x, y), _linear_r2(x, y)


def test_vclub_penalty_reduces_nuisance_information():
    mi_without, r2_without = _train_toy(0.0)
    mi_with, r2_with = _train_toy(1.0)
    # without the penalty the pooled embedding predicts the set's nuisance well ...
    assert r2_without > 0.6 and mi_without > 0.25
    # ... with it, the head learns to weight the unshifted references and the leak is gone
    assert r2_with < 0.2
    assert mi_with < 0.6 * mi_without
