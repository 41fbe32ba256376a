"""Speech for the augmentation tests.

Uses the committed fixture speech (``tests/fixtures/speech/<speaker>_<k>.wav``, 16 kHz) when it
is there, otherwise synthesises a few utterances with espeak-ng into a temporary folder. Also
gives a 4 s excerpt of pyannote's bundled real 2-speaker recording.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxref.audio import load_audio

SR = 16000
FIXTURE_SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
_ESPEAK = [
    ("en-us+m3", "The old lighthouse keeper climbed the stairs before dawn."),
    ("en-us+m3", "Please bring three apples and a loaf of bread from the market."),
    ("en-gb+f2", "Rain drummed softly on the tin roof all night long."),
    ("en-gb+f2", "Could you tell me where the nearest railway station is?"),
    ("en+m7", "Seven bright kites floated high above the green hill."),
    ("en+m7", "She folded the letter twice and slipped it under the door."),
]


def _read(path: Path) -> np.ndarray:
    return load_audio(path, target_sample_rate=SR).samples


@pytest.fixture(scope="session")
def speakers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[np.ndarray]]:
    """Speaker name -> list of 16 kHz float32 utterances (at least 3 speakers x 2 utterances)."""
    out: dict[str, list[np.ndarray]] = {}
    files = sorted(FIXTURE_SPEECH.glob("*.wav")) if FIXTURE_SPEECH.is_dir() else []
    for f in files:
        out.setdefault(f.stem.rsplit("_", 1)[0], []).append(_read(f))
    if len(out) >= 3 and all(len(v) >= 2 for v in out.values()):
        return out
    if shutil.which("espeak-ng") is None:
        pytest.skip("no fixture speech and no espeak-ng to synthesise it")
    tmp = tmp_path_factory.mktemp("augment_speech")
    out = {}
    for i, (voice, text) in enumerate(_ESPEAK):
        wav = tmp / f"{i}.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True
        )
        out.setdefault(voice, []).append(_read(wav))
    return out


@pytest.fixture(scope="session")
def speech(speakers: dict[str, list[np.ndarray]]) -> np.ndarray:
    """One synthetic utterance of the first speaker (16 kHz float32, with its pauses)."""
    return next(iter(speakers.values()))[0]


@pytest.fixture(scope="session")
def others(speakers: dict[str, list[np.ndarray]]) -> list[np.ndarray]:
    """Utterances of every speaker except the first."""
    return [u for name in list(speakers)[1:] for u in speakers[name]]


@pytest.fixture(scope="session")
def real_speech() -> np.ndarray:
    """4 s of real recorded speech (pyannote's bundled sample.wav, 2.0-6.0 s), 16 kHz float32."""
    spec = importlib.util.find_spec("pyannote.audio")
    for root in (spec.submodule_search_locations or []) if spec else []:
        wav = Path(root, "sample", "sample.wav")
        if wav.is_file():
            x, sr = sf.read(str(wav), dtype="float32", start=2 * 16000, stop=6 * 16000)
            assert sr == SR
            return np.ascontiguousarray(x if x.ndim == 1 else x.mean(axis=1))
    pytest.skip("pyannote's sample.wav not found")


def reference_level(
    x: np.ndarray, sr: int = SR, frame_s: float = 0.02, floor_db: float = -50.0
) -> float:
    """Active power written independently of voxref.augment.levels (explicit frame loop)."""
    n = int(round(frame_s * sr))
    frames = [np.asarray(x[i : i + n], dtype=np.float64) for i in range(0, len(x), n)]
    energies = [float(np.mean(f**2)) for f in frames]
    peak = max(energies)
    kept = [f for f, e in zip(frames, energies) if peak > 0 and e >= peak * 10 ** (floor_db / 10)]
    sel = np.concatenate(kept)
    return float(np.sum(sel**2) / len(sel))


def reference_snr(clean: np.ndarray, degraded: np.ndarray, sr: int = SR) -> float:
    """SNR (dB) of ``degraded`` against ``clean``, both on their own active frames."""
    residual = degraded.astype(np.float64) - clean.astype(np.float64)
    return 10 * np.log10(reference_level(clean, sr) / reference_level(residual, sr))


@pytest.fixture(scope="session")
def measure_snr():
    """The independent SNR measurement :func:`reference_snr`."""
    return reference_snr


@pytest.fixture(scope="session")
def measure_level():
    """The independent active-power measurement :func:`reference_level`."""
    return reference_level
