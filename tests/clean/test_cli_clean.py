"""``voxref check`` and ``voxref clean``, registered on a fresh parser and run through ``func``."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import soundfile as sf

from voxref.cli import check_cmd, clean_cmd

from .clean_signals import SR, add_noise, white_noise


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voxref")
    sub = p.add_subparsers(dest="command")
    check_cmd.register(sub)
    clean_cmd.register(sub)
    return p


@pytest.fixture(scope="module")
def files(speech_with_pauses, tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    x = speech_with_pauses
    paths = {
        "good": d / "good.wav",
        "noisy": d / "noisy.wav",
        "noise": d / "noise.wav",
        "broken": d / "broken.wav",
    }
    sf.write(paths["good"], x.samples, SR)
    sf.write(
        paths["noisy"],
        add_noise(x.samples, x.mask, white_noise(len(x.samples), seed=1), 3.0),
        SR,
        subtype="FLOAT",
    )
    sf.write(paths["noise"], (0.1 * white_noise(2 * SR, seed=2)).astype(np.float32), SR)
    paths["broken"].write_text("not audio")
    return paths


def test_check_prints_a_table(files, capsys):
    args = parser().parse_args(
        [
            "check",
            str(files["good"]),
            str(files["noisy"]),
            str(files["noise"]),
            str(files["broken"]),
        ]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1] for line in out[1:] if not line.startswith(" ")}
    assert rows == {
        str(files["good"]): "ok",
        str(files["noisy"]): "weak",
        str(files["noise"]): "reject",
        str(files["broken"]): "reject",
    }
    assert any("no speech detected" in line for line in out)
    assert any("cannot be decoded" in line for line in out)


def test_check_json_and_strict(files, capsys):
    args = parser().parse_args(
        ["check", "--json", "--strict", str(files["good"]), str(files["noise"])]
    )
    assert args.func(args) == 1  # one file rejected
    reports = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in reports] == ["ok", "reject"]
    assert reports[0]["speech_s"] > 5 and reports[1]["reasons"] == ["no speech detected"]


def test_clean_writes_speech_only(files, speech_with_pauses, tmp_path, capsys):
    out = tmp_path / "out" / "clean.wav"
    args = parser().parse_args(["clean", str(files["noisy"]), "-o", str(out), "--denoise", "gate"])
    assert args.func(args) == 0
    y, sr = sf.read(out)
    assert sr == SR
    truth = sum(e - s for s, e in speech_with_pauses.spans)
    assert truth - 0.1 < len(y) / sr < truth + 0.9
    err = capsys.readouterr().err
    assert "denoise gate" in err and "wrote" in err


def test_clean_keep_silence_and_rate(files, speech_with_pauses, tmp_path):
    out = tmp_path / "full.flac"
    args = parser().parse_args(
        [
            "clean",
            str(files["good"]),
            "-o",
            str(out),
            "--keep-silence",
            "--denoise",
            "off",
            "--sample-rate",
            "24000",
        ]
    )
    assert args.func(args) == 0
    y, sr = sf.read(out)
    assert sr == 24000 and abs(len(y) - len(speech_with_pauses.samples) * 1.5) <= 1


def test_clean_refuses_to_write_a_rejected_file(files, tmp_path, capsys):
    out = tmp_path / "none.wav"
    args = parser().parse_args(["clean", str(files["noise"]), "-o", str(out)])
    assert args.func(args) == 1
    assert not out.exists() and "rejected" in capsys.readouterr().err


def test_clean_takes_a_limited_dfn3_and_refuses_an_unknown_policy(files, tmp_path, capsys):
    out = tmp_path / "lim.wav"
    args = parser().parse_args(
        ["clean", str(files["noisy"]), "-o", str(out), "--denoise", "dfn3-lim6"]
    )
    assert args.func(args) == 0
    assert "denoise dfn3-lim6" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser().parse_args(
            ["clean", str(files["noisy"]), "-o", str(out), "--denoise", "dfn3-lim0"]
        )
    assert "dfn3-lim<N>" in capsys.readouterr().err
