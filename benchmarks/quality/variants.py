r"""Pooling variants tried against overlapped references and mixed bags (registered as methods).

Each is ``voxref.Embedder()`` defaults with one change in how references are combined; all but
``split-*`` share ``voxref``'s prepared clips, so with ``--cache`` one run compares them side by
side at the cost of ``combine``. The measurements are in ``benchmarks/results/overlap_pooling.md``.

* ``cons-t{T}-m{M}`` (:class:`ConsensusVariant`, :func:`consensus_window_pool`): the windows of
  each reference judged by the *other* references. Window ``t`` of reference ``i`` scores
  ``s_it = cos(x_it, c_-i)`` against the leave-one-out mean ``c_-i`` of the other references and
  keeps the weight ``m_it exp(-max(0, median_t s_it - s_it - M) / T)`` (``m`` the guided mask);
  reference vectors and centroids are re-estimated three times. The target is in every
  reference, each interferer in one.
* ``split-d{D}-m{M}`` (:class:`ConsensusSplitVariant`): each reference of a set split in two by
  its 0.8 s windows (two clusters whose centroid cosine is below ``D``); the part ``M`` closer to
  the other references' mean is kept, re-embedded from the spans where it is alone.
* ``decay{A}-{L}-{H}`` (:class:`DecayPrior`): reverberation charged in the quality prior (the
  clean stage's decay time between ``L`` and ``H`` seconds adds up to ``A`` to the expected
  distance), so a reverberant reference weighs less next to a clean one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from voxref.errors import ConfigError
from voxref.separation.guided_pooling import check_matrix, unit_rows

from .methods import Failed, VoxrefMethod, register_method

__all__ = [
    "consensus_window_pool",
    "ConsensusVariant",
    "ConsensusSplitVariant",
    "DecayPrior",
]

CONSENSUS_TEMPERATURE = 0.02
"""``tau``: each further 0.02 of shortfall (cosine, beyond the margin) divides a window's weight
by ``e``."""

CONSENSUS_MARGIN = 0.05
"""``delta``: shortfall below the reference's median window score that costs nothing."""

CONSENSUS_ITERATIONS = 3
"""Re-estimations of the leave-one-out centroids."""


