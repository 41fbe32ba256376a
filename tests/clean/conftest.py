"""Signals for the cleaning tests: fixture speech with silences at known places, seeded noise."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voxref.audio import load_audio

from .clean_signals import SpeechWithPauses, build, trim

SPEECH_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
_FALLBACK_TEXTS = (
    ("en-us", "The old lighthouse keeper climbed the stairs before dawn."),
    ("en-us+f3", "Please bring three apples and a loaf of bread from the market."),
    ("en-gb+m3", "Rain drummed softly on the tin roof all night long."),
    ("en-us+m5", "Could you tell me where the nearest train station is?"),
)


@pytest.fixture(scope="session")
def utterances(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[np.ndarray]]:
    """Speaker -> trimmed 16 kHz utterances: ``tests/fixtures/speech`` or, if absent, espeak-ng."""
    out: dict[str, list[np.ndarray]] = {}
    manifest = SPEECH_DIR / "manifest.csv"
    if manifest.exists():
        with manifest.open(newline="") as fh:
            for row in csv.DictReader(fh):
                out.setdefault(row["speaker"], []).append(
                    trim(load_audio(SPEECH_DIR / row["path"]).samples)
                )
        return out
    if shutil.which("espeak-ng") is None:
        pytest.skip("no speech fixtures and no espeak-ng to synthesise them")
    folder = tmp_path_factory.mktemp("speech")
    for i, (voice, text) in enumerate(_FALLBACK_TEXTS):
        path = folder / f"u{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
        out.setdefault(voice, []).append(trim(load_audio(path).samples))
    return out


@pytest.fixture(scope="session")
def speech_with_pauses(utterances: dict[str, list[np.ndarray]]) -> SpeechWithPauses:
    """Three utterances of one speaker, with 0.6/0.9/1.3/0.7 s silences around them (~11 s)."""
    spk = sorted(utterances)[0]
    return build(utterances[spk][:3], [0.6, 0.9, 1.3, 0.7])
