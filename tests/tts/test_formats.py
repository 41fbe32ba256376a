"""Dataset exports read back with the logic of the loaders that consume them.

Each reader below is a minimal copy of what the real loader does, with the source named:
Coqui TTS's clip keys (``TTS/tts/datasets/__init__.py::add_extra_keys``, the ``ljspeech``
formatter, ``TTSDataset`` looking ``d_vector_mapping[item["audio_unique_name"]]``), Kaldi's binary
archive layout as ``kaldiio.load_scp`` parses it, RTVC's synthesizer ``np.load`` of ``embeds/``,
and Resemblyzer's own ``preprocess_wav`` + ``embed_utterance`` for the exact RTVC mode.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import warnings

import numpy as np
import pytest
import soundfile as sf

from voxref.tts.formats.rtvc import (
    RTVC_PREPROCESSING,
    load_rtvc_embed,
    read_train_txt,
    rtvc_embed_utterance,
    rtvc_load,
    rtvc_normalize_volume,
    rtvc_partial_slices,
    write_rtvc_embeds,
)


# =========================================================================== RTVC exact mode
@pytest.fixture(scope="module")
def resemblyzer_encoder():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


def _espeak_wav(path, text: str, voice: str = "en-us+m3") -> None:
    """espeak-ng's own output: 22050 Hz, so the resampling step is exercised too."""
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)


