"""``voxref audit`` on synthetic TTS sets with planted faults (espeak-ng / flite speech).

One set of a single voice (8 clean clips; 2 clips of other voices, 1 with a second voice
talking over it, 1 clipped, 1 silent, 1 truncated to one word) is audited once through the CLI;
a two-speaker set (Piper-style ``id|speaker|text``) is audited by a process killed half-way and
then resumed.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
if shutil.which("espeak-ng") is None or shutil.which("flite") is None:
    pytest.skip(
        "espeak-ng and flite are needed to synthesise the test sets", allow_module_level=True
    )

from voxref.audit.dataset import read_dataset  # noqa: E402
from voxref.audit.synthetic import planted_dataset  # noqa: E402
from voxref.separation.synthetic import VOICES  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FAULTS = ("wrong_speaker", "wrong_speaker", "second_voice", "clipped", "silent", "too_short")


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> tuple[Path, Path, dict[str, str], int]:
    """The one-voice set with planted faults, audited by ``voxref audit`` (in process)."""
    from voxref.cli.main import main

    root = tmp_path_factory.mktemp("set") / "my voice"
    truth = planted_dataset(
        root, VOICES[0], [VOICES[2], VOICES[3]], n_clean=8, faults=FAULTS, seed=3
    )
    out = root.parent / "audit"
    code = main(["audit", str(root), "-o", str(out), "-q"])
    return root, out, truth, code


def _flags(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "flags.csv", newline="") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


def test_cli_writes_report_flags_and_filtered_metadata(audited) -> None:
    root, out, truth, code = audited
    assert code == 0
    rows = _flags(out)
    assert list(rows) == list(truth)  # every clip, dataset order
    html = (out / "report.html").read_text(encoding="utf-8")
    flagged = [cid for cid, r in rows.items() if r["flagged"] == "1"]
    assert flagged
    # outliers first: every flagged clip's row comes before every kept clip's row
    pos = {cid: html.index(f"<td>{cid}</td>") for cid in truth}
    assert max(pos[c] for c in flagged) < min(pos[c] for c in truth if c not in flagged)
    assert html.count("<audio") >= len(flagged) and "speaker map" in html
    assert (out / "audit.json").is_file()


def test_each_planted_fault_is_flagged_for_its_reason(audited) -> None:
    _, out, truth, _ = audited
    rows = _flags(out)
    for cid, kind in truth.items():
        if kind:
            reasons = rows[cid]["reasons"].split(";")
            assert kind in reasons, (cid, kind, rows[cid]["details"])
            assert float(rows[cid]["score"]) >= 0.5


def test_clean_clips_are_kept_precision_and_recall(audited) -> None:
    _, out, truth, _ = audited
    rows = _flags(out)
    flagged = {cid for cid, r in rows.items() if r["flagged"] == "1"}
    planted = {cid for cid, kind in truth.items() if kind}
    assert len(planted) == len(FAULTS)
    precision = len(flagged & planted) / len(flagged)
    recall = len(flagged & planted) / len(planted)
    assert (precision, recall) == (1.0, 1.0), {c: rows[c]["details"] for c in flagged ^ planted}
    # a kept clip scores below every flagged one
    assert max(float(rows[c]["score"]) for c in truth if c not in flagged) < 0.5


def test_filtered_metadata_is_the_original_without_the_flagged_lines(audited) -> None:
    root, out, truth, _ = audited
    original = (root / "metadata.csv").read_text(encoding="utf-8").splitlines()
    kept = (out / "metadata.csv").read_text(encoding="utf-8").splitlines()
    clean = [line for line in original if not truth[line.split("|")[0]]]
    assert kept == clean


# ------------------------------------------------------------------------- layouts
def test_dataset_layouts(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    x = np.zeros(1600, dtype=np.float32)
    for spk in ("anna", "ben"):
        (tmp_path / "folders" / spk / "sub").mkdir(parents=True)
        sf.write(tmp_path / "folders" / spk / "sub" / "a.wav", x, 16000)
    ds = read_dataset(tmp_path / "folders")
    assert ds.layout == "speaker-folders" and ds.speakers == ["anna", "ben"]
    (tmp_path / "piper" / "wavs").mkdir(parents=True)
    sf.write(tmp_path / "piper" / "wavs" / "u1.wav", x, 16000)
    (tmp_path / "piper" / "meta.csv").write_text("u1|ben|Hello.\nu2|anna|Hi.\n")
    ds = read_dataset(tmp_path / "piper", metadata="meta.csv", speaker_column=1)
    assert [(c.clip_id, c.speaker, Path(c.path).name) for c in ds.clips] == [
        ("u1", "ben", "u1.wav"),
        ("u2", "anna", "u2.wav"),  # missing file: kept, the audit reports it unreadable
    ]
    (tmp_path / "piper" / "head.csv").write_text("id|speaker|text\nu1|ben|Hello.\n")
    ds = read_dataset(tmp_path / "piper", metadata="head.csv", speaker_column="speaker")
    assert ds.header == "id|speaker|text" and ds.clips[0].speaker == "ben"
    from voxref.errors import ConfigError

    with pytest.raises(ConfigError, match="no column"):
        read_dataset(tmp_path / "piper", metadata="head.csv", speaker_column="voice")
    with pytest.raises(ConfigError, match="0-based"):
        read_dataset(tmp_path / "piper", metadata="meta.csv", speaker_column="speaker")


# ------------------------------------------------------------------------- multi-speaker, resume
def _two_speaker_set(root: Path) -> dict[str, tuple[str, str]]:
    """Speaker A (espeak) with one clip of another voice and one missing file; speaker B
    (flite slt), clean."""
    truth: dict[str, tuple[str, str]] = {}
    lines: list[str] = []
    for spk, voice, faults, seed in (
        ("A", VOICES[0], ("wrong_speaker",), 5),
        ("B", VOICES[1], (), 6),
    ):
        sub = root / f"_{spk}"
        t = planted_dataset(
            sub, voice, [VOICES[2]], n_clean=5, faults=faults, seed=seed, prefix=f"{spk}-"
        )
        (root / "wavs").mkdir(parents=True, exist_ok=True)
        for cid, kind in t.items():
            shutil.move(str(sub / "wavs" / f"{cid}.wav"), root / "wavs" / f"{cid}.wav")
            truth[cid] = (spk, kind)
        for line in (sub / "metadata.csv").read_text().splitlines():
            cid, text, _ = line.split("|")
            lines.append(f"{cid}|{spk}|{text}")  # Piper: id|speaker|text
        shutil.rmtree(sub)
    # a line whose audio file is missing: reported unreadable, not lost
    lines.insert(3, "A-gone|A|Nobody recorded this line.")
    items = list(truth.items())
    truth = dict([*items[:3], ("A-gone", ("A", "unreadable")), *items[3:]])
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    return truth


def test_killed_multi_speaker_audit_resumes_without_losing_or_redoing_shards(
    tmp_path: Path,
) -> None:
    from voxref.audit import audit_dataset

    root = tmp_path / "two"
    truth = _two_speaker_set(root)
    out = tmp_path / "audit"
    shards = out / "embeddings" / "run" / "clips"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "voxref", "audit", str(root), "--metadata", "list.txt"]
    cmd += ["--speaker-column", "1", "-o", str(out), "--shard-size", "2", "-q"]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    t0 = time.monotonic()
    try:
        while not any(shards.glob("shard-*.parquet")):
            assert proc.poll() is None, "finished before it could be killed"
            assert time.monotonic() - t0 < 300, "no progress"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    done = {p: p.stat().st_mtime_ns for p in shards.glob("shard-*.parquet")}
    total = -(-len(truth) // 2)
    assert 1 <= len(done) < total
    assert not (out / "flags.csv").exists()

    res = audit_dataset(
        root, out, metadata="list.txt", speaker_column=1, shard_size=2, progress=False
    )
    assert res.batch.shards_reused == len(done)  # nothing done is redone...
    assert res.batch.shards_computed == total - len(done)  # ...and nothing is lost
    assert {p: p.stat().st_mtime_ns for p in done} == done
    assert [f.clip_id for f in res.flags] == list(truth)
    # speaker by speaker: B's clean flite clips are not "wrong" for A, nor A's for B
    flagged = {f.clip_id: f.reasons for f in res.flags if f.flagged}
    assert flagged.keys() == {c for c, (_, k) in truth.items() if k}, flagged
    assert all(r[0] == truth[c][1] for c, r in flagged.items()), flagged  # strongest reason
    assert res.counts["speakers"] == {
        "A": {"clips": 7, "flagged": 2},
        "B": {"clips": 5, "flagged": 0},
    }
    kept = (out / "list.txt").read_text().splitlines()
    assert [line.split("|")[0] for line in kept] == [c for c, (_, k) in truth.items() if not k]
