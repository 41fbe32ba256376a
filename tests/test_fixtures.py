"""The committed speech fixtures, the synthesiser's determinism, the RTTM helper and the corpus CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[1]
MAKE_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "make_fixtures.py"


def _overlap_seconds(turns: list[tuple[float, float, str]]) -> float:
    events = sorted([(s, 1) for s, _, _ in turns] + [(e, -1) for _, e, _ in turns])
    total, active, last = 0.0, 0, 0.0
    for t, delta in events:
        if active >= 2:
            total += t - last
        active += delta
        last = t
    return total


def test_fixture_files_are_16k_mono_2_to_4_s_speech(speech_manifest):
    assert len(speech_manifest) == 24
    for row in speech_manifest:
        info = sf.info(row["path"])
        assert info.samplerate == 16000 and info.channels == 1, row["path"]
        assert info.subtype == "PCM_16"
        assert 2.0 <= info.duration <= 4.0, (row["path"], info.duration)
        x, _ = sf.read(row["path"], dtype="float32")
        peak = np.abs(x).max()
        assert 0.6 < peak < 0.75, (row["path"], peak)  # peak-normalised to -3 dBFS
        # speech, not silence: the loudest 100 ms is far above the quietest (trimmed pads)
        frames = x[: len(x) // 1600 * 1600].reshape(-1, 1600)
        rms = np.sqrt((frames**2).mean(axis=1))
        assert rms.max() > 0.05
        assert (rms > 0.01).mean() > 0.5, row["path"]  # mostly voiced, silence trimmed


def test_manifest_lists_every_fixture_wav(fixture_dir, speech_manifest, speech_by_speaker):
    on_disk = {p.name for p in (fixture_dir / "speech").glob("*.wav")}
    listed = {Path(row["path"]).name for row in speech_manifest}
    assert listed == on_disk
    assert len(speech_by_speaker) == 6
    assert all(len(paths) == 4 for paths in speech_by_speaker.values())
    for speaker, paths in speech_by_speaker.items():
        assert [p.name for p in paths] == [f"{speaker}_{k}.wav" for k in range(4)]
    assert {row["gender"] for row in speech_manifest} == {"m", "f"}
    assert {row["engine"] for row in speech_manifest} == {"espeak-ng", "flite"}
    texts = [row["text"] for row in speech_manifest]
    assert len(set(texts)) == len(texts)  # no sentence spoken twice
    total = sum(Path(row["path"]).stat().st_size for row in speech_manifest)
    assert total < 3_000_000


def test_regenerating_speakers_is_bit_identical(tmp_path, speech_manifest, fixture_dir):
    speakers = ["espeak-gb-f2", "flite-awb"]  # one per engine
    subprocess.run(
        [sys.executable, str(MAKE_FIXTURES), "--out", str(tmp_path), "--speakers", *speakers],
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
    )
    with (tmp_path / "manifest.csv").open(newline="") as fh:
        regenerated = list(csv.DictReader(fh))
    committed = [
        dict(row, path=Path(row["path"]).name)
        for row in speech_manifest
        if row["speaker"] in speakers
    ]
    assert regenerated == committed
    for row in regenerated:
        new = (tmp_path / row["path"]).read_bytes()
        old = (fixture_dir / "speech" / row["path"]).read_bytes()
        assert new == old, row["path"]


def test_pyannote_sample_rttm_has_two_speakers_and_1_9_s_overlap(pyannote_sample, pyannote_turns):
    wav, _ = pyannote_sample
    info = sf.info(str(wav))
    assert info.samplerate == 16000 and abs(info.duration - 30.0) < 0.1
    assert {spk for _, _, spk in pyannote_turns} == {"speaker90", "speaker91"}
    assert all(0 <= s < e <= info.duration for s, e, _ in pyannote_turns)
    assert [s for s, _, _ in pyannote_turns] == sorted(s for s, _, _ in pyannote_turns)
    assert abs(_overlap_seconds(pyannote_turns) - 1.89) < 0.02


def test_corpus_build_cli_is_disjoint_in_range_and_cached(tmp_path):
    out = tmp_path / "corpus"
    cmd = [sys.executable, "-m", "benchmarks.corpus.build", "--out", str(out), "--speakers", "2"]
    cmd += ["--utterances", "4", "--workers", "1"]
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO_ROOT)
    manifest = json.loads((out / "manifest.json").read_text())
    rows = manifest["utterances"]
    assert len(manifest["speakers"]) == 4  # 2 synthetic + the 2 real speakers of pyannote's sample
    assert {r["engine"] for r in rows} >= {"real"}
    for row in rows:
        info = sf.info(str(out / row["path"]))
        assert info.samplerate == 16000 and info.channels == 1
        assert 2.0 <= info.duration <= 6.0
    synthetic = [r for r in rows if r["engine"] != "real"]
    assert len(synthetic) == 8
    enroll = {r["text"] for r in synthetic if r["split"] == "enroll"}
    test = {r["text"] for r in synthetic if r["split"] == "test"}
    assert enroll and test and not enroll & test
    for speaker in {r["speaker"] for r in synthetic}:
        texts = [r["text"] for r in synthetic if r["speaker"] == speaker]
        assert len(set(texts)) == len(texts)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO_ROOT)
    again = json.loads((out / "manifest.json").read_text())
    assert again["utterances"] == rows  # deterministic
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == mtimes  # nothing rewritten


def test_fixture_speakers_cluster_under_ge2e(speech_manifest):
    """Same-speaker GE2E cosines beat different-speaker ones: the fixtures can test speaker code."""
    from resemblyzer import VoiceEncoder, preprocess_wav

    encoder = VoiceEncoder("cpu", verbose=False)
    emb = np.stack(
        [
            encoder.embed_utterance(preprocess_wav(sf.read(r["path"], dtype="float32")[0], 16000))
            for r in speech_manifest
        ]
    )
    labels = np.array([r["speaker"] for r in speech_manifest])
    cos = emb @ emb.T
    same = labels[:, None] == labels[None, :]
    off_diag = ~np.eye(len(labels), dtype=bool)
    mean_same, mean_diff = cos[same & off_diag].mean(), cos[~same].mean()
    assert mean_same > 0.8 and mean_diff < 0.7 and mean_same - mean_diff > 0.2
    np.fill_diagonal(cos, -np.inf)
    assert (labels[cos.argmax(axis=1)] == labels).all()  # leave-one-out nearest neighbour


def test_benchmark_corpus_doctests(monkeypatch):
    import doctest
    import importlib

    monkeypatch.syspath_prepend(str(REPO_ROOT))
    for name in ("sentences", "synth", "pyannote_sample", "similarity", "build"):
        module = importlib.import_module(f"benchmarks.corpus.{name}")
        result = doctest.testmod(module)
        assert result.failed == 0, name
        assert result.attempted > 0, name
