"""Exports read back the way the target tools read them (plain json / torch / numpy calls)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from voxref.errors import ConfigError, UnsafeCheckpointError
from voxref.tts.bridge import fit_bridge
from voxref.tts.export import (
    EmbeddingDimensionError,
    export_coqui_d_vectors,
    export_embedding,
    export_npy,
    export_rtvc,
    export_speecht5,
    load_coqui_d_vectors,
    load_npy,
    load_rtvc,
    load_speecht5,
    read_coqui_d_vectors,
    read_sidecar,
)


def _first(results):
    return next(iter(results.items()))


def test_npy_round_trip_and_sidecar(tmp_path, ge2e_results):
    speaker, res = _first(ge2e_results)
    path = export_npy(res, tmp_path / "voice.npy", speaker=speaker)
    raw = np.load(path, allow_pickle=False)  # what any tool does
    assert raw.dtype == np.float32 and raw.shape == (256,)
    np.testing.assert_array_equal(raw, res.embedding / np.linalg.norm(res.embedding))
    np.testing.assert_array_equal(load_npy(path), raw)

    side = read_sidecar(path)
    assert (tmp_path / "voice.voxref.json").is_file()
    from voxref import __version__

    assert side["voxref_version"] == __version__ and side["format"] == "npy"
    assert side["dimension"] == 256
    assert side["encoder"]["name"] == "ge2e-resemblyzer"
    assert side["encoder"]["sample_rate"] == 16000 and side["encoder"]["dimension"] == 256
    (entry,) = side["speakers"]
    assert entry["speaker"] == speaker
    refs = entry["references"]
    assert [r["source"] for r in refs] == [r.source for r in res.references]
    assert sum(r["weight"] for r in refs) == pytest.approx(1.0, abs=1e-6)
    assert [r["status"] for r in refs] == [r.fate.status for r in res.references]
    assert [r["weight"] for r in refs] == pytest.approx([r.weight for r in res.references])
    assert all(r["speech_seconds"] > 1 for r in refs)


def test_npy_export_normalises_and_refuses_garbage(tmp_path):
    p = export_npy(np.array([0.0, 3.0, 4.0]), tmp_path / "v.npy", sidecar=False)
    np.testing.assert_allclose(np.load(p), [0, 0.6, 0.8], atol=1e-7)
    assert not (tmp_path / "v.voxref.json").exists()
    for bad in (np.zeros(4), np.array([1.0, np.nan]), np.ones((2, 3)), np.array([])):
        with pytest.raises(ConfigError):
            export_npy(bad, tmp_path / "bad.npy")


@pytest.mark.parametrize("suffix", [".json", ".pth"])
def test_coqui_d_vector_file_reads_like_coqui(tmp_path, ge2e_results, suffix):
    path = export_coqui_d_vectors(tmp_path / f"speakers{suffix}", ge2e_results)
    # Coqui's TTS/tts/utils/managers.py::load_file
    if suffix == ".json":
        with open(path) as f:
            data = json.load(f)
    else:
        with open(path, "rb") as f:
            data = torch.load(f, map_location="cpu")
    # EmbeddingManager.load_embeddings_from_file / get_mean_embedding
    speakers = sorted({x["name"] for x in data.values()})
    assert speakers == sorted(ge2e_results)
    assert all(k.startswith("voxref#") for k in data)
    for name in speakers:
        embs = [x["embedding"] for x in data.values() if x["name"] == name]
        assert all(isinstance(v, list) and len(v) == 256 for v in embs)
        mean = np.stack(embs).mean(0)
        np.testing.assert_allclose(mean, ge2e_results[name].embedding, atol=1e-6)
        np.testing.assert_allclose(load_coqui_d_vectors(path)[name], mean, atol=1e-7)
    side = read_sidecar(path)
    assert {s["speaker"] for s in side["speakers"]} == set(ge2e_results)


def test_coqui_per_reference_entries(tmp_path, ge2e_results):
    path = export_coqui_d_vectors(tmp_path / "speakers.json", ge2e_results, per_reference=True)
    data = read_coqui_d_vectors(path)
    for name, res in ge2e_results.items():
        mine = [v for v in data.values() if v["name"] == name]
        assert len(mine) == len(res.references)
        want = np.stack([r.embedding for r in res.references]).mean(0)
        np.testing.assert_allclose(load_coqui_d_vectors(path)[name], want, atol=1e-6)
    with pytest.raises(ConfigError, match=".json or .pth"):
        export_coqui_d_vectors(tmp_path / "speakers.txt", ge2e_results)


def test_speecht5_tensor(tmp_path, unit_vectors):
    v = unit_vectors(1, 512, seed=1)[0]
    path = export_speecht5(v, tmp_path / "spk.pt", encoder={"name": "speechbrain:spkrec-xvect"})
    t = torch.load(path)  # what a SpeechT5 user does (weights_only default)
    assert t.dtype == torch.float32 and tuple(t.shape) == (1, 512)
    assert float(t.norm()) == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(load_speecht5(path), torch.from_numpy(v)[None])


def test_speecht5_refuses_other_dimensions_unless_bridged(tmp_path, ge2e_results, unit_vectors):
    _, res = _first(ge2e_results)
    with pytest.raises(EmbeddingDimensionError, match="512-d x-vectors.*256-d from ge2e"):
        export_speecht5(res, tmp_path / "spk.pt")
    assert not (tmp_path / "spk.pt").exists()
    x, y = unit_vectors(600, 256, 2), unit_vectors(600, 512, 3)
    bridge = fit_bridge("ridge", x, y, source_encoder={"name": "ge2e"})
    path = export_speecht5(res, tmp_path / "spk.pt", bridge=bridge)
    t = torch.load(path)
    assert tuple(t.shape) == (1, 512)
    np.testing.assert_allclose(t[0].numpy(), bridge.transform(res.embedding), atol=1e-6)
    assert read_sidecar(path)["bridge"]["kind"] == "ridge"
    wrong = fit_bridge("ridge", x, unit_vectors(600, 192, 4))
    with pytest.raises(EmbeddingDimensionError, match="needs 512-d"):
        export_speecht5(res, tmp_path / "spk2.pt", bridge=wrong)


def test_rtvc_embedding(tmp_path, ge2e_results, unit_vectors):
    _, res = _first(ge2e_results)
    path = export_rtvc(res, tmp_path / "embed-0001.npy")
    embed = np.load(path)  # synthesizer: np.load(embed_path)
    assert embed.shape == (256,) and embed.dtype == np.float32
    assert float(np.linalg.norm(embed)) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(load_rtvc(path), embed)
    with pytest.raises(EmbeddingDimensionError, match="256-d"):
        export_rtvc(unit_vectors(1, 192)[0], tmp_path / "x.npy")


def test_export_embedding_dispatch(tmp_path, ge2e_results):
    speaker, res = _first(ge2e_results)
    files = export_embedding(res, tmp_path / "a.npy", "npy", speaker=speaker)
    assert [p.name for p in files] == ["a.npy", "a.voxref.json"]
    files = export_embedding(res, tmp_path / "speakers.json", "coqui", speaker=speaker)
    assert list(read_coqui_d_vectors(files[0])) == [f"voxref#{speaker}"]
    files = export_embedding(res, tmp_path / "r.npy", "rtvc", sidecar=False)
    assert [p.name for p in files] == ["r.npy"]
    with pytest.raises(EmbeddingDimensionError):
        export_embedding(res, tmp_path / "s.pt", "speecht5")
    with pytest.raises(ConfigError, match="unknown export format"):
        export_embedding(res, tmp_path / "x.bin", "onnx")


def test_malicious_speecht5_file_is_refused(tmp_path, payload):
    evil, marker = payload
    torch.save(evil, tmp_path / "spk.pt")
    with pytest.raises(UnsafeCheckpointError):
        load_speecht5(tmp_path / "spk.pt")
    assert not marker.exists()


def test_rtvc_loaders_refuse_a_vector_of_another_size(tmp_path, ge2e_results):
    from voxref.tts.formats.rtvc import load_rtvc_embed

    _, res = _first(ge2e_results)
    path = export_npy(res.embedding[:192], tmp_path / "embed-0002.npy", sidecar=False)
    for load in (load_rtvc, load_rtvc_embed):
        with pytest.raises(EmbeddingDimensionError, match=r"\(192,\) array, not RTVC's \(256,\)"):
            load(path)


def test_rtvc_loaders_refuse_a_file_that_is_not_npy_alike(tmp_path):
    from voxref.tts.formats.rtvc import load_rtvc_embed

    path = tmp_path / "embed-0003.npy"
    path.write_bytes(b"not a numpy file")
    for load in (load_rtvc, load_rtvc_embed):
        with pytest.raises(ConfigError, match="not a numpy .npy embedding"):
            load(path)