@pytest.fixture(scope="module")
def rtvc_clips(tmp_path_factory, speech_by_speaker):
    """Real speech in the cases RTVC's preprocessing treats differently: a 22.05 kHz espeak-ng
    clip, a quiet flite clip (volume raised to -30 dBFS), a loud one (left alone) and two flite
    utterances with 2 s of silence between them (trimmed by webrtcvad)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    d = tmp_path_factory.mktemp("rtvc")
    espeak = d / "espeak.wav"
    _espeak_wav(espeak, "The old lighthouse keeper climbed the stairs before dawn, then rested.")
    slt = [sf.read(str(p), dtype="float32")[0] for p in speech_by_speaker["flite-slt"][:2]]
    quiet, loud, gap = d / "quiet.wav", d / "loud.wav", d / "gap.wav"
    sf.write(str(quiet), 0.02 * slt[0] / np.abs(slt[0]).max(), 16000, subtype="FLOAT")
    sf.write(str(loud), 0.9 * slt[1] / np.abs(slt[1]).max(), 16000, subtype="FLOAT")
    awb = [sf.read(str(p), dtype="float32")[0] for p in speech_by_speaker["flite-awb"][:2]]
    sf.write(str(gap), np.concatenate([awb[0], np.zeros(32000, np.float32), awb[1]]), 16000)
    return [espeak, quiet, loud, gap]


def test_rtvc_exact_mode_matches_resemblyzer(rtvc_clips, resemblyzer_encoder, ge2e):
    from resemblyzer import preprocess_wav

    for path in rtvc_clips:
        ours = rtvc_load(path)
        theirs = preprocess_wav(path)
        assert len(ours) == len(theirs), path.name
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
        cos = float(rtvc_embed_utterance(ge2e, ours) @ resemblyzer_encoder.embed_utterance(theirs))
        assert cos >= 0.999, (path.name, cos)
    # the gap clip really was trimmed and the quiet one really was raised
    raw_gap, _ = sf.read(str(rtvc_clips[3]), dtype="float32")
    assert len(rtvc_load(rtvc_clips[3])) < len(raw_gap) - 16000

    def dbfs(x):
        return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))))

    quiet, _ = sf.read(str(rtvc_clips[1]), dtype="float32")
    loud, _ = sf.read(str(rtvc_clips[2]), dtype="float32")
    assert dbfs(quiet) < -40 and dbfs(loud) > -25
    assert dbfs(rtvc_normalize_volume(quiet)) == pytest.approx(-30.0, abs=0.01)
    np.testing.assert_array_equal(rtvc_normalize_volume(loud), loud)  # increase only


def test_rtvc_partial_slices_match_resemblyzer():
    from resemblyzer import VoiceEncoder

    for n in (8000, 25600, 30000, 48000, 123457):
        _, theirs = VoiceEncoder.compute_partial_slices(n, 1.3, 0.75)
        ours = rtvc_partial_slices(n)
        assert [(s.start, s.stop) for s in ours] == [(int(s.start), int(s.stop)) for s in theirs]


def test_rtvc_exact_mode_refuses_silence_and_other_encoders(tmp_path, ge2e):
    from voxref.errors import ConfigError, SilentAudioError

    p = tmp_path / "silence.wav"
    sf.write(str(p), np.zeros(16000, np.float32), 16000)
    with pytest.raises(SilentAudioError):
        rtvc_load(p)
    with pytest.raises(ConfigError, match="GE2E"):
        rtvc_embed_utterance(object(), np.ones(16000, np.float32))


def test_rtvc_embeds_folder_reads_like_the_synthesizer(tmp_path, unit_vectors):
    """``synthesizer/synthesizer_dataset.py``: metadata = train.txt lines split on '|',
    ``embed = np.load(embed_dir / x[2])``; ``synthesizer_preprocess_embeds.py`` embeds
    ``audio/x[0]``."""
    root = tmp_path / "synthesizer"
    (root / "audio").mkdir(parents=True)
    lines = []
    for utt in ("1_a_00", "1_b_01"):
        np.save(root / "audio" / f"audio-{utt}.npy", np.zeros(1600, np.float32))
        lines.append(f"audio-{utt}.npy|mel-{utt}.npy|embed-{utt}.npy|1600|10|hello\n")
    (root / "train.txt").write_text("".join(lines))
    items = read_train_txt(root)
    assert [i.embed_name for i in items] == ["embed-1_a_00.npy", "embed-1_b_01.npy"]
    vecs = unit_vectors(2, 256)
    write_rtvc_embeds(root / "embeds", {i.embed_name: v for i, v in zip(items, vecs)})
    for line, v in zip((root / "train.txt").read_text().splitlines(), vecs):
        x = line.split("|")
        embed = np.load(root / "embeds" / x[2])  # what the synthesizer does
        assert embed.dtype == np.float32 and embed.shape == (256,)
        assert float(embed @ v) == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_array_equal(load_rtvc_embed(root / "embeds" / x[2]), embed)
    assert RTVC_PREPROCESSING["rtvc_preprocessing"] is True


# =========================================================================== a real dataset
@pytest.fixture(scope="module")
def voice_folder(tmp_path_factory, speech_by_speaker):
    """A folder per speaker (flite-slt, espeak-us-m3), two real clips each."""
    root = tmp_path_factory.mktemp("voices")
    for spk in ("flite-slt", "espeak-us-m3"):
        (root / spk).mkdir()
        for p in speech_by_speaker[spk][:2]:
            shutil.copy(p, root / spk / p.name)
    return root


@pytest.fixture(scope="module")
def folder_embeddings(voice_folder, ge2e):
    """voxref-mode embeddings of the folder (GE2E), computed once."""
    from voxref.pipeline import Embedder
    from voxref.tts.formats.compute import embed_dataset_clips
    from voxref.tts.formats.dataset import list_dataset

    return embed_dataset_clips(list_dataset(voice_folder), embedder=Embedder(encoder=ge2e))


def test_dataset_embeddings_separate_the_voices(folder_embeddings):
    emb = folder_embeddings
    assert sorted(emb.speakers) == ["espeak-us-m3", "flite-slt"]
    assert len(emb.vectors) == 4 and not emb.missing
    for c in emb.clips:
        own = float(emb.vectors[c.relpath] @ emb.speakers[c.speaker])
        other = max(
            float(emb.vectors[c.relpath] @ v) for s, v in emb.speakers.items() if s != c.speaker
        )
        assert own > other + 0.05, (c.relpath, own, other)
    assert emb.preprocessing["rtvc_preprocessing"] is False
    assert all(r.quality and r.quality["speech_s"] > 1.0 for r in emb.records)


# =========================================================================== Coqui
def _coqui_ljspeech_formatter(root_path: str, meta_file: str) -> list[dict]:
    """Copy of Coqui's ``ljspeech`` formatter (TTS/tts/datasets/formatters.py)."""
    items = []
    with open(os.path.join(root_path, meta_file), encoding="utf-8") as ttf:
        for line in ttf:
            cols = line.split("|")
            wav_file = os.path.join(root_path, "wavs", cols[0] + ".wav")
            items.append(
                {
                    "text": cols[2],
                    "audio_file": wav_file,
                    "speaker_name": "ljspeech",
                    "root_path": root_path,
                }
            )
    return items


