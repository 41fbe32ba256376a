"""AAMSoftmax: equals a per-sample transcription of ArcFace, reduces to cosine softmax at m=0."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from voxref.errors import ConfigError
from voxref.losses import AAMSoftmax, LossInputError


def slow_aam(
    x: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, m: float, s: float, easy: bool
) -> torch.Tensor:
    """Per-sample reference through the angle itself: theta = acos(cos), psi = cos(theta + m)."""
    losses = []
    for row, label in zip(x, labels.tolist()):
        logits = []
        for c, w in enumerate(weight):
            cos = float(row @ w) / (float(row.norm()) * float(w.norm()))
            if c == label:
                theta = math.acos(max(-1.0, min(1.0, cos)))
                if easy:
                    cos = math.cos(theta + m) if cos > 0 else cos
                elif theta + m <= math.pi:
                    cos = math.cos(theta + m)
                else:  # past pi the margin would reward moving away: linear fallback
                    cos = cos - math.sin(m) * m
            logits.append(s * cos)
        log_norm = math.log(sum(math.exp(v - max(logits)) for v in logits)) + max(logits)
        losses.append(log_norm - logits[label])
    return torch.tensor(losses, dtype=torch.float64)


def _batch_with_wide_angles(weight: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random embeddings plus some pointing (almost) opposite their class, so theta + m > pi."""
    random = torch.randn(12, weight.shape[1], generator=g, dtype=weight.dtype)
    opposite = -weight[torch.tensor([0, 1, 2])] + 0.05 * torch.randn(
        3, weight.shape[1], generator=g, dtype=weight.dtype
    )
    return torch.cat([random, opposite])


@pytest.mark.parametrize("easy_margin", [False, True])
def test_equals_slow_reference_including_theta_plus_m_beyond_pi(easy_margin: bool) -> None:
    g = torch.Generator().manual_seed(5)
    loss_fn = AAMSoftmax(
        10, 5, margin=0.2, scale=30.0, easy_margin=easy_margin, reduction="none", seed=0
    ).double()
    x = _batch_with_wide_angles(loss_fn.weight.detach(), g)
    labels = torch.cat([torch.randint(0, 5, (12,), generator=g), torch.tensor([0, 1, 2])])
    cos_target = loss_fn.cosine(x)[torch.arange(15), labels]
    assert (cos_target < math.cos(math.pi - 0.2)).sum() >= 3  # the fallback branch is exercised
    expected = slow_aam(x, loss_fn.weight.detach(), labels, 0.2, 30.0, easy_margin)
    torch.testing.assert_close(loss_fn(x, labels).detach(), expected, atol=1e-5, rtol=1e-7)


def test_float32_matches_reference_and_mean_reduction() -> None:
    g = torch.Generator().manual_seed(6)
    loss_fn = AAMSoftmax(16, 7, seed=1)
    x = torch.randn(20, 16, generator=g)
    labels = torch.randint(0, 7, (20,), generator=g)
    expected = slow_aam(x.double(), loss_fn.weight.detach().double(), labels, 0.2, 30.0, False)
    assert loss_fn(x, labels).item() == pytest.approx(expected.mean().item(), abs=1e-4)


def test_zero_margin_is_scaled_cosine_cross_entropy() -> None:
    g = torch.Generator().manual_seed(7)
    loss_fn = AAMSoftmax(12, 6, margin=0.0, scale=30.0, seed=2)
    x = torch.randn(32, 12, generator=g)
    labels = torch.randint(0, 6, (32,), generator=g)
    cos = F.normalize(x, dim=1) @ F.normalize(loss_fn.weight, dim=1).T
    torch.testing.assert_close(
        loss_fn(x, labels), F.cross_entropy(30.0 * cos, labels), atol=1e-5, rtol=1e-6
    )


def test_target_logit_decreases_monotonically_with_the_angle() -> None:
    # the th/mm fallback keeps psi(theta) decreasing on [0, pi]; plain cos(theta + m) would rise again
    loss_fn = AAMSoftmax(2, 2, margin=0.5, scale=1.0, seed=0)
    with torch.no_grad():
        loss_fn.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    theta = torch.linspace(0.0, math.pi, 721, dtype=torch.float64)
    x = torch.stack([theta.cos(), theta.sin()], dim=1).float()
    target = loss_fn.logits(x, torch.zeros(721, dtype=torch.long))[:, 0]
    assert (target.diff() <= 1e-6).all()
    assert target[-1].item() == pytest.approx(-1.0 - math.sin(0.5) * 0.5, abs=1e-4)


def test_zero_at_optimum_positive_otherwise() -> None:
    loss_fn = AAMSoftmax(8, 4, seed=3)
    with torch.no_grad():
        loss_fn.weight.copy_(torch.eye(4, 8))  # orthogonal class directions
    labels = torch.tensor([0, 1, 2, 3, 0])
    on_class = torch.eye(4, 8)[labels]
    # target logit 30*cos(0.2)=29.4, others 0: loss = log(1 + 3 exp(-29.4)) ~ 5e-13
    assert loss_fn(on_class, labels).item() < 1e-6
    g = torch.Generator().manual_seed(8)
    assert loss_fn(on_class + 0.5 * torch.randn(5, 8, generator=g), labels).item() > 1e-3
    assert loss_fn(torch.randn(5, 8, generator=g), labels).item() > 1.0


def test_gradients_finite_even_exactly_on_the_class_weight() -> None:
    loss_fn = AAMSoftmax(8, 4, seed=4)
    labels = torch.tensor([0, 1, 2, 3])
    x = torch.cat(
        [loss_fn.weight.detach()[:2], torch.randn(2, 8, generator=torch.Generator().manual_seed(9))]
    )
    x.requires_grad_(True)
    loss_fn(x, labels).backward()
    assert torch.isfinite(x.grad).all() and x.grad[2:].abs().sum() > 0
    assert torch.isfinite(loss_fn.weight.grad).all() and loss_fn.weight.grad.abs().sum() > 0


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a, b = AAMSoftmax(16, 5, seed=11), AAMSoftmax(16, 5, seed=11)
    assert torch.equal(a.weight, b.weight)
    assert not torch.equal(a.weight, AAMSoftmax(16, 5, seed=12).weight)
    assert torch.equal(state, torch.random.get_rng_state())


def test_bad_inputs_raise_typed_errors() -> None:
    loss_fn = AAMSoftmax(8, 4, seed=0)
    with pytest.raises(LossInputError, match=r"\(batch, 8\)"):
        loss_fn(torch.randn(3, 9), torch.tensor([0, 1, 2]))
    with pytest.raises(LossInputError, match="labels"):
        loss_fn(torch.randn(3, 8), torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="num_classes"):
        AAMSoftmax(8, 1)
    with pytest.raises(ConfigError, match="reduction"):
        AAMSoftmax(8, 4, reduction="avg")
