"""A lone reference holding a second speaker's turn: the dominant voice is found and embedded alone."""

from __future__ import annotations

import numpy as np
import pytest

from tests.separation._helpers import utterances
from voxref.encoding import WindowEmbeddings, l2_normalize
from voxref.separation.dominant import (
    FINE_HOP_S,
    FINE_WINDOW_S,
    dominant_voice,
    lone_reference_target,
    split_voices,
    window_purity,
)

SR = 16_000


def _interview(voices: dict, target: str, other: str) -> tuple[np.ndarray, float, float]:
    """Target speaks, the other speaker takes a short turn, the target goes on."""
    a = utterances(voices[target], [0, 1])
    turn = utterances(voices[other], [6])
    b = utterances(voices[target], [2, 3])
    return np.concatenate([a, turn, b]), len(a) / SR, (len(a) + len(turn)) / SR


@pytest.mark.parametrize(
    ("target", "other"), [("espeak-us-m3", "flite-slt"), ("flite-awb", "espeak-en-f4")]
)
def test_lone_reference_drops_the_other_speakers_turn(voices, encoder, target, other) -> None:
    from voxref import Embedder

    x, t0, t1 = _interview(voices, target, other)
    clean_target = encoder.embed_windows(
        np.concatenate([utterances(voices[target], [4, 5]), utterances(voices[target], [8])])
    ).mean()
    fine = encoder.embed_windows(x, FINE_WINDOW_S, FINE_HOP_S)
    d = dominant_voice(fine)
    assert d is not None and 0.1 < d.other_share < 0.45
    # the turn is outside the solo spans, and most of the target's speech is inside
    turn = WindowEmbeddings(fine.embeddings[:1], np.array([t0 + 0.3]), np.array([t1 - 0.3]))
    assert window_purity(d, turn)[0] < 0.05
    assert d.target_seconds > 0.6 * (len(x) / SR - (t1 - t0))

    lone = lone_reference_target(split_voices(x, SR, encoder))
    assert lone is not None and "second voice" in lone.activity.reason
    plain = encoder.embed_windows(x).mean()
    active = lone.activity.weights > 0.5
    kept = l2_normalize(lone.windows.embeddings[active].mean(axis=0))
    assert float(kept @ clean_target) > float(plain @ clean_target) + 0.01
    # the other voice's windows stay, at activity 0, inside its turn
    assert (~active).any() and np.all(lone.activity.weights[~active] == 0)
    assert lone.windows.starts[~active].min() >= t0 - 0.5
    assert lone.windows.ends[~active].max() <= t1 + 0.5

    # through the public API (no cleaning, to compare on the same audio): the reference's
    # embedding is the dominant voice's, and the report says a second voice was removed
    res = Embedder(clean=False, level_dbfs=None).embed([(x, SR)], return_details=True)
    assert float(res.embedding @ clean_target) > float(plain @ clean_target) + 0.01
    ref = res.references[0]
    assert ref.activity is not None and ref.activity.other_speakers == 1
    unguided = Embedder(clean=False, guiding=False, level_dbfs=None).embed([(x, SR)])
    assert np.allclose(unguided, plain, atol=1e-5)


def test_one_voice_is_not_split(voices, encoder) -> None:
    for name in ("espeak-us-m3", "flite-kal"):
        x = utterances(voices[name], [0, 1, 2, 3])
        assert split_voices(x, SR, encoder) is None


def test_no_dominant_voice_or_too_short_is_left_whole() -> None:
    rng = np.random.default_rng(0)
    a, b = l2_normalize(rng.standard_normal((2, 32)))
    t = np.arange(20) * 0.2

    def windows(seq: list[np.ndarray]) -> WindowEmbeddings:
        e = l2_normalize(np.array(seq) + 0.1 * rng.standard_normal((len(seq), 32)))
        return WindowEmbeddings(e, t[: len(seq)], t[: len(seq)] + 0.8)

    assert dominant_voice(windows([a] * 10 + [b] * 10)) is None  # half and half: no dominant
    assert dominant_voice(windows([a] * 17 + [b] * 3)) is None  # too little of the other voice
    assert dominant_voice(windows([a] * 5)) is None  # too short to split
    d = dominant_voice(windows([a] * 14 + [b] * 6))
    assert d is not None and d.labels[:14].all() and not d.labels[14:].any()


def test_guided_voice_keeps_the_target_even_when_it_is_the_minority(voices, encoder) -> None:
    from voxref import Embedder
    from voxref.separation.dominant import guided_voice

    target, other = "espeak-us-m3", "flite-slt"
    # the other speaker talks most of this reference; the target only briefly
    x = np.concatenate(
        [
            utterances(voices[other], [0, 1]),
            utterances(voices[target], [6, 7]),
            utterances(voices[other], [2]),
        ]
    )
    split = split_voices(x, SR, encoder)
    assert split is not None
    clean_target = encoder.embed_windows(utterances(voices[target], [3, 4, 5])).mean()
    windows, act = guided_voice(split, clean_target)
    on = act.weights > 0.5
    kept = l2_normalize(windows.embeddings[on].mean(axis=0))
    assert float(kept @ clean_target) > 0.9 and "closest to the target" in act.reason
    # its windows are placed on the recording's timeline: inside the target's turn; the other
    # voice's windows are kept at activity 0, outside it, in time order
    t0 = len(utterances(voices[other], [0, 1])) / SR
    t1 = t0 + len(utterances(voices[target], [6, 7])) / SR
    assert windows.starts[on].min() >= t0 - 0.1 and windows.ends[on].max() <= t1 + 0.1
    # (a window can straddle two of the voice's spans: its start is where it begins)
    assert (~on).any() and np.all((windows.starts[~on] < t0) | (windows.starts[~on] >= t1 - 0.1))

    assert np.all(windows.ends > windows.starts) and np.all(np.diff(windows.starts) >= 0)
    # without a clear target direction nothing is chosen
    assert guided_voice(split, l2_normalize(split.centroids.sum(axis=0))) is None

    # in embed(): the other references (the target alone) are the guide
    refs = [(utterances(voices[target], [8, 9]), SR), (utterances(voices[target], [10, 11]), SR)]
    res = Embedder(clean=False).embed([*refs, (x, SR)], return_details=True)
    mixed = res.references[2]
    assert mixed.activity is not None and mixed.activity.other_speakers == 1
    assert (
        float(mixed.embedding @ clean_target)
        > float(encoder.embed_windows(x).mean() @ clean_target) + 0.05
    )
