"""TwoSpeakerSeparator and guided stream choice: SI-SDR / PIT loss properties, masks, lengths,
level invariance, checkpoints, determinism, that a tiny model learns to split two tones with uPIT,
that the stream choice keeps the guided talker on real speech, the Embedder's ``separate`` option,
and, with the shipped checkpoint, that a 0 dB mixture's embedding moves toward the target."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from voxref.errors import (
    AudioShapeError,
    CheckpointError,
    ConfigError,
    MissingCheckpointError,
    UnsafeCheckpointError,
)
from voxref.separation.separator import (
    TwoSpeakerSeparator,
    default_checkpoint,
    pit_separation_loss,
    pit_si_sdr_loss,
    si_sdr,
    snr,
    weaker_stream_db,
)
from voxref.separation.streams import choose_stream, stream_activity, stream_windows

SR = 16_000


def tiny(seed: int = 0, **kw) -> TwoSpeakerSeparator:
    cfg = {"channels": 8, "hidden": 16, "blocks": 2, "repeats": 1} | kw
    return TwoSpeakerSeparator(seed=seed, **cfg)


def noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


# ------------------------------------------------------------------------------- SI-SDR / PIT
def test_si_sdr_is_scale_invariant_and_tracks_the_noise_level():
    gen = torch.Generator().manual_seed(0)
    ref = torch.randn(4000, generator=gen)
    n = torch.randn(4000, generator=gen)
    n = n - (n @ ref) / (ref @ ref) * ref  # orthogonal to the reference
    for level in (0.0, 10.0, 20.0):
        est = ref + n * (ref.norm() / n.norm()) * 10 ** (-level / 20)
        assert abs(float(si_sdr(est, ref)) - level) < 0.05
        assert abs(float(si_sdr(7.0 * est, ref)) - level) < 0.05


def test_pit_loss_takes_the_better_order_and_is_lowest_at_the_sources():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 2, 3000, generator=gen)
    best = float(pit_si_sdr_loss(s, s))
    assert best < -60
    assert float(pit_si_sdr_loss(s.flip(1), s)) == pytest.approx(best, abs=1e-3)
    noisy = s + 0.3 * torch.randn(s.shape, generator=gen)
    assert float(pit_si_sdr_loss(noisy, s)) > best + 40
    with pytest.raises(ConfigError):
        pit_si_sdr_loss(s[:, :1], s[:, :1])


# ------------------------------------------------------------------------------- network
@pytest.mark.parametrize("n", [16000, 12345, 700])
def test_two_streams_same_length_and_masks_in_unit_interval(n):
    net = tiny()
    x = noise(n)
    y = net.split(x, SR)
    assert y.shape == (2, n) and y.dtype == np.float32 and np.all(np.isfinite(y))
    m = net(net.stft(torch.from_numpy(x)[None]).abs()).detach()
    assert m.shape[1] == 2 and float(m.min()) >= 0.0 and float(m.max()) <= 1.0


def test_other_sample_rate_keeps_length():
    x = noise(8000 * 2 + 3)
    assert tiny().split(x, 8000).shape == (2, x.size)


def test_streams_scale_with_the_input():
    net = tiny(seed=1)
    x = noise(16000, 3)
    np.testing.assert_allclose(net.split(10 * x, SR), 10 * net.split(x, SR), rtol=1e-3, atol=1e-4)


def test_deterministic_and_seeded():
    x = noise(12000, 5)
    a = tiny(seed=3).split(x, SR)
    assert np.array_equal(a, tiny(seed=3).split(x, SR))
    assert not np.array_equal(a, tiny(seed=4).split(x, SR))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny(seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_save_load_round_trip_and_checkpoint_errors(tmp_path):
    net = tiny(seed=2)
    path = net.save(tmp_path / "sep.pt", metadata={"steps": 7})
    back = TwoSpeakerSeparator.load(path)
    assert back.config == net.config and back.metadata == {"steps": 7}
    x = noise(9000, 6)
    assert np.array_equal(back.split(x, SR), net.split(x, SR))
    assert torch.load(path, weights_only=True)["format"] == "voxref.two_speaker_separator/1"
    with pytest.raises(MissingCheckpointError):
        TwoSpeakerSeparator.load(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something-else", "state_dict": {}}, bad)
    with pytest.raises(CheckpointError):
        TwoSpeakerSeparator.load(bad)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "voxref.two_speaker_separator/1", "obj": ConfigError("x")}, unsafe)
    with pytest.raises(UnsafeCheckpointError):
        TwoSpeakerSeparator.load(unsafe)


def test_bad_inputs():
    net = tiny()
    with pytest.raises(AudioShapeError):
        net.split(np.zeros((2, 100), dtype=np.float32), SR)
    with pytest.raises(AudioShapeError):
        net.split(np.array([0.0, np.nan, 0.1], dtype=np.float32), SR)
    with pytest.raises(ConfigError):
        TwoSpeakerSeparator(hop=0)


def test_learns_to_split_two_tones_whatever_their_order():
    """uPIT: the loss does not say which stream gets which tone, only that they are apart."""
    t = np.arange(8000) / SR
    low = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    high = (0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    src = torch.from_numpy(np.stack([low, high]))[None].repeat(4, 1, 1)
    net = tiny(seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(80):
        s = src * torch.exp(torch.randn(4, 2, 1, generator=gen) * 0.3)
        loss = pit_si_sdr_loss(net.separate(s.sum(1)), s)
        opt.zero_grad()
        loss.backward()
        opt.step()
    y = torch.from_numpy(net.split(low + high, SR))
    ref = torch.from_numpy(np.stack([low, high]))
    order = [0, 1] if float(si_sdr(y[0], ref[0])) > float(si_sdr(y[1], ref[0])) else [1, 0]
    assert float(si_sdr(y[order[0]], ref[0])) > 15 and float(si_sdr(y[order[1]], ref[1])) > 15


def test_separation_loss_single_voice_rows_want_the_other_stream_silent():
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(3, 2, 3000, generator=gen)
    s[2, 1] = 0  # one voice
    single = torch.tensor([False, False, True])
    # two-voice rows: permutation-invariant negative SNR (counted up to 30 dB)
    est = s[:2] + 0.2 * torch.randn(s[:2].shape, generator=gen)
    two = float(pit_separation_loss(est, s[:2], single[:2]))
    assert two == pytest.approx(-float(snr(est, s[:2]).mean()), abs=1e-4)
    assert float(pit_separation_loss(est.flip(1), s[:2], single[:2])) == pytest.approx(two)
    assert float(pit_separation_loss(s[:2], s[:2], single[:2])) == pytest.approx(-30.0)
    # a stream far too quiet is not a separated talker (SI-SDR would not see it)
    quiet = est.clone()
    quiet[:, 1] *= 0.01
    assert float(pit_separation_loss(quiet, s[:2], single[:2])) > two + 5
    # one voice: either stream may hold it; the other stream's leakage costs, floored at -30 dB
    one = s[2:].clone()
    best = float(pit_separation_loss(one, one, single[2:]))
    assert best == pytest.approx(-30.0 + 0.1 * -30.0, abs=1e-3)
    assert float(pit_separation_loss(one.flip(1), one, single[2:])) == pytest.approx(best)
    costs = []
    for leak in (0.1, 0.3, 0.5):
        est1 = one.clone()
        est1[0, 1] = leak * one[0, 0]
        costs.append(float(pit_separation_loss(est1, one, single[2:])))
    assert best < costs[0] < costs[1] < costs[2]
    # 0.5 leakage is -6 dB: a tenth of its 24 dB above the floor is added
    assert costs[2] - best == pytest.approx(0.1 * (30 + 20 * np.log10(0.5)), abs=0.05)
    with pytest.raises(ConfigError):
        pit_separation_loss(s, s, single[:2])


def test_weaker_stream_db_measures_the_quieter_stream_against_the_mixture():
    a, b = noise(8000, 0), noise(8000, 1)
    assert weaker_stream_db(np.stack([a, b]), a + b) == pytest.approx(-3.0, abs=0.2)
    assert weaker_stream_db(np.stack([a, 0.01 * b]), a) == pytest.approx(-40.0, abs=0.2)
    assert weaker_stream_db(np.stack([a, 0 * b]), a) < -150


def test_learns_to_leave_the_second_stream_silent_for_one_voice():
    """Trained with single-tone examples too, the quieter stream says one voice or two."""
    t = np.arange(8000) / SR
    low = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    high = (0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    net = tiny(seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    pair = torch.from_numpy(np.stack([low, high]))
    lone = torch.from_numpy(np.stack([[low, 0 * low], [high, 0 * high]]))
    single = torch.tensor([False, False, True, True])
    for _ in range(120):
        src = torch.cat([pair[None].repeat(2, 1, 1), lone])
        src = src * torch.exp(torch.randn(4, 2, 1, generator=gen) * 0.3)
        loss = pit_separation_loss(net.separate(src.sum(1)), src, single)
        opt.zero_grad()
        loss.backward()
        opt.step()
    two_db = weaker_stream_db(net.split(low + high, SR), low + high)
    one_db = max(weaker_stream_db(net.split(x, SR), x) for x in (low, high))
    assert two_db > -8 and one_db < two_db - 15


# ------------------------------------------------------------------------------- stream choice
@pytest.fixture(scope="module")
def two_talkers(speech_by_speaker):
    def read(p):
        x, sr = sf.read(p, dtype="float32")
        assert sr == SR
        return x

    a = [read(p) for p in speech_by_speaker["espeak-us-m3"]]
    b = [read(p) for p in speech_by_speaker["flite-awb"]]
    return a, b


def _windows(encoder, x):
    return encoder.embed_windows(np.asarray(x, dtype=np.float32))


def test_choose_stream_keeps_the_guided_talker(two_talkers, encoder):
    """Oracle streams of a 0 dB mixture: the one of the talker the guide names is chosen."""
    from voxref.augment.overlap import add_overlap

    a, b = two_talkers
    t, i = a[0], b[0]
    res = add_overlap(t, SR, i, 0.0, 1.0, seed=0)
    streams = np.stack([res.samples - t, t])
    got = stream_windows(streams, SR, encoder, level_dbfs=-22.0)
    mixture = _windows(encoder, res.samples).embeddings
    for guide_talker, expected in ((a, 1), (b, 0)):
        guide = encoder.embed_utterance(guide_talker[2])
        choice = choose_stream([w.embeddings for w, _ in got], mixture, guide)
        assert choice.index == expected
        assert choice.stream_cosine > choice.mixture_cosine + 0.02


def test_choose_stream_keeps_a_one_voice_reference_as_it_is(two_talkers, encoder):
    """When the reference holds only the target, no stream is closer than the reference."""
    a, _ = two_talkers
    t = a[1]
    mixture = _windows(encoder, t).embeddings
    # a 'separation' that damages the only voice: low-passed copy and the rest
    spec = np.fft.rfft(t)
    cut = np.fft.rfftfreq(t.size, 1 / SR) > 1500
    lo = np.fft.irfft(np.where(cut, 0, spec), t.size).astype(np.float32)
    got = stream_windows(np.stack([lo, t - lo]), SR, encoder, level_dbfs=-22.0)
    guide = encoder.embed_utterance(a[3])
    choice = choose_stream([w.embeddings for w, _ in got], mixture, guide)
    assert choice.index is None and choice.mixture_cosine > choice.stream_cosine


def test_choose_stream_never_takes_an_empty_or_silent_stream():
    t = np.eye(3)[0]
    mixture = np.array([[0.0, 1.0, 0.0]])
    empty, silent = np.zeros((0, 3)), np.array([[1.0, 0.0, 0.0]])
    choice = choose_stream(
        [empty, silent], mixture, t, stream_weights=[np.zeros(0), np.zeros(1)], margin=-2.0
    )
    assert choice.index is None


def test_stream_activity_marks_the_silent_part_of_a_stream(two_talkers, encoder):
    a, _ = two_talkers
    t = a[0]
    x = np.concatenate([t, np.zeros(SR * 2, np.float32) + 1e-5]).astype(np.float32)
    w = _windows(encoder, x)
    z = stream_activity(x, SR, w)
    speech_end = t.size / SR
    assert z[w.ends <= speech_end].min() == 1.0
    assert z[w.starts >= speech_end].max() == 0.0


# ------------------------------------------------------------------------------- Embedder
def test_embedder_separate_option_errors_and_wiring(tmp_path, two_talkers):
    from voxref import Embedder

    with pytest.raises(MissingCheckpointError):
        Embedder(separate=tmp_path / "absent.pt")
    path = tiny(seed=0).save(tmp_path / "sep.pt")
    a, b = two_talkers
    from voxref.augment.overlap import add_overlap

    refs = [add_overlap(a[k], SR, b[k], 0.0, 1.0, seed=k).samples for k in range(3)]
    emb = Embedder(separate=path)
    prepared = emb.prepare_all([(r, SR) for r in refs])
    res = emb.combine(prepared)
    assert abs(float(np.linalg.norm(res.embedding)) - 1.0) < 1e-5
    for p in prepared:
        streams = p.extras["streams"]  # computed once per reference, kept for other sets
        assert len(streams) == 2 and emb.separated_streams(p) is streams
    np.testing.assert_array_equal(emb.combine(prepared).embedding, res.embedding)


def test_embedder_separates_only_behind_the_gate(tmp_path, two_talkers):
    """A checkpoint with a one/two-voice threshold: references whose quieter stream is below it
    are pooled as without separation; above it the closer stream is kept whatever the margin."""
    from voxref import Embedder, EmbedderTuning
    from voxref.augment.overlap import add_overlap

    a, b = two_talkers
    refs = [(add_overlap(a[k], SR, b[k], 0.0, 1.0, seed=k).samples, SR) for k in range(3)]
    plain = Embedder().embed(refs, return_details=True)
    results = {}
    for name, threshold in (("never", 1000.0), ("always", -1000.0)):
        net = tiny(seed=0)
        net.metadata = {"two_voice_threshold_db": threshold}
        path = net.save(tmp_path / f"{name}.pt")
        emb = Embedder(separate=path)
        assert emb.separator.two_voice_threshold_db == threshold
        assert emb.separator.separation_threshold_db == threshold  # no stricter one: the gate's
        results[name] = emb.embed(refs, return_details=True)
    np.testing.assert_allclose(results["never"].embedding, plain.embedding, atol=1e-6)
    reasons = [r.activity.reason for r in results["always"].references]
    assert all("separated into two voices (quieter stream" in r for r in reasons), reasons
    # babble (the auto policy's babble denoiser ran) is a crowd, not a second talker
    emb = Embedder(separate=tmp_path / "always.pt")
    prepared = emb.prepare_all(refs)
    for p in prepared:
        p.denoiser = "dfn3-lim6"
    assert all(emb.separated_target(p, plain.embedding) is None for p in prepared)
    # an explicit margin still applies behind the gate: nothing beats the mixture by 2
    net = tiny(seed=0)
    net.metadata = {"two_voice_threshold_db": -1000.0}
    strict = Embedder(
        separate=net.save(tmp_path / "strict.pt"), advanced=EmbedderTuning(separate_margin=2.0)
    )
    np.testing.assert_allclose(strict.embed(refs), plain.embedding, atol=1e-6)
    # a checkpoint's own separation threshold (stricter than its gate) is the one applied
    net = tiny(seed=0)
    net.metadata = {"two_voice_threshold_db": -1000.0, "separation_threshold_db": 1000.0}
    np.testing.assert_allclose(
        Embedder(separate=net.save(tmp_path / "strict-gate.pt")).embed(refs),
        plain.embedding,
        atol=1e-6,
    )
    # the user's threshold overrides the checkpoint's, and gates a separator that has none
    shut = Embedder(
        separate=tmp_path / "always.pt", advanced=EmbedderTuning(separate_threshold_db=1000.0)
    )
    np.testing.assert_allclose(shut.embed(refs), plain.embedding, atol=1e-6)
    net = tiny(seed=0)
    net.metadata = {}
    opened = Embedder(
        separate=net.save(tmp_path / "ungated.pt"),
        advanced=EmbedderTuning(separate_threshold_db=-1000.0),
    )
    reasons = [r.activity.reason for r in opened.embed(refs, return_details=True).references]
    assert all("separated into two voices (quieter stream" in r for r in reasons), reasons


def test_lone_reference_keeps_the_dominant_stream_only_behind_a_gate(tmp_path, two_talkers):
    """One reference, no guide: with a gate that says two voices the stream closest to the
    unseparated reference is kept (and said so); a gate that says one voice, or a separator
    without a gate, leaves it exactly as without separation."""
    from voxref import Embedder
    from voxref.augment.overlap import add_overlap

    a, b = two_talkers
    ref = [(add_overlap(a[0], SR, b[0], 6.0, 1.0, seed=0).samples, SR)]
    plain = Embedder().embed(ref)
    out = {}
    for name, meta in (("never", 1000.0), ("always", -1000.0), ("ungated", None)):
        net = tiny(seed=0)
        net.metadata = {} if meta is None else {"two_voice_threshold_db": meta}
        out[name] = Embedder(separate=net.save(tmp_path / f"{name}.pt")).embed(
            ref, return_details=True
        )
    np.testing.assert_allclose(out["never"].embedding, plain, atol=1e-6)
    np.testing.assert_allclose(out["ungated"].embedding, plain, atol=1e-6)
    (r,) = out["always"].references
    assert "no guide: the dominant voice's stream is kept" in r.activity.reason
    assert float(out["always"].embedding @ plain) < 1 - 1e-4  # a stream, not the mixture
    # the kept stream is the one closest to the unseparated reference
    emb = Embedder(separate=tmp_path / "always.pt")
    (p,) = emb.prepare_all(ref)
    windows, _ = emb.separated_target(p, None)
    own = [float(np.mean(w.embeddings, axis=0) @ plain) for w, _ in emb.separated_streams(p)]
    kept = [np.array_equal(windows.embeddings, w.embeddings) for w, _ in p.extras["streams"]]
    assert kept.index(True) == int(np.argmax(own))


def test_shipped_separator_is_shipped():
    assert default_checkpoint().is_file(), "the shipped separator is missing from voxref/data"


def test_shipped_separator_moves_overlapped_references_toward_the_target(two_talkers, encoder):
    """Three references of one talker, each fully overlapped at 0 dB by another talker: with
    separation the embedding is closer to the talker's own clean embedding than without."""
    from voxref import Embedder
    from voxref.augment.overlap import add_overlap

    a, b = two_talkers
    clean = encoder.embed_utterance(a[3])
    refs = [(add_overlap(a[k], SR, b[k], 0.0, 1.0, seed=k).samples, SR) for k in range(3)]
    with_sep = Embedder(separate=True).embed(refs)
    without = Embedder().embed(refs)
    assert float(with_sep @ clean) > float(without @ clean) + 0.01


