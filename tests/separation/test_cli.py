"""``voxref diarize`` and ``voxref extract`` (run in-process through ``voxref.cli.main.main``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voxref.cli.extract_cmd import parse_segments
from voxref.cli.main import main
from voxref.errors import ConfigError
from voxref.sample_data import read_rttm


@pytest.fixture(scope="module")
def conversation_file(voices, tmp_path_factory):
    import soundfile as sf

    from voxref.separation.synthetic import synthetic_conversation

    conv = synthetic_conversation(
        (voices["espeak-us-m3"], voices["flite-slt"]), num_turns=6, overlap_prob=0.0, seed=105
    )
    path = tmp_path_factory.mktemp("cli") / "talk.wav"
    sf.write(path, conv.samples, conv.sample_rate)
    return path, conv


def test_diarize_writes_rttm_and_json(conversation_file, tmp_path, capsys):
    path, conv = conversation_file
    rttm = tmp_path / "out" / "talk.rttm"
    assert main(["diarize", str(path), "--rttm", str(rttm), "--json"]) == 0
    turns = read_rttm(rttm)
    assert {t.speaker for t in turns} == {"SPEAKER_00", "SPEAKER_01"}
    assert all(line.split()[1] == "talk" for line in rttm.read_text().splitlines())
    out = json.loads(capsys.readouterr().out)
    assert out["speakers"] == ["SPEAKER_00", "SPEAKER_01"] and len(out["turns"]) == len(turns)
    # every reference turn is mostly covered by a single hypothesis speaker
    for t in conv.turns:
        cover = {}
        for h in turns:
            cover[h.speaker] = cover.get(h.speaker, 0.0) + max(
                0.0, min(t.end, h.end) - max(t.start, h.start)
            )
        assert max(cover.values()) > 0.8 * t.duration


def test_diarize_overlap_detector_option(conversation_file, tmp_path, monkeypatch, capsys):
    """--overlap-detector and --level reach the offline diarizer: none, a checkpoint path, a bad
    path; level off and a dBFS value (absent: the library default)."""
    import voxref.separation.diarization as diarization
    from voxref.separation.overlap_detector import SpeakerCountNet

    path, _ = conversation_file
    seen = []
    real = diarization.Diarizer

    def spy(**options):
        seen.append(options)
        return real(**options)

    monkeypatch.setattr(diarization, "Diarizer", spy)
    assert main(["diarize", str(path), "--overlap-detector", "none"]) == 0
    ckpt = SpeakerCountNet(channels=8, hidden=4, seed=0).save(tmp_path / "count.pt")
    assert main(["diarize", str(path), "--overlap-detector", str(ckpt)]) == 0
    assert main(["diarize", str(path)]) == 0
    assert main(["diarize", str(path), "--level", "off"]) == 0
    assert main(["diarize", str(path), "--level", "-18"]) == 0
    assert seen == [
        {"overlap_detector": None},
        {"overlap_detector": str(ckpt)},
        {"overlap_detector": "default"},
        {"overlap_detector": "default", "level_dbfs": None},
        {"overlap_detector": "default", "level_dbfs": -18.0},
    ]
    capsys.readouterr()
    assert main(["diarize", str(path), "--overlap-detector", str(tmp_path / "nope.pt")]) != 0
    err = capsys.readouterr().err
    assert "no speaker-count network checkpoint" in err and "nope.pt" in err
    assert "scripts/train_overlap_detector.py" in err  # says how to get one


def test_extract_writes_target_audio(conversation_file, tmp_path, capsys):
    import soundfile as sf

    path, conv = conversation_file
    first = conv.turns[0]
    out_wav, rttm, emb = tmp_path / "t.wav", tmp_path / "t.rttm", tmp_path / "t.npy"
    code = main(
        [
            "extract",
            str(path),
            "--segments",
            f"{first.start + 0.2:.2f}-{first.end - 0.2:.2f}",
            "-o",
            str(out_wav),
            "--rttm",
            str(rttm),
            "--embedding-out",
            str(emb),
        ]
    )
    assert code == 0
    info = json.loads(capsys.readouterr().out)
    y, sr = sf.read(out_wav)
    assert sr == 16000 and len(y) / sr == pytest.approx(info["duration_s"], abs=0.05)
    # the extracted time is that speaker's
    mine = [t for t in conv.turns if t.speaker == first.speaker]
    inside = sum(
        max(0.0, min(b, t.end) - max(a, t.start)) for a, b in info["segments"] for t in mine
    )
    assert inside >= 0.9 * info["duration_s"]
    assert "TARGET" in {t.speaker for t in read_rttm(rttm)}
    assert np.load(emb).shape == (256,)


def test_extract_needs_exactly_one_guide(conversation_file, capsys):
    path, _ = conversation_file
    assert main(["extract", str(path)]) == 1
    assert "exactly one guide" in capsys.readouterr().err


def test_parse_segments():
    assert parse_segments("0-1.5,2-3") == [(0.0, 1.5), (2.0, 3.0)]
    for bad in ("3-1", "a-b", ""):
        with pytest.raises(ConfigError):
            parse_segments(bad)
