"""Timelines and masks without models: window values land on the right stretch of the recording,
the target-only audio keeps exactly the masked speech, optional stages are read defensively."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxref.audio.signal import Audio
from voxref.encoding import WindowEmbeddings
from voxref.errors import ConfigError
from voxref.inspection.collect import (
    _activity_of,
    list_speaker_folders,
    speech_time,
    target_only_audio,
    window_mask,
)
from voxref.pipeline import PreparedReference


def _prepared(regions: list[tuple[float, float]]) -> PreparedReference:
    from voxref.cleaning.vad import SpeechRegions

    audio = Audio(np.zeros(16000, np.float32), 16000)
    win = WindowEmbeddings(np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0))
    return PreparedReference(
        "x",
        audio,
        audio,
        win,
        0.0,
        regions=SpeechRegions(tuple(regions), np.zeros(0), 0.032, 100.0),
    )


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0.05, 3.0), min_size=1, max_size=6),
    lengths=st.lists(st.floats(0.1, 4.0), min_size=6, max_size=6),
    u=st.floats(0.0, 0.999),
)
def test_speech_time_inverts_to_original_time(gaps, lengths, u):
    regions, t = [], 0.0
    for g, n in zip(gaps, lengths):
        regions.append((round(t + g, 3), round(t + g + n, 3)))
        t = regions[-1][1]
    total = sum(e - s for s, e in regions)
    ts = np.array([u * total])
    orig = _prepared(regions).to_original_time(ts)
    np.testing.assert_allclose(speech_time(orig, regions), ts, atol=1e-9)


def test_window_values_land_on_their_region():
    # two speech regions 1-2 s and 3-4 s; window A covers the first (speech 0-1 s), B the second
    regions = [(1.0, 2.0), (3.0, 4.0)]
    wt = np.array([[0.0, 1.0], [1.0, 2.0]])
    t, m = window_mask(5.0, regions, wt, np.array([0.9, 0.2]), hop=0.01)
    assert np.allclose(m[(t >= 1.0) & (t < 1.99)], 0.9)
    assert np.allclose(m[(t >= 3.0) & (t < 3.99)], 0.2)
    assert np.isnan(m[(t < 0.99) | ((t > 2.01) & (t < 2.99)) | (t > 4.01)]).all()


def test_window_mask_averages_overlapping_windows_and_checks_lengths():
    wt = np.array([[0.0, 2.0], [1.0, 3.0]])
    t, m = window_mask(3.0, None, wt, np.array([1.0, 0.0]), hop=0.5)
    assert m.tolist()[:6] == [1.0, 1.0, 0.5, 0.5, 0.0, 0.0]
    with pytest.raises(ConfigError):
        window_mask(3.0, None, wt, np.array([1.0]))


def test_target_only_audio_keeps_exactly_the_masked_windows():
    sr = 1000
    rng = np.random.default_rng(0)
    tone = np.sin(2 * np.pi * 50 * np.arange(sr) / sr).astype(np.float32)
    noise = (0.01 * rng.standard_normal(sr)).astype(np.float32)
    speech = np.concatenate([tone, noise, tone])  # 3 s: target, other, target
    wt = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    out = target_only_audio(speech, sr, wt, np.array([1.0, 0.1, 0.8]))
    assert len(out) == 2 * sr
    np.testing.assert_array_equal(out, np.concatenate([tone, tone]))
    assert (
        len(target_only_audio(speech, sr, wt, np.array([1.0, 0.1, 0.8]), max_seconds=1.5)) == 1500
    )


def test_activity_is_read_from_arrays_or_objects_and_length_checked():
    n = 4
    z = np.array([1.0, 0.0, 0.5, 1.0])
    ref = SimpleNamespace(activity=z, prepared=None)
    a, o, note = _activity_of(ref, n)
    np.testing.assert_array_equal(a, z)
    assert o is None and note == ""
    # a TargetActivity-like object: z in ``weights``; ``target`` is a centroid, not the activity
    obj = SimpleNamespace(
        weights=z,
        target=np.ones(n),
        overlap=np.array([0.0, 0.9, 0.1, 0.0]),
        other_speakers=1,
        confidence=0.8,
        reason="one other voice",
    )
    a, o, note = _activity_of(SimpleNamespace(activity=obj, prepared=None), n)
    np.testing.assert_array_equal(a, z)
    assert o[1] == pytest.approx(0.9)
    assert note == "one other voice; confidence 0.80"
    a, o, _ = _activity_of(SimpleNamespace(activity=z[:3], prepared=None), n)  # wrong length
    assert a is None
    assert _activity_of(SimpleNamespace(prepared=None), n) == (None, None, "")


def test_speaker_folders(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "a.wav").write_bytes(b"")
    (tmp_path / "alice" / "notes.txt").write_text("x")
    (tmp_path / "bob" / "sub").mkdir(parents=True)
    (tmp_path / "bob" / "sub" / "b.FLAC").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "loose.wav").write_bytes(b"")
    found = list_speaker_folders(tmp_path)
    assert list(found) == ["alice", "bob"]
    assert [p.name for p in found["bob"]] == ["b.FLAC"]
    with pytest.raises(ConfigError, match="sub-folder"):
        list_speaker_folders(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not a folder"):
        list_speaker_folders(tmp_path / "missing")