def consensus_window_pool(
    windows: Sequence[np.ndarray],
    masks: Sequence[np.ndarray | None] | None = None,
    *,
    temperature: float = CONSENSUS_TEMPERATURE,
    margin: float = CONSENSUS_MARGIN,
    iterations: int = CONSENSUS_ITERATIONS,
    reference_weights: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Reference vectors from windows weighted by the other references' consensus.

    Parameters
    ----------
    windows
        One ``(N_i, D)`` array of window embeddings per reference.
    masks
        ``None`` or one ``(N_i,)`` non-negative mask (or ``None``: all 1) per reference, e.g. the
        guided pooling weights; a window with mask 0 stays at 0.
    temperature, margin
        See :data:`CONSENSUS_TEMPERATURE`, :data:`CONSENSUS_MARGIN`; ``temperature=inf`` returns
        the masked means.
    iterations
        Passes of centroid re-estimation.
    reference_weights
        ``(R,)`` weights of the references in the leave-one-out centroids (``None``: equal).

    Returns
    -------
    embeddings : list of np.ndarray
        ``(D,)`` unit-norm float32 vector per reference.
    window_weights : list of np.ndarray
        ``(N_i,)`` float32 weights per reference, summing to 1.
    """
    xs = [unit_rows(check_matrix(w, "window embeddings")) for w in windows]
    r = len(xs)
    if masks is None:
        masks = [None] * r
    if len(masks) != r:
        raise ConfigError(f"masks must have one entry per reference ({r}); got {len(masks)}.")
    if not temperature > 0 or not margin >= 0:
        raise ConfigError(
            f"temperature must be > 0 and margin >= 0; got {temperature} and {margin}."
        )
    ms = []
    for x, m in zip(xs, masks):
        mm = (
            np.ones(len(x))
            if m is None
            else np.clip(np.asarray(m, np.float64).reshape(-1), 0, None)
        )
        if mm.shape != (len(x),):
            raise ConfigError(f"a mask must have one value per window ({len(x)}); got {mm.shape}.")
        ms.append(mm if mm.sum() > 0 else np.ones(len(x)))
    rw = np.ones(r) if reference_weights is None else np.asarray(reference_weights, np.float64)
    a = [m / m.sum() for m in ms]
    e = np.stack([unit_rows((ai[:, None] * x).sum(axis=0)) for ai, x in zip(a, xs)])
    if r >= 2 and np.isfinite(temperature):
        for _ in range(max(int(iterations), 1)):
            total = (rw[:, None] * e).sum(axis=0)
            for i, (x, m) in enumerate(zip(xs, ms)):
                c = unit_rows(total - rw[i] * e[i])
                s = x @ c
                active = m > 0
                typical = float(np.median(s[active]))
                penalty = np.maximum(typical - s - margin, 0.0) / temperature
                w = m * np.exp(-penalty)
                a[i] = w / w.sum()
            e = np.stack([unit_rows((ai[:, None] * x).sum(axis=0)) for ai, x in zip(a, xs)])
    return [v.astype(np.float32) for v in e], [ai.astype(np.float32) for ai in a]


class ConsensusVariant(VoxrefMethod):
    """``voxref.Embedder()`` defaults with the windows of each reference re-weighted by the other
    references' consensus (:func:`voxref.embedder.pooling.consensus.consensus_window_pool`) before
    references are grouped by voice and pooled; shares ``voxref``'s prepared clips.

    Parameters
    ----------
    name
        Method name.
    **options
        Options of ``consensus_window_pool`` (``temperature``, ``margin``, ``iterations``).
    """

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, {}, description=f"voxref defaults + consensus windows {options}")
        self.options = options

    def combine(self, items: Sequence[Any]) -> np.ndarray | None:
        res = self.combined(items)
        if res is None:
            return None
        refs = [r for r in res.references if r.embedding is not None]
        if len(refs) >= 2:
            embs, ww = consensus_window_pool(
                [np.asarray(r.windows.embeddings) for r in refs],
                [r.window_weights for r in refs],
                **self.options,
            )
            for r, e, w in zip(refs, embs, ww):
                r.embedding, r.window_weights = e, w
        return self.pool_kept(refs)


for _t in (0.01, 0.02, 0.05):
    for _m in (0.0, 0.03, 0.05, 0.1):
        register_method(
            f"cons-t{_t:g}-m{_m:g}",
            lambda n=f"cons-t{_t:g}-m{_m:g}", t=_t, m=_m: ConsensusVariant(
                n, temperature=t, margin=m
            ),
        )


class ConsensusSplitVariant(VoxrefMethod):
    """``voxref.Embedder()`` defaults, then in sets of two or more references each reference is
    split in two by its short windows (:func:`voxref.separation.dominant.split_voices`, kept when
    the two clusters' centroid cosine is below ``distinct_below``) and the part whose centroid is
    ``margin`` closer to the other references' leave-one-out mean is kept, re-embedded where it
    is alone (:func:`voxref.separation.dominant.guided_voice`).
    """

    def __init__(
        self, name: str, distinct_below: float, margin: float, votes: str = "mean"
    ) -> None:
        super().__init__(
            name, {}, description=f"voxref + consensus split <{distinct_below} margin {margin}"
        )
        self.distinct_below = distinct_below
        self.margin = margin
        self.votes = votes

    @property
    def prepare_group(self) -> str:
        return "voxref-loose-split:{}"

    def prepare(self, samples: np.ndarray, sample_rate: int, source: str) -> Any:
        import dataclasses

        from voxref.separation.dominant import split_voices

        prepared = self.prepared_or_failed(samples, sample_rate)
        if isinstance(prepared, Failed):
            return prepared
        self.embedder.voice_split(prepared)
        prepared.extras["loose_split"] = split_voices(
            prepared.speech.samples,
            prepared.speech.sample_rate,
            self.embedder.encoder,
            distinct_below=1.01,
        )
        return dataclasses.replace(prepared, audio=None, speech=None)

    def combine(self, items: Sequence[Any]) -> np.ndarray | None:
        from voxref.embedder.pooling import guided_window_pool
        from voxref.separation.dominant import guided_voice

        res = self.combined(items)
        if res is None:
            return None
        refs = [r for r in res.references if r.embedding is not None]
        if len(refs) >= 2:
            e = np.stack([np.asarray(r.embedding, np.float64) for r in refs])
            w = (
                np.array([max(r.weight, 1e-6) for r in refs])
                if self.votes == "weights"
                else np.ones(len(refs))
            )
            total = (w[:, None] * e).sum(axis=0)
            new = []
            for i, r in enumerate(refs):
                split = r.prepared.extras.get("loose_split") if r.prepared is not None else None
                emb = r.embedding
                if split is not None and split.centroid_cosine < self.distinct_below:
                    c = total - w[i] * e[i]
                    c = c / np.linalg.norm(c)
                    chosen = guided_voice(split, c, min_margin=self.margin)
                    if chosen is not None:
                        windows, act = chosen
                        emb, _ = guided_window_pool(windows, act.weights, act.overlap)
                new.append(emb)
            for r, emb in zip(refs, new):
                r.embedding = emb
        return self.pool_kept(refs)


for _d in (0.8, 0.85, 0.9, 1.01):
    for _m in (0.0, 0.02, 0.05, 0.1):
        register_method(
            f"split-d{_d:g}-m{_m:g}",
            lambda n=f"split-d{_d:g}-m{_m:g}", d=_d, m=_m: ConsensusSplitVariant(n, d, m),
        )


class DecayPrior:
    """Reference pooling (the default attention) with reverberation charged in the quality prior.

    The prior's expected distance ``d(q)`` (:func:`voxref.embedder.pooling.quality.expected_distance`)
    gets ``amp * clip((decay_s - low) / (high - low), 0, 1)`` from the clean stage's decay-time
    estimate; passed on as the reference's ``weight_hint`` ``(d / (d + extra)) ** gamma``, which is
    what the prior ``(d_ref / d) ** gamma`` becomes with the extra distance (below its cap).
    """

    def __init__(self, amp: float, low: float, high: float) -> None:
        self.amp, self.low, self.high = float(amp), float(low), float(high)

    def pool(self, embeddings: np.ndarray, qualities: Any = None) -> tuple[np.ndarray, np.ndarray]:
        import dataclasses

        from voxref.embedder.pooling import RefQuality, attention_pool
        from voxref.embedder.pooling.quality import DEFAULT_QUALITY_MODEL, expected_distance

        if qualities is not None:
            charged = []
            for rep in qualities:
                q = RefQuality.from_any(rep)
                decay = getattr(rep, "decay_s", None)
                if decay is not None and np.isfinite(decay):
                    d = expected_distance(q, DEFAULT_QUALITY_MODEL)
                    span = max(self.high - self.low, 1e-6)
                    extra = self.amp * float(np.clip((decay - self.low) / span, 0.0, 1.0))
                    hint = (d / (d + extra)) ** DEFAULT_QUALITY_MODEL.gamma
                    q = dataclasses.replace(q, weight_hint=(q.weight_hint or 1.0) * hint)
                charged.append(q)
            qualities = charged
        return attention_pool(embeddings, qualities)

    def __repr__(self) -> str:
        return f"DecayPrior(amp={self.amp}, low={self.low}, high={self.high})"


for _a in (0.05, 0.1, 0.2, 0.4):
    for _lo, _hi in ((0.15, 0.3), (0.2, 0.35), (0.12, 0.25)):
        register_method(
            f"decay{_a:g}-{_lo:g}-{_hi:g}",
            lambda n=f"decay{_a:g}-{_lo:g}-{_hi:g}", a=_a, lo=_lo, hi=_hi: VoxrefMethod(
                n,
                {"pooling": DecayPrior(a, lo, hi)},
                description=f"voxref defaults, reverberation (decay {lo}-{hi} s, +{a}) in the prior",
            ),
        )
