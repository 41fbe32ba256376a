"""Manifest reading and shard planning (fast: no model, no worker)."""

from __future__ import annotations

import pytest

from voxref.errors import ConfigError
from voxref.scale.manifest import read_manifest
from voxref.scale.plan import make_plan


def _write(path, text):
    path.write_text(text)
    return path


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path):
    m = _write(tmp_path / "m.csv", "path,speaker,id\nsub/a.wav,s1,utt-1\n/abs/b.wav,s2,\n")
    clips = read_manifest(m)
    assert clips[0].path == str(tmp_path / "sub" / "a.wav")
    assert clips[0].clip_id == "utt-1"
    assert clips[1].path == "/abs/b.wav" and clips[1].clip_id == "/abs/b.wav"
    other = read_manifest(m, root="/data")
    assert other[0].path == "/data/sub/a.wav"


def test_missing_required_column_refuses_the_manifest(tmp_path):
    m = _write(tmp_path / "m.csv", "file,spk\na.wav,s1\n")
    with pytest.raises(ConfigError, match="'path', 'speaker'"):
        read_manifest(m)


def test_bad_rows_become_problems_not_errors(tmp_path):
    m = _write(
        tmp_path / "m.csv",
        "path,speaker,start,end\n,s1,,\na.wav,,,\nb.wav,s2,x,\nc.wav,s2,2,1\nd.wav,s2,-1,\ne.wav,s3,1.5,\n",
    )
    clips = read_manifest(m)
    problems = [c.problem for c in clips]
    assert problems[0] == "empty path"
    assert problems[1] == "empty speaker"
    assert "not a number" in problems[2]
    assert "not after its start" in problems[3]
    assert "non-negative" in problems[4]
    assert problems[5] == "" and clips[5].start == 1.5 and clips[5].end is None
    assert clips[5].source.endswith("e.wav#1.500-end")


def test_parquet_manifest_reads_like_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table(
        {"path": ["a.wav", "b.wav"], "speaker": [1, 2], "start": [None, 0.5], "end": [None, 1.5]}
    )
    pq.write_table(table, tmp_path / "m.parquet")
    csv = _write(tmp_path / "m.csv", "path,speaker,start,end\na.wav,1,,\nb.wav,2,0.5,1.5\n")
    assert read_manifest(tmp_path / "m.parquet") == read_manifest(csv)


def test_plan_is_deterministic_and_fingerprints_the_manifest(tmp_path):
    a = read_manifest(_write(tmp_path / "a.csv", "path,speaker\n1.wav,x\n2.wav,y\n3.wav,x\n"))
    b = read_manifest(_write(tmp_path / "b.csv", "path,speaker\n1.wav,x\n2.wav,y\n3.wav,z\n"))
    p1, p2 = make_plan(a, shard_size=2), make_plan(a, shard_size=2)
    assert p1.fingerprint == p2.fingerprint
    assert [len(s.clips) for s in p1.shards] == [2, 1]
    assert make_plan(b, shard_size=2).fingerprint != p1.fingerprint
    assert make_plan(a, shard_size=3).fingerprint != p1.fingerprint
    assert make_plan(a, speakers_per_bucket=1).buckets == [["x"], ["y"]]
