"""``voxref inspect`` on the command line, the speakers section, and the Python entry points."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from voxref.cli.main import main


@pytest.fixture(scope="module")
def speakers_dir(tmp_path_factory, speech_by_speaker):
    root = tmp_path_factory.mktemp("speakers")
    for spk in list(speech_by_speaker)[:3]:
        (root / spk).mkdir()
        for path in speech_by_speaker[spk][:2]:
            shutil.copy(path, root / spk / path.name)
    return root


def test_cli_files_and_speakers(tmp_path, speakers_dir, speech_by_speaker, capsys):
    files = [str(p) for p in next(iter(speech_by_speaker.values()))[:2]]
    out = tmp_path / "r.html"
    code = main(
        ["inspect", *files, "--speakers", str(speakers_dir), "--no-diarize", "-o", str(out)]
    )
    assert code == 0
    said = capsys.readouterr().out
    assert "2 reference(s), 3 speaker(s)" in said
    html = out.read_text(encoding="utf-8")
    assert len(re.findall(r'<tr class="reference-row"', html)) == 2
    assert len(re.findall(r'<tr class="speaker-row"', html)) == 3
    figs = {p.name for p in (tmp_path / "r_figures").iterdir()}
    assert {"speakers-map.png", "speakers-similarity.png", "embedding-map.png"} <= figs
    assert "diarization not run" in html or "not available" in html  # --no-diarize


def test_speakers_are_grouped_by_folder(speakers_dir, tmp_path):
    from voxref.inspection.report import inspect

    rep = inspect([], tmp_path / "s.html", speakers_dir=speakers_dir, diarize=False)
    speakers = rep.inspection.speakers
    assert [s.name for s in speakers] == sorted(p.name for p in speakers_dir.iterdir())
    pooled = np.stack([s.embedding for s in speakers])
    # every reference is closer to its own speaker's pooled embedding than to the others'
    for k, s in enumerate(speakers):
        assert len(s.reference_embeddings) == 2
        assert (np.argmax(s.reference_embeddings @ pooled.T, axis=1) == k).all()
    assert rep.num_references == 0 and 'id="references"' not in rep.path.read_text()


def test_cli_needs_files_or_speakers(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["inspect", "-o", str(tmp_path / "x.html")])
    assert exc.value.code == 2
    assert "--speakers" in capsys.readouterr().err


def test_voxref_inspect_is_the_function_even_after_importing_the_package():
    import voxref
    import voxref.inspection.report as report

    assert voxref.inspect is report.inspect
    assert not callable(voxref.inspection)  # the package is a package, not a function


_NO_PYPLOT = """
import sys
import numpy as np
from voxref.inspection.collect import Inspection, ReferenceView
from voxref.inspection.report import write_report

sr = 16000
x = (0.3 * np.sin(2 * np.pi * 200 * np.arange(3 * sr) / sr)).astype(np.float32)
rng = np.random.default_rng(0)
emb = rng.standard_normal((4, 8)).astype(np.float32)
emb /= np.linalg.norm(emb, axis=1, keepdims=True)
view = ReferenceView(
    index=0, source="tone.wav", status="used", weight=1.0, samples=x, sample_rate=sr,
    regions=[(0.5, 2.5)], window_times=np.array([[0, 1.0], [0.5, 1.5], [1.0, 2.0], [1.5, 2.0]]),
    window_weights=np.full(4, 0.25), embedding=emb.mean(0), window_embeddings=emb,
    speech=x[sr // 2 : 5 * sr // 2], diarization_note="not available",
)
rep = write_report(Inspection([view], emb.mean(0), {"name": "toy"}, "mean"), sys.argv[1])
assert rep.num_references == 1 and len(rep.figures) == 4, rep.figures
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
"""


def test_report_without_models_leaves_pyplot_alone(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", _NO_PYPLOT, str(tmp_path / "toy.html")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = (tmp_path / "toy.html").read_text()
    assert html.count('<tr class="reference-row"') == 1
    assert "diarization not available" in html


def test_report_when_no_reference_is_usable(tmp_path, embedder):
    import soundfile as sf

    from voxref.inspection.report import inspect

    rng = np.random.default_rng(7)
    noise = tmp_path / "hiss.wav"
    sf.write(noise, (0.05 * rng.standard_normal(24000)).astype(np.float32), 16000)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    rep = inspect([noise, silent], tmp_path / "bad.html", embedder=embedder, diarize=False)
    data = rep.inspection
    assert data.embedding is None and "no usable reference" in data.note.lower()
    assert [v.status for v in data.references] == ["rejected", "rejected"]
    assert all(v.report.verdict == "reject" and v.report.reasons for v in data.references)
    html = rep.path.read_text()
    assert html.count('<tr class="reference-row"') == 2
    assert "pooled embedding: none" in html and "<audio" not in html
    assert {"reference-01", "reference-02", "weights", "embedding-map"} <= set(rep.figures)
