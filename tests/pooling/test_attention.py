"""Parameter-free reference pooling on real GE2E embeddings of synthesised speakers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from voxref.embedder.pooling import (
    RefQuality,
    agreement,
    attention_pool,
    effective_count,
    mean_pool,
    reference_weights,
    reliability,
)
from voxref.embedder.pooling.quality import DEFAULT_QUALITY_MODEL, QualityModel
from voxref.errors import ConfigError


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_single_reference_gives_its_own_embedding(utterance_embeddings):
    e = utterance_embeddings["flite-slt"][0]
    for qualities in (None, [RefQuality(snr_db=0.0, overlap_ratio=0.9)]):
        emb, w = attention_pool(3.0 * e[None, :], qualities)
        assert w.tolist() == [1.0]
        np.testing.assert_allclose(emb, _unit(e), atol=1e-6)


def test_permuting_references_permutes_weights_and_keeps_embedding(
    utterance_embeddings, noisy_embeddings
):
    spk = "espeak-us-m3"
    refs = np.concatenate(
        [
            utterance_embeddings[spk][:3],
            noisy_embeddings[spk][3:],
            utterance_embeddings["flite-awb"][:1],
        ]
    )
    qualities = [
        RefQuality(speech_s=3.0, snr_db=40.0),
        RefQuality(speech_s=2.0, snr_db=25.0),
        RefQuality(speech_s=3.5, snr_db=30.0, overlap_ratio=0.2),
        RefQuality(speech_s=3.0, snr_db=0.0),
        None,
    ]
    emb, w = attention_pool(refs, qualities)
    rng = np.random.default_rng(0)
    for _ in range(5):
        perm = rng.permutation(len(refs))
        emb_p, w_p = attention_pool(refs[perm], [qualities[i] for i in perm])
        np.testing.assert_allclose(w_p, w[perm], atol=1e-6)
        np.testing.assert_allclose(emb_p, emb, atol=1e-6)


@pytest.mark.parametrize("n_own", [3, 4])
def test_another_speakers_reference_is_rejected(utterance_embeddings, n_own):
    """Every (target, intruder) pair of fixture speakers, every intruder utterance."""
    n = n_own + 1
    worst_weight, worst_cos = 0.0, 1.0
    for target, intruder in itertools.permutations(utterance_embeddings, 2):
        own = utterance_embeddings[target][:n_own]
        clean = _unit(own.mean(axis=0))
        for j in range(4):
            refs = np.concatenate([own, utterance_embeddings[intruder][j : j + 1]])
            emb, w = attention_pool(refs)
            worst_weight = max(worst_weight, float(w[-1]))
            worst_cos = min(worst_cos, float(emb @ clean))
            # the plain mean is visibly pulled towards the intruder
    assert worst_weight < 1.0 / (2 * n)
    assert worst_cos > 0.998  # pooled embedding stays on the clean-set embedding


def test_intruder_gets_the_lowest_weight_with_two_own_references(utterance_embeddings):
    """With 2 own + 1 intruder the evidence is thin; the intruder still ranks last (>= 95 %)."""
    ranks = []
    for target, intruder in itertools.permutations(utterance_embeddings, 2):
        for j in range(4):
            refs = np.concatenate(
                [utterance_embeddings[target][:2], utterance_embeddings[intruder][j : j + 1]]
            )
            w = reference_weights(refs)
            ranks.append(bool(w[-1] < w[:2].min()))
    assert np.mean(ranks) >= 0.95


@pytest.mark.parametrize("n_own", [2, 3, 4])
def test_pure_noise_reference_is_rejected(utterance_embeddings, noise_embedding, n_own):
    n = n_own + 1
    for target, own_all in utterance_embeddings.items():
        own = own_all[:n_own]
        emb, w = attention_pool(np.concatenate([own, noise_embedding[None]]))
        assert w[-1] < 1.0 / (2 * n), target
        assert float(emb @ _unit(own.mean(axis=0))) > 0.995, target


def test_outlier_is_rejected_even_among_noisy_references(utterance_embeddings, noisy_embeddings):
    """Mixed bag (clean, 0 dB noisy x2) + another speaker's clean speech, with qualities."""
    for target, intruder in itertools.permutations(utterance_embeddings, 2):
        refs = np.stack(
            [
                utterance_embeddings[target][0],
                utterance_embeddings[target][1],
                noisy_embeddings[target][2],
                noisy_embeddings[target][3],
                utterance_embeddings[intruder][0],
            ]
        )
        qualities = [
            {"snr_db": 40.0},
            {"snr_db": 40.0},
            {"snr_db": 0.0},
            {"snr_db": 0.0},
            {"snr_db": 40.0},
        ]
        w = reference_weights(refs, qualities)
        assert w[-1] < 1.0 / 10, (target, intruder, w)


