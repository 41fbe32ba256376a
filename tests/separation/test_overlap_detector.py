"""The frame-level speaker counter (overlap detector) and its use in the diarizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxref.errors import AudioShapeError, CheckpointError, ConfigError, MissingCheckpointError
from voxref.separation.overlap_detector import (
    SpeakerCountNet,
    count_labels,
    default_checkpoint,
    overlap_frames,
    source_activity,
)

from ._helpers import der, reference_annotation

SR = 16_000


def _tone(freq: float, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SR
    vibrato = 1 + 0.02 * np.sin(2 * np.pi * rng.uniform(3, 6) * t)
    phase = 2 * np.pi * freq * np.cumsum(vibrato) / SR
    return sum(np.sin(h * phase) / h for h in range(1, 6)).astype(np.float32)


def test_source_activity_fills_word_gaps_but_not_long_pauses():
    x = np.zeros(3 * SR, np.float32)
    x[int(0.5 * SR) : int(1.0 * SR)] = 0.3
    x[int(1.1 * SR) : int(1.5 * SR)] = 0.01  # 30 dB quieter: still speech
    x[int(2.2 * SR) : int(2.6 * SR)] = 0.3  # after a 0.7 s pause
    a = source_activity(x, SR, 160, floor_db=-40, fill=0.2)
    assert a.shape == (300,)
    assert a[50:150].all(), "the 0.1 s gap is filled, the quiet stretch counts"
    assert not a[150:220].any() and a[220:260].all() and not a[:50].any()
    assert not source_activity(np.zeros(SR), SR, 160).any()
    assert not source_activity(0.3 * np.ones(SR), SR, 160, floor_db=-40)[:0].size


def test_count_labels_and_overlap_frames_validate_shapes():
    assert count_labels(np.ones((3, 4))).tolist() == [2, 2, 2, 2]
    with pytest.raises(ConfigError):
        count_labels(np.ones(4))
    with pytest.raises(ConfigError):
        overlap_frames(np.ones((4, 2)))
    p = np.zeros((10, 3))
    p[2:5, 2] = 0.9
    p[7, 2] = 0.9
    assert np.flatnonzero(overlap_frames(p, 0.5, min_frames=2)).tolist() == [2, 3, 4]


def test_features_ignore_level_and_frame_count_matches_duration():
    net = SpeakerCountNet(channels=8, hidden=4, seed=0)
    rng = np.random.default_rng(0)
    x = _tone(180, SR, rng) + 0.01 * rng.standard_normal(SR).astype(np.float32)
    x = torch.from_numpy(x)[None]
    f1, f2 = net.features(x), net.features(10 * x)
    assert f1.shape == (1, net.num_bins, 100)
    assert torch.allclose(f1, f2, atol=1e-2)  # float32 STFT of a 60 dB range
    assert net.num_bins == 129  # 0-4 kHz at 31.25 Hz
    p = net.probabilities(_tone(180, 8000, rng), 8000)  # resampled to 16 kHz: 1 s
    assert p.shape == (100, 3)


def test_bad_inputs_and_checkpoints(tmp_path):
    net = SpeakerCountNet(channels=8, hidden=4, seed=0)
    with pytest.raises(AudioShapeError):
        net.probabilities(np.zeros((2, 100), np.float32), SR)
    with pytest.raises(AudioShapeError):
        net.probabilities(np.array([0.0, np.nan], np.float32), SR)
    with pytest.raises(ConfigError):
        SpeakerCountNet(max_freq=9000)
    with pytest.raises(MissingCheckpointError):
        SpeakerCountNet.load(tmp_path / "none.pt")
    torch.save({"format": "something else", "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError):
        SpeakerCountNet.load(tmp_path / "other.pt")


def test_checkpoint_round_trip_is_exact(tmp_path):
    net = SpeakerCountNet(channels=8, hidden=4, seed=3)
    path = net.save(tmp_path / "count.pt", {"note": "tiny"})
    raw = torch.load(path, weights_only=True)  # plain values only
    assert raw["format"] == "voxref.speaker_count/1"
    back = SpeakerCountNet.load(path)
    assert back.metadata == {"note": "tiny"} and back.config == net.config
    x = _tone(200, SR // 2, np.random.default_rng(1))
    np.testing.assert_array_equal(net.probabilities(x, SR), back.probabilities(x, SR))
    assert not np.array_equal(
        SpeakerCountNet(channels=8, hidden=4, seed=4).probabilities(x, SR),
        net.probabilities(x, SR),
    )


def test_a_tiny_counter_learns_one_tone_from_two():
    """Trained for a few seconds on harmonic tones (silence / one / two at once, from two pitch
    ranges), it tells the three apart on new tones: the network and its loss can learn the
    task (measured: about 0.85 of the frames right after 250 steps)."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    net = SpeakerCountNet(channels=32, hidden=32, layers=1, seed=0)
    n = SR // 2
    ranges = [(100, 160), (220, 300)]

    def example():
        k = int(rng.integers(3))
        x = 1e-4 * rng.standard_normal(n).astype(np.float32)
        first = int(rng.integers(2))
        for i in range(k):
            x += _tone(rng.uniform(*ranges[(first + i) % 2]), n, rng) * rng.uniform(0.5, 1.0)
        return x, np.full(n // 160, k)

    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(250):
        xs, ys = zip(*(example() for _ in range(8)))
        logits = net(torch.from_numpy(np.stack(xs)))
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, 3), torch.from_numpy(np.stack(ys)).reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    correct = {0: [], 1: [], 2: []}
    for _ in range(30):
        x, y = example()
        correct[int(y[0])].append(np.mean(net.probabilities(x, SR).argmax(1) == y[0]))
    assert np.mean(sum(correct.values(), [])) > 0.75
    assert all(np.mean(c) > 0.5 for c in correct.values()), "every class is learnt"


