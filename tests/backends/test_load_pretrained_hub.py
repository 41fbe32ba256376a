"""Hub ids: found in a (fake, offline) Hugging Face cache, or refused at once with advice."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from voxref.embedder.loader import load_pretrained
from voxref.embedder.pyannote_backend import PyannoteEncoder
from voxref.embedder.speechbrain_backend import SpeechBrainEncoder
from voxref.embedder.testing import make_voxref_checkpoint
from voxref.errors import MissingCheckpointError, UnsafeCheckpointError
from voxref.loading.hub import hub_file

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fake_hub_cache(cache: Path, repo_id: str, files: dict[str, Path]) -> Path:
    """Lay files out as huggingface_hub's cache does (refs/main -> snapshots/<commit>/)."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snap = repo / "snapshots" / COMMIT
    snap.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        shutil.copy(src, snap / name)
    return snap


def test_speechbrain_hub_id_from_cache(tmp_path, sb_ecapa_dir, clip):
    files = {p.name: p for p in sb_ecapa_dir.iterdir()}
    fake_hub_cache(tmp_path, "speechbrain/spkrec-ecapa-voxceleb", files)
    enc = load_pretrained("speechbrain/spkrec-ecapa-voxceleb", cache_dir=tmp_path)
    assert isinstance(enc, SpeechBrainEncoder)
    assert enc.name == "speechbrain:speechbrain/spkrec-ecapa-voxceleb" and enc.dimension == 192
    np.testing.assert_array_equal(
        enc.embed_utterance(clip), load_pretrained(sb_ecapa_dir).embed_utterance(clip)
    )


def test_pyannote_hub_id_from_cache(tmp_path, pyannote_wespeaker_dir):
    fake_hub_cache(
        tmp_path,
        "pyannote/wespeaker-voxceleb-resnet34-LM",
        {"pytorch_model.bin": pyannote_wespeaker_dir / "pytorch_model.bin"},
    )
    enc = load_pretrained(
        "pyannote/wespeaker-voxceleb-resnet34-LM", cache_dir=tmp_path, local_files_only=True
    )
    assert isinstance(enc, PyannoteEncoder) and enc.dimension == 256


def test_unknown_owner_hub_id_is_probed_in_the_cache(tmp_path):
    ckpt = make_voxref_checkpoint(tmp_path / "src" / "enc", "ge2e-lstm")
    fake_hub_cache(tmp_path / "cache", "someone/my-encoder", {"encoder.pt": ckpt})
    enc = load_pretrained("someone/my-encoder", cache_dir=tmp_path / "cache")
    assert enc.dimension == 256 and enc.describe()["backend"] == "voxref"


def test_hub_yaml_is_checked_too(tmp_path, sb_ecapa_dir):
    marker = tmp_path / "pwned"
    files = {p.name: p for p in sb_ecapa_dir.iterdir()}
    snap = fake_hub_cache(tmp_path / "cache", "speechbrain/spkrec-ecapa-voxceleb", files)
    with open(snap / "hyperparams.yaml", "a") as fh:
        fh.write(f"evil: !apply:os.system ['touch {marker}']\n")
    with pytest.raises(UnsafeCheckpointError):
        load_pretrained("speechbrain/spkrec-ecapa-voxceleb", cache_dir=tmp_path / "cache")
    assert not marker.exists()


@pytest.mark.parametrize("offline_env", [True, False])
def test_uncached_hub_id_fails_fast_offline(tmp_path, monkeypatch, offline_env):
    if offline_env:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        kw = {}
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        kw = {"local_files_only": True}
    for repo in (
        "speechbrain/spkrec-ecapa-voxceleb",
        "pyannote/wespeaker-voxceleb-resnet34-LM",
        "pyannote/embedding",
        "someone/unknown-model",
    ):
        t = time.perf_counter()
        with pytest.raises(MissingCheckpointError) as info:
            load_pretrained(repo, cache_dir=tmp_path, **kw)
        assert time.perf_counter() - t < 2.0
        msg = str(info.value)
        assert "not in the local Hugging Face cache" in msg or "cannot tell" in msg
        assert "huggingface-cli download" in msg or "backend=" in msg


def test_hub_file_returns_cached_path(tmp_path):
    src = tmp_path / "x.txt"
    src.write_text("hello")
    snap = fake_hub_cache(tmp_path / "cache", "a/b", {"x.txt": src})
    assert hub_file("a/b", "x.txt", cache_dir=tmp_path / "cache") == snap / "x.txt"
