"""SpeechBrain backend on tiny random spkrec-ecapa / spkrec-xvect directories (offline)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from voxref.embedder.loader import load_pretrained
from voxref.embedder.speechbrain_backend import (
    SpeechBrainEncoder,
    check_hyperparams,
    pretrainer_files,
)
from voxref.errors import MissingCheckpointError, UnsafeCheckpointError
from voxref.pipeline import Embedder


def _speechbrain_reference(directory):
    """SpeechBrain's own loader on the same directory (the way its docs do it, offline)."""
    from speechbrain.inference.speaker import EncoderClassifier

    return EncoderClassifier.from_hparams(
        source=str(directory), savedir=None, overrides={"pretrained_path": str(directory)}
    )


@pytest.mark.parametrize(
    "fixture, dim, arch", [("sb_ecapa_dir", 192, "ECAPA_TDNN"), ("sb_xvector_dir", 512, "Xvector")]
)
def test_loads_like_speechbrain_and_embeds(request, fixture, dim, arch, speech, clip):
    directory = request.getfixturevalue(fixture)
    enc = load_pretrained(directory)
    assert isinstance(enc, SpeechBrainEncoder)
    assert (enc.dimension, enc.sample_rate) == (dim, 16000)
    assert enc.describe()["architecture"] == arch and enc.describe()["backend"] == "speechbrain"

    # same weights as SpeechBrain's own from_hparams, and the same computation
    ref = _speechbrain_reference(directory)
    for k, v in ref.mods.embedding_model.state_dict().items():
        assert torch.equal(v, enc.classifier.mods.embedding_model.state_dict()[k]), k
    torch.testing.assert_close(
        enc.classifier.mods.mean_var_norm_emb.glob_mean,
        torch.load(directory / "mean_var_norm_emb.ckpt", weights_only=True)["glob_mean"],
    )
    x = np.stack([clip[:32000], clip[4000:36000]])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        want = ref.encode_batch(torch.from_numpy(x)).squeeze(1).numpy()
    np.testing.assert_array_equal(enc.embed_batch(x), want)

    e = enc.embed_utterance(clip)
    assert e.shape == (dim,) and e.dtype == np.float32
    assert abs(float(np.linalg.norm(e)) - 1) < 1e-5
    np.testing.assert_array_equal(e, enc.embed_utterance(clip))  # bit-identical twice
    np.testing.assert_array_equal(e, load_pretrained(directory).embed_utterance(clip))
    w = enc.embed_windows(np.concatenate([clip, clip]))
    assert w.embeddings.shape[1] == dim and len(w) >= 2
    np.testing.assert_allclose(np.linalg.norm(w.embeddings, axis=1), 1, atol=1e-5)
    assert w.ends[-1] == pytest.approx(2 * len(clip) / 16000)  # last window end-aligned

    refs = [(c, 16000) for c in next(iter(speech.values()))[:2]]
    v = Embedder(encoder=enc).embed(refs)
    assert v.shape == (dim,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5


def test_global_rng_is_untouched_by_xvector_inference(sb_xvector_dir, clip):
    enc = load_pretrained(sb_xvector_dir)
    state = torch.random.get_rng_state()
    enc.embed_utterance(clip)
    assert torch.equal(state, torch.random.get_rng_state())


def test_pretrainer_files_match_the_hub_layout(sb_ecapa_dir):
    files = pretrainer_files((sb_ecapa_dir / "hyperparams.yaml").read_text())
    assert files == {
        "embedding_model": "embedding_model.ckpt",
        "mean_var_norm_emb": "mean_var_norm_emb.ckpt",
        "classifier": "classifier.ckpt",
        "label_encoder": "label_encoder.txt",
    }


MALICIOUS_YAML = {
    "new": "evil: !new:os.system ['touch {m}']\n",
    "apply": "evil: !apply:os.system ['touch {m}']\n",
    "name": "evil: !name:subprocess.run ['touch {m}']\n",
    "module": "evil: !module:os\n",
    "python_tag": "evil: !!python/object/apply:os.system ['touch {m}']\n",
    "tag_directive": "%TAG !e! tag:yaml.org,2002:python/object/apply:\n---\nevil: !e!os.system ['touch {m}']\n",
    "verbatim": "evil: !<!new:os.system> ['touch {m}']\n",
    "applyref": "evil: !applyref:os.system ['touch {m}']\n",
    "include": "evil: !include:other.yaml\n",
    "tuple": "evil: \"(!!python/object/apply:os.system ['touch {m}'])\"\n",
    "speechbrain_shell": "evil: !apply:speechbrain.utils.superpowers.run_shell ['touch {m}']\n",
}


@pytest.mark.parametrize("kind", sorted(MALICIOUS_YAML))
def test_executable_yaml_is_refused_before_anything_runs(tmp_path, sb_ecapa_dir, kind):
    d = tmp_path / "model"
    shutil.copytree(sb_ecapa_dir, d)
    marker = tmp_path / "pwned"
    evil = MALICIOUS_YAML[kind].format(m=marker)
    text = (d / "hyperparams.yaml").read_text()
    if evil.startswith("%TAG"):
        (d / "hyperparams.yaml").write_text(evil + text)
    else:
        (d / "hyperparams.yaml").write_text(text + evil)
    with pytest.raises(UnsafeCheckpointError, match="allow-list"):
        load_pretrained(d)
    assert not marker.exists()


def test_control_hyperpyyaml_really_runs_what_it_names(tmp_path):
    """Why the check exists: plain HyperPyYAML executes the payload."""
    from hyperpyyaml import load_hyperpyyaml

    marker = tmp_path / "pwned"
    load_hyperpyyaml(MALICIOUS_YAML["apply"].format(m=marker))
    assert marker.exists()


def test_allow_list_can_be_extended_explicitly():
    text = "counts: !new:collections.Counter\n  a: 1\n"
    with pytest.raises(UnsafeCheckpointError, match="collections.Counter"):
        check_hyperparams(text)
    assert check_hyperparams(text, allow_yaml_targets=["collections.Counter"]) == [
        "collections.Counter"
    ]
    # an exact entry does not allow its siblings; a prefix entry must end with "."
    with pytest.raises(UnsafeCheckpointError):
        check_hyperparams(
            "x: !new:collections.CounterEvil\n", allow_yaml_targets=["collections.Counter"]
        )


def test_malicious_weight_file_is_refused(tmp_path, sb_ecapa_dir, payload):
    evil, marker = payload
    d = tmp_path / "model"
    shutil.copytree(sb_ecapa_dir, d)
    torch.save({"blocks.0.conv.conv.weight": evil}, d / "embedding_model.ckpt")
    with pytest.raises(UnsafeCheckpointError, match="embedding_model.ckpt"):
        load_pretrained(d)
    assert not marker.exists()


def test_missing_weight_file_is_named(tmp_path, sb_ecapa_dir):
    d = tmp_path / "model"
    shutil.copytree(sb_ecapa_dir, d)
    (d / "classifier.ckpt").unlink()
    with pytest.raises(MissingCheckpointError, match="classifier.ckpt"):
        load_pretrained(d)
