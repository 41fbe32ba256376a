"""The one-voice gate of a long lone reference: skip the short-window search only when the
encoder's windows already show one voice, with the same embedding as without the gate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf

from voxref.pipeline import Embedder, voice_keeping
from voxref.pipeline.voice_keeping import ONE_VOICE_MIN_WINDOWS, one_voice_by_windows

SR = 16000


def _voice(paths, seconds: float) -> np.ndarray:
    x = np.concatenate([sf.read(str(p), dtype="float32")[0] for p in paths])
    return np.tile(x, int(np.ceil(seconds * SR / len(x))))[: int(seconds * SR)]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def prepared(embedder, speech_by_speaker) -> dict:
    """One voice (19 s), the same with 6 s of another voice in one turn, and 8 s of it."""
    a, b = sorted(speech_by_speaker)[:2]
    one = _voice(speech_by_speaker[a], 19.0)
    turns = np.concatenate([one[: 8 * SR], _voice(speech_by_speaker[b], 6.0), one[8 * SR :]])
    return {
        name: embedder.prepare((x, SR))
        for name, x in (("one", one), ("turns", turns), ("short", one[: 8 * SR]))
    }


def test_one_voice_passes_the_gate_and_turns_of_another_do_not(prepared):
    assert len(prepared["one"].windows) >= ONE_VOICE_MIN_WINDOWS
    assert one_voice_by_windows(prepared["one"].windows)
    assert not one_voice_by_windows(prepared["turns"].windows)
    # too few windows: never judged
    assert len(prepared["short"].windows) < ONE_VOICE_MIN_WINDOWS
    assert not one_voice_by_windows(prepared["short"].windows)


def test_a_gated_reference_skips_the_search_with_the_same_embedding(
    embedder, prepared, monkeypatch
):
    from voxref.separation import dominant

    calls: list[int] = []
    real = dominant.split_voices

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dominant, "split_voices", counted)
    p = prepared["one"]
    gated = embedder.combine([dataclasses.replace(p, extras={})]).embedding
    assert calls == []  # skipped
    monkeypatch.setattr(voice_keeping, "one_voice_by_windows", lambda windows: False)
    plain = embedder.combine([dataclasses.replace(p, extras={})]).embedding
    assert calls == [1]  # searched, and found one voice: the same embedding
    assert np.array_equal(gated, plain)
