"""Clustering window embeddings into speakers, with or without a known number of speakers.

:func:`ward_clusters` (the diarizer's default) runs Ward agglomerative clustering and, when the
number of speakers is unknown, cuts the tree at the largest jump between consecutive merge costs
(one voice's windows merge at slowly growing cost; joining two voices costs a jump).
:func:`spectral_clusters` is the auto-tuned spectral clustering of Park et al. (2019, "NME-SC",
IEEE SPL 27): the cosine affinity is pruned to each row's ``p`` nearest neighbours (binarised,
symmetrised), ``p`` minimises ``p / normalised max eigengap``, and the eigengap gives the number
of clusters (it over-counts on GE2E windows, which cluster by utterance; kept as an option).
:func:`merge_close_clusters` then merges clusters whose centroids are close in the encoder's own
space, which is what lets a one-speaker recording come out as one speaker. All in numpy/scipy
(no scikit-learn import cost).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> centers = l2_normalize(rng.standard_normal((2, 16)))
>>> x = l2_normalize(np.repeat(centers, 20, axis=0) + 0.15 * rng.standard_normal((40, 16)))
>>> labels = spectral_clusters(x, seed=0)
>>> len(set(labels[:20].tolist())), len(set(labels[20:].tolist())), bool(labels[0] != labels[-1])
(1, 1, True)
"""

from __future__ import annotations

import logging

import numpy as np

from ..encoding import l2_normalize

__all__ = [
    "kmeans",
    "spectral_clusters",
    "ward_clusters",
    "merge_close_clusters",
    "cluster_centroids",
    "relabel_by_size",
]

log = logging.getLogger(__name__)


def kmeans(
    x: np.ndarray, k: int, *, seed: int = 0, n_init: int = 8, max_iter: int = 100
) -> np.ndarray:
    """Labels of ``x`` (N, D) from Lloyd's k-means with k-means++ starts (best of ``n_init``).

    Examples
    --------
    >>> x = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> kmeans(x, 2, seed=0).tolist() in ([0, 0, 1, 1], [1, 1, 0, 0])
    True
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if k <= 1 or n <= k:
        return np.arange(n) % max(k, 1) if n <= k else np.zeros(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for _ in range(n_init):
        c = [x[rng.integers(n)]]
        for _ in range(1, k):
            d = np.min(((x[:, None, :] - np.asarray(c)[None]) ** 2).sum(-1), axis=1)
            p = d / d.sum() if d.sum() > 0 else np.full(n, 1.0 / n)
            c.append(x[rng.choice(n, p=p)])
        centers = np.asarray(c)
        labels = np.zeros(n, dtype=np.int64)
        for it in range(max_iter):
            d = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
            new = d.argmin(axis=1)
            if it > 0 and np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                if np.any(labels == j):
                    centers[j] = x[labels == j].mean(axis=0)
        inertia = float(((x - centers[labels]) ** 2).sum())
        if inertia < best_inertia - 1e-12:
            best, best_inertia = labels.copy(), inertia
    return best


def _pruned_affinity(sim: np.ndarray, p: int) -> np.ndarray:
    """Keep each row's ``p`` largest similarities (as 1), symmetrise, zero the diagonal."""
    n = len(sim)
    s = sim.copy()
    np.fill_diagonal(s, -np.inf)
    idx = np.argpartition(-s, kth=min(p, n - 1) - 1, axis=1)[:, :p]
    a = np.zeros_like(sim)
    np.put_along_axis(a, idx, 1.0, axis=1)
    a = 0.5 * (a + a.T)
    np.fill_diagonal(a, 0.0)
    return a


def _laplacian_eig(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = a.sum(axis=1)
    lap = np.diag(d) - a
    vals, vecs = np.linalg.eigh(lap)
    return vals, vecs


def spectral_clusters(
    embeddings: np.ndarray,
    num_speakers: int | None = None,
    *,
    min_speakers: int = 1,
    max_speakers: int = 8,
    max_neighbours: float = 0.4,
    seed: int = 0,
) -> np.ndarray:
    """Speaker labels (N,) of unit-norm window ``embeddings`` (N, D) by auto-tuned spectral clustering.

    Parameters
    ----------
    embeddings
        Unit-norm rows.
    num_speakers
        The number of clusters when known; otherwise estimated from the eigengap within
        ``[min_speakers, max_speakers]``.
    max_neighbours
        Largest neighbourhood tried for pruning, as a fraction of ``N``.
    seed
        Seed of the k-means starts.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if num_speakers is not None and num_speakers <= 1 or n < 4:
        return np.zeros(n, dtype=np.int64)
    sim = x @ x.T
    kmax = min(max_speakers, n - 1)
    p_hi = max(2, int(max_neighbours * n))
    candidates = sorted({max(1, int(round(v))) for v in np.linspace(2, p_hi, num=min(24, p_hi))})
    best = None
    for p in candidates:
        a = _pruned_affinity(sim, p)
        vals, vecs = _laplacian_eig(a)
        gaps = np.diff(vals[: kmax + 1])
        if len(gaps) == 0:
            continue
        g = float(gaps.max()) / (float(vals[-1]) + 1e-10)
        ratio = p / (g + 1e-10)
        if best is None or ratio < best[0]:
            best = (ratio, p, vals, vecs, gaps)
    assert best is not None
    _, p, vals, vecs, gaps = best
    if num_speakers is None:
        lo, hi = max(1, min_speakers), max(1, min(kmax, max_speakers))
        k = int(np.argmax(gaps[lo - 1 : hi])) + lo
    else:
        k = int(min(num_speakers, n))
    log.debug("spectral: p=%d of %d, k=%d, gaps=%s", p, n, k, np.round(gaps[:6], 3))
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    spec = vecs[:, :k]
    return kmeans(spec, k, seed=seed)


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
