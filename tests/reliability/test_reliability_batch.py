"""Batches that lose nothing: every input ends up embedded or reported, exactly once.

The central test starts ``voxref embed-dir`` in a subprocess on 60 files (good and bad), kills
it with SIGKILL half-way, starts it again, and checks that every file has exactly one outcome,
that work finished before the kill was neither recomputed nor rewritten, and that the summary
counts everything. The other tests pin each recovery path on its own (a torn ledger line, an
embedding written just before the kill, a file that crashes the process, deleted outputs,
mismatched settings, two writers) and the speaker-folder mode.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxref.batch import LEDGER_FILE, SUMMARY_FILE, Ledger, embed_dir
from voxref.errors import ConfigError
from voxref.pipeline import Embedder

from .conftest import assert_unit_vector

REPO = Path(__file__).resolve().parents[2]
SR = 16000


def _bad_files(d: Path, speech: np.ndarray, rng: np.random.Generator) -> dict[str, str]:
    """Write unusable inputs; returns relative path -> the error recorded for it."""
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    (d / "zero.wav").write_bytes(b"")
    out["zero.wav"] = "EmptyAudioError"
    (d / "random.wav").write_bytes(rng.bytes(5000))
    out["random.wav"] = "UnreadableAudioError"
    (d / "text.mp3").write_text("not audio\n" * 30)
    out["text.mp3"] = "UnreadableAudioError"
    sf.write(d / "silence.wav", np.zeros(2 * SR, np.float32), SR)
    out["silence.wav"] = "SilentAudioError"
    x = speech.copy()
    x[100] = np.nan
    sf.write(d / "nan.wav", x, SR, subtype="FLOAT")
    out["nan.wav"] = "NonFiniteAudioError"
    sf.write(d / "full.flac", speech, SR)
    data = (d / "full.flac").read_bytes()
    (d / "full.flac").unlink()
    (d / "truncated.flac").write_bytes(data[: len(data) // 2])
    out["truncated.flac"] = "UnreadableAudioError"
    (d / "broken link.wav").symlink_to(d / "nowhere.wav")
    out["broken link.wav"] = "AudioFileNotFoundError"
    sf.write(d / "tiny.wav", speech[16000:17600], SR)
    out["tiny.wav"] = "*"  # rejected by the cleaning stage (no / too little speech)
    sf.write(d / "noise.wav", (0.1 * rng.standard_normal(2 * SR)).astype(np.float32), SR)
    out["noise.wav"] = "*"
    return out


def build_tree(
    root: Path, speech_by_speaker: dict[str, list[Path]], copies: int = 1
) -> tuple[list[str], dict[str, str]]:
    """Good fixture speech (some with non-ASCII names) in speaker folders, bad files in ``bad/``,
    and two files no pattern matches. Returns (good relative paths, {bad relative path: error})."""
    rng = np.random.default_rng(7)
    good: list[str] = []
    for k in range(copies):
        for spk, paths in speech_by_speaker.items():
            for p in paths:
                sub = f"batch {k}/{spk}" if k else spk
                name = (
                    f"{sub}/{p.stem} \u00e9t\u00e9.wav"
                    if p.stem.endswith("_0")
                    else f"{sub}/{p.name}"
                )
                (root / sub).mkdir(parents=True, exist_ok=True)
                shutil.copy(p, root / name)
                good.append(name)
    speech = sf.read(next(iter(speech_by_speaker.values()))[0], dtype="float32")[0]
    bad = {f"bad/{k}": v for k, v in _bad_files(root / "bad", speech, rng).items()}
    (root / "notes.txt").write_text("session notes")
    (root / ".DS_Store").write_bytes(b"\0\0\0")
    return sorted(good), bad


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, speech_by_speaker, embedder):
    """A batch run to completion once: (root, out, good, bad, summary of that run)."""
    base = tmp_path_factory.mktemp("finished")
    root, out = base / "in put", base / "out"
    good, bad = build_tree(root, speech_by_speaker)
    summary = embed_dir(root, out, embedder=embedder, progress=False)
    return root, out, good, bad, summary


@pytest.fixture
def copy_of(finished, tmp_path: Path):
    """A private copy of the finished batch (inputs and outputs) to break things in."""
    root, out, good, bad, _ = finished
    r2, o2 = tmp_path / "in put", tmp_path / "out"
    shutil.copytree(root, r2, symlinks=True)
    shutil.copytree(out, o2, symlinks=True)
    return r2, o2, good, bad


def _done(out: Path) -> list[dict]:
    return [r for r in Ledger(out / LEDGER_FILE).read() if r["event"] == "done"]


def _check_every_input_once(out: Path, good: list[str], bad: dict[str, str]) -> dict[str, dict]:
    done = _done(out)
    keys = [r["item"] for r in done]
    assert sorted(keys) == sorted([*good, *bad]), "every input exactly once"
    by = {r["item"]: r for r in done}
    for g in good:
        assert by[g]["status"] == "ok", by[g]
        assert_unit_vector(np.load(out / by[g]["output"]))
    for b, err in bad.items():
        assert by[b]["status"] == "failed" and by[b]["reason"], by[b]
        if err != "*":
            assert by[b]["error"] == err, by[b]
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["complete"] is True
    assert summary["total"] == len(good) + len(bad)
    assert (summary["ok"], summary["failed"]) == (len(good), len(bad))
    assert {f["item"] for f in summary["failures"]} == set(bad)
    assert set(summary["ignored"]) == {"notes.txt", ".DS_Store"}
    return by


# ------------------------------------------------------------------------- kill and resume
def _cli(root: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "voxref", "embed-dir", str(root), "-o", str(out), "-q"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_batch_resumes_without_losing_or_redoing_work(
    speech_by_speaker, tmp_path: Path
) -> None:
    root = tmp_path / "in put"
    good, bad = build_tree(root, speech_by_speaker, copies=2)  # 48 good + 9 bad (+ 2 ignored)
    assert len(good) + len(bad) >= 55
    out = tmp_path / "out"
    proc = _cli(root, out)
    t0 = time.monotonic()
    try:
        while len(_done(out)) < 12:
            assert proc.poll() is None, "finished before it could be killed: " + proc.stderr.read()
            assert time.monotonic() - t0 < 300, "no progress"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    first = {r["item"]: r for r in _done(out)}
    first_run = {r["run"] for r in first.values()}
    assert 12 <= len(first) < len(good) + len(bad)
    stats = {k: (out / r["output"]).stat() for k, r in first.items() if r["status"] == "ok"}
    proc = _cli(root, out)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 3, stderr  # finished; some inputs failed (the bad ones)
    by = _check_every_input_once(out, good, bad)
    records = Ledger(out / LEDGER_FILE).read()
    second_run = {r["run"] for r in records} - first_run
    assert len(second_run) == 1
    restarted = {r["item"] for r in records if r["event"] == "start" and r["run"] in second_run}
    assert not restarted & set(first), "finished items were recomputed"
    for k, st in stats.items():  # and their files were not rewritten
        now = (out / by[k]["output"]).stat()
        assert (now.st_ino, now.st_mtime_ns, now.st_size) == (st.st_ino, st.st_mtime_ns, st.st_size)
    summary = json.loads((out / SUMMARY_FILE).read_text())
    this = summary["this_run"]
    assert this["reused"] == len(first)
    assert this["computed"] + this["recovered"] == len(good) + len(bad) - len(first)
    assert "embedded" in stderr and "bad/zero.wav" in stderr


# ------------------------------------------------------------------------- in-process paths
def test_batch_reports_every_file_and_resumes_to_nothing(finished, embedder) -> None:
    root, out, good, bad, s = finished
    assert (s.ok, s.failed, s.computed, s.reused) == (len(good), len(bad), len(good) + len(bad), 0)
    _check_every_input_once(out, good, bad)
    # the embedding of a file is the one voxref.embed gives for it
    np.testing.assert_allclose(
        np.load(out / "embeddings" / f"{good[1]}.npy"), embedder.embed(root / good[1]), atol=1e-6
    )
    again = embed_dir(root, out, embedder=embedder, progress=False)
    assert (again.computed, again.reused, again.recovered) == (0, len(good) + len(bad), 0)
    _check_every_input_once(out, good, bad)


def test_torn_line_orphan_embedding_and_leftover_tmp_are_recovered(
    copy_of, tmp_path: Path, embedder
) -> None:
    root, out, good, bad = copy_of
    ledger = out / LEDGER_FILE
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    # simulate a kill between os.replace(npy) and the ledger line of the last ok item ...
    victim = max(i for i, ln in enumerate(lines) if '"status": "ok"' in ln)
    item = json.loads(lines[victim])["item"]
    npy = out / json.loads(lines[victim])["output"]
    before = npy.stat().st_mtime_ns
    del lines[victim]
    # ... and a kill in the middle of writing a line, and in the middle of writing a .npy
    ledger.write_text("".join(lines) + '{"item": "half', encoding="utf-8")
    (npy.parent / f".{npy.name}.999.tmp").write_bytes(b"\x93NUMPY partial")
    s = embed_dir(root, out, embedder=embedder, progress=False)
    assert (s.recovered, s.computed) == (1, 0)
    assert npy.stat().st_mtime_ns == before
    assert not list(out.rglob("*.tmp"))
    by = _check_every_input_once(out, good, bad)
    assert by[item].get("recovered") is True


def test_a_file_that_kills_the_process_is_given_up_after_two_tries(
    copy_of, tmp_path: Path, embedder
) -> None:
    root, out, good, bad = copy_of
    shutil.copy(root / good[0], root / "poison.wav")
    led = Ledger(out / LEDGER_FILE)
    for run in ("dead1", "dead2"):  # two runs died while embedding it
        led.append({"item": "poison.wav", "event": "start", "run": run, "time": "t"})
    led.close()
    s = embed_dir(root, out, embedder=embedder, progress=False)
    assert s.computed == 0
    rec = {r["item"]: r for r in _done(out)}["poison.wav"]
    assert (
        rec["status"] == "failed" and rec["error"] == "ProcessDied" and "2 times" in rec["reason"]
    )
    # once: the item was in flight once (a plain kill): it is simply retried
    shutil.copy(root / good[0], root / "once.wav")
    led.append({"item": "once.wav", "event": "start", "run": "dead3", "time": "t"})
    led.close()
    s = embed_dir(root, out, embedder=embedder, progress=False)
    assert s.computed == 1 and {r["item"]: r for r in _done(out)}["once.wav"]["status"] == "ok"


def test_deleted_output_is_recomputed_and_failures_can_be_retried(
    copy_of, tmp_path: Path, embedder
) -> None:
    root, out, good, bad = copy_of
    (out / "embeddings" / f"{good[0]}.npy").unlink()
    s = embed_dir(root, out, embedder=embedder, progress=False)
    assert s.computed == 1 and (out / "embeddings" / f"{good[0]}.npy").exists()
    s = embed_dir(root, out, embedder=embedder, progress=False, retry_failed=True)
    assert s.computed == len(bad) and s.failed == len(bad)


def test_settings_mismatch_resume_false_and_concurrent_writer_are_refused(
    copy_of, tmp_path: Path, embedder
) -> None:
    import fcntl

    root, out, good, bad = copy_of
    with pytest.raises(ConfigError, match="clean"):
        embed_dir(root, out, embedder=Embedder(clean=False), progress=False)
    with pytest.raises(ConfigError, match="per"):
        embed_dir(root, out, embedder=embedder, per="speaker-folder", progress=False)
    with pytest.raises(ConfigError, match="already holds"):
        embed_dir(root, out, embedder=embedder, resume=False, progress=False)
    with open(out / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError, match="another"):
            embed_dir(root, out, embedder=embedder, progress=False)
    with pytest.raises(ConfigError):
        embed_dir(tmp_path / "missing", tmp_path / "o2", embedder=embedder, progress=False)
    with pytest.raises(ConfigError):
        embed_dir(root, tmp_path / "o3", embedder=embedder, per="speaker", progress=False)


def test_internal_errors_are_recorded_and_the_batch_goes_on(
    finished, tmp_path: Path, embedder, monkeypatch
) -> None:
    root, _, good, bad, _ = finished
    real = embedder.embed_details

    def flaky(inputs, **kw):
        if str(inputs[0]).endswith(good[2]):
            raise RuntimeError("boom")
        return real(inputs, **kw)

    monkeypatch.setattr(embedder, "embed_details", flaky)
    s = embed_dir(root, tmp_path / "out", embedder=embedder, progress=False)
    assert s.ok == len(good) - 1 and s.failed == len(bad) + 1
    rec = {r["item"]: r for r in _done(tmp_path / "out")}[good[2]]
    assert rec["error"] == "RuntimeError" and "internal error" in rec["reason"]


def test_speaker_folders(tmp_path: Path, speech_by_speaker, embedder) -> None:
    root = tmp_path / "speakers"
    spk, paths = next(iter(speech_by_speaker.items()))
    (root / "alice" / "day 2").mkdir(parents=True)
    for p in paths[:2]:
        shutil.copy(p, root / "alice" / p.name)
    shutil.copy(paths[2], root / "alice" / "day 2" / paths[2].name)
    (root / "bob").mkdir()
    (root / "bob" / "a.wav").write_bytes(b"")
    (root / "bob" / "b.wav").write_bytes(b"garbage" * 100)
    (root / "carol").mkdir()
    (root / "carol" / "readme.md").write_text("no audio here")
    shutil.copy(paths[3], root / "loose.wav")
    (root / "linked").symlink_to(root / "alice", target_is_directory=True)
    out = tmp_path / "out"
    s = embed_dir(root, out, per="speaker-folder", embedder=embedder, progress=False)
    by = {r["item"]: r for r in _done(out)}
    assert set(by) == {"alice/", "bob/", "carol/", "loose.wav"}
    assert by["alice/"]["status"] == "ok" and by["alice/"]["inputs"] == 3
    v = np.load(out / "embeddings" / "alice.npy")
    np.testing.assert_allclose(
        v,
        embedder.embed(
            [
                *[root / "alice" / p.name for p in paths[:2]],
                root / "alice" / "day 2" / paths[2].name,
            ]
        ),
        atol=1e-6,
    )
    assert by["bob/"]["status"] == "failed" and "a.wav" in by["bob/"]["reason"]
    assert by["carol/"]["status"] == "skipped" and by["loose.wav"]["status"] == "skipped"
    assert (s.ok, s.failed, s.skipped) == (1, 1, 2)
    assert "linked/ (link to a folder: not followed)" in s.ignored
    assert "carol/readme.md" in s.ignored


def test_long_files_are_streamed(tmp_path: Path, long_speech: np.ndarray, embedder) -> None:
    from voxref.longform import embed_long

    root = tmp_path / "in"
    root.mkdir()
    sf.write(root / "long.wav", long_speech[: 25 * SR], SR)
    s = embed_dir(root, tmp_path / "out", embedder=embedder, long_seconds=10.0, progress=False)
    assert s.ok == 1
    v = np.load(tmp_path / "out" / "embeddings" / "long.wav.npy")
    np.testing.assert_allclose(v, embed_long(root / "long.wav", embedder=embedder), atol=1e-6)


def test_output_folder_inside_the_input_folder_is_not_embedded(
    tmp_path: Path, speech_by_speaker, embedder
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(next(iter(speech_by_speaker.values()))[0], root / "a.wav")
    s1 = embed_dir(root, root / "out", embedder=embedder, progress=False)
    s2 = embed_dir(root, root / "out", embedder=embedder, progress=False)
    assert (s1.total, s1.ok, s2.total, s2.computed) == (1, 1, 1, 0)
    assert s2.ignored == []  # ledger/summary/npy files of the output are not inputs either


# ------------------------------------------------------------------------- inputs and formats
def _same_size_other_voice(path: Path, other: Path) -> None:
    """Rewrite ``path`` with another voice's speech, to the byte the same size, and put its
    modification time back."""
    st = path.stat()
    info = sf.info(path)
    x = sf.read(other, dtype="float32")[0]
    x = np.resize(x, info.frames)  # tiled or cut to the same number of frames
    sf.write(path, x, info.samplerate, subtype=info.subtype)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    now = path.stat()
    assert (now.st_size, now.st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_input_rewritten_with_same_size_and_mtime_is_embedded_again(
    copy_of, embedder, caplog
) -> None:
    root, out, good, _ = copy_of
    first = embed_dir(root, out, embedder=embedder, progress=False)  # records the copies' state
    assert first.computed == 0
    target = next(g for g in good if g.startswith("espeak-gb-f2/"))
    other = next(g for g in good if g.startswith("flite-awb/"))
    before = np.load(out / "embeddings" / f"{target}.npy")
    _same_size_other_voice(root / target, root / other)
    with caplog.at_level("WARNING", logger="voxref"):
        s = embed_dir(root, out, embedder=embedder, progress=False)
    assert (s.computed, s.reused) == (1, s.total - 1), s.failures
    after = np.load(out / "embeddings" / f"{target}.npy")
    assert float(after @ embedder.embed([str(root / target)])) > 0.999
    assert float(after @ before) < 0.9  # another voice: a stale vector would have stayed
    assert any("changed since it was embedded" in r.getMessage() for r in caplog.records)


def test_batch_folder_moved_with_its_inputs_is_not_redone(copy_of, tmp_path: Path, embedder):
    root, out, good, bad = copy_of
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    root2, out2 = moved / root.name, moved / out.name
    root.rename(root2)
    out.rename(out2)
    s = embed_dir(root2, out2, embedder=embedder, progress=False)
    assert (s.computed, s.reused, s.ok) == (0, s.total, len(good))


def test_previous_format_resumes_and_newer_or_foreign_ones_are_refused(copy_of, embedder):
    """A version-1 folder (no status-change times in its ledger) resumes without redoing work;
    a folder of a newer version or of another command is refused with what to do."""
    root, out, good, bad = copy_of
    config = json.loads((out / "batch.json").read_text())
    assert config["version"] == 2
    (out / "batch.json").write_text(json.dumps(dict(config, version=1)))
    lines = []
    for line in (out / LEDGER_FILE).read_text().splitlines():
        rec = json.loads(line)
        for src in rec.get("sources", []):
            src.pop("ctime_ns", None)
        lines.append(json.dumps(rec))
    (out / LEDGER_FILE).write_text("\n".join(lines) + "\n")
    s = embed_dir(root, out, embedder=embedder, progress=False)
    assert (s.computed, s.ok, s.failed) == (0, len(good), len(bad))
    assert json.loads((out / "batch.json").read_text())["version"] == 2
    (out / "batch.json").write_text(json.dumps(dict(config, version=3)))
    with pytest.raises(ConfigError, match="newer voxref.*continue it with that version"):
        embed_dir(root, out, embedder=embedder, progress=False)
    (out / "batch.json").write_text(json.dumps(dict(config, format="voxref-embed-dataset")))
    with pytest.raises(ConfigError, match="holds a voxref-embed-dataset output.*another folder"):
        embed_dir(root, out, embedder=embedder, progress=False)
