"""Projections and figures on synthetic embeddings (no models)."""

from __future__ import annotations

import numpy as np

from voxref.inspection.figures import cosine_matrix, project_2d, to_png, weights_figure


def _clusters(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, 16)) * 3
    return np.concatenate([c + 0.3 * rng.standard_normal((15, 16)) for c in centres])


def test_pca_is_fitted_on_the_first_rows_only():
    x = _clusters()
    extra = np.vstack([x, 100 * np.ones((1, 16))])  # a far outlier appended after the fit rows
    a = project_2d(x, "pca")
    b = project_2d(extra, "pca", fit_rows=len(x))
    np.testing.assert_allclose(b[: len(x)], a, atol=1e-9)


def test_tsne_is_seeded_and_keeps_clusters_apart():
    x = _clusters()
    a = project_2d(x, "tsne", seed=3)
    b = project_2d(x, "tsne", seed=3)
    np.testing.assert_array_equal(a, b)
    labels = np.repeat(np.arange(3), 15)
    centroids = np.stack([a[labels == k].mean(0) for k in range(3)])
    nearest = np.argmin(((a[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == labels).mean() > 0.95


def test_cosine_matrix_is_symmetric_with_unit_diagonal():
    m = cosine_matrix(_clusters()[:10])
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(np.diag(m), 1.0)


def test_weights_figure_with_no_reference_still_renders():
    assert to_png(weights_figure([]))[:4] == b"\x89PNG"
