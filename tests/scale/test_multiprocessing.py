"""``embed_dataset`` on local processes: same embeddings as ``voxref.embed``, a poison clip
reported exactly once, resumption without recomputation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import voxref
from voxref.scale import embed_dataset, read_clips, read_speaker_embeddings, read_speakers
from voxref.scale.testing import CrashingEmbedderFactory

from .conftest import SEGMENT, write_manifest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def mp_run(tmp_path_factory, scale_rows):
    """One run with 2 worker processes; ``poison.wav`` kills its worker every time."""
    d = tmp_path_factory.mktemp("mp")
    poison = d / "poison.wav"
    shutil.copy(scale_rows[0]["path"], poison)
    rows = list(scale_rows)
    rows.insert(1, {"path": str(poison), "speaker": scale_rows[0]["speaker"]})
    manifest = write_manifest(d / "manifest.csv", rows)
    out = d / "out"
    kwargs = dict(
        backend="multiprocessing",
        num_workers=2,
        shard_size=3,
        speakers_per_bucket=2,
        max_crashes=1,
        progress=False,
        embedder_factory=CrashingEmbedderFactory("poison.wav"),
    )
    summary = embed_dataset(manifest, out, **kwargs)
    return {"rows": rows, "manifest": manifest, "out": out, "summary": summary, "kwargs": kwargs}


def test_every_clip_is_embedded_or_reported_exactly_once(mp_run):
    table = read_clips(mp_run["out"])
    assert sorted(table.column("index").to_pylist()) == list(range(len(mp_run["rows"])))
    by_index = {r["index"]: r for r in table.to_pylist()}
    poison = by_index[1]
    assert (poison["status"], poison["error"]) == ("failed", "ProcessDied")
    assert "died" in poison["reason"]
    lost = by_index[len(mp_run["rows"]) - 1]
    assert (lost["status"], lost["error"]) == ("rejected", "AudioFileNotFoundError")
    ok = [r for r in by_index.values() if r["status"] == "ok"]
    assert len(ok) == len(mp_run["rows"]) - 2
    s = mp_run["summary"]
    assert (s.clips_ok, s.clips_failed, s.clips_rejected) == (len(ok), 1, 1)
    assert s.worker_deaths >= 2  # the shard holding the poison clip, then the clip alone
    segment = next(r for r in ok if r["start"] is not None)
    assert segment["duration_s"] == pytest.approx(SEGMENT[1] - SEGMENT[0], abs=1e-3)


def test_speaker_embeddings_equal_voxref_embed(mp_run, reference_embeddings):
    got = read_speaker_embeddings(mp_run["out"])
    assert set(got) == set(reference_embeddings)  # the ghost speaker has no usable clip
    for spk, ref in reference_embeddings.items():
        np.testing.assert_allclose(got[spk], ref, atol=1e-6, err_msg=spk)
    speakers = {r["speaker"]: r for r in read_speakers(mp_run["out"]).to_pylist()}
    ghost = speakers["ghost"]
    assert ghost["status"] == "failed" and "lost.wav" in ghost["reason"]
    first = speakers[mp_run["rows"][0]["speaker"]]
    refs = json.loads(first["references"])
    assert [r["status"] for r in refs][1] == "rejected"  # the poison clip, kept in the report
    assert sum(r["weight"] for r in refs) == pytest.approx(1.0, abs=1e-5)


def test_clip_embedding_equals_voxref_embed_of_that_clip(mp_run):
    table = read_clips(mp_run["out"], columns=["index", "embedding", "num_windows", "dimension"])
    row = table.to_pylist()[0]
    expected = voxref.embed([mp_run["rows"][0]["path"]])
    np.testing.assert_allclose(np.asarray(row["embedding"], np.float32), expected, atol=1e-6)
    assert row["num_windows"] >= 1 and row["dimension"] == 256


def test_rerun_skips_finished_shards(mp_run):
    out = mp_run["out"]
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    again = embed_dataset(mp_run["manifest"], out, **mp_run["kwargs"])
    assert (again.shards_computed, again.buckets_computed, again.clips_computed) == (0, 0, 0)
    assert again.shards_reused == mp_run["summary"].shards
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == before
    assert (again.clips_ok, again.clips_failed) == (
        mp_run["summary"].clips_ok,
        mp_run["summary"].clips_failed,
    )


def test_rerun_with_other_settings_is_refused(mp_run):
    from voxref.errors import ConfigError

    kwargs = dict(mp_run["kwargs"], shard_size=2)
    with pytest.raises(ConfigError, match="different"):
        embed_dataset(mp_run["manifest"], mp_run["out"], **kwargs)


def test_previous_format_resumes_and_fresh_run_is_refused(mp_run, tmp_path):
    """A folder written by format version 1 (no resolved options recorded) is continued without
    recomputing; ``resume=False`` refuses a folder that holds a run."""
    from voxref.errors import ConfigError

    out = tmp_path / "out"
    shutil.copytree(mp_run["out"], out)
    config = json.loads((out / "dataset.json").read_text())
    assert config["version"] == 2 and "pooling" in config["vector_options"]
    old = {k: v for k, v in config.items() if k not in ("vector_options", "encoder")}
    (out / "dataset.json").write_text(json.dumps(dict(old, version=1)))
    again = embed_dataset(mp_run["manifest"], out, **mp_run["kwargs"])
    assert (again.shards_computed, again.buckets_computed) == (0, 0)
    assert json.loads((out / "dataset.json").read_text()) == config
    with pytest.raises(ConfigError, match="already holds a batch.*resume=True"):
        embed_dataset(mp_run["manifest"], out, resume=False, **mp_run["kwargs"])
    (out / "dataset.json").write_text(json.dumps(dict(old, version=1, embedder={"clean": "False"})))
    with pytest.raises(ConfigError, match="other embedder options.*Use another output folder"):
        embed_dataset(mp_run["manifest"], out, **mp_run["kwargs"])
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["format"], summary["version"]) == ("voxref-embed-dataset", 2)
    assert json.loads((out / "dataset.json").read_text())["embedder"] == {"clean": "False"}


def test_input_changed_since_embedded_is_embedded_again(speech_by_speaker, tmp_path):
    """A clip file rewritten with another voice -- same size, its modification time put back --
    is embedded again on the next run, with its speaker; the other shard and bucket are kept."""
    import os

    import soundfile as sf

    voices = sorted(speech_by_speaker)
    rows = []
    for spk in voices[:2]:
        for p in speech_by_speaker[spk][:2]:
            dst = tmp_path / "in" / spk / p.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dst)
            rows.append({"path": str(dst), "speaker": spk})
    manifest = write_manifest(tmp_path / "manifest.csv", rows)
    out = tmp_path / "out"
    kwargs = dict(
        backend="multiprocessing",
        num_workers=1,
        shard_size=2,
        speakers_per_bucket=1,
        progress=False,
    )
    embed_dataset(manifest, out, **kwargs)
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    old = read_speaker_embeddings(out)[voices[0]]
    target = tmp_path / "in" / voices[0] / speech_by_speaker[voices[0]][0].name
    st, info = target.stat(), sf.info(target)
    other = sf.read(speech_by_speaker[voices[-1]][0], dtype="float32")[0]
    sf.write(target, np.resize(other, info.frames), info.samplerate, subtype=info.subtype)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (target.stat().st_size, target.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)

    again = embed_dataset(manifest, out, **kwargs)
    assert (again.shards_changed, again.shards_computed, again.buckets_computed) == (1, 1, 1)
    after = {p.name: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    assert sorted(k for k in before if after[k] != before[k]) == [
        "bucket-000000.parquet",
        "shard-000000.parquet",
    ]
    new = read_speaker_embeddings(out)[voices[0]]
    expected = voxref.embed([r["path"] for r in rows if r["speaker"] == voices[0]])
    np.testing.assert_allclose(new, expected, atol=1e-6)
    assert float(new @ old) < 0.999  # the stale embedding would have stayed
    third = embed_dataset(manifest, out, **kwargs)
    assert (third.shards_changed, third.shards_computed, third.buckets_computed) == (0, 0, 0)


def test_sigterm_stops_the_driver_cleanly_and_the_run_resumes(speech_by_speaker, tmp_path):
    """SIGTERM to ``voxref embed-dataset`` is an interrupt, not a crash: exit status 130, a
    summary saying the run is incomplete, and the same command finishes the run without redoing
    the shards written before the signal."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    rows = [
        {"path": str(p), "speaker": spk}
        for spk in sorted(speech_by_speaker)
        for p in speech_by_speaker[spk]
    ]
    manifest = write_manifest(tmp_path / "manifest.csv", rows)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "voxref", "embed-dataset", str(manifest), "-o", str(out)]
    cmd += ["--backend", "multiprocessing", "--num-workers", "1", "--shard-size", "1", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not list((out / "clips").glob("shard-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False
    written = {p.name: p.stat().st_mtime_ns for p in (out / "clips").glob("shard-*.parquet")}
    assert 1 <= len(written) < len(rows)
    again = embed_dataset(
        manifest, out, backend="multiprocessing", num_workers=1, shard_size=1, progress=False
    )
    assert again.complete and again.clips_ok == len(rows)
    assert again.shards_reused == len(written) and again.worker_deaths == 0
    assert all((out / "clips" / n).stat().st_mtime_ns == t for n, t in written.items())