@pytest.mark.parametrize("n_noisy", [2, 3])
def test_quality_weighting_beats_the_mean_on_a_mixed_bag(
    utterance_embeddings, noisy_embeddings, n_noisy
):
    """One clean + 2-3 references with the *same* kind of noise at 0 dB (one noisy room).

    The noisy references agree with each other (they share the noise); they must not out-vote
    the clean one: the pooled embedding lands closer to the clean voice than the plain mean.
    """
    gains = []
    for spk in utterance_embeddings:
        refs = np.stack([utterance_embeddings[spk][0], *noisy_embeddings[spk][1 : 1 + n_noisy]])
        q = [{"snr_db": 35.0, "speech_s": 3.0}] + [{"snr_db": 0.0, "speech_s": 3.0}] * n_noisy
        target = _unit(utterance_embeddings[spk][3])  # a clean utterance not in the set
        emb, w = attention_pool(refs, q)
        assert w[0] == w.max(), spk
        gains.append(float(emb @ target - mean_pool(refs)[0] @ target))
    assert min(gains) > 0.0
    assert np.mean(gains) > 0.05


@pytest.mark.parametrize(
    "field, values",
    [
        ("snr_db", [40.0, 30.0, 20.0, 15.0, 10.0, 5.0, 0.0, -5.0]),
        ("overlap_ratio", [0.0, 0.1, 0.3, 0.5, 0.8, 1.0]),
        ("bandwidth_hz", [8000.0, 6000.0, 5000.0, 4000.0, 3400.0]),
        ("clipping_ratio", [0.0, 0.005, 0.02, 0.05]),
        ("speech_s", [10.0, 5.0, 3.0, 1.5, 0.5]),
    ],
)
def test_worse_quality_lowers_weight_monotonically(utterance_embeddings, field, values):
    refs = utterance_embeddings["espeak-gb-f2"]
    # the default model ignores overlap (see voxref.embedder.pooling.quality); the term still works
    model = QualityModel(overlap_amp=0.25) if field == "overlap_ratio" else DEFAULT_QUALITY_MODEL
    rel, weights = [], []
    for v in values:
        q = [RefQuality(**{field: v})] + [RefQuality()] * (len(refs) - 1)
        rel.append(reliability(q[0], model))
        weights.append(float(reference_weights(refs, q, quality_model=model)[0]))
    assert all(a >= b for a, b in zip(rel, rel[1:]))
    assert all(a >= b - 1e-7 for a, b in zip(weights, weights[1:]))
    assert weights[-1] < 0.8 * weights[0]


def test_default_prior_ignores_the_overlap_ratio() -> None:
    assert reliability(RefQuality(overlap_ratio=0.8)) == reliability(RefQuality())


def test_weights_never_collapse_below_the_effective_count_floor(utterance_embeddings):
    refs = utterance_embeddings["flite-awb"]
    q = [{"snr_db": 40.0}, {"snr_db": -5.0}, {"snr_db": -5.0}, {"snr_db": -5.0}]
    for floor in (0.0, 0.3, 0.6, 1.0):
        w = reference_weights(refs, q, min_effective=floor)
        assert effective_count(w) >= 1.0 + floor * 3 - 1e-4
    np.testing.assert_allclose(reference_weights(refs, q, min_effective=1.0), 0.25, atol=1e-4)


def test_weights_are_a_distribution_and_deterministic(utterance_embeddings):
    refs = np.concatenate(list(utterance_embeddings.values()))  # 24 references, 6 speakers
    w1 = reference_weights(refs)
    w2 = reference_weights(refs.copy())
    assert w1.dtype == np.float32 and np.all(w1 >= 0)
    assert abs(float(w1.sum()) - 1.0) < 1e-5
    np.testing.assert_array_equal(w1, w2)


def test_agreement_is_leave_one_out():
    e = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # the outlier's own direction does not enter its centroid: it agrees 0, not 1/sqrt(5)
    np.testing.assert_allclose(agreement(e), [np.sqrt(0.5), np.sqrt(0.5), 0.0], atol=1e-9)
    assert agreement(e[:1]).tolist() == [1.0]


def test_bad_inputs_raise_config_errors(utterance_embeddings):
    refs = utterance_embeddings["flite-slt"]
    with pytest.raises(ConfigError):
        reference_weights(refs, [None])  # wrong number of qualities
    with pytest.raises(ConfigError):
        reference_weights(np.zeros((0, 4)))
    with pytest.raises(ConfigError):
        reference_weights(np.full((2, 3), np.nan))
    with pytest.raises(ConfigError):
        reference_weights(refs, min_effective=1.5)
    with pytest.raises(ConfigError):
        RefQuality(overlap_ratio=-0.1)


def test_ref_quality_from_a_real_quality_report():
    from voxref.cleaning.quality import QualityReport

    report = QualityReport("a.wav", 5.0, 4.0, snr_db=3.0, bandwidth_hz=3500.0, clipping_ratio=0.0)
    report.set_overlap_ratio(0.2)
    q = RefQuality.from_report(report)
    assert (q.speech_s, q.snr_db, q.bandwidth_hz, q.overlap_ratio) == (4.0, 3.0, 3500.0, 0.2)
    assert q.weight_hint is None  # the report's own heuristic is not counted twice
    assert RefQuality.from_any(report) == q
    rejected = QualityReport.rejected("b.wav", "digital silence")
    assert RefQuality.from_report(rejected).weight_hint == 0.0
    assert RefQuality(snr_db=float("nan")).snr_db is None
