"""One atomic writer (``voxref.atomic``): a file is complete or absent, never torn, and every
module of voxref that replaces a file does it through that writer."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from voxref.atomic import atomic_save_npy, atomic_write, atomic_write_json, remove_stale_temporaries

SRC = Path(__file__).resolve().parents[1] / "src" / "voxref"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    p = tmp_path / "v.npy"
    atomic_save_npy(p, np.arange(4, dtype=np.float32))

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"\x93NUMPY torn")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(p, half_then_fail)
    assert np.load(p).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert sorted(os.listdir(tmp_path)) == ["v.npy"]


def test_temporaries_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".x.json.123.abcd1234.tmp").write_text("{")
    (tmp_path / "sub" / ".x.json.123.tmp").write_text("{")  # the earlier naming
    atomic_write_json(tmp_path / "sub" / "x.json", {"a": 1})
    assert remove_stale_temporaries(tmp_path) == 2
    assert sorted(os.listdir(tmp_path / "sub")) == ["x.json"]


def test_no_other_module_replaces_files_by_itself() -> None:
    """``os.replace`` / ``os.rename`` / ``fsync`` of a written file appear in voxref.atomic
    only (a ledger's append-and-fsync is not a replacement and is allowed in the engine)."""
    allowed = {"atomic.py": r"os\.(replace|rename|fsync)\(", "batch_engine.py": r"os\.fsync\("}
    offenders = []
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"os\.(replace|rename|fsync)\(|\.rename\(tmp|\.replace\(tmp", text):
            ok = allowed.get(path.name)
            if ok and re.match(ok, m.group(0)):
                continue
            offenders.append(f"{path.relative_to(SRC)}: {m.group(0)}")
    assert offenders == [], offenders


# Modules that write models and reports: their torch.save / soundfile writes must go to the
# temporary path voxref.atomic hands them (or to an in-memory buffer), never to the destination.
WRITERS = (
    "embedder/checkpoint.py",
    "loading/modules.py",
    "inspection/report.py",
    "audit/synthetic.py",
)
WRITE_CALL = r"torch\.save\(\w+, (\w+)\)|sf\.write\((\w+),"


def test_model_and_report_writers_go_through_the_atomic_writer() -> None:
    for name in WRITERS:
        text = (SRC / name).read_text(encoding="utf-8")
        assert "from ..atomic import" in text, name
        assert not re.search(r"\.write_(bytes|text)\(", text), name
        for m in re.finditer(WRITE_CALL, text):
            assert (m.group(1) or m.group(2)) in ("tmp", "buf"), f"{name}: {m.group(0)}"


def _tiny(seed: int):
    """A torch module with a ``config`` dict, like the SavedModule networks."""
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    net.config = {"in_features": 3, "out_features": 2}
    return net


def test_a_module_checkpoint_torn_mid_write_leaves_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from voxref.loading.modules import save_module_checkpoint
    from voxref.loading.safe import safe_torch_load

    p = tmp_path / "m.pt"
    old = _tiny(0)
    save_module_checkpoint(old, p, checkpoint_format="tiny", metadata={"n": 1})
    real_save = torch.save

    def torn_save(obj, f):
        real_save(obj, f)
        Path(f).write_bytes(Path(f).read_bytes()[:10])
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        save_module_checkpoint(_tiny(1), p, checkpoint_format="tiny", metadata={"n": 2})
    back = safe_torch_load(p)
    assert back["metadata"] == {"n": 1}
    assert torch.equal(back["state_dict"]["weight"], old.weight.detach())
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]


def test_an_encoder_checkpoint_whose_write_fails_leaves_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import voxref.atomic
    from voxref.embedder.checkpoint import build_network, load_checkpoint, save_network

    net = build_network("ge2e-lstm", {"hidden_size": 8, "embedding_dim": 4, "num_layers": 1})
    d = tmp_path / "enc"
    save_network(d, net, metadata={"run": "first"})
    files = sorted(os.listdir(d))

    def no_space(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(voxref.atomic.os, "fsync", no_space)
    with pytest.raises(OSError, match="disk full"):
        save_network(d, net, metadata={"run": "second"})
    monkeypatch.undo()
    assert load_checkpoint(d).metadata["run"] == "first"
    assert sorted(os.listdir(d)) == files
