"""The separator's training examples with voice augmentation (scripts/train_separator.py) on
real speech: every source is transformed on its own, the sources still add up to the mixture,
and the options that need each other say so."""

from __future__ import annotations

import numpy as np
import pytest

SR = 16_000


@pytest.fixture(scope="module")
def train():
    from ._helpers import script_module

    return script_module("train_separator")


@pytest.fixture(scope="module")
def two_voices(voices):
    from voxref.separation.synthetic import SENTENCES, synthesize

    return {
        name: [synthesize(voices[name], SENTENCES[i]) for i in range(2)]
        for name in ("espeak-us-m3", "flite-slt")
    }


def _best_match(crop: np.ndarray, utterances: list[np.ndarray]) -> float:
    """Highest normalised cross-correlation of ``crop`` with any stretch of ``utterances``."""
    from scipy.signal import fftconvolve

    best = 0.0
    for u in utterances:
        if u.size < crop.size:
            continue
        corr = fftconvolve(u, crop[::-1], mode="valid")
        energy = np.convolve(u**2, np.ones(crop.size), mode="valid")
        norm = np.sqrt(np.maximum(energy, 1e-12)) * np.linalg.norm(crop)
        best = max(best, float(np.max(np.abs(corr) / norm)))
    return best


def test_augmented_sources_are_other_voices_and_add_up(train, two_voices):
    names, crop = sorted(two_voices), SR
    rendered = [u for us in two_voices.values() for u in us]
    plain, changed = [], []
    for seed in range(6):
        mix0, src0 = train.make_example(np.random.default_rng(seed), two_voices, names, crop)
        mix1, src1 = train.make_example(
            np.random.default_rng(seed), two_voices, names, crop, augment=1.0, wobble=1.0
        )
        for mix, src in ((mix0, src0), (mix1, src1)):  # no noise: sources are the whole mixture
            assert np.allclose(src.sum(axis=0), mix, atol=1e-5)
            assert np.sqrt(np.mean(src[1] ** 2)) > 0.05 * np.sqrt(np.mean(src[0] ** 2))
        plain.append(_best_match(src0[0], rendered))
        changed.append(_best_match(src1[0], rendered))
    # as rendered, the target is a stretch of an utterance; transformed, it is found nowhere
    assert min(plain) > 0.999, plain
    assert max(changed) < 0.9, changed


def test_inconsistent_options_are_refused(train, two_voices):
    """wobble without augment, values out of range, --voice-group without --eval-corpus, --ship
    without the separation threshold it must record."""
    with pytest.raises(ValueError, match="augment"):
        train.make_example(np.random.default_rng(0), two_voices, sorted(two_voices), SR, wobble=0.5)
    for argv in (["--wobble", "0.5"], ["--augment", "1.5"], ["--languages", "-1"],
                 ["--voice-group", "A"], ["--ship"]):  # fmt: skip
        with pytest.raises(SystemExit) as exit_:
            train.main(argv)
        assert exit_.value.code == 2
