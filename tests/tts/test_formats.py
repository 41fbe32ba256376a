"""Dataset exports read back with the logic of the loaders that consume them.

Each reader below is a minimal copy of what the real loader does, with the source named:
Coqui TTS's clip keys (``TTS/tts/datasets/__init__.py::add_extra_keys``, the ``ljspeech``
formatter, ``TTSDataset`` looking ``d_vector_mapping[item["audio_unique_name"]]``), Kaldi's binary
archive layout as ``kaldiio.load_scp`` parses it, RTVC's synthesizer ``np.load`` of ``embeds/``,
and Resemblyzer's own ``preprocess_wav`` + ``embed_utterance`` for the exact RTVC mode.
"""

from __future__ import annotations

import shutil
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
