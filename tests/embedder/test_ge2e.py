"""The GE2E encoder reproduces Resemblyzer's (same weights) and behaves as a speaker encoder."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf

from voxref.embedder.ge2e import GE2EEncoder, mel_filterbank
from voxref.encoding import window_starts
from voxref.errors import AudioShapeError, TooShortAudioError


@pytest.fixture(scope="module")
def encoder():
    return GE2EEncoder()


@pytest.fixture(scope="module")
def sample(pyannote_sample):
    wav, _ = pyannote_sample
    x, sr = sf.read(wav, dtype="float32")
    assert sr == 16000
    return x


def test_matches_resemblyzer_exactly(encoder, sample):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder
        from resemblyzer.audio import wav_to_mel_spectrogram
    ve = VoiceEncoder("cpu", verbose=False)
    np.testing.assert_allclose(
        encoder.mel(sample[:48000]).numpy(),
        wav_to_mel_spectrogram(sample[:48000]),
        rtol=1e-4,
        atol=1e-6,
    )
    for n in (16000, 27000, len(sample)):
        ours, theirs = encoder.embed_utterance(sample[:n]), ve.embed_utterance(sample[:n])
        assert float(ours @ theirs) > 0.99999


def test_mel_filterbank_matches_librosa():
    import librosa

    np.testing.assert_allclose(
        mel_filterbank(), librosa.filters.mel(sr=16000, n_fft=400, n_mels=40), atol=1e-6
    )


def test_windows_are_unit_norm_deterministic_and_timed(encoder, sample):
    a = encoder.embed_windows(sample[: 16000 * 10])
    b = GE2EEncoder().embed_windows(sample[: 16000 * 10])
    assert np.array_equal(a.embeddings, b.embeddings)
    np.testing.assert_allclose(np.linalg.norm(a.embeddings, axis=1), 1.0, atol=1e-5)
    assert a.embeddings.shape[1] == 256 and a.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.diff(a.starts), 0.4, atol=1e-9)
    np.testing.assert_allclose((a.ends - a.starts)[:-1], 1.6, atol=1e-9)
    # the last window is zero-padded past the end; its span is clipped to the signal
    assert 0.75 * 1.6 - 1e-9 <= a.ends[-1] - a.starts[-1] <= 1.6 and abs(a.ends[-1] - 10.0) < 1e-9


def test_batch_path_equals_window_path(encoder, sample):
    w = encoder.embed_windows(sample[:40000], hop=0.8)
    starts = (w.starts * 16000).astype(int)
    batch = np.stack([sample[s : s + 25600] for s in starts])
    direct = encoder.embed_batch(batch)
    direct /= np.linalg.norm(direct, axis=1, keepdims=True)
    # the STFT of an isolated window differs from the sliced full-signal STFT only at its edges
    assert np.min(np.sum(direct * w.embeddings, axis=1)) > 0.99


def test_rejects_bad_shapes_and_too_short(encoder):
    with pytest.raises(AudioShapeError):
        encoder.embed_windows(np.zeros((2, 16000), np.float32))
    with pytest.raises(TooShortAudioError):
        encoder.embed_windows(np.ones(1000, np.float32))


def test_window_starts_cover_the_signal():
    assert window_starts(100, 200, 50).tolist() == [0]
    s = window_starts(1000, 200, 100, min_coverage=0.75)
    assert s[0] == 0 and s[-1] + 200 >= 1000 - 0.25 * 200


def test_half_windows_from_the_long_pass_equal_their_own_pass(sample):
    """Short windows (0.8 s every 0.2 s) after the default pass (1.6 s every 0.4 s) on the same
    signal: half of them come from the long pass's LSTM outputs, bit for bit the same."""
    x = sample[: 16000 * 12 + 1234]
    fresh = GE2EEncoder().embed_windows(x, 0.8, 0.2)
    enc = GE2EEncoder()
    calls = []
    forward = enc._forward_with_prefix
    enc._forward_with_prefix = lambda mels, half: calls.append(len(mels)) or forward(mels, half)
    long = enc.embed_windows(x)
    n_long = sum(calls)
    short = enc.embed_windows(x, 0.8, 0.2)
    assert np.array_equal(short.embeddings, fresh.embeddings)
    assert np.array_equal(short.starts, fresh.starts) and np.array_equal(short.ends, fresh.ends)
    # the network ran on the long windows, then only on the short windows they do not start
    assert n_long == len(long) and sum(calls) - n_long == len(fresh) - len(long)
    # a different signal shares nothing
    before = sum(calls)
    other = enc.embed_windows(x[1:], 0.8, 0.2)
    assert sum(calls) - before == len(other) and len(enc._prefixes) == 2
    # batches of at most about batch_size windows (58 short windows: two of 29)
    assert max(calls) <= enc.batch_size and len(calls) > 3


def test_half_window_memory_is_bounded(sample):
    enc = GE2EEncoder()
    for i in range(enc.prefix_cache_signals + 3):
        enc.embed_windows(sample[i : i + 16000 * 2])
    assert len(enc._prefixes) == enc.prefix_cache_signals


def test_several_signals_in_one_pass_equal_one_pass_each(sample):
    """embed_windows_many: the windows of all signals through the network together give each
    signal the windows embed_windows gives it (same starts, embeddings to float rounding), and
    fill the half-window memory of each as its own pass does."""
    sigs = [sample[: 5 * 16000], sample[5 * 16000 : 12 * 16000], sample[12 * 16000 : 15 * 16000]]
    alone, together = GE2EEncoder(), GE2EEncoder()
    each = [alone.embed_windows(s) for s in sigs]
    many = together.embed_windows_many(sigs)
    assert len(many) == len(sigs)
    for a, b in zip(each, many):
        np.testing.assert_array_equal(a.starts, b.starts)
        np.testing.assert_array_equal(a.ends, b.ends)
        np.testing.assert_allclose(a.embeddings, b.embeddings, atol=1e-5)
    # different signals embed differently (the batch is not mixed up)
    assert float(many[0].mean() @ many[1].mean()) < 0.999
    for s in sigs:
        fine_a, fine_b = alone.embed_windows(s, 0.8, 0.2), together.embed_windows(s, 0.8, 0.2)
        np.testing.assert_allclose(fine_a.embeddings, fine_b.embeddings, atol=1e-5)
