"""``voxref embed-dataset`` end to end on bad inputs (no model load), and the missing-Ray error."""

from __future__ import annotations

import json
import sys

import pytest

from voxref.errors import MissingDependencyError


def test_cli_reports_every_bad_clip_with_exit_status_3(tmp_path, capsys):
    from voxref.cli.main import main

    manifest = tmp_path / "m.csv"
    manifest.write_text("path,speaker,start,end\nnope.wav,a,,\n,b,,\nc.wav,c,3,1\n")
    out = tmp_path / "out"
    code = main(
        [
            "embed-dataset",
            str(manifest),
            "-o",
            str(out),
            "--backend",
            "multiprocessing",
            "--num-workers",
            "1",
            "-q",
        ]
    )
    assert code == 3
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["clips"], summary["clips_rejected"], summary["speakers_failed"]) == (3, 3, 3)
    reasons = {f["index"]: (f["error"], f["reason"]) for f in summary["failed_clips"]}
    assert reasons[0][0] == "AudioFileNotFoundError"
    assert reasons[1] == ("ManifestError", "empty path")
    assert "not after its start" in reasons[2][1]
    printed = capsys.readouterr()
    assert "0/3 clips embedded" in printed.out and "nope.wav" in printed.err


def test_ray_backend_without_ray_names_the_pip_command(monkeypatch):
    from voxref.scale.backends import import_ray, make_backend
    from voxref.scale.worker import WorkerSpec

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(MissingDependencyError, match=r"pip install \"voxref\[ray\]\""):
        import_ray()
    with pytest.raises(MissingDependencyError):
        make_backend("ray", WorkerSpec(), num_workers=1, max_crashes=1)


def test_importing_voxref_scale_does_not_import_ray_or_torch():
    import subprocess

    code = (
        "import sys, voxref.scale, voxref.cli.embed_dataset_cmd;"
        "print(any(m in sys.modules for m in ('ray', 'torch', 'pyarrow')))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
