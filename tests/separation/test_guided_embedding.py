"""End to end: ``Embedder`` drops another speaker's turns inside a reference and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.pipeline import Embedder

from ._helpers import utterances

SR = 16000


@pytest.fixture(scope="module")
def target_refs(voices):
    tv = voices["espeak-us-m3"]
    return [utterances(tv, [0, 1]), utterances(tv, [2, 3]), utterances(tv, [4, 5])], tv


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_another_speakers_turn_is_masked_out(target_refs, voices):
    refs, tv = target_refs
    gap = np.zeros(int(0.3 * SR), np.float32)
    # an interview: the target, then someone else answers, in two of the three references
    with_turns = [
        refs[0],
        np.concatenate([refs[1], gap, utterances(voices["flite-slt"], [6, 7])]),
        np.concatenate([refs[2], gap, utterances(voices["espeak-en-f4"], [8])]),
    ]
    clean_voice = Embedder(clean=False, guiding=False, pooling="mean").embed(
        [(utterances(tv, [9, 10, 11]), SR)]
    )
    guided = Embedder().embed_details([(x, SR) for x in with_turns])
    plain = Embedder(guiding=False, pooling="mean").embed([(x, SR) for x in with_turns])
    assert _cos(guided.embedding, clean_voice) > _cos(plain, clean_voice) + 0.02
    turned = guided.references[1]
    assert turned.activity.other_speakers >= 1
    assert turned.window_weights[turned.activity.weights < 0.5].sum() < 0.05


def test_clean_references_lose_nothing_to_guiding(target_refs):
    refs, _ = target_refs
    inputs = [(x, SR) for x in refs]
    guided = Embedder().embed_details(inputs)
    unguided = Embedder(guiding=False).embed(inputs)
    assert _cos(guided.embedding, unguided) > 0.9999
    for r in guided.references:
        assert r.activity.other_speakers == 0 and np.all(r.activity.weights == 1.0)
        assert r.quality.overlap_ratio == 0.0
