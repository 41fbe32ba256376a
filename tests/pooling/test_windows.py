"""guided_window_pool: masked attention over the windows of one reference (real GE2E windows)."""

from __future__ import annotations

import numpy as np
import pytest

from voxref.embedder.pooling import guided_window_pool
from voxref.encoding import WindowEmbeddings
from voxref.errors import ConfigError


def _concat(*ws: WindowEmbeddings) -> WindowEmbeddings:
    return WindowEmbeddings(
        np.concatenate([w.embeddings for w in ws]),
        np.concatenate([w.starts for w in ws]),
        np.concatenate([w.ends for w in ws]),
    )


@pytest.fixture(scope="module")
def mixed_reference(windows):
    """Windows of two target utterances then one of another speaker (a minority), and the truth."""
    target = _concat(*windows["espeak-us-belinda"][:2])
    other = windows["flite-awb"][0]
    ref = _concat(target, other)
    is_target = np.r_[np.ones(len(target)), np.zeros(len(other))]
    return ref, is_target, target


def test_masked_out_windows_are_ignored_exactly(mixed_reference, windows):
    ref, is_target, _ = mixed_reference
    emb, w = guided_window_pool(ref, is_target)
    assert np.all(w[is_target == 0] == 0)
    # replace every masked-out window by something else entirely: nothing changes
    replaced = ref.embeddings.copy()
    rng = np.random.default_rng(0)
    replaced[is_target == 0] = rng.standard_normal((int((is_target == 0).sum()), replaced.shape[1]))
    emb2, w2 = guided_window_pool(replaced, is_target)
    np.testing.assert_array_equal(emb, emb2)
    np.testing.assert_array_equal(w, w2)
    # same through the overlap channel: a window overlapped with probability 1 is ignored
    emb3, w3 = guided_window_pool(replaced, None, 1.0 - is_target)
    np.testing.assert_array_equal(emb3, emb)
    np.testing.assert_array_equal(w3, w)


def test_mask_recovers_the_target_from_a_two_speaker_reference(mixed_reference):
    ref, is_target, target = mixed_reference
    target_emb = target.mean()
    guided, _ = guided_window_pool(ref, is_target)
    unguided, _ = guided_window_pool(ref, temperature=1.0)  # a mild score, no mask
    plain = ref.mean()
    assert float(guided @ target_emb) > 0.999
    assert float(guided @ target_emb) > float(plain @ target_emb) + 0.05
    # without a mask the score alone leans towards the majority voice (here the target) ...
    assert float(unguided @ target_emb) > float(plain @ target_emb) + 0.005
    # ... but it cannot know who the target is: with the interferer in the majority it would
    # lean the wrong way, which is why the mask does the work (the default score is flat)
    flat, _ = guided_window_pool(ref)
    assert float(flat @ plain) > 0.9999


def test_blind_attention_does_not_run_away_with_a_majority_interferer(windows):
    target = windows["espeak-us-belinda"][0]
    ref = _concat(target, *windows["flite-awb"][:2])  # 5 target windows, 10 interferer windows
    target_emb = target.mean()
    plain = ref.mean()
    unguided, _ = guided_window_pool(ref, temperature=1.0)
    assert float(unguided @ target_emb) > float(plain @ target_emb) - 0.08
    sharp, _ = guided_window_pool(ref, temperature=0.05)  # a sharp score would drop the target
    assert float(sharp @ target_emb) < float(unguided @ target_emb) - 0.15


def test_soft_activity_weights_follow_the_mask(mixed_reference):
    ref, is_target, _ = mixed_reference
    z = np.where(is_target == 1, 0.9, 0.1)
    _, w = guided_window_pool(ref, z, temperature=float("inf"))  # plain masked mean
    np.testing.assert_allclose(w, z / z.sum(), rtol=1e-6)
    _, w_att = guided_window_pool(ref, z, temperature=1.0)
    assert abs(float(w_att.sum()) - 1.0) < 1e-5
    assert (
        w_att[is_target == 1].sum() > w[is_target == 1].sum()
    )  # scores sharpen towards the target


def test_a_known_target_direction_picks_the_target_even_as_a_minority(windows):
    target = windows["espeak-us-belinda"][0]
    ref = _concat(target, *windows["flite-awb"][:2])  # 5 target windows, 10 interferer windows
    guide = windows["espeak-us-belinda"][1].mean()  # another utterance of the target voice
    blind, _ = guided_window_pool(ref, temperature=0.1)
    guided, w = guided_window_pool(ref, temperature=0.1, target=guide)
    assert float(guided @ target.mean()) > 0.97 > float(blind @ target.mean()) + 0.2
    assert w[:5].sum() > 0.9
    with pytest.raises(ConfigError):
        guided_window_pool(ref, target=np.ones(3))


def test_all_zero_mask_falls_back(mixed_reference, caplog):
    ref, is_target, _ = mixed_reference
    n = len(ref)
    with caplog.at_level("INFO", logger="voxref.separation.guided_pooling"):
        emb, w = guided_window_pool(ref, np.zeros(n))
    assert "all windows" in caplog.text
    assert np.all(np.isfinite(emb)) and abs(float(np.linalg.norm(emb)) - 1) < 1e-5
    np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-6)
    # every window overlapped: fall back to the activity mask alone
    emb_o, w_o = guided_window_pool(ref, is_target, np.ones(n))
    emb_z, w_z = guided_window_pool(ref, is_target)
    np.testing.assert_array_equal(emb_o, emb_z)
    np.testing.assert_array_equal(w_o, w_z)


def test_single_window_and_bad_inputs(windows):
    one = windows["flite-slt"][0].embeddings[:1]
    emb, w = guided_window_pool(one, np.ones(1))
    np.testing.assert_allclose(emb, one[0] / np.linalg.norm(one[0]), atol=1e-6)
    assert w.tolist() == [1.0]
    with pytest.raises(ConfigError):
        guided_window_pool(one, np.ones(3))
    with pytest.raises(ConfigError):
        guided_window_pool(one, np.array([np.nan]))
    with pytest.raises(ConfigError):
        guided_window_pool(one, temperature=0.0)
