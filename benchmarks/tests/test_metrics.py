"""EER / minDCF of benchmarks.quality.metrics against hand-computed values and pyannote.metrics."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.quality.metrics import equal_error_rate, min_dcf, roc_error_rates, summarize_scores


def _trials(targets: list[float], nontargets: list[float]) -> tuple[np.ndarray, np.ndarray]:
    scores = np.array(targets + nontargets)
    labels = np.array([1] * len(targets) + [0] * len(nontargets))
    return scores, labels


def test_hand_computed_example() -> None:
    # targets 0.9 0.8 0.7 0.3 / non-targets 0.6 0.5 0.4 0.1
    # threshold in (0.6, 0.7]: P_miss = 1/4 (0.3), P_fa = 0       -> DCF = 0.25 + 99 * 0 = 0.25
    # threshold in (0.3, 0.4]: P_miss = 1/4,       P_fa = 1/4     -> the two rates meet: EER = 25 %
    scores, labels = _trials([0.9, 0.8, 0.7, 0.3], [0.6, 0.5, 0.4, 0.1])
    assert equal_error_rate(scores, labels) == pytest.approx(0.25)
    assert min_dcf(scores, labels, p_target=0.01) == pytest.approx(0.25)
    # with p_target = 0.5 the cost is (P_miss + P_fa) / 1 ... minimised at P_miss = 1/4, P_fa = 0
    assert min_dcf(scores, labels, p_target=0.5) == pytest.approx(0.25)


def test_interpolated_eer_between_roc_points() -> None:
    # targets 0.9 0.2 / non-targets 0.5 0.1: at threshold 0.5 P_miss = P_fa = 1/2 exactly.
    scores, labels = _trials([0.9, 0.2], [0.5, 0.1])
    assert equal_error_rate(scores, labels) == pytest.approx(0.5)
    # targets 0.9 0.8 0.3 / non-targets 0.5 0.1: ROC points (P_fa, P_miss) = (0, 1/3) at 0.8 and
    # (1/2, 1/3) at 0.5; the segment between them crosses P_miss = P_fa at 1/3.
    scores, labels = _trials([0.9, 0.8, 0.3], [0.5, 0.1])
    assert equal_error_rate(scores, labels) == pytest.approx(1 / 3)


def test_separable_scores_give_zero_errors() -> None:
    rng = np.random.default_rng(0)
    scores, labels = _trials(list(rng.uniform(0.6, 1.0, 200)), list(rng.uniform(-1.0, 0.5, 300)))
    assert equal_error_rate(scores, labels) == 0.0
    assert min_dcf(scores, labels) == 0.0


def test_identical_distributions_give_half_eer_and_full_dcf() -> None:
    rng = np.random.default_rng(1)
    scores, labels = _trials(list(rng.normal(0, 1, 5000)), list(rng.normal(0, 1, 5000)))
    assert equal_error_rate(scores, labels) == pytest.approx(0.5, abs=0.02)
    # no threshold beats "always reject" by much when scores carry no information
    assert min_dcf(scores, labels) > 0.95
    assert min_dcf(scores, labels) <= 1.0


def test_reversed_scores_give_full_error() -> None:
    scores, labels = _trials([0.1, 0.2], [0.8, 0.9])
    assert equal_error_rate(scores, labels) == pytest.approx(1.0)
    assert min_dcf(scores, labels) == pytest.approx(1.0)


def test_matches_pyannote_metrics_det_curve() -> None:
    from pyannote.metrics.binary_classification import det_curve

    rng = np.random.default_rng(2)
    scores, labels = _trials(list(rng.normal(1.5, 1, 3000)), list(rng.normal(0, 1, 3000)))
    _, _, _, eer_pyannote = det_curve(labels.astype(bool), scores, distances=False)
    ours = equal_error_rate(scores, labels)
    assert ours == pytest.approx(eer_pyannote, abs=2e-3)
    # Gaussian theory: d' = 1.5 -> EER = Phi(-0.75) = 0.2266
    assert ours == pytest.approx(0.2266, abs=0.015)


def test_error_rates_are_monotonic() -> None:
    rng = np.random.default_rng(3)
    scores, labels = _trials(list(rng.normal(1, 1, 50)), list(rng.normal(0, 1, 70)))
    p_miss, p_fa, thr = roc_error_rates(scores, labels)
    assert np.all(np.diff(p_miss) <= 0) and np.all(np.diff(p_fa) >= 0)
    assert p_miss[0] == 1.0 and p_fa[0] == 0.0 and p_miss[-1] == 0.0 and p_fa[-1] == 1.0


def test_summary_and_input_checks() -> None:
    scores, labels = _trials([0.9, 0.8, 0.7, 0.3], [0.6, 0.5, 0.4, 0.1])
    same = np.array([1, 1, 1, 1, 0, 0, 1, 0])  # only the 0.4 non-target is same-gender
    s = summarize_scores(scores, labels, same)
    assert s.n_target == 4 and s.n_nontarget == 4
    assert s.mean_target == pytest.approx(0.675) and s.mean_nontarget == pytest.approx(0.4)
    # targets vs {0.4}: threshold in (0.3, 0.4] misses 1/4 and accepts 1/1 ... crossing at 1/4
    assert s.eer_same_gender == pytest.approx(0.25)
    with pytest.raises(ValueError, match="both"):
        equal_error_rate(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(ValueError, match="NaN"):
        min_dcf(np.array([np.nan, 0.2]), np.array([1, 0]))


def test_weighted_eer_equals_eer_of_repeated_trials() -> None:
    from benchmarks.quality.bootstrap import weighted_eers

    rng = np.random.default_rng(3)
    s = rng.normal(size=400)
    y = rng.random(400) < 0.5
    s[y] += 1.0
    s[:80] = np.round(s[:80], 1)  # ties form one threshold, as in roc_curve
    w = rng.integers(0, 4, size=(5, 400)).astype(float)
    got = weighted_eers(s, y, np.vstack([np.ones(400), w]))
    assert got[0] == pytest.approx(equal_error_rate(s, y), abs=1e-12)
    for row, e in zip(w, got[1:]):
        idx = np.repeat(np.arange(400), row.astype(int))
        assert e == pytest.approx(equal_error_rate(s[idx], y[idx]), abs=1e-12)


def test_speaker_bootstrap_separates_a_real_difference_from_none() -> None:
    from benchmarks.quality.bootstrap import ratio_summary, speaker_bootstrap_eers

    rng = np.random.default_rng(4)
    n_spk, per = 26, 60
    speakers = np.repeat([f"s{i:02d}" for i in range(n_spk)], per)
    y = np.tile(np.arange(per) % 2 == 0, n_spk)
    offset = rng.normal(0, 0.3, n_spk).repeat(per)  # speakers differ: the resampling unit matters
    base = np.where(y, 1.0, 0.0) + offset * y
    good = base + rng.normal(0, 0.4, y.size)
    bad = base + rng.normal(0, 0.8, y.size)
    eers = speaker_bootstrap_eers({"good": good, "bad": bad}, y, speakers, n_boot=300, seed=1)
    clear = ratio_summary(eers["good"], eers["bad"])
    assert clear["ci"][1] < 1.0 and clear["p_better"] > 0.97
    same = ratio_summary(eers["good"], eers["good"])
    assert same["ci"] == [1.0, 1.0] and same["p_better"] == 0.5
    # a tiny perturbation is not a difference the speakers can show
    near = good + rng.normal(0, 0.02, y.size)
    e2 = speaker_bootstrap_eers({"a": good, "b": near}, y, speakers, n_boot=300, seed=1)
    r = ratio_summary(e2["a"], e2["b"])
    assert r["ci"][0] < 1.0 < r["ci"][1]
