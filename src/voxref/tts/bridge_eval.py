"""How well a bridge carries speakers it never saw (:func:`fit_and_evaluate`), and the paired
embeddings it is fitted on (:func:`paired_embeddings`).

What a bridge is and how to build one: :mod:`voxref.tts.bridge`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .bridge_maps import Bridge, fit_bridge, paired_arrays, unit_rows

__all__ = ["BridgeReport", "evaluate_bridge", "fit_and_evaluate", "paired_embeddings"]

log = logging.getLogger(__name__)


@dataclass
class BridgeReport:
    """How well a bridge carries speakers it never saw into the target space.

    Attributes
    ----------
    kind
        Bridge kind.
    train_speakers, test_speakers
        The speaker split (held-apart speakers are only in ``test_speakers``).
    num_train, num_test
        Paired embeddings on each side.
    train_cosine
        Mean cosine(mapped, true) on the fitting pairs.
    test_cosine
        The same on held-apart speakers: the cosine retention.
    baseline_cosine
        Mean cosine of held-apart targets with the mean training target: what a map that
        ignores its input scores. ``test_cosine`` should beat it.
    structure_correlation
        Pearson correlation between pairwise cosines of mapped and of true held-apart
        embeddings (does the map keep who sounds like whom?); ``nan`` with < 3 test pairs.
    """

    kind: str
    train_speakers: list[str]
    test_speakers: list[str]
    num_train: int
    num_test: int
    train_cosine: float
    test_cosine: float
    baseline_cosine: float
    structure_correlation: float

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.kind} bridge: held-apart cosine {self.test_cosine:.3f} "
            f"(input-blind baseline {self.baseline_cosine:.3f}, train {self.train_cosine:.3f}, "
            f"structure r={self.structure_correlation:.3f}; {len(self.test_speakers)} held-apart "
            f"speakers, {self.num_test} clips)"
        )


def evaluate_bridge(bridge: Bridge, source: Any, target: Any) -> dict[str, float]:
    """``mean_cosine``, ``min_cosine`` and ``structure_correlation`` of a bridge on pairs."""
    x, y = paired_arrays(source, target)
    pred = bridge.transform(x).astype(np.float64)
    true = unit_rows(y).astype(np.float64)
    cos = np.sum(pred * true, axis=1)
    corr = float("nan")
    if len(x) >= 3:
        iu = np.triu_indices(len(x), 1)
        a, b = (pred @ pred.T)[iu], (true @ true.T)[iu]
        if a.std() > 0 and b.std() > 0:
            corr = float(np.corrcoef(a, b)[0, 1])
    return {
        "mean_cosine": float(cos.mean()),
        "min_cosine": float(cos.min()),
        "structure_correlation": corr,
    }


def fit_and_evaluate(
    kind: str,
    source: Any,
    target: Any,
    speakers: Sequence[str],
    *,
    test_speakers: Sequence[str] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
    **options: Any,
) -> tuple[Bridge, BridgeReport]:
    """Fit on some speakers, report cosine retention on the held-apart others.

    Parameters
    ----------
    kind, options
        As :func:`fit_bridge`.
    source, target
        Paired embeddings ``(N, D_source)``, ``(N, D_target)``.
    speakers
        Speaker label of each pair.
    test_speakers
        Which speakers to hold apart (default: ``test_fraction`` of them, drawn with ``seed``).

    Returns
    -------
    (Bridge, BridgeReport)
        The bridge fitted on the training speakers only, and its report.
    """
    x, y = paired_arrays(source, target)
    spk = np.asarray([str(s) for s in speakers])
    if len(spk) != len(x):
        raise ConfigError(f"{len(spk)} speaker labels for {len(x)} pairs.")
    names = sorted(set(spk.tolist()))
    if test_speakers is None:
        if len(names) < 2:
            raise ConfigError("held-apart evaluation needs at least 2 speakers.")
        n_test = min(len(names) - 1, max(1, int(round(test_fraction * len(names)))))
        order = np.random.default_rng(seed).permutation(len(names))
        test_speakers = sorted(names[i] for i in order[:n_test])
    held = set(map(str, test_speakers))
    is_test = np.isin(spk, sorted(held))
    if is_test.all() or not is_test.any():
        raise ConfigError("the speaker split left one side empty.")
    bridge = fit_bridge(kind, x[~is_test], y[~is_test], **options)
    train = evaluate_bridge(bridge, x[~is_test], y[~is_test])
    test = evaluate_bridge(bridge, x[is_test], y[is_test])
    mean_target = unit_rows(unit_rows(y[~is_test]).mean(0, keepdims=True))[0]
    baseline = float(np.mean(unit_rows(y[is_test]) @ mean_target))
    report = BridgeReport(
        kind=kind,
        train_speakers=sorted(set(spk[~is_test].tolist())),
        test_speakers=sorted(held),
        num_train=int((~is_test).sum()),
        num_test=int(is_test.sum()),
        train_cosine=train["mean_cosine"],
        test_cosine=test["mean_cosine"],
        baseline_cosine=baseline,
        structure_correlation=test["structure_correlation"],
    )
    log.info("%s", report)
    bridge.report = report.to_dict()
    return bridge, report


def paired_embeddings(
    clips: Sequence[Any],
    source_encoder: Any,
    target_encoder: Any,
    *,
    sample_rate: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Embed every clip with both encoders: ``(N, D_source)``, ``(N, D_target)``.

    ``clips`` are anything :func:`voxref.load_audio` reads (paths, ``(array, sr)`` pairs...);
    each is resampled to each encoder's own rate and embedded with ``embed_utterance``.
    """
    from ..audio.load import load_audio

    xs, ys = [], []
    for i, clip in enumerate(clips):
        for enc, out in ((source_encoder, xs), (target_encoder, ys)):
            audio = load_audio(clip, enc.sample_rate, sample_rate=sample_rate, index=i)
            out.append(enc.embed_utterance(audio.samples, source=audio.source))
    return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32)
