"""Shared fixtures of the separation tests: pyannote's sample, its diarization, synthetic speech.

Expensive results (window embeddings, diarizations) are computed once per session.
"""

from __future__ import annotations

import shutil

import pytest

from voxref.sample_data import pyannote_sample, read_rttm


@pytest.fixture(scope="session")
def sample():
    """``(samples, sample_rate, turns)`` of pyannote's bundled 2-speaker recording."""
    import soundfile as sf

    wav, rttm = pyannote_sample()
    x, sr = sf.read(wav, dtype="float32")
    return x, sr, read_rttm(rttm)


@pytest.fixture(scope="session")
def diarizer():
    from voxref.separation.diarization import Diarizer

    return Diarizer()


@pytest.fixture(scope="session")
def sample_windows(diarizer, sample):
    x, sr, _ = sample
    return diarizer.analyse(x, sr)


@pytest.fixture(scope="session")
def sample_given(diarizer, sample_windows):
    return diarizer.run(sample_windows, num_speakers=2)


@pytest.fixture(scope="session")
def sample_auto(diarizer, sample_windows):
    return diarizer.run(sample_windows)


QUIET_GAIN = 0.05  # -26 dB: pyannote's sample at about -59 dBFS active level (speech band)


@pytest.fixture(scope="session")
def quiet_sample_auto(diarizer, sample):
    """The sample 26 dB quieter, diarized by the default (levelling) diarizer, speakers counted."""
    x, sr, _ = sample
    return diarizer(QUIET_GAIN * x, sr)


@pytest.fixture(scope="session")
def synth_ok():
    if not (shutil.which("espeak-ng") and shutil.which("flite")):
        pytest.skip("espeak-ng and flite are needed to synthesise test speech")
    return True


@pytest.fixture(scope="session")
def voices(synth_ok):
    from voxref.separation.synthetic import VOICES

    return {v.name: v for v in VOICES}


@pytest.fixture(scope="session")
def encoder():
    from voxref.embedder.ge2e import GE2EEncoder

    return GE2EEncoder()
