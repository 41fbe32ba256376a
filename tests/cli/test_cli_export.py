"""``voxref export``: options refused before any audio is read; RTVC's synthesizer folder filled
exactly as its ``synthesizer_preprocess_embeds.py`` would."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf

from voxref.cli.main import main


@pytest.fixture
def unreadable_lj(tmp_path):
    """An LJSpeech folder whose 'audio' cannot be decoded: any error about it would mean the
    command read audio before checking its options."""
    root = tmp_path / "lj"
    (root / "wavs").mkdir(parents=True)
    (root / "wavs" / "LJ001-0001.wav").write_bytes(b"not audio at all")
    (root / "metadata.csv").write_text("LJ001-0001|Hello.|Hello.\n")
    return root


@pytest.mark.parametrize(
    "extra, message",
    [
        (["coqui", "-o", "s.pth"], "--dataset-name"),
        (["coqui", "-o", "s.txt", "--dataset-name", "lj"], ".pth or .json"),
        (["espnet", "-o", "x", "--dataset-name", "lj"], "is a coqui option"),
        (["hf", "-o", "t.parquet"], "512-d"),
        (["rtvc", "-o", "e", "--mode", "rtvc", "--no-clean"], "not with --mode rtvc"),
        (["rtvc", "-o", "e", "--mode", "rtvc", "--chunk-size", "4"], "does nothing with --mode"),
        (["coqui", "-o", "s.pth", "--dataset-name", "lj", "--merge", "nope.pth"], "nope.pth"),
        (["coqui", "-o", "s.pth", "--dataset-name", "lj", "--tts-config", "CFG"], "512-d"),
    ],
)
def test_export_refuses_bad_options_before_reading_audio(
    tmp_path, unreadable_lj, capsys, extra, message
):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"use_d_vector_file": True, "d_vector_dim": 512}))
    fmt, *rest = extra
    rest = [str(cfg) if a == "CFG" else a for a in rest]
    rest = [
        str(tmp_path / a) if a in ("s.pth", "s.txt", "x", "t.parquet", "e") else a for a in rest
    ]
    assert main(["export", fmt, str(unreadable_lj), *rest]) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert "cannot be decoded" not in err


def test_export_rtvc_fills_an_sv2tts_synthesizer_folder(tmp_path, speech_by_speaker):
    """RTVC's ``create_embeddings``: for each train.txt line, ``wav = np.load(audio/x[0])``,
    ``embed_utterance(preprocess_wav(wav))`` saved to ``embeds/x[2]``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder, preprocess_wav

    root = tmp_path / "SV2TTS" / "synthesizer"
    (root / "audio").mkdir(parents=True)
    lines = []
    for spk in ("flite-awb", "espeak-rp-m7"):
        p = speech_by_speaker[spk][0]
        wav, sr = sf.read(str(p), dtype="float32")
        assert sr == 16000
        utt = f"{spk}_{p.stem}_00"
        np.save(root / "audio" / f"audio-{utt}.npy", wav)
        lines.append(f"audio-{utt}.npy|mel-{utt}.npy|embed-{utt}.npy|{len(wav)}|100|text\n")
    (root / "train.txt").write_text("".join(lines))
    assert main(["export", "rtvc", str(root), "--mode", "rtvc", "-q"]) == 0
    encoder = VoiceEncoder("cpu", verbose=False)
    for line in lines:
        x = line.split("|")
        ours = np.load(root / "embeds" / x[2])
        assert ours.dtype == np.float32 and ours.shape == (256,)
        theirs = encoder.embed_utterance(preprocess_wav(np.load(root / "audio" / x[0])))
        assert float(ours @ theirs) >= 0.999
    side = json.loads((root / "embeds" / "voxref-export.json").read_text())
    assert side["preprocessing"]["mode"] == "rtvc-exact"
    assert [c["key"] for c in side["clips"]] == [ln.split("|")[2] for ln in lines]


def test_export_missing_clip_is_refused_or_listed(tmp_path, speech_by_speaker, capsys):
    root = tmp_path / "voices" / "awb"
    root.mkdir(parents=True)
    shutil.copy(speech_by_speaker["flite-awb"][0], root / "ok.wav")
    sf.write(str(root / "silent.wav"), np.zeros(32000, np.float32), 16000)
    out = tmp_path / "espnet"
    args = ["export", "espnet", str(root.parent), "-o", str(out), "--mode", "rtvc", "-q"]
    assert main(args) == 1
    assert "silent.wav" in capsys.readouterr().err
    assert not (out / "xvector.scp").exists()
    assert main([*args, "--allow-missing"]) == 3
    keys = [ln.split()[0] for ln in (out / "xvector.scp").read_text().splitlines()]
    assert keys == ["awb_ok"]
    side = json.loads((out / "voxref-export.json").read_text())
    assert {c["key"]: c["status"] for c in side["clips"]} == {
        "awb_ok": "used",
        "awb_silent": "failed",
    }


def test_export_coqui_speaker_vectors_from_an_ljspeech_folder(tmp_path, speech_by_speaker):
    """voxref mode end to end: ``--vectors speaker`` puts the pooled vector under every clip's
    key, so Coqui's ``get_mean_embedding`` (plain mean of the speaker's clips) returns it."""
    from voxref import Embedder

    root = tmp_path / "lj"
    (root / "wavs").mkdir(parents=True)
    clips = speech_by_speaker["espeak-gb-f2"][:2]
    for i, p in enumerate(clips):
        shutil.copy(p, root / "wavs" / f"LJ{i}.wav")
    (root / "metadata.csv").write_text("LJ0|a|a\nLJ1|b|b\n")
    out = tmp_path / "speakers.json"
    args = ["export", "coqui", str(root), "-o", str(out), "--dataset-name", "lj", "-q"]
    assert main([*args, "--vectors", "speaker"]) == 0
    mapping = json.loads(out.read_text())
    assert sorted(mapping) == ["lj#wavs/LJ0", "lj#wavs/LJ1"]
    vecs = np.array([m["embedding"] for m in mapping.values()])
    pooled = Embedder().embed([str(root / "wavs" / "LJ0.wav"), str(root / "wavs" / "LJ1.wav")])
    np.testing.assert_allclose(vecs.mean(axis=0), pooled, atol=1e-5)  # get_mean_embedding
    np.testing.assert_allclose(vecs[0], vecs[1], atol=1e-6)  # the same vector under both keys
    assert main(args) == 0  # default: each clip's own vector
    own = np.array([m["embedding"] for m in json.loads(out.read_text()).values()])
    assert float(own[0] @ own[1]) < 0.999