def test_shipped_separator_gate_tells_one_voice_from_two(two_talkers):
    """Fixture speech of one talker stays one voice; the same speech under another talker at
    0 and 5 dB is two (clean and with a little noise), with the checkpoint's threshold."""
    from voxref.augment.noise import add_noise
    from voxref.augment.overlap import add_overlap

    net = TwoSpeakerSeparator.load()
    gate, separate_above = net.two_voice_threshold_db, net.separation_threshold_db
    assert gate is not None and separate_above is not None
    assert separate_above >= gate  # the Embedder's threshold is the stricter one
    a, b = two_talkers
    for k in range(3):
        for x in (a[k], add_noise(a[k], SR, 30.0, "pink", seed=k)):
            assert weaker_stream_db(net.split(x, SR), x) < gate
        for sir in (0.0, 5.0):
            mix = add_overlap(a[k], SR, b[k], sir, 1.0, seed=k).samples
            assert weaker_stream_db(net.split(mix, SR), mix) > separate_above


# ------------------------------------------------------------------------------- SpeechBrain
@pytest.fixture(scope="module")
def tiny_sepformer(tmp_path_factory):
    pytest.importorskip("speechbrain")
    from voxref.separation.testing import build_tiny_sepformer

    return build_tiny_sepformer(tmp_path_factory.mktemp("sepformer"))


