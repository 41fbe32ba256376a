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
