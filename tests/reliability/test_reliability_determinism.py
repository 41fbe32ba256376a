"""Same input, same bits: across processes, and across threads sharing one ``Embedder``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from voxref.pipeline import Embedder

from .conftest import assert_unit_vector

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = """
import hashlib, json, sys
import numpy as np, soundfile as sf
import voxref
paths = sys.argv[1:]
rng = np.random.default_rng(3)
x, sr = sf.read(paths[0], dtype="float32")
noisy = (x + 0.02 * rng.standard_normal(len(x)).astype(np.float32), sr)
stereo48 = (np.stack([voxref.audio.resample(x, sr, 48000)] * 2), 48000)
out = {}
for name, inputs in [("files", paths), ("noisy", noisy), ("stereo48", stereo48), ("one", paths[1])]:
    v = voxref.embed(inputs)
    out[name] = hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()
print(json.dumps(out))
"""


def _run(paths: list[Path], threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    res = subprocess.run(
        [sys.executable, "-c", "import voxref.audio\n" + _SCRIPT, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_two_processes_give_bit_identical_embeddings(speech_by_speaker) -> None:
    paths = [p for ps in list(speech_by_speaker.values())[:2] for p in ps[:2]]
    a = _run(paths, threads=1)
    b = _run(paths, threads=1)
    assert a == b
    assert len(set(a.values())) == 4  # different inputs, different vectors: the hash is not vacuous


@pytest.fixture(scope="module")
def shared() -> Embedder:
    return Embedder()


def _digest(v: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()


def test_threads_sharing_one_embedder_match_serial_results(
    shared: Embedder, speech_by_speaker
) -> None:
    rng = np.random.default_rng(11)
    refs = [ps for ps in speech_by_speaker.values()]
    jobs: list[object] = [refs[0][:2], refs[1][0], refs[2], refs[3][1:3]]
    x = np.concatenate(
        [np.zeros(4000, np.float32), 0.3 * rng.standard_normal(32000).astype(np.float32)]
    )
    jobs.append([(x, 16000), refs[4][0]])
    serial = [_digest(assert_unit_vector(shared.embed(j))) for j in jobs]
    results: dict[tuple[int, int], str] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(t: int) -> None:
        try:
            barrier.wait(timeout=60)
            order = list(range(len(jobs)))[:: 1 if t == 0 else -1]  # overlap different work
            for rep in range(2):
                for i in order:
                    results[(t, rep * 100 + i)] = _digest(shared.embed(jobs[i]))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    assert not errors, errors
    assert len(results) == 2 * 2 * len(jobs)
    for (_, key), digest in results.items():
        assert digest == serial[key % 100], f"job {key % 100} differs between threads and serial"
