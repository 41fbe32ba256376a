"""Work spread over two threads gives the results of one thread, in input order."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from voxref.embedder import workers
from voxref.pipeline import Embedder


@pytest.fixture
def torch_threads():
    n = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def refs(pyannote_sample):
    x, sr = sf.read(pyannote_sample[0], dtype="float32")
    # three 5 s references of real speech, and one of digital silence (rejected)
    return [(x[a * sr : (a + 5) * sr], sr) for a in (7, 13, 22)] + [(np.zeros(5 * sr), sr)]


@pytest.fixture(scope="module")
def noisy_and_long(pyannote_sample):
    """Two references in seeded white noise at 5 dB SNR (denoised) and 25 s of the sample."""
    x, sr = sf.read(pyannote_sample[0], dtype="float32")
    rng = np.random.default_rng(27)
    out = []
    for a in (3, 16):
        s = x[a * sr : (a + 5) * sr]
        n = rng.standard_normal(len(s))
        n *= np.sqrt(np.mean(s.astype(np.float64) ** 2) / np.mean(n**2) / 10**0.5)
        out.append(((s + n).astype(np.float32), sr))
    return out, [(x[: 25 * sr], sr)]


def _threads_used(emb, monkeypatch):
    """The names of the threads that clean references; with more than one torch thread, the
    first cleaning waits (at most 5 s) until a second thread cleans one too, so a loaded
    machine does not let one thread take every reference before the other wakes up."""
    names: list[str] = []
    second = threading.Event()
    clean_speech = emb._clean_speech  # the per-reference cleaning task of prepare_all

    def spy(x, index, sample_rate, *rest):
        me = threading.current_thread().name
        names.append(me)
        if torch.get_num_threads() == 1 and workers.call_threads() == 1 and rest and rest[1]:
            # in a task of a call with several threads (``beside`` given)
            if len(set(names)) == 1:
                second.wait(5)
            else:
                second.set()
        return clean_speech(x, index, sample_rate, *rest)

    monkeypatch.setattr(emb, "_clean_speech", spy)
    return names


def test_two_threads_equal_one(refs, torch_threads, monkeypatch):
    emb = Embedder()
    names = _threads_used(emb, monkeypatch)
    torch_threads(1)
    serial = emb.embed_details(refs)
    assert set(names) == {threading.current_thread().name}
    names.clear()
    torch_threads(2)
    side = emb.embed_details(refs)
    assert len(set(names)) == 2 and any(n.startswith("voxref-task") for n in names)
    assert torch.get_num_threads() == 2  # the caller's setting is back
    assert np.array_equal(side.embedding, serial.embedding)
    assert [r.source for r in side.references] == [r.source for r in serial.references]
    status = [r.fate.status for r in side.references]
    assert status == [r.fate.status for r in serial.references]
    assert "rejected" not in status[:3] and status[3] == "rejected"
    for a, b in zip(side.references[:3], serial.references[:3]):
        assert np.array_equal(a.embedding, b.embedding)
        assert np.array_equal(a.windows.embeddings, b.windows.embeddings)


def test_denoised_and_long_references_do_not_depend_on_threads(noisy_and_long, torch_threads):
    """Denoised references (DeepFilterNet3 runs) and a 25 s one (its windows in several
    encoder batches, run side by side): bit for bit the same vectors with 1 and 2 threads."""
    noisy, long = noisy_and_long
    for refs in (noisy, noisy[:1], long):  # a lone noisy reference: decoders side by side
        vectors = []
        for n in (1, 2, 1, 2):
            torch_threads(n)
            res = Embedder().embed_details(refs)
            vectors.append(res.embedding)
        assert all(np.array_equal(vectors[0], v) for v in vectors[1:])
    torch_threads(1)
    noisy_res = Embedder().embed_details(noisy)
    assert all(r.fate.status != "rejected" for r in noisy_res.references)
    assert all(r.prepared.denoiser.startswith("dfn3") for r in noisy_res.references)


def test_tasks_added_by_tasks_run_and_errors_surface():
    q = workers.TaskQueue(threads=2)
    done: list[int] = []

    def parent(i: int) -> None:
        done.append(i)
        if i < 4:
            q.add(parent, i + 4)

    for i in range(4):
        q.add(parent, i)
    q.run()
    assert sorted(done) == list(range(8))

    def boom() -> None:
        raise ValueError("task failed")

    q = workers.TaskQueue(threads=2)
    q.add(boom)
    q.add(done.append, 99)
    with pytest.raises(ValueError, match="task failed"):
        q.run()


def test_nested_work_stays_in_the_task_thread(torch_threads):
    torch_threads(2)
    assert workers.call_threads() == 2
    inside = workers.run_all([workers.call_threads, workers.call_threads], threads=2)
    assert inside == [1, 1]
    # tasks ran with one intra-op thread; this thread and threads started later keep two
    ops = workers.run_all([torch.get_num_threads] * 4, threads=2)
    assert ops == [1] * 4 and torch.get_num_threads() == 2
    later: list[int] = []
    t = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert later == [2]
    torch_threads(1)
    assert workers.call_threads() == 1


@pytest.mark.parametrize("n_speakers", [3, 4])
def test_batch_with_voice_splits_does_not_depend_on_threads(
    pyannote_sample, torch_threads, monkeypatch, n_speakers
):
    """embed_many of enrollments cut across the sample's two speakers, same vectors with 1 and
    2 threads: 3 speakers one after the other, each call's voice splits side by side; 4
    speakers (two per thread) side by side, each in one thread."""
    x, sr = sf.read(pyannote_sample[0], dtype="float32")
    cuts = [(x[a * sr : (a + 5) * sr], sr) for a in (2, 7, 11, 15, 19, 24)]
    speakers = {
        f"s{k}": [cuts[(2 * k + j) % len(cuts)] for j in range(3)] for k in range(n_speakers)
    }
    out = {}
    for n in (1, 2):
        torch_threads(n)
        emb = Embedder()
        names = _threads_used(emb, monkeypatch)
        out[n] = emb.embed_many(speakers, return_details=True)
    assert len(set(names)) == 2
    splits = []
    for k in speakers:
        assert np.array_equal(out[1][k].embedding, out[2][k].embedding)
        refs = [r.prepared for r in out[2][k].references if r.prepared is not None]
        splits.append(sum("voice_split" in p.extras for p in refs))
    assert max(splits) >= 2, splits  # a call with two voice splits


def test_clean_with_work_beside_the_vad_equals_clean(noisy_and_long):
    """clean_in_schedule(beside=...): the DC high-pass and the decay time on another thread while
    the VAD runs; the same speech and report as public clean() in one thread (which takes no
    scheduling hooks). A wrong high-passed signal is refused."""
    import inspect

    from voxref.cleaning import clean
    from voxref.cleaning.pipeline import clean_in_schedule
    from voxref.cleaning.snr import measure_snr
    from voxref.errors import ConfigError

    noisy, long = noisy_and_long
    for x, sr in (noisy[0], long[0]):
        q = workers.TaskQueue(threads=2)
        got: list = []
        q.add(
            lambda x=x, sr=sr, q=q, got=got: got.append(clean_in_schedule((x, sr), beside=q.spawn))
        )
        q.run()
        plain = clean((x, sr))
        assert np.array_equal(got[0].speech.samples, plain.speech.samples)
        assert got[0].report.to_dict() == plain.report.to_dict()
        for field in ("snr_db", "decay_s", "bandwidth_hz", "level_dbfs"):
            assert getattr(got[0].report, field) == getattr(plain.report, field), field
        assert got[0].denoiser == plain.denoiser
    assert not {"beside", "on_regions"} & set(inspect.signature(clean).parameters)
    with pytest.raises(ConfigError, match="highpassed"):
        measure_snr(x, sr, highpassed=np.zeros(10))


def test_a_failing_task_raises_instead_of_hanging(noisy_and_long, torch_threads, monkeypatch):
    """A bug in the early encoding of a reference (here: leveling raises) surfaces as that
    exception from embed() with 2 threads; nothing waits for it forever."""
    from voxref.pipeline import preparing

    def broken(*a, **k):
        raise RuntimeError("leveling failed")

    from voxref.cleaning import pipeline as cleaning

    measure_snr = cleaning.measure_snr

    def slow_snr(*a, **k):  # the early encoding surely starts meanwhile
        time.sleep(0.5)
        return measure_snr(*a, **k)

    monkeypatch.setattr(preparing, "level_audio", broken)
    monkeypatch.setattr(cleaning, "measure_snr", slow_snr)
    torch_threads(2)
    _, long = noisy_and_long
    box: list = []

    def call() -> None:
        try:
            Embedder().embed(long)
        except BaseException as exc:  # noqa: BLE001 - looked at below
            box.append(exc)

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "embed() hung"
    assert len(box) == 1 and isinstance(box[0], RuntimeError), box
