"""Trainer: the loss goes down, checkpoints reload exactly, resuming equals not stopping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxref.embedder.loader import load_pretrained
from voxref.train import Trainer
from voxref.train.evaluate import equal_error_rate
from voxref.train.state import read_state


def test_a_few_steps_on_a_fixed_batch_lower_its_loss(corpus, tiny_config):
    trainer = Trainer(
        tiny_config(timbre_weight=0.5, augment={"enabled": False}), train_corpus=corpus, out=None
    )
    batch = trainer.maker.make(0)

    def loss_now() -> float:
        with torch.no_grad():
            return float(trainer.training_step(batch)["loss"])

    before = loss_now()
    for _ in range(6):
        batch.step = trainer.step
        trainer.optimizer_step(batch)
    after = loss_now()
    # (this batch: 1.35 -> 1.10 in 6 steps, then a plateau near 0.81 x; untrained: 1.0 x)
    assert after < 0.85 * before, (before, after)


def test_exported_encoder_reloads_to_identical_embeddings(tmp_path, corpus, tiny_config):
    trainer = Trainer(tiny_config(steps=2, out=str(tmp_path / "run")), train_corpus=corpus)
    result = trainer.fit()
    assert result.encoder_path == tmp_path / "run" / "encoder.pt"
    x = corpus.audio(0)
    live = trainer.model.to_encoder().embed_utterance(x)
    loaded = load_pretrained(tmp_path / "run").embed_utterance(x)
    np.testing.assert_allclose(loaded, live, rtol=0, atol=1e-6)
    # and it is not the initial network: training changed it
    fresh = Trainer(tiny_config(), train_corpus=corpus, out=None)
    assert np.abs(fresh.model.to_encoder().embed_utterance(x) - live).max() > 1e-4
    # the training state reloads (weights_only) into the same model outputs
    state_file = tmp_path / "run" / "checkpoints" / "last.pt"
    torch.load(state_file, weights_only=True)
    resumed = Trainer.resume(state_file, train_corpus=corpus, out=None)
    assert resumed.step == 2
    np.testing.assert_array_equal(resumed.model.to_encoder().embed_utterance(x), live)


@pytest.mark.parametrize(
    "extras", [{}, {"timbre_weight": 0.5, "mi_weight": 0.05, "loss": "ge2e+aam"}]
)
def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, corpus, tiny_config, extras):
    cfg = tiny_config(steps=4, warmup_steps=1, augment={"noise_prob": 1.0}, **extras)
    straight = Trainer(cfg, train_corpus=corpus, out=None).fit().losses

    first = Trainer(cfg, train_corpus=corpus, out=None)
    first.fit(steps=2)
    ckpt = first.save_checkpoint(tmp_path / "state.pt")
    assert read_state(ckpt)["step"] == 2
    second = Trainer.resume(ckpt, train_corpus=corpus, out=None)
    resumed = second.fit().losses
    assert len(straight) == 4 and len(resumed) == 2
    assert straight[2:] == resumed  # bit-identical, not just close
    assert straight[0] != straight[1]  # (the batches do change from step to step)


def test_global_rng_is_left_alone(corpus, tiny_config):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    Trainer(tiny_config(steps=1, mi_weight=0.05), train_corpus=corpus, out=None).fit()
    assert torch.equal(before, torch.random.get_rng_state())


def test_validation_reports_clean_and_noisy_eer(tmp_path, corpus, tiny_config):
    rest, held = corpus.split_speakers(2, seed=0)
    cfg = tiny_config(steps=2, steps_per_epoch=1, out=str(tmp_path / "v"), val_utterances=3)
    result = Trainer(cfg, train_corpus=rest, val_corpus=held).fit()
    assert [v["step"] for v in result.validations] == [0, 1, 2]
    for v in result.validations:
        assert 0.0 <= v["eer_clean"] <= 100.0 and 0.0 <= v["eer_noisy"] <= 100.0
    lines = (tmp_path / "v" / "metrics.jsonl").read_text().splitlines()
    assert sum('"validation"' in line for line in lines) == 3
    with pytest.raises(Exception, match="held-out"):
        Trainer(cfg, train_corpus=corpus, val_corpus=held)


def test_equal_error_rate_extremes_and_symmetry():
    rng = np.random.default_rng(0)
    targets = np.r_[np.ones(50), np.zeros(200)]
    separated = np.r_[rng.uniform(0.6, 1, 50), rng.uniform(-1, 0.5, 200)]
    assert equal_error_rate(separated, targets) == 0.0
    assert equal_error_rate(-separated, targets) == 1.0
    overlapping = np.r_[rng.normal(1, 1, 5000), rng.normal(0, 1, 5000)]
    eer = equal_error_rate(overlapping, np.r_[np.ones(5000), np.zeros(5000)])
    assert abs(eer - 0.3085) < 0.02  # Phi(-0.5) for unit Gaussians one standard deviation apart


def test_worker_processes_give_the_same_run(corpus, tiny_config):
    cfg = tiny_config(steps=2, augment={"noise_prob": 1.0})
    here = Trainer(cfg, train_corpus=corpus, out=None).fit().losses
    workers = Trainer(cfg.replace(num_workers=1), train_corpus=corpus, out=None).fit().losses
    assert here == workers