def _coqui_add_extra_keys(metadata: list[dict], dataset_name: str) -> list[dict]:
    """Copy of ``TTS/tts/datasets/__init__.py::add_extra_keys``."""
    for item in metadata:
        relfilepath = os.path.splitext(os.path.relpath(item["audio_file"], item["root_path"]))[0]
        item["audio_unique_name"] = f"{dataset_name}#{relfilepath}"
    return metadata


def _coqui_load(path):
    """``load_file`` of ``TTS/tts/utils/managers.py``: json.load, or torch.load of a .pth."""
    import torch

    if str(path).endswith(".json"):
        return json.loads(open(path, encoding="utf-8").read())
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture
def ljspeech(tmp_path, speech_by_speaker):
    root = tmp_path / "LJSpeech-1.1"
    (root / "wavs").mkdir(parents=True)
    lines = []
    for i, p in enumerate(speech_by_speaker["flite-slt"][:2]):
        shutil.copy(p, root / "wavs" / f"LJ001-{i:04d}.wav")
        lines.append(f"LJ001-{i:04d}|Text {i}.|Text {i}.\n")
    (root / "metadata.csv").write_text("".join(lines))
    return root


def _ljspeech_embeddings(ljspeech, folder_embeddings):
    """The LJSpeech folder's clips with real GE2E vectors (reused from the voice folder)."""
    from voxref.tts.formats.compute import DatasetEmbeddings
    from voxref.tts.formats.dataset import list_dataset
    from voxref.tts.formats.provenance import ClipRecord

    clips = list_dataset(ljspeech)
    src = [folder_embeddings.vectors[c.relpath] for c in folder_embeddings.clips][:2]
    vectors = {c.relpath: v for c, v in zip(clips, src)}
    records = [ClipRecord(c.relpath, str(c.path), c.speaker) for c in clips]
    spk = src[0] + src[1]
    return DatasetEmbeddings(
        clips,
        vectors,
        records,
        {"ljspeech": spk / np.linalg.norm(spk)},
        folder_embeddings.encoder,
        folder_embeddings.preprocessing,
    )


@pytest.mark.parametrize("suffix", [".pth", ".json"])
def test_coqui_d_vector_file_found_by_coquis_key_lookup(
    tmp_path, ljspeech, folder_embeddings, suffix
):
    from voxref.tts.formats.coqui import export_coqui

    emb = _ljspeech_embeddings(ljspeech, folder_embeddings)
    out, side = export_coqui(emb, tmp_path / f"speakers{suffix}", dataset_name="ljspeech")
    mapping = _coqui_load(out)
    samples = _coqui_add_extra_keys(
        _coqui_ljspeech_formatter(str(ljspeech), "metadata.csv"), "ljspeech"
    )
    assert samples[0]["audio_unique_name"] == "ljspeech#wavs/LJ001-0000"
    # TTSDataset: d_vector_mapping[item["audio_unique_name"]]["embedding"] for every sample
    for item, clip in zip(samples, emb.clips):
        vec = np.asarray(mapping[item["audio_unique_name"]]["embedding"], dtype=np.float32)
        assert vec.shape == (256,)
        np.testing.assert_allclose(vec, emb.vectors[clip.relpath], atol=1e-6)
        assert mapping[item["audio_unique_name"]]["name"] == "ljspeech"
    info = json.loads(side.read_text())
    assert any("ignores the vectors" in n for n in info["notes"])  # one speaker
    assert info["clips"][0]["key"] == "ljspeech#wavs/LJ001-0000"