class _Marks:
    """A stand-in counter that says "overlap" in one known span."""

    frame_step = 0.01

    def __init__(self, start: float, end: float) -> None:
        self.span = (start, end)

    def probabilities(self, samples, sample_rate):
        n = int(len(samples) / sample_rate / self.frame_step)
        p = np.tile([0.0, 1.0, 0.0], (n, 1))
        a, b = (int(t / self.frame_step) for t in self.span)
        p[a:b] = [0.0, 0.0, 1.0]
        return p


def test_diarizer_adds_the_other_speaker_where_the_counter_says_overlap(sample, sample_windows):
    import dataclasses

    from voxref.separation.diarization import Diarizer

    x, sr, turns = sample
    marks = _Marks(10.6, 11.0)  # 10.57-11.03 s is real overlap in sample.rttm
    d = Diarizer(advanced={"turn_overlap": 0.0})
    plain = d.run(dataclasses.replace(sample_windows, count_probabilities=None), num_speakers=2)
    counted = dataclasses.replace(
        sample_windows, count_probabilities=marks.probabilities(x, sr), count_step=0.01
    )
    marked = d.run(counted, num_speakers=2)
    assert plain.annotation.get_overlap().duration() == 0.0
    assert plain.frame_overlap_probability is None
    ov = marked.annotation.get_overlap()
    assert abs(ov.duration() - 0.4) < 0.02 and ov[0].start == pytest.approx(10.6, abs=0.02)
    assert marked.frame_overlap_probability.shape == marked.frame_speaker.shape
    ref = reference_annotation(turns)
    assert der(ref, marked.annotation, 0.0) < der(ref, plain.annotation, 0.0)
    # without a second speaker to add, nothing changes
    alone = d.run(counted, num_speakers=1)
    assert alone.annotation.get_overlap().duration() == 0.0


def test_analyse_runs_the_counter(sample):
    from voxref.separation.diarization import Diarizer

    x, sr, _ = sample
    d = Diarizer(overlap_detector=_Marks(1.0, 1.5), advanced={"turn_overlap": 0.0})
    rec = d.analyse(x[: 4 * sr], sr)
    assert rec.count_probabilities.shape == (400, 3) and rec.count_step == 0.01
    assert "count" in rec.timings


def test_diarizer_loads_a_counter_from_a_path(tmp_path, sample):
    from voxref.separation.diarization import Diarizer

    path = SpeakerCountNet(channels=8, hidden=4, seed=0).save(tmp_path / "c.pt")
    d = Diarizer(overlap_detector=path)
    assert isinstance(d.overlap_detector, SpeakerCountNet)
    assert Diarizer(overlap_detector=None).overlap_detector is None
    assert Diarizer(overlap_detector=None).turn_overlap == 0.15  # the rule without a counter
    assert Diarizer(overlap_detector=path).turn_overlap == 0.0
    with pytest.raises(MissingCheckpointError):
        _ = Diarizer(overlap_detector=tmp_path / "missing.pt").overlap_detector


def test_shipped_counter_is_shipped():
    assert default_checkpoint().is_file(), "the shipped speaker-count checkpoint is missing"


def test_shipped_counter_finds_real_overlap_on_the_sample(sample):
    """pyannote's real telephone sample (no voice of it in training): overlap probability ranks
    overlapped speech above single-speaker speech, and most frames it marks are real overlap."""
    from sklearn.metrics import roc_auc_score

    x, sr, turns = sample
    p = SpeakerCountNet.load().probabilities(x, sr)
    act = np.zeros(len(p))
    for t in turns:
        act[int(t.start / 0.01) : int(t.end / 0.01)] += 1
    speech = act >= 1
    # measured: 0.91 and 0.82
    assert roc_auc_score(act[speech] >= 2, p[speech, 2]) > 0.85
    assert roc_auc_score(~speech, p[:, 0]) > 0.75


def test_default_diarizer_labels_real_overlap_on_the_sample(sample, sample_windows):
    """The default diarizer (shipped counter) labels overlap where sample.rttm has it and
    lowers the error against the same diarizer without the counter (measured 8.6 vs 11.4 %)."""
    from voxref.separation.diarization import Diarizer

    _, _, turns = sample
    ref = reference_annotation(turns)
    with_counter = Diarizer().run(sample_windows, num_speakers=2).annotation
    without = Diarizer(overlap_detector=None).run(sample_windows, num_speakers=2).annotation
    assert der(ref, with_counter, 0.0) < der(ref, without, 0.0) - 0.015
    got, true = with_counter.get_overlap(), ref.get_overlap()
    hit = got.crop(true, mode="intersection").duration()
    assert hit > 0.6 * got.duration(), "most labelled overlap is real"
    assert hit > 0.5 * true.duration()
