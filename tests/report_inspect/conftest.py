"""One real report for the inspect tests: pyannote's 2-speaker sample, two fixture clips (one under a
hostile file name) and a reference that must be rejected (seeded white noise).

Built once per session (~15 s: embedding, diarization, figures) and shared by the HTML and browser
tests.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SPEECH_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
#: A legal file name that is also HTML: it must come out escaped, never as markup.
HOSTILE_NAME = 'm3 <img src=x onerror=alert(1)> & "q".wav'


@dataclass
class BuiltReport:
    """A report written for the tests, with the inputs it was made from."""

    report: object  # voxref.inspection.report.InspectReport
    files: list[Path]
    html: str


@pytest.fixture(scope="session")
def embedder():
    from voxref import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def reference_files(tmp_path_factory: pytest.TempPathFactory, pyannote_sample) -> list[Path]:
    """sample.wav, a flite clip, an espeak clip under :data:`HOSTILE_NAME`, and 2 s of noise."""
    folder = tmp_path_factory.mktemp("refs")
    hostile = folder / HOSTILE_NAME
    shutil.copy(SPEECH_DIR / "espeak-us-m3_1.wav", hostile)
    noise = folder / "noise.wav"
    rng = np.random.default_rng(1234)
    sf.write(noise, (0.1 * rng.standard_normal(32000)).astype(np.float32), 16000)
    return [Path(pyannote_sample[0]), SPEECH_DIR / "flite-awb_0.wav", hostile, noise]


@pytest.fixture(scope="session")
def built_report(
    tmp_path_factory: pytest.TempPathFactory, reference_files: list[Path], embedder
) -> BuiltReport:
    from voxref.inspection.report import inspect

    out = tmp_path_factory.mktemp("report") / "report.html"
    rep = inspect([str(f) for f in reference_files], out, embedder=embedder)
    return BuiltReport(rep, reference_files, out.read_text(encoding="utf-8"))
