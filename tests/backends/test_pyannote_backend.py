"""pyannote backend on random WeSpeaker ResNet34 / x-vector SincNet Lightning checkpoints."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from voxref.embedder.loader import load_pretrained
from voxref.embedder.pyannote_backend import PyannoteEncoder, load_pyannote_model
from voxref.errors import CheckpointError, UnsafeCheckpointError
from voxref.pipeline import Embedder


def test_wespeaker_loads_and_embeds(pyannote_wespeaker_dir, clip, speech):
    enc = load_pretrained(pyannote_wespeaker_dir)
    assert isinstance(enc, PyannoteEncoder)
    assert (enc.dimension, enc.sample_rate) == (256, 16000)
    assert enc.describe()["architecture"] == "WeSpeakerResNet34"
    assert enc.name == "pyannote:wespeaker-voxceleb-resnet34-LM"

    saved = torch.load(pyannote_wespeaker_dir / "pytorch_model.bin", weights_only=False)
    for k, v in enc.model.state_dict().items():
        assert torch.equal(v, saved["state_dict"][k]), k

    # embed_utterance goes through pyannote's Inference(window="whole"); it must agree with
    # calling the model on the whole waveform
    x = clip[:32000]
    e = enc.embed_utterance(x)
    with torch.inference_mode():
        direct = enc.model(torch.from_numpy(x)[None, None]).numpy()[0]
    np.testing.assert_allclose(e, direct / np.linalg.norm(direct), atol=1e-5)
    assert e.shape == (256,) and abs(float(np.linalg.norm(e)) - 1) < 1e-5
    np.testing.assert_array_equal(e, enc.embed_utterance(x))  # bit-identical twice

    w = enc.embed_windows(clip, window=1.5, hop=1.0)
    assert w.embeddings.shape == (len(w), 256) and len(w) >= 2
    v = Embedder(encoder=enc).embed([(c, 16000) for c in next(iter(speech.values()))[:2]])
    assert v.shape == (256,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5


def test_xvector_sincnet_checkpoint_file(pyannote_xvector_file, clip):
    enc = load_pretrained(pyannote_xvector_file)
    assert enc.dimension == 512 and enc.describe()["architecture"] == "XVectorSincNet"
    a = enc.embed_batch(np.stack([clip[:24000], clip[8000:32000]]))
    assert a.shape == (2, 512)
    np.testing.assert_array_equal(
        a,
        load_pretrained(pyannote_xvector_file).embed_batch(
            np.stack([clip[:24000], clip[8000:32000]])
        ),
    )


def _pyannote_ckpt(path):
    return torch.load(path, weights_only=False)


def test_malicious_pyannote_checkpoint_never_runs(tmp_path, pyannote_xvector_file, payload):
    evil, marker = payload
    ckpt = _pyannote_ckpt(pyannote_xvector_file)
    ckpt["hyper_parameters"]["dimension"] = evil
    torch.save(ckpt, tmp_path / "evil.ckpt")
    with pytest.raises(UnsafeCheckpointError, match="open"):
        load_pretrained(tmp_path / "evil.ckpt")
    with pytest.raises(UnsafeCheckpointError):
        PyannoteEncoder.from_checkpoint(tmp_path / "evil.ckpt")
    assert not marker.exists()
    # control: pyannote's own loader unpickles with weights_only=False and runs the payload
    from pyannote.audio import Model

    with pytest.raises(Exception):  # noqa: B017 - it fails after the payload ran
        Model.from_pretrained(tmp_path / "evil.ckpt")
    assert marker.exists()


def test_architecture_outside_pyannote_models_is_not_imported(tmp_path, pyannote_xvector_file):
    marker = tmp_path / "imported"
    (tmp_path / "voxref_evil_module.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass XVectorSincNet: pass\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        ckpt = _pyannote_ckpt(pyannote_xvector_file)
        ckpt["pyannote.audio"]["architecture"]["module"] = "voxref_evil_module"
        torch.save(ckpt, tmp_path / "arch.ckpt")
        with pytest.raises(UnsafeCheckpointError, match="pyannote.audio.models"):
            load_pyannote_model(tmp_path / "arch.ckpt")
        assert not marker.exists()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("voxref_evil_module", None)


def test_non_lightning_checkpoint_is_explained(tmp_path, pyannote_xvector_file):
    ckpt = _pyannote_ckpt(pyannote_xvector_file)
    del ckpt["pytorch-lightning_version"]
    torch.save(ckpt, tmp_path / "old.ckpt")
    with pytest.raises(CheckpointError, match="Lightning-style"):
        load_pyannote_model(tmp_path / "old.ckpt")