def test_speechbrain_sepformer_directory_loads_and_splits(tiny_sepformer):
    from voxref.separation.speechbrain_separator import (
        SpeechBrainSeparator,
        is_speechbrain_separator,
    )

    assert is_speechbrain_separator(tiny_sepformer)
    sep = SpeechBrainSeparator.load(tiny_sepformer)
    assert (sep.sample_rate, sep.num_sources) == (8000, 2)
    x = noise(16000 + 5, 8)
    y = sep.split(x, SR)  # resampled to 8 kHz and back
    assert y.shape == (2, x.size) and y.dtype == np.float32 and np.all(np.isfinite(y))
    np.testing.assert_array_equal(y, SpeechBrainSeparator.load(tiny_sepformer).split(x, SR))
    with pytest.raises(AudioShapeError):
        sep.split(np.zeros((2, 10), np.float32), SR)


def test_speechbrain_sepformer_refuses_unsafe_or_incomplete_directories(tiny_sepformer, tmp_path):
    import shutil

    from voxref.separation.speechbrain_separator import SpeechBrainSeparator

    unsafe = tmp_path / "unsafe"
    shutil.copytree(tiny_sepformer, unsafe)
    hp = unsafe / "hyperparams.yaml"
    hp.write_text(hp.read_text() + "\nboom: !apply:os.system ['echo pwned']\n")
    with pytest.raises(UnsafeCheckpointError):
        SpeechBrainSeparator.load(unsafe)
    partial = tmp_path / "partial"
    shutil.copytree(tiny_sepformer, partial)
    (partial / "masknet.ckpt").unlink()
    with pytest.raises(MissingCheckpointError, match="masknet.ckpt"):
        SpeechBrainSeparator.load(partial)


def test_embedder_takes_a_speechbrain_separator(tiny_sepformer, two_talkers):
    from voxref import Embedder
    from voxref.augment.overlap import add_overlap

    a, b = two_talkers
    refs = [(add_overlap(a[k], SR, b[k], 0.0, 1.0, seed=k).samples, SR) for k in range(2)]
    emb = Embedder(separate=str(tiny_sepformer))
    assert emb.separate == str(tiny_sepformer)
    res = emb.embed(refs, return_details=True)
    assert abs(float(np.linalg.norm(res.embedding)) - 1.0) < 1e-5
    assert type(emb.separator).__name__ == "SpeechBrainSeparator"
