"""Tiny random checkpoints in the real on-disk formats, built once per session, and speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


class Payload:
    """Pickles to ``open(target, "w")``: unpickling it creates ``target``.

    A stand-in for any malicious checkpoint (the pickle only references ``builtins.open``).
    """

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.fixture
def payload(tmp_path) -> tuple[Payload, Path]:
    """A malicious pickle payload and the file it would create."""
    marker = tmp_path / "pwned"
    return Payload(marker), marker


@pytest.fixture(scope="session")
def speech(speech_by_speaker) -> dict[str, list[np.ndarray]]:
    """Speaker -> 16 kHz float32 clips (synthetic fixture speech, ~3 s each)."""
    return {
        spk: [sf.read(p, dtype="float32")[0] for p in paths]
        for spk, paths in speech_by_speaker.items()
    }


@pytest.fixture(scope="session")
def clip(speech) -> np.ndarray:
    """One ~3 s utterance."""
    return next(iter(speech.values()))[0]


@pytest.fixture(scope="session")
def sb_ecapa_dir(tmp_path_factory) -> Path:
    from voxref.embedder.testing import make_speechbrain_ecapa_dir

    return make_speechbrain_ecapa_dir(tmp_path_factory.mktemp("sb") / "spkrec-ecapa-voxceleb")


@pytest.fixture(scope="session")
def sb_xvector_dir(tmp_path_factory) -> Path:
    from voxref.embedder.testing import make_speechbrain_xvector_dir

    return make_speechbrain_xvector_dir(tmp_path_factory.mktemp("sb") / "spkrec-xvect-voxceleb")


@pytest.fixture(scope="session")
def pyannote_wespeaker_dir(tmp_path_factory) -> Path:
    """Directory laid out as the hub's pyannote/wespeaker-voxceleb-resnet34-LM."""
    from voxref.embedder.testing import make_pyannote_checkpoint

    d = tmp_path_factory.mktemp("pa") / "wespeaker-voxceleb-resnet34-LM"
    make_pyannote_checkpoint(d, architecture="wespeaker-resnet34", seed=0)
    return d


@pytest.fixture(scope="session")
def pyannote_xvector_file(tmp_path_factory) -> Path:
    from voxref.embedder.testing import make_pyannote_checkpoint

    return make_pyannote_checkpoint(
        tmp_path_factory.mktemp("pa") / "embedding.ckpt", architecture="xvector-sincnet", seed=1
    )
