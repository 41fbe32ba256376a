"""``voxref.embed`` of one long file streams it: peak memory does not grow with the file."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

import voxref
from voxref import api


@pytest.fixture(scope="module")
def long_files(pyannote_sample, tmp_path_factory):
    """The pyannote sample (real speech, 2 speakers) looped to 40 s and to 80 s, 16 kHz PCM16."""
    x, sr = sf.read(pyannote_sample[0], dtype="float32")
    out = {}
    for seconds in (40, 80):
        path = tmp_path_factory.mktemp("long") / f"loop_{seconds}s.wav"
        sf.write(path, np.resize(x, seconds * sr), sr, subtype="PCM_16")
        out[seconds] = path
    return out


def _peak_bytes(fn) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def test_long_file_is_streamed_in_bounded_memory(long_files, monkeypatch):
    # a 10 s chunk stands for the 60 s one, a 20 s limit for the 10 min one (same code path)
    monkeypatch.setattr(api, "LONG_FILE_SECONDS", 20.0)
    monkeypatch.setattr(api, "LONG_CHUNK_SECONDS", 10.0)
    emb = api.get_embedder()
    _ = emb.encoder  # models load outside the measurement
    voxref.embed(long_files[40])  # warm-up: lazily loaded stages
    peak40, e40 = _peak_bytes(lambda: voxref.embed(long_files[40], return_details=True))
    peak80, e80 = _peak_bytes(lambda: voxref.embed(long_files[80], return_details=True))
    # streamed: one reference per chunk, and twice the audio costs no more memory at its peak
    assert len(e40.references) == 4 and len(e80.references) == 8
    assert peak80 < 1.25 * peak40
    # the same voices looped: the streamed embeddings agree
    assert float(e40.embedding @ e80.embedding) > 0.95
    # whole-file embedding of the 80 s file (limit raised) holds more at its peak
    monkeypatch.setattr(api, "LONG_FILE_SECONDS", 1e9)
    whole80, e_whole = _peak_bytes(lambda: voxref.embed(long_files[80], return_details=True))
    assert len(e_whole.references) == 1
    assert whole80 > 1.5 * peak80
