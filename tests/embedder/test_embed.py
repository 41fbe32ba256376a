"""voxref.embed end to end on real speech: speakers told apart, deterministic, failures reported."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf
import torch

import voxref
from voxref.errors import NoUsableReferenceError
from voxref.pipeline import Embedder, PartialBatchError
from voxref.sample_data import read_rttm, speaker_turns_audio


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def _cos(a, b):
    return float(np.dot(a, b))


def test_fixture_speakers_same_beats_different(embedder, speech_by_speaker):
    """Enrol on utterances 0-1, test on held-apart 2-3: every test utterance is closest to its speaker."""
    enrol = {s: embedder.embed(paths[:2]) for s, paths in speech_by_speaker.items()}
    same, diff, correct, total = [], [], 0, 0
    for spk, paths in speech_by_speaker.items():
        for p in paths[2:]:
            t = embedder.embed([p])
            scores = {s: _cos(t, e) for s, e in enrol.items()}
            same.append(scores[spk])
            diff += [v for s, v in scores.items() if s != spk]
            correct += max(scores, key=scores.get) == spk
            total += 1
    assert np.mean(same) > np.mean(diff) + 0.1, (np.mean(same), np.mean(diff))
    assert correct / total >= 0.9, f"identified {correct}/{total}"


def test_pyannote_sample_speakers_told_apart(embedder, pyannote_sample):
    wav, rttm = pyannote_sample
    x, sr = sf.read(wav, dtype="float32")
    per = speaker_turns_audio(x, sr, read_rttm(rttm))
    assert len(per) == 2
    halves = {}
    for spk, a in per.items():
        h = len(a) // 2
        halves[spk] = [embedder.embed([(a[:h], sr)]), embedder.embed([(a[h:], sr)])]
    (s1, (a1, a2)), (s2, (b1, b2)) = sorted(halves.items())
    same = min(_cos(a1, a2), _cos(b1, b2))
    diff = max(_cos(u, v) for u, v in itertools.product((a1, a2), (b1, b2)))
    assert same > diff + 0.05, (same, diff)


def test_unit_norm_float32_and_bit_identical(speech_by_speaker):
    paths = next(iter(speech_by_speaker.values()))[:3]
    a = voxref.embed(paths)
    b = Embedder().embed(paths)
    assert a.dtype == np.float32 and a.shape == (256,)
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert np.array_equal(a, b)


def test_inputs_of_every_kind_agree(embedder, speech_by_speaker):
    path = next(iter(speech_by_speaker.values()))[0]
    x, sr = sf.read(path, dtype="float32")
    ref = embedder.embed(path)
    for other in (
        embedder.embed([(x, sr)]),
        embedder.embed(x, sample_rate=sr),
        embedder.embed([torch.from_numpy(x)], sample_rate=sr),
        embedder.embed([(np.round(x * 32767).astype(np.int16), sr)]),
    ):
        assert _cos(ref, other) > 0.9999


def test_resampled_input_gives_nearly_the_same_embedding(embedder, speech_by_speaker):
    from voxref.audio import resample

    path = next(iter(speech_by_speaker.values()))[0]
    x, sr = sf.read(path, dtype="float32")
    up = resample(x, sr, 44100)
    assert _cos(embedder.embed([(x, sr)]), embedder.embed([(up, 44100)])) > 0.98


def test_bad_reference_is_skipped_and_reported(embedder, speech_by_speaker, tmp_path):
    good = next(iter(speech_by_speaker.values()))[:2]
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio at all")
    silent = (np.zeros(16000, np.float32), 16000)
    res = embedder.embed([good[0], str(bad), silent, good[1]], return_details=True)
    assert np.array_equal(res.embedding, embedder.embed(good))
    statuses = [f.status for f in res.report.fates]
    # short (~3 s) fixture clips may be "down-weighted" (used, with a reason) rather than "used"
    assert [s in ("used", "down-weighted") for s in statuses] == [True, False, False, True]
    assert statuses[1:3] == ["rejected", "rejected"]
    assert "broken.wav" in res.report.fates[1].source and "decoded" in res.report.fates[1].reason
    assert res.report.fates[2].error == "SilentAudioError"
    w = res.weights
    assert w[1] == 0 and w[2] == 0 and abs(w.sum() - 1) < 1e-6 and min(w[0], w[3]) > 0.3


def test_all_bad_raises_naming_every_file(embedder, tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_text("text")
    with pytest.raises(NoUsableReferenceError) as info:
        embedder.embed([str(a), str(b)])
    msg = str(info.value)
    assert "a.wav" in msg and "b.wav" in msg and "no such file" in msg
    assert len(info.value.report.fates) == 2


def test_embed_many_keeps_going_and_reports(embedder, speech_by_speaker, tmp_path):
    spk = list(speech_by_speaker)[:2]
    mapping = {
        spk[0]: speech_by_speaker[spk[0]][:2],
        "ghost": [str(tmp_path / "nope.wav")],
        spk[1]: speech_by_speaker[spk[1]][:2],
    }
    with pytest.raises(PartialBatchError) as info:
        embedder.embed_many(mapping)
    assert set(info.value.results) == set(spk) and set(info.value.failures) == {"ghost"}
    out = embedder.embed_many(mapping, skip_failed=True)
    assert set(out) == set(spk)
    details = embedder.embed_many(mapping, skip_failed=True, return_details=True)
    assert isinstance(details["ghost"], NoUsableReferenceError)
    assert np.array_equal(details[spk[0]].embedding, out[spk[0]])


def test_encoder_option_takes_a_checkpoint_path_everywhere(speech_by_speaker, tmp_path):
    """``encoder=`` (library) and ``--encoder`` (every CLI command) accept a checkpoint path."""
    import subprocess
    import sys

    from voxref.embedder.testing import make_voxref_checkpoint
    from voxref.errors import ConfigError

    ckpt = make_voxref_checkpoint(tmp_path / "enc.pt")
    files = [str(p) for p in list(speech_by_speaker.values())[0][:2]]
    direct = Embedder.from_pretrained(ckpt, clean=False).embed(files)
    via_option = voxref.embed(files, encoder=str(ckpt), clean=False)
    assert via_option.shape == direct.shape and np.allclose(via_option, direct, atol=1e-6)
    # the random checkpoint is not the bundled GE2E: a different space
    assert abs(float(via_option @ voxref.embed(files, clean=False))) < 0.99
    with pytest.raises(ConfigError, match="unknown encoder"):
        _ = Embedder(encoder="no-such-encoder").encoder

    src = tmp_path / "in"
    src.mkdir()
    for i, f in enumerate(files):
        (src / f"clip{i}.wav").write_bytes(open(f, "rb").read())
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "voxref", "embed-dir", str(src), "-o", str(out)]
    run = subprocess.run(
        [*cmd, "--encoder", str(ckpt), "--no-clean", "-q"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    vec = np.load(next(out.rglob("clip0*.npy")))
    assert np.allclose(
        vec, Embedder.from_pretrained(ckpt, clean=False).embed([files[0]]), atol=1e-5
    )


def test_references_are_encoded_together_as_each_alone(embedder, speech_by_speaker):
    """prepare_all runs the windows of all references through the encoder in one pass: each
    reference gets the windows prepare() gives it, and a rejected one keeps its place."""
    from voxref.errors import InputFate

    paths = speech_by_speaker[sorted(speech_by_speaker)[0]][:3]
    silent = np.zeros(16000 * 2, np.float32)
    inputs = [str(paths[0]), (silent, 16000), str(paths[1]), str(paths[2])]
    together = embedder.prepare_all(inputs)
    assert isinstance(together[1], InputFate) and together[1].status == "rejected"
    for got, x in zip([together[0], *together[2:]], [inputs[0], *inputs[2:]]):
        alone = embedder.prepare(x)
        np.testing.assert_array_equal(got.windows.starts, alone.windows.starts)
        np.testing.assert_allclose(got.windows.embeddings, alone.windows.embeddings, atol=1e-5)
        assert got.denoiser == alone.denoiser and got.speech_seconds == alone.speech_seconds
