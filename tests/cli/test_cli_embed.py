"""The ``voxref`` command line: embed, similarity, demo, error exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from voxref.cli.main import main


def test_embed_writes_npy_and_json(tmp_path, speech_by_speaker, capsys):
    paths = [str(p) for p in next(iter(speech_by_speaker.values()))[:2]]
    assert main(["embed", *paths, "-o", str(tmp_path / "spk.npy")]) == 0
    v = np.load(tmp_path / "spk.npy")
    assert v.shape == (256,) and abs(np.linalg.norm(v) - 1) < 1e-5
    assert main(["embed", *paths, "-o", str(tmp_path / "spk.json")]) == 0
    d = json.loads((tmp_path / "spk.json").read_text())
    np.testing.assert_allclose(d["embedding"], v, atol=1e-6)
    assert [r["source"] for r in d["references"]] == paths


def test_embed_options_reach_the_embedder(tmp_path, speech_by_speaker):
    """``--no-clean``, ``--pooling`` and ``--encoder CHECKPOINT`` give what the library gives."""
    from voxref import Embedder
    from voxref.embedder.testing import make_voxref_checkpoint

    paths = [str(p) for p in next(iter(speech_by_speaker.values()))[:2]]
    out = tmp_path / "raw.npy"
    assert main(["embed", *paths, "-o", str(out), "--no-clean", "--pooling", "mean"]) == 0
    expected = Embedder(clean=False, pooling="mean").embed(paths)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)
    assert float(np.load(out) @ Embedder().embed(paths)) < 0.9999  # the options changed it

    ckpt = make_voxref_checkpoint(str(tmp_path / "enc.pt"))
    out = tmp_path / "ckpt.npy"
    assert main(["embed", *paths, "-o", str(out), "--encoder", str(ckpt)]) == 0
    np.testing.assert_allclose(np.load(out), Embedder.from_pretrained(ckpt).embed(paths), atol=1e-5)


def test_embed_separate_option_reaches_the_embedder(tmp_path, speech_by_speaker, capsys):
    """``--separate MODEL`` gives ``Embedder(separate=MODEL)``; a missing model exits 1 saying so."""
    from voxref import Embedder, EmbedderTuning
    from voxref.separation.separator import TwoSpeakerSeparator

    paths = [str(p) for p in next(iter(speech_by_speaker.values()))[:2]]
    ckpt = TwoSpeakerSeparator(channels=8, hidden=16, blocks=2, repeats=1, seed=0).save(
        tmp_path / "sep.pt"
    )
    out = tmp_path / "sep.npy"
    assert main(["embed", *paths, "-o", str(out), "--separate", str(ckpt)]) == 0
    np.testing.assert_allclose(np.load(out), Embedder(separate=ckpt).embed(paths), atol=1e-5)
    missing = tmp_path / "absent.pt"
    assert main(["embed", *paths, "-o", str(out), "--separate", str(missing)]) == 1
    assert "no separator checkpoint" in capsys.readouterr().err
    # --separate-threshold gates the separator (here: every reference is separated)
    args = ["embed", *paths, "-o", str(out), "--separate", str(ckpt), "--separate-threshold"]
    assert main([*args, "-1000"]) == 0
    gated = Embedder(separate=ckpt, advanced=EmbedderTuning(separate_threshold_db=-1000.0))
    gated = gated.embed(paths)
    np.testing.assert_allclose(np.load(out), gated, atol=1e-5)
    assert float(gated @ Embedder().embed(paths)) < 1 - 1e-4
    assert main(["embed", *paths, "-o", str(out), "--separate-threshold", "-15"]) == 1
    assert "--separate-threshold needs --separate" in capsys.readouterr().err


def test_embed_error_exit_code_and_message(tmp_path, capsys):
    assert main(["embed", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "x.npy")]) == 1
    err = capsys.readouterr().err
    assert "missing.wav" in err and "no such file" in err
    assert not (tmp_path / "x.npy").exists()


def test_similarity_matrix(speech_by_speaker, capsys):
    spk = list(speech_by_speaker)
    files = [
        str(speech_by_speaker[spk[0]][0]),
        str(speech_by_speaker[spk[0]][1]),
        str(speech_by_speaker[spk[1]][0]),
    ]
    assert main(["similarity", "--json", *files]) == 0
    m = np.array(json.loads(capsys.readouterr().out)["similarity"])
    assert m.shape == (3, 3) and np.allclose(np.diag(m), 1, atol=1e-3)
    assert m[0, 1] > m[0, 2]


def test_python_dash_m_and_demo():
    out = subprocess.run(
        [sys.executable, "-m", "voxref", "demo"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("same speaker")][0]
    same, diff = float(line.split()[2]), float(line.split()[5])
    assert same > diff


def test_embed_formats_for_tts(tmp_path, speech_by_speaker):
    import torch

    from voxref.tts.export import read_coqui_d_vectors

    paths = [str(p) for p in next(iter(speech_by_speaker.values()))[:2]]
    assert main(["embed", *paths, "-o", str(tmp_path / "spk.npy"), "--format", "rtvc"]) == 0
    v = np.load(tmp_path / "spk.npy")
    assert v.shape == (256,) and v.dtype == np.float32
    assert (tmp_path / "spk.voxref.json").exists()
    assert (
        main(
            [
                "embed",
                *paths,
                "-o",
                str(tmp_path / "d.json"),
                "--format",
                "coqui",
                "--speaker",
                "amy",
            ]
        )
        == 0
    )
    d = json.loads((tmp_path / "d.json").read_text())
    assert [e["name"] for e in d.values()] == ["amy"]
    np.testing.assert_allclose(next(iter(d.values()))["embedding"], v, atol=1e-6)
    assert read_coqui_d_vectors(tmp_path / "d.json")
    # SpeechT5 needs a 512-d x-vector: a 256-d GE2E vector is refused with exit code 1, nothing written
    assert main(["embed", *paths, "-o", str(tmp_path / "s.pt"), "--format", "speecht5"]) == 1
    assert not (tmp_path / "s.pt").exists()
    del torch


def test_batch_commands_share_their_options(tmp_path, speech_by_speaker, capsys):
    """``embed-dir`` and ``embed-dataset`` take the same batch options, checked the same way;
    ``--no-resume`` refuses a folder that holds a batch."""
    import pytest

    manifest = tmp_path / "m.csv"
    p = next(iter(speech_by_speaker.values()))[0]
    manifest.write_text(f"path,speaker\n{p},s\n")
    for cmd, arg in (("embed-dir", str(p.parent)), ("embed-dataset", str(manifest))):
        with pytest.raises(SystemExit) as exc:
            main([cmd, arg, "-o", str(tmp_path / cmd), "--max-crashes", "0", "-q"])
        assert exc.value.code == 2
        assert "--max-crashes: takes a whole number of 1 or more" in capsys.readouterr().err
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.wav").write_bytes(p.read_bytes())
    out = tmp_path / "out"
    assert main(["embed-dir", str(src), "-o", str(out), "--max-crashes", "1", "-q"]) == 0
    assert main(["embed-dir", str(src), "-o", str(out), "--no-resume", "-q"]) == 1
    assert "already holds a batch" in capsys.readouterr().err
