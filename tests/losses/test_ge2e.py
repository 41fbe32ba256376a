"""GE2ELoss: equals a loop-based transcription of Wan et al. (2018), is minimal on clustered data."""

from __future__ import annotations

import math

import pytest
import torch

from voxref.errors import ConfigError
from voxref.losses import GE2ELoss, LossInputError, ge2e_similarity


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b) / (float(a.norm()) * float(b.norm()))


def loop_ge2e(
    e: torch.Tensor, w: float, b: float, variant: str, normalize: bool = True
) -> torch.Tensor:
    """Slow reference, one (j, i, k) at a time, straight from the paper's equations."""
    n_spk, n_utt, _ = e.shape
    if normalize:
        e = torch.stack(
            [torch.stack([e[j, i] / e[j, i].norm() for i in range(n_utt)]) for j in range(n_spk)]
        )
    losses = torch.zeros(n_spk, n_utt, dtype=torch.float64)
    for j in range(n_spk):
        for i in range(n_utt):
            scores = []
            for k in range(n_spk):
                if k == j:  # own centroid without the utterance itself
                    others = [e[j, m] for m in range(n_utt) if m != i]
                    centroid = sum(others) / (n_utt - 1)
                else:
                    centroid = sum(e[k, m] for m in range(n_utt)) / n_utt
                scores.append(w * _cos(e[j, i], centroid) + b)
            if variant == "softmax":
                losses[j, i] = -scores[j] + math.log(sum(math.exp(s) for s in scores))
            else:
                sig = [1.0 / (1.0 + math.exp(-s)) for s in scores]
                losses[j, i] = 1.0 - sig[j] + max(sig[k] for k in range(n_spk) if k != j)
    return losses


@pytest.mark.parametrize("variant", ["softmax", "contrast"])
@pytest.mark.parametrize("normalize", [True, False])
def test_equals_loop_reference(variant: str, normalize: bool) -> None:
    g = torch.Generator().manual_seed(123)
    e = torch.randn(5, 4, 7, generator=g, dtype=torch.float64) * torch.rand(
        5, 4, 1, generator=g, dtype=torch.float64
    )
    loss_fn = GE2ELoss(variant, normalize=normalize, reduction="none").double()
    with torch.no_grad():  # off the init values so that w and b are really used
        loss_fn.w.fill_(7.3)
        loss_fn.b.fill_(-2.1)
    expected = loop_ge2e(e, 7.3, -2.1, variant, normalize)
    got = loss_fn(e)
    assert got.shape == (5, 4)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    mean = GE2ELoss(variant, init_w=7.3, init_b=-2.1, normalize=normalize).double()(e)
    total = GE2ELoss(
        variant, init_w=7.3, init_b=-2.1, normalize=normalize, reduction="sum"
    ).double()(e)
    assert mean.item() == pytest.approx(expected.mean().item(), abs=1e-5)
    assert total.item() == pytest.approx(expected.sum().item(), abs=1e-5)


def test_equals_loop_reference_float32_default_parameters() -> None:
    e = torch.randn(4, 3, 16, generator=torch.Generator().manual_seed(7))
    expected = loop_ge2e(e.double(), 10.0, -5.0, "softmax").mean()
    assert GE2ELoss()(e).item() == pytest.approx(expected.item(), abs=1e-5)


def test_own_centroid_excludes_the_utterance() -> None:
    # speaker 0: utterances along +x and +y; leave-one-out centroid of utt 0 is +y -> cosine 0
    e = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]])
    cos = ge2e_similarity(e)
    assert cos[0, 0, 0].item() == pytest.approx(
        0.0, abs=1e-6
    )  # inclusive centroid would give 0.707
    assert cos[0, 0, 1].item() == pytest.approx(0.0, abs=1e-6)
    assert cos[1, 0, 1].item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("variant", ["softmax", "contrast"])
def test_minimal_on_clustered_speakers_and_larger_otherwise(variant: str) -> None:
    n_spk, n_utt = 4, 5
    clustered = torch.eye(n_spk)[:, None, :].expand(n_spk, n_utt, n_spk).clone()
    loss_fn = GE2ELoss(variant)
    at_optimum = loss_fn(clustered).item()
    # closed form with own cosine 1, other cosines 0, w=10, b=-5
    if variant == "softmax":
        expected = math.log(1.0 + (n_spk - 1) * math.exp(-10.0))
    else:
        expected = 2.0 / (1.0 + math.exp(5.0))
    assert at_optimum == pytest.approx(expected, abs=1e-6)  # float32 logsumexp
    assert GE2ELoss(variant, init_w=200.0, init_b=-100.0)(clustered).item() < 1e-6
    g = torch.Generator().manual_seed(0)
    perturbed = clustered + 0.3 * torch.randn(clustered.shape, generator=g)
    random = torch.randn(clustered.shape, generator=g)
    assert loss_fn(perturbed).item() > at_optimum + 1e-3
    assert loss_fn(random).item() > 10 * at_optimum


@pytest.mark.parametrize("variant", ["softmax", "contrast"])
def test_real_speaker_embeddings_grouped_right_beat_shuffled(variant, utterance_embeddings) -> None:
    e = torch.from_numpy(utterance_embeddings)  # (6 speakers, 4 utterances, 256), GE2E encoder
    n_spk, n_utt, dim = e.shape
    perm = torch.randperm(n_spk * n_utt, generator=torch.Generator().manual_seed(0))
    shuffled = e.reshape(-1, dim)[perm].reshape(n_spk, n_utt, dim)
    loss_fn = GE2ELoss(variant)
    # measured: softmax 0.21 vs 2.41, contrast 0.83 vs 1.14
    assert loss_fn(e).item() < loss_fn(shuffled).item() - 0.2


@pytest.mark.parametrize("variant", ["softmax", "contrast"])
def test_gradients_finite_and_reach_inputs_w_and_b(variant: str) -> None:
    e = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(1), requires_grad=True)
    loss_fn = GE2ELoss(variant)
    loss_fn(e).backward()
    for grad in (e.grad, loss_fn.w.grad, loss_fn.b.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_w_is_clamped_positive() -> None:
    e = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(2))
    loss_fn = GE2ELoss(init_w=-3.0, min_w=1e-6)
    s = loss_fn.similarity(e)
    # with w at its floor every score is b: the loss is log(N) for every utterance
    torch.testing.assert_close(s, torch.full_like(s, -5.0), atol=1e-5, rtol=0)
    assert loss_fn(e).item() == pytest.approx(math.log(3), abs=1e-5)


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(LossInputError, match="2 utterances"):
        GE2ELoss()(torch.randn(3, 1, 8))
    with pytest.raises(LossInputError, match="2 speakers"):
        GE2ELoss()(torch.randn(1, 4, 8))
    with pytest.raises(LossInputError, match="shape"):
        GE2ELoss()(torch.randn(12, 8))
    with pytest.raises(ConfigError, match="variant"):
        GE2ELoss("triplet")
    with pytest.raises(ConfigError, match="reduction"):
        GE2ELoss(reduction="avg")
