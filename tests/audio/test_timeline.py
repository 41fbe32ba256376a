"""Mapping times between a recording and its joined spans (speech regions, one voice's spans)."""

from __future__ import annotations

import numpy as np

from voxref.audio.timeline import concatenated_to_source, source_to_concatenated, span_samples


def _spans(rng: np.random.Generator, n: int = 6) -> np.ndarray:
    edges = np.cumsum(rng.uniform(0.05, 1.5, size=2 * n))
    return edges.reshape(n, 2)


def test_the_two_mappings_are_inverse_inside_the_spans() -> None:
    rng = np.random.default_rng(0)
    for sr in (None, 16000):
        spans = _spans(rng)
        total = (
            float(np.sum(spans[:, 1] - spans[:, 0]))
            if sr is None
            else float(np.sum(np.diff(span_samples(spans, sr), axis=1))) / sr
        )
        t = np.sort(rng.uniform(0.0, total, size=500))
        src = concatenated_to_source(t, spans, sample_rate=sr)
        # every mapped time lies inside a span, in order
        inside = ((src[:, None] >= spans[:, 0] - 1e-9) & (src[:, None] <= spans[:, 1] + 1e-9)).any(
            1
        )
        assert inside.all() and np.all(np.diff(src) >= -1e-12)
        back = source_to_concatenated(src, spans, sample_rate=sr)
        ok = np.isfinite(back)
        assert ok.mean() > 0.98  # nan only at a span's exact end
        np.testing.assert_allclose(back[ok], t[ok], atol=1.0 / 16000)


def test_joined_length_is_the_length_of_the_cut() -> None:
    """With a sample rate, the last span ends where the joined audio ends, to the sample."""
    from voxref.cleaning.pipeline import concatenate_regions
    from voxref.cleaning.vad import SpeechRegions

    spans = np.array([[0.1, 0.7], [1.0001, 1.33333], [2.0, 2.55555]])
    sr = 16000
    joined = concatenate_regions(
        np.ones(3 * sr, np.float32),
        sr,
        SpeechRegions(tuple(map(tuple, spans)), np.zeros(0), 0.032, 3.0),
        fade=0.0,
    )
    end = concatenated_to_source(np.array([len(joined) / sr]), spans, sample_rate=sr, at_end=True)
    assert end[0] == spans[-1, 1] or abs(end[0] - spans[-1, 1]) < 1.0 / sr
    assert np.all(np.isnan(source_to_concatenated(np.array([0.05, 0.8, 3.0]), spans)))
