"""``voxref train`` end to end on the fixture speech, then ``embed`` with the result."""

from __future__ import annotations

import json

import numpy as np

from voxref.cli.main import main
from voxref.train import TrainConfig

FAST = [
    "--speakers-per-batch",
    "3",
    "--utterances-per-speaker",
    "2",
    "--crop-seconds",
    "0.8",
    "--no-progress",
]


def test_train_then_embed_with_the_trained_encoder(tmp_path, speech_dir, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--data",
            str(speech_dir),
            "--out",
            str(out),
            "--steps",
            "2",
            "--timbre-weight",
            "0.5",
            "--timbre-chunks",
            "2",
            "--val-speakers",
            "2",
            "--steps-per-epoch",
            "2",
            "--set",
            "timbre_chunk_seconds=0.8",
            "--set",
            "val_utterances=2",
            *FAST,
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["encoder"] == str(out / "encoder.pt")
    assert set(summary["validation"]) == {"step", "eer_clean", "eer_noisy"}

    cfg = TrainConfig.load(out / "config.json")
    assert (cfg.steps, cfg.timbre_weight, cfg.model, cfg.val_speakers) == (2, 0.5, "ge2e", 2)
    assert cfg.init == "auto"  # the bundled GE2E weights were fine-tuned

    from voxref import Embedder

    wavs = sorted(str(p) for p in speech_dir.glob("flite-awb_*.wav"))[:2]
    trained = Embedder.from_pretrained(out).embed(wavs)
    bundled = Embedder().embed(wavs)
    assert trained.shape == (256,) and abs(float(np.linalg.norm(trained)) - 1) < 1e-5
    assert 0.5 < float(trained @ bundled) < 1.0 - 1e-6  # moved a little from the bundled space

    # the saved config re-runs (with a flag on top), and a run resumes from its checkpoint
    assert (
        main(
            [
                "train",
                str(out / "config.json"),
                "--out",
                str(tmp_path / "again"),
                "--steps",
                "1",
                "--val-speakers",
                "0",
                *FAST,
            ]
        )
        == 0
    )
    assert (tmp_path / "again" / "encoder.pt").is_file()
    assert (
        main(
            [
                "train",
                "--resume",
                str(out / "checkpoints" / "last.pt"),
                "--steps",
                "3",
                "--out",
                str(tmp_path / "resumed"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 3


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "x")]) == 1
    assert "--data" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 1
