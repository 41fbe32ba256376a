"""Clustering window embeddings into speakers, with or without a known number of speakers.

:func:`ward_clusters` runs Ward agglomerative clustering and, when the
number of speakers is unknown, cuts the tree at the largest jump between consecutive merge costs
(one voice's windows merge at slowly growing cost; joining two voices costs a jump).
:func:`merge_close_clusters` then merges clusters whose centroids are close in the encoder's own
space, which is what lets a one-speaker recording come out as one speaker. All in numpy/scipy
(no scikit-learn import cost).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> centers = l2_normalize(rng.standard_normal((2, 16)))
>>> x = l2_normalize(np.repeat(centers, 20, axis=0) + 0.15 * rng.standard_normal((40, 16)))
>>> labels, _ = ward_clusters(centre(x))
>>> len(set(labels[:20].tolist())), len(set(labels[20:].tolist())), bool(labels[0] != labels[-1])
(1, 1, True)
"""

from __future__ import annotations

import logging

import numpy as np

from ..encoding import l2_normalize

__all__ = [
    "centre",
    "ward_clusters",
    "merge_close_clusters",
    "cluster_centroids",
    "relabel_by_size",
]

log = logging.getLogger(__name__)


def centre(embeddings: np.ndarray) -> np.ndarray:
    """Subtract the mean embedding and re-normalise (rows of the result are unit-norm).

    GE2E d-vectors all lie in one positive cone; removing the part every window shares sharpens
    the contrast between voices before clustering.
    """
    e = np.asarray(embeddings, dtype=np.float64)
    if len(e) < 2:
        return l2_normalize(e).astype(np.float64)
    return l2_normalize(e - e.mean(axis=0)).astype(np.float64)


def ward_clusters(
    embeddings: np.ndarray,
    num_speakers: int | None = None,
    *,
    min_speakers: int = 1,
    max_speakers: int = 8,
    min_ratio: float = 1.25,
) -> tuple[np.ndarray, float]:
    """Ward agglomerative clustering; without ``num_speakers``, cut at the largest jump in merge cost.

    Merge heights grow slowly while clusters of one voice are joined and jump when two voices are
    joined; the number of speakers is taken where the ratio between consecutive heights (among the
    last ``max_speakers`` merges) is largest, or 1 if no ratio reaches ``min_ratio``.

    Returns
    -------
    labels, ratio
        ``(N,)`` labels (0-based) and the height ratio at the chosen cut (``nan`` when
        ``num_speakers`` was given).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centers = l2_normalize(rng.standard_normal((3, 16)))
    >>> x = l2_normalize(np.repeat(centers, 15, axis=0) + 0.2 * rng.standard_normal((45, 16)))
    >>> labels, ratio = ward_clusters(x)
    >>> int(labels.max()) + 1, bool(ratio > 2)
    (3, True)
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n < 3:
        return np.zeros(n, dtype=np.int64), float("nan")
    z = linkage(x, method="ward")
    ratio = float("nan")
    if num_speakers is None:
        heights = z[-min(max_speakers, n - 1) :, 2]
        ratios = heights[1:] / np.maximum(heights[:-1], 1e-12)
        k = 1
        if len(ratios):
            # ratios[j] compares merge j+1 of the tail with merge j; cutting before merge j+1
            # leaves len(heights) - j clusters
            m = len(heights)
            cands = [
                (ratios[j], m - j)
                for j in range(len(ratios))
                if min_speakers <= m - j <= max_speakers
            ]
            if cands:
                best_ratio, best_k = max(cands)
                ratio = float(best_ratio)
                if best_ratio >= min_ratio:
                    k = best_k
        k = max(k, min_speakers)
    else:
        k = int(num_speakers)
    k = min(k, n)
    if k <= 1:
        return np.zeros(n, dtype=np.int64), ratio
    return fcluster(z, k, criterion="maxclust").astype(np.int64) - 1, ratio


def cluster_centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit-norm mean of each label ``0..max(labels)`` (K, D); empty labels give zero rows."""
    k = int(labels.max()) + 1 if len(labels) else 0
    c = np.zeros((k, embeddings.shape[1]), dtype=np.float64)
    for j in range(k):
        if np.any(labels == j):
            c[j] = embeddings[labels == j].mean(axis=0)
    return l2_normalize(c).astype(np.float64)


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber labels ``0..K-1`` by decreasing cluster size (ties: first appearance).

    Examples
    --------
    >>> relabel_by_size(np.array([2, 2, 0, 5, 5, 5])).tolist()
    [1, 1, 2, 0, 0, 0]
    """
    labels = np.asarray(labels)
    uniq, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(uniq)), key=lambda i: (-counts[i], first[i]))
    mapping = {int(uniq[i]): r for r, i in enumerate(order)}
    return np.asarray([mapping[int(v)] for v in labels], dtype=np.int64)


def merge_close_clusters(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    num_speakers: int | None = None,
    threshold: float = 0.9,
    min_size: int = 1,
    min_speakers: int = 1,
) -> np.ndarray:
    """Merge clusters whose centroids are close (centroid linkage), then renumber by size.

    Clusters with fewer than ``min_size`` members are first dissolved into the cluster nearest
    each of their members (they are mostly windows that straddle two voices). Then the two clusters
    with the most similar centroids (cosine of the mean of ``embeddings``) are merged, repeatedly,
    until ``num_speakers`` clusters remain when given, otherwise while that similarity is at least
    ``threshold`` (and more than ``min_speakers`` remain).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = l2_normalize(np.ones((30, 8)) + 0.1 * rng.standard_normal((30, 8)))
    >>> merge_close_clusters(x, np.arange(30) % 2, threshold=0.9).max()
    np.int64(0)
    """
    x = np.asarray(embeddings, dtype=np.float64)
    labels = relabel_by_size(np.asarray(labels))
    floor = max(1, num_speakers or min_speakers)
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes >= min_size)
    if 0 < len(big) < len(sizes) and len(big) >= floor:
        c = cluster_centroids(x, labels)[big]
        small = ~np.isin(labels, big)
        labels = labels.copy()
        labels[small] = big[np.argmax(x[small] @ c.T, axis=1)]
        labels = relabel_by_size(labels)
    while labels.max() + 1 > floor:
        c = cluster_centroids(x, labels)
        sim = c @ c.T
        np.fill_diagonal(sim, -np.inf)
        a, b = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if num_speakers is None and sim[a, b] < threshold:
            break
        log.debug("merging clusters %d and %d (cosine %.3f)", a, b, sim[a, b])
        labels = relabel_by_size(np.where(labels == b, a, labels))
    return labels
