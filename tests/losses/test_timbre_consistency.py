"""TimbreConsistencyLoss: zero for identical chunks, follows the formula, tracks real degradation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxref.errors import ConfigError
from voxref.losses import LossInputError, TimbreConsistencyLoss


def loop_tc(chunks: torch.Tensor, clean: torch.Tensor | None, beta: float) -> torch.Tensor:
    """Reference straight from the formula, one utterance and one chunk at a time."""
    out = []
    for b in range(chunks.shape[0]):
        units = [c / c.norm() for c in chunks[b]]
        mean = sum(units) / len(units)
        value = sum(1 - float(c @ mean) / float(c.norm() * mean.norm()) for c in chunks[b]) / len(
            units
        )
        if clean is not None:
            value += (
                beta
                * sum(
                    1 - float(c @ clean[b]) / float(c.norm() * clean[b].norm()) for c in chunks[b]
                )
                / len(units)
            )
        out.append(value)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("with_clean", [False, True])
def test_equals_formula(with_clean: bool) -> None:
    g = torch.Generator().manual_seed(0)
    chunks = torch.randn(3, 5, 6, generator=g, dtype=torch.float64)
    clean = torch.randn(3, 6, generator=g, dtype=torch.float64) if with_clean else None
    got = TimbreConsistencyLoss(beta=0.7, reduction="none")(chunks, clean)
    torch.testing.assert_close(got, loop_tc(chunks, clean, 0.7), atol=1e-10, rtol=0)
    mean = TimbreConsistencyLoss(beta=0.7)(chunks, clean)
    assert mean.item() == pytest.approx(got.mean().item())


def test_zero_when_all_chunks_identical_and_equal_to_clean() -> None:
    g = torch.Generator().manual_seed(1)
    e = torch.randn(4, 1, 16, generator=g)
    chunks = e.expand(4, 6, 16)
    loss_fn = TimbreConsistencyLoss(beta=1.0)
    assert loss_fn(chunks).abs().item() < 1e-6
    assert loss_fn(chunks, clean=3.0 * e[:, 0]).abs().item() < 1e-6  # scale does not matter
    # identical chunks but a different clean embedding: only the clean term is positive
    other = torch.randn(4, 16, generator=g)
    assert loss_fn(chunks, clean=other).item() > 0.1
    assert TimbreConsistencyLoss(beta=0.0)(chunks, clean=other).abs().item() < 1e-6


def test_grows_with_disagreement_between_chunks() -> None:
    g = torch.Generator().manual_seed(2)
    base = torch.randn(8, 1, 32, generator=g).expand(8, 5, 32)
    noise = torch.randn(8, 5, 32, generator=g)
    values = [
        TimbreConsistencyLoss()(base + scale * noise).item() for scale in (0.0, 0.1, 0.3, 1.0)
    ]
    assert values[0] < 1e-6
    assert all(a < b for a, b in zip(values, values[1:]))


def test_invariant_to_positive_chunk_scales_when_normalizing() -> None:
    g = torch.Generator().manual_seed(3)
    chunks = torch.randn(2, 4, 8, generator=g)
    scales = torch.rand(2, 4, 1, generator=g) * 10 + 0.1
    loss_fn = TimbreConsistencyLoss()
    assert loss_fn(chunks * scales).item() == pytest.approx(loss_fn(chunks).item(), abs=1e-6)
    unnormalized = TimbreConsistencyLoss(normalize=False)
    assert unnormalized(chunks * scales).item() != pytest.approx(
        unnormalized(chunks).item(), abs=1e-4
    )


def test_gradients_finite_and_reach_chunks_and_clean() -> None:
    g = torch.Generator().manual_seed(4)
    chunks = torch.randn(3, 4, 8, generator=g, requires_grad=True)
    clean = torch.randn(3, 8, generator=g, requires_grad=True)
    TimbreConsistencyLoss(beta=0.5)(chunks, clean).backward()
    for grad in (chunks.grad, clean.grad):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def _at_snr(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(len(x)).astype(np.float32)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return x + noise


def test_real_speech_chunks_of_one_speaker_agree_and_noise_moves_them_from_clean(
    ge2e_encoder, speech_samples
) -> None:
    loss_fn = TimbreConsistencyLoss()
    speakers = list(speech_samples)
    speech = np.concatenate(speech_samples[speakers[0]])  # ~11 s of one speaker
    chunks = torch.from_numpy(ge2e_encoder.embed_windows(speech, hop=0.8).embeddings[:8])[None]
    # one chunk from each of the 6 fixture speakers: no shared timbre
    mixed = torch.from_numpy(
        np.stack(
            [
                ge2e_encoder.embed_windows(np.concatenate(v)).embeddings[0]
                for v in speech_samples.values()
            ]
        )
    )[None]
    # measured: one speaker 0.08, six speakers 0.24
    assert loss_fn(chunks).item() < 0.5 * loss_fn(mixed).item()

    clean = torch.from_numpy(ge2e_encoder.embed_utterance(speech))[None]
    rng = np.random.default_rng(0)
    to_clean = []
    for snr_db in (20.0, 10.0, 0.0):
        noisy = ge2e_encoder.embed_windows(_at_snr(speech, snr_db, rng), hop=0.8).embeddings[:8]
        to_clean.append(loss_fn(torch.from_numpy(noisy)[None], clean).item())
    # measured (white noise): 0.25, 0.39, 0.53
    assert to_clean[0] < to_clean[1] < to_clean[2]
    assert to_clean[2] - to_clean[0] > 0.1


def test_bad_inputs_raise_typed_errors() -> None:
    loss_fn = TimbreConsistencyLoss()
    with pytest.raises(LossInputError, match="chunks"):
        loss_fn(torch.randn(4, 8))
    with pytest.raises(LossInputError, match="clean"):
        loss_fn(torch.randn(2, 3, 8), torch.randn(2, 7))
    with pytest.raises(ConfigError, match="beta"):
        TimbreConsistencyLoss(beta=-1.0)
    with pytest.raises(ConfigError, match="reduction"):
        TimbreConsistencyLoss(reduction="max")
