"""ECAPA-TDNN (SpeechBrain parts) trains with AAM-softmax and exports a loadable voxref checkpoint."""

from __future__ import annotations

import numpy as np

from voxref.embedder.checkpoint import load_checkpoint
from voxref.embedder.loader import load_pretrained
from voxref.train import Trainer

SMALL_ECAPA = {
    "channels": [32, 32, 32, 32, 96],
    "attention_channels": 16,
    "se_channels": 16,
    "lin_neurons": 64,
}


def test_small_ecapa_with_aam_trains_and_reloads(tmp_path, corpus, tiny_config):
    cfg = tiny_config(
        model="ecapa",
        init="random",
        model_config=SMALL_ECAPA,
        loss="aam",
        head_lr=1e-2,
        steps=3,
        out=str(tmp_path / "ecapa"),
    )
    trainer = Trainer(cfg, train_corpus=corpus)
    batch = trainer.maker.make(0)
    assert batch.num_speakers == 0  # AAM alone draws random labelled crops, not N x M grids
    result = trainer.fit()
    assert all(np.isfinite(result.losses)) and trainer.model.dimension == 64
    ckpt = load_checkpoint(tmp_path / "ecapa")
    assert ckpt.architecture == "ecapa-tdnn" and ckpt.config["lin_neurons"] == 64
    assert ckpt.metadata["training"]["steps"] == 3
    x = corpus.audio(5)
    live = trainer.model.to_encoder().embed_utterance(x)
    np.testing.assert_allclose(
        load_pretrained(tmp_path / "ecapa").embed_utterance(x), live, atol=1e-6
    )