def test_coqui_merge_keeps_old_entries(tmp_path, ljspeech, folder_embeddings, unit_vectors):
    import torch

    from voxref.tts.export import EmbeddingDimensionError
    from voxref.tts.formats.coqui import export_coqui

    old = tmp_path / "speakers.pth"
    other = unit_vectors(2, 256, seed=7)
    torch.save(
        {
            "vctk#wavs/p225/p225_001": {"name": "p225", "embedding": other[0].tolist()},
            "ljspeech#wavs/LJ001-0000": {"name": "ljspeech", "embedding": other[1].tolist()},
        },
        old,
    )
    emb = _ljspeech_embeddings(ljspeech, folder_embeddings)
    out, side = export_coqui(emb, old, dataset_name="ljspeech", merge_into=old)
    mapping = _coqui_load(out)
    assert set(mapping) == {
        "vctk#wavs/p225/p225_001",
        "ljspeech#wavs/LJ001-0000",
        "ljspeech#wavs/LJ001-0001",
    }
    np.testing.assert_allclose(mapping["vctk#wavs/p225/p225_001"]["embedding"], other[0])
    np.testing.assert_allclose(  # the re-exported clip takes the new vector
        mapping["ljspeech#wavs/LJ001-0000"]["embedding"],
        emb.vectors["wavs/LJ001-0000"],
        atol=1e-6,
    )
    counts = json.loads(side.read_text())["settings"]["entries"]
    assert counts == {"written": 2, "kept": 1, "replaced": 1}
    # two speakers now: no one-speaker note
    assert not json.loads(side.read_text())["notes"]
    wide = tmp_path / "wide.json"
    wide.write_text(json.dumps({"x#a": {"name": "x", "embedding": [0.1] * 512}}))
    with pytest.raises(EmbeddingDimensionError, match="mix encoders"):
        export_coqui(emb, tmp_path / "m.json", dataset_name="ljspeech", merge_into=wide)


@pytest.mark.parametrize("where", ["top", "model_args"])
def test_coqui_refuses_256_d_vectors_for_a_512_d_model(
    tmp_path, ljspeech, folder_embeddings, where
):
    from voxref.tts.formats.coqui import CoquiDimensionError, export_coqui

    emb = _ljspeech_embeddings(ljspeech, folder_embeddings)
    cfg = {"use_d_vector_file": True, "d_vector_dim": 512}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg if where == "top" else {"model_args": cfg}))
    out = tmp_path / "speakers.pth"
    with pytest.raises(CoquiDimensionError, match="512-d"):
        export_coqui(emb, out, dataset_name="ljspeech", tts_config=config)
    assert not out.exists()
    config.write_text(json.dumps({**cfg, "d_vector_dim": 256}))
    export_coqui(emb, out, dataset_name="ljspeech", tts_config=config)
    assert out.exists()


def test_coqui_metadata_keys_are_relative_to_the_root(tmp_path, speech_by_speaker):
    """The ``coqui`` formatter: ``audio_file`` relative to the dataset path."""
    from voxref.tts.formats.coqui import coqui_key
    from voxref.tts.formats.dataset import list_dataset

    root = tmp_path / "ds"
    (root / "audio" / "a").mkdir(parents=True)
    shutil.copy(speech_by_speaker["flite-awb"][0], root / "audio" / "a" / "one.wav")
    (root / "metadata.csv").write_text("audio_file|text|speaker_name\naudio/a/one.wav|Hi.|awb\n")
    (clip,) = list_dataset(root)
    assert (clip.relpath, clip.speaker, clip.text) == ("audio/a/one", "awb", "Hi.")
    audio_file = os.path.join(str(root), "audio/a/one.wav")  # the formatter's join
    want = _coqui_add_extra_keys([{"audio_file": audio_file, "root_path": str(root)}], "my")
    assert coqui_key("my", clip.relpath) == want[0]["audio_unique_name"]


