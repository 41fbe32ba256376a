"""TrainConfig: JSON round trip, validation of values and keys."""

from __future__ import annotations

import json

import pytest

from voxref.errors import ConfigError
from voxref.train import AugmentConfig, TrainConfig


def test_json_round_trip_preserves_every_field(tmp_path):
    cfg = TrainConfig(
        data="corpus",
        out="runs/x",
        model="ecapa",
        loss="ge2e+aam",
        model_config={"channels": [32, 32, 32, 32, 96]},
        splits=("enroll", "test"),
        timbre_weight=0.5,
        mi_weight=0.01,
        augment=AugmentConfig(noise_snr=(0.0, 5.0), noise_types=("pink",), babble_prob=0.0),
        seed=7,
    )
    path = cfg.save(tmp_path / "config.json")
    back = TrainConfig.load(path)
    assert back == cfg
    assert back.augment.noise_snr == (0.0, 5.0)  # JSON lists come back as tuples
    assert json.loads(path.read_text())["augment"]["noise_types"] == ["pink"]
    assert TrainConfig.from_json(back.to_json()) == cfg


def test_partial_json_takes_defaults_and_augment_dict():
    cfg = TrainConfig.from_dict({"steps": 3, "augment": {"enabled": False}})
    assert cfg.steps == 3 and cfg.model == "ge2e" and cfg.augment.enabled is False
    assert cfg.augment.noise_prob == AugmentConfig().noise_prob


@pytest.mark.parametrize(
    "changes",
    [
        {"model": "transformer"},
        {"loss": "triplet"},
        {"speakers_per_batch": 1},
        {"utterances_per_speaker": 1},  # GE2E needs M >= 2
        {"timbre_weight": 0.5, "timbre_chunks": 1},
        {"lr": -1.0},
        {"crop_seconds": 0.0},
        {"device": "tpu"},
    ],
)
def test_invalid_values_are_refused(changes):
    with pytest.raises(ConfigError):
        TrainConfig(**changes)


def test_unknown_keys_are_refused_with_their_names():
    with pytest.raises(ConfigError, match="timbre_wieght"):
        TrainConfig.from_dict({"timbre_wieght": 1.0})
    with pytest.raises(ConfigError, match="snr"):
        TrainConfig.from_dict({"augment": {"snr": [0, 1]}})
    with pytest.raises(ConfigError):
        TrainConfig.from_json("{not json")
