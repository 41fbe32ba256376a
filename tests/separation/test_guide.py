"""Guided target activity (the separation stage inside every ``embed`` call) on real embeddings.

References are synthesised speech (espeak-ng / flite voices) embedded with the bundled GE2E
encoder, so the windows are what the embedder really produces.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from voxref.encoding import WindowEmbeddings
from voxref.errors import ConfigError
from voxref.separation.guide import guided_pool, target_activity

from ._helpers import utterances

PAIRS = [("espeak-us-m3", "flite-slt"), ("flite-awb", "espeak-en-f4")]


def _windows_with_labels(encoder, parts):
    """Embed the concatenation of ``parts`` [(samples, is_interferer)], label each window by the
    part under its centre."""
    x = np.concatenate([p for p, _ in parts])
    lab = np.concatenate([np.full(len(p), int(i)) for p, i in parts])
    w = encoder.embed_windows(x)
    centre = np.clip((w.centers * 16000).astype(int), 0, len(x) - 1)
    return w, lab[centre].astype(bool)


@pytest.fixture(scope="module", params=PAIRS, ids=lambda p: f"{p[0]}+{p[1]}")
def refs(request, voices, encoder):
    """Three references of the target; the second also has an interferer speaking after it."""
    tv, iv = voices[request.param[0]], voices[request.param[1]]
    r1 = encoder.embed_windows(utterances(tv, [0, 1]))
    r2, inter = _windows_with_labels(
        encoder, [(utterances(tv, [2, 3]), False), (utterances(iv, [6, 7]), True)]
    )
    r3 = encoder.embed_windows(utterances(tv, [4, 5]))
    guide = encoder.embed_utterance(utterances(tv, [10, 11]))
    other = encoder.embed_utterance(utterances(iv, [12, 13]))
    return [r1, r2, r3], inter, guide, other


def test_interferer_in_one_of_three_references_gets_low_weight(refs):
    windows, inter, _, _ = refs
    acts = target_activity(windows)
    a = acts[1]
    assert a.weights.shape == (len(windows[1]),)
    assert a.weights[inter].mean() < 0.25 < 0.75 < a.weights[~inter].mean()
    assert a.other_speakers >= 1
    assert a.overlap_ratio > 0.3  # about half of that reference is not the target
    for clean in (acts[0], acts[2]):
        assert clean.weights.mean() > 0.8
        assert clean.overlap_ratio < 0.3
    assert "shared" in a.reason and "other voice" in a.reason


def test_guide_decides_who_the_target_is(refs):
    windows, inter, guide, other = refs
    a = target_activity([windows[1]], guide)[0]
    assert a.weights[inter].mean() < 0.25 and a.weights[~inter].mean() > 0.75
    b = target_activity([windows[1]], other)[0]  # guide = the interferer: roles swap
    assert b.weights[inter].mean() > 0.75 and b.weights[~inter].mean() < 0.25
    assert "guide" in a.reason


def test_one_reference_without_guide_takes_the_dominant_speaker(voices, encoder):
    tv, iv = voices["flite-awb"], voices["flite-slt"]
    w, inter = _windows_with_labels(
        encoder, [(utterances(tv, [0, 1, 2, 3]), False), (utterances(iv, [8]), True)]
    )
    a = target_activity([w])[0]
    assert a.weights[~inter].mean() > 0.75 and a.weights[inter].mean() < 0.25
    assert a.other_speakers >= 1
    assert "dominant" in a.reason


def test_clean_references_are_kept(voices, encoder):
    tv = voices["espeak-en-f4"]
    windows = [encoder.embed_windows(utterances(tv, [i, i + 1])) for i in (0, 3, 6)]
    for a in target_activity(windows):
        assert a.weights.mean() > 0.85
        assert a.other_speakers == 0
        assert 0.0 <= a.confidence <= 1.0
    for a in target_activity(windows, attribute_only=True):  # embedding mode: nothing dropped
        assert np.all(a.weights == 1.0) and a.overlap_ratio == 0.0


def test_mixed_windows_lose_clean_weight(voices, encoder):
    """An interferer talking over the target (SIR 0 dB) in one reference: the mixed windows'
    clean weight (activity x (1 - overlap)) drops well below the clean windows'."""
    from voxref.separation.synthetic import mix_at_sir

    tv, iv = voices["flite-awb"], voices["flite-kal"]
    target = utterances(tv, [4, 5])
    over = np.zeros_like(target)
    seg = utterances(iv, [9])[: len(target) // 2]
    over[: len(seg)] = seg
    mixed = target + mix_at_sir(target, over, 0.0)
    w3 = encoder.embed_windows(mixed)
    is_mixed = w3.ends <= len(seg) / 16000
    windows = [
        encoder.embed_windows(utterances(tv, [0, 1])),
        encoder.embed_windows(utterances(tv, [2, 3])),
        w3,
    ]
    a = target_activity(windows)[2]
    assert a.clean_weights[is_mixed].mean() < 0.5 * a.clean_weights[~is_mixed].mean()


def test_fast_deterministic_and_checked(refs):
    windows, _, guide, _ = refs
    big = [
        WindowEmbeddings(np.tile(w.embeddings, (5, 1)), np.tile(w.starts, 5), np.tile(w.ends, 5))
        for w in windows
    ]
    target_activity(big)
    t = time.perf_counter()
    a = target_activity(big)
    assert time.perf_counter() - t < 1.0  # ~10 ms here for 3 x ~120 windows
    b = target_activity(big)
    assert all(np.array_equal(x.weights, y.weights) for x, y in zip(a, b))
    with pytest.raises(ConfigError):
        target_activity(windows, np.ones(10))
    empty = WindowEmbeddings(np.zeros((0, 256), np.float32), np.zeros(0), np.zeros(0))
    out = target_activity([windows[0], empty])
    assert len(out[1].weights) == 0 and len(out[0].weights) == len(windows[0])


def test_guided_pool_ignores_inactive_windows():
    rng = np.random.default_rng(0)
    e = rng.standard_normal((6, 8))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    z = np.array([1, 1, 1, 0, 0, 0.0])
    p = guided_pool(e, z)
    e2 = e.copy()
    e2[3:] = rng.standard_normal((3, 8))
    assert np.allclose(p, guided_pool(e2, z))
    assert np.linalg.norm(p) == pytest.approx(1.0, abs=1e-6)
    # attention favours the window closest to the target direction
    t = e[0]
    q = guided_pool(e, np.ones(6), t, scale=50.0)
    assert float(q @ t) > float(guided_pool(e, np.ones(6), t, scale=0.0) @ t)


def test_attribute_only_masks_the_other_voice(refs):
    windows, inter, _, _ = refs
    a = target_activity(windows, attribute_only=True)[1]
    assert a.weights[inter].mean() < 0.25 < 0.75 < a.weights[~inter].mean()
    assert a.overlap_ratio > 0.3


def test_attribute_only_keeps_a_degraded_reference_of_the_target(voices, encoder):
    """A noisy reference of the target is unlike its clean ones, but it is nobody else: embedding
    mode keeps its windows (the default activity drops most of them)."""
    tv = voices["espeak-en-f4"]
    noisy = utterances(tv, [6, 7])
    noisy = noisy + np.random.default_rng(0).normal(0.0, 2.0 * noisy.std(), len(noisy))
    windows = [encoder.embed_windows(utterances(tv, [i, i + 1])) for i in (0, 3)]
    windows.append(encoder.embed_windows(noisy.astype(np.float32)))
    kept = target_activity(windows, attribute_only=True)
    for a in kept:
        assert a.weights.mean() > 0.9 and a.overlap_ratio < 0.1, a.reason
    dropped = target_activity(windows)[2]
    assert dropped.weights.mean() < 0.5  # what the diarization-style activity does


def test_attribute_only_one_reference_masks_only_when_long_enough(voices, encoder):
    tv, iv = voices["flite-awb"], voices["flite-slt"]
    w, inter = _windows_with_labels(
        encoder, [(utterances(tv, [0, 1, 2, 3]), False), (utterances(iv, [8]), True)]
    )
    assert len(w.embeddings) >= 16
    a = target_activity([w], attribute_only=True)[0]
    assert a.weights[~inter].mean() > 0.75 and a.weights[inter].mean() < 0.25
    short = WindowEmbeddings(w.embeddings[-12:], w.starts[-12:], w.ends[-12:])
    b = target_activity([short], attribute_only=True)[0]
    assert np.all(b.weights == 1.0)  # too short to tell who dominates: nothing dropped ...
    if b.other_speakers:  # ... but a second voice is still reported
        assert "may be present" in b.reason