# =========================================================================== ESPnet / Kaldi
def _kaldiio_load_scp(scp: str) -> dict[str, np.ndarray]:
    """What ``kaldiio.load_scp`` does for ``key ark:offset`` lines of binary float vectors
    (kaldiio/matio.py: ``_get_offset`` + ``read_kaldi`` -> ``\\0B`` then ``FV `` + size)."""
    out = {}
    for line in open(scp, encoding="utf-8"):
        key, ark_name = line.rstrip("\n").split(" ", 1)
        fname, offset = ark_name.rsplit(":", 1)
        with open(fname, "rb") as fd:
            fd.seek(int(offset))
            assert fd.read(2) == b"\0B"
            assert fd.read(3) == b"FV "
            assert fd.read(1) == b"\4"
            (size,) = struct.unpack("<i", fd.read(4))
            out[key] = np.frombuffer(fd.read(4 * size), dtype="<f4")
    return out


def _kaldiio_load_ark(ark: str) -> dict[str, np.ndarray]:
    """``kaldiio.load_ark`` read sequentially (as ESPnet inference loads ``spk_xvector.ark``):
    a key up to a space, then the binary object, until the end of the file."""
    out = {}
    with open(ark, "rb") as fd:
        while True:
            key = b""
            while (c := fd.read(1)) not in (b" ", b""):
                key += c
            if not key:
                return out
            assert fd.read(6) == b"\0BFV \4"
            (size,) = struct.unpack("<i", fd.read(4))
            out[key.decode()] = np.frombuffer(fd.read(4 * size), dtype="<f4")


def test_espnet_xvector_scp_reads_like_kaldiio(tmp_path, folder_embeddings):
    from voxref.tts.formats.espnet import export_espnet, read_kaldi_scp

    emb = folder_embeddings
    files, side = export_espnet(emb, tmp_path / "dump" / "xvector" / "tr_no_dev")
    d = tmp_path / "dump" / "xvector" / "tr_no_dev"
    utt = _kaldiio_load_scp(str(d / "xvector.scp"))
    assert sorted(utt) == sorted(c.utt_id for c in emb.clips)
    for c in emb.clips:
        np.testing.assert_array_equal(utt[c.utt_id], emb.vectors[c.relpath])
    spk = _kaldiio_load_scp(str(d / "spk_xvector.scp"))
    assert sorted(spk) == sorted(emb.speakers)
    seq = _kaldiio_load_ark(str(d / "spk_xvector.ark"))
    assert sorted(seq) == sorted(emb.speakers)
    for name, v in emb.speakers.items():
        np.testing.assert_array_equal(seq[name], v)
        np.testing.assert_array_equal(spk[name], v)
    ours = read_kaldi_scp(d / "xvector.scp")
    assert all(np.array_equal(ours[k], utt[k]) for k in utt)
    assert json.loads(side.read_text())["format"] == "espnet"


def test_espnet_scp_prefix_and_kaldi_data_dir(tmp_path, voice_folder, unit_vectors):
    from voxref.tts.formats.dataset import list_dataset
    from voxref.tts.formats.espnet import read_kaldi_scp, write_kaldi_vectors

    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    wavs = sorted(voice_folder.rglob("*.wav"))
    (data / "wav.scp").write_text("".join(f"utt{i} {p}\n" for i, p in enumerate(wavs)))
    (data / "utt2spk").write_text("".join(f"utt{i} {p.parent.name}\n" for i, p in enumerate(wavs)))
    clips = list_dataset(data)
    assert [c.utt_id for c in clips] == [f"utt{i}" for i in range(len(wavs))]
    assert clips[0].speaker == wavs[0].parent.name
    vecs = dict(zip(("b", "a"), unit_vectors(2, 8)))
    ark = tmp_path / "dump" / "x" / "x.ark"
    write_kaldi_vectors(ark, tmp_path / "x.scp", vecs, scp_path_prefix="dump/x")
    first = (tmp_path / "x.scp").read_text().splitlines()[0]
    assert first.startswith("a dump/x/x.ark:")  # sorted keys, path as the recipe sees it
    back = read_kaldi_scp(tmp_path / "x.scp", relative_to=tmp_path)  # run from the recipe dir
    assert set(back) == {"a", "b"}
    np.testing.assert_array_equal(back["a"], vecs["a"])
    (data / "wav.scp").write_text("utt0 sox a.wav -t wav - |\n")
    from voxref.errors import ConfigError

    with pytest.raises(ConfigError, match="command"):
        list_dataset(data)


