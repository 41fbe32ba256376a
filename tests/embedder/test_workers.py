"""References prepared side by side give the results of one-after-the-other, in input order."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf
import torch

from voxref.embedder import workers
from voxref.pipeline import Embedder


@pytest.fixture
def two_threads():
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def refs(pyannote_sample):
    x, sr = sf.read(pyannote_sample[0], dtype="float32")
    # three 5 s references of real speech, and one of digital silence (rejected)
    return [(x[a * sr : (a + 5) * sr], sr) for a in (7, 13, 22)] + [(np.zeros(5 * sr), sr)]


def test_side_by_side_equals_one_after_the_other(refs, two_threads, monkeypatch):
    emb = Embedder()
    names: list[str] = []
    clean_speech = emb._clean_speech  # the per-reference part of prepare_all

    def spy(x, index, sample_rate):
        names.append(threading.current_thread().name)
        return clean_speech(x, index, sample_rate)

    monkeypatch.setattr(emb, "_clean_speech", spy)
    assert workers.reference_threads(refs) == 2
    side = emb.embed_details(refs)
    assert all(n.startswith("voxref-ref") for n in names) and len(set(names)) == 2
    monkeypatch.setattr(workers, "MIN_SECONDS_EACH", 1e9)  # now one after the other
    names.clear()
    serial = emb.embed_details(refs)
    assert names == [threading.current_thread().name] * len(refs)
    assert np.array_equal(side.embedding, serial.embedding)
    assert [r.source for r in side.references] == [r.source for r in serial.references]
    status = [r.fate.status for r in side.references]
    assert status == [r.fate.status for r in serial.references]
    assert "rejected" not in status[:3] and status[3] == "rejected"
    for a, b in zip(side.references[:3], serial.references[:3]):
        assert np.array_equal(a.embedding, b.embedding)


def test_short_or_single_references_stay_in_this_thread(refs, two_threads):
    assert workers.reference_threads(refs[:1]) == 1
    assert workers.reference_threads([(x[: sr // 2], sr) for x, sr in refs]) == 1
    torch.set_num_threads(1)
    assert workers.reference_threads(refs) == 1