# =========================================================================== Hugging Face
def test_hf_parquet_speaker_embeddings_column(tmp_path, folder_embeddings):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    from voxref.tts.export import EmbeddingDimensionError
    from voxref.tts.formats.hf import export_hf

    with pytest.raises(EmbeddingDimensionError, match="512"):
        export_hf(folder_embeddings, tmp_path / "t.parquet")
    out, side = export_hf(folder_embeddings, tmp_path / "t.parquet", speecht5=False)
    table = pq.read_table(out)
    kind = table.schema.field("speaker_embeddings").type
    assert pa.types.is_list(kind) and kind.value_type == pa.float32()
    rows = table.to_pylist()
    # the SpeechT5 recipe's collator: torch.tensor([f["speaker_embeddings"] for f in features])
    batch = torch.tensor([r["speaker_embeddings"] for r in rows])
    assert tuple(batch.shape) == (4, 256)
    by_path = {str(c.path): c for c in folder_embeddings.clips}
    for r in rows:
        c = by_path[r["audio"]]
        assert r["speaker_id"] == c.speaker
        np.testing.assert_allclose(r["speaker_embeddings"], folder_embeddings.vectors[c.relpath])


def test_hf_without_pyarrow_names_the_package(tmp_path, monkeypatch, unit_vectors):
    import sys

    from voxref.errors import MissingDependencyError
    from voxref.tts.formats.hf import write_speaker_embeddings_parquet

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    rows = [
        {
            "audio": "a.wav",
            "speaker_id": "s",
            "utt_id": "a",
            "speaker_embeddings": unit_vectors(1, 512)[0],
        }
    ]
    with pytest.raises(MissingDependencyError, match="pyarrow"):
        write_speaker_embeddings_parquet(tmp_path / "t.parquet", rows)


# =========================================================================== provenance, bridge
def test_sidecar_names_encoder_weights_and_preprocessing(tmp_path, folder_embeddings, ge2e):
    import hashlib

    from voxref.tts.formats.espnet import export_espnet

    _, side = export_espnet(folder_embeddings, tmp_path / "x")
    info = json.loads(side.read_text())
    want = hashlib.sha256(ge2e.weights_path.read_bytes()).hexdigest()
    assert info["encoder"]["weights_sha256"] == want
    assert info["encoder"]["weights_file"] == str(ge2e.weights_path)
    assert info["preprocessing"]["mode"] == "voxref"
    assert "NOT Real-Time-Voice-Cloning" in info["preprocessing"]["description"]
    assert info["num_clips"] == 4 and info["clips"][0]["quality"]["speech_s"] > 1.0


def test_bridge_report_is_saved_and_a_useless_bridge_warns(tmp_path, unit_vectors, caplog):
    from voxref.tts.bridge import fit_and_evaluate, fit_bridge, load_bridge
    from voxref.tts.formats.provenance import check_bridge

    x = unit_vectors(200, 16, seed=1)
    y = unit_vectors(200, 8, seed=2)  # unrelated to x: nothing to learn
    labels = [f"s{i // 10}" for i in range(200)]
    bridge, report = fit_and_evaluate("ridge", x, y, labels)
    assert report.test_cosine <= report.baseline_cosine
    loaded = load_bridge(bridge.save(tmp_path / "b.pt"))
    assert loaded.report["test_cosine"] == pytest.approx(report.test_cosine)
    with caplog.at_level("WARNING", logger="voxref.tts.formats.provenance"):
        info = check_bridge(loaded)
    assert "NOT above the input-blind baseline" in caplog.text and info["warning"]
    good, good_report = fit_and_evaluate("ridge", x, x[:, :8] * 2.0, labels, alpha=1e-3)
    assert good_report.test_cosine > good_report.baseline_cosine
    assert "warning" not in check_bridge(good)
    caplog.clear()
    with caplog.at_level("WARNING", logger="voxref.tts.formats.provenance"):
        check_bridge(fit_bridge("ridge", x, y))
    assert "no fit report" in caplog.text
