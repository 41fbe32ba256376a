"""How hard are the synthetic speakers? GE2E same- vs different-speaker cosine statistics.

Embeds utterances with Resemblyzer's bundled GE2E encoder
(``VoiceEncoder('cpu').embed_utterance(preprocess_wav(wav))``), then reports the mean cosine of
same-speaker pairs, of different-speaker pairs, the pair-trial EER, and the speaker pairs whose
cross-speaker mean cosine is so high that they look like one speaker (near-duplicates).

Run on the catalogue (synthesises ``--per-voice`` utterances of every voice in memory)::

    python -m benchmarks.corpus.similarity --per-voice 4

or on files listed in a manifest (``manifest.csv`` / ``manifest.json`` with path + speaker)::

    python -m benchmarks.corpus.similarity --manifest tests/fixtures/speech/manifest.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

NEAR_DUPLICATE_COSINE = 0.95
"""Two voices whose mean cross-speaker cosine exceeds this look like one speaker to GE2E."""


@dataclass(frozen=True)
class SimilarityReport:
    """Same/different-speaker cosine statistics of a labelled set of embeddings.

    Attributes
    ----------
    mean_same, mean_diff
        Mean cosine over same-speaker pairs (i != j) and different-speaker pairs.
    eer
        Equal error rate of the all-pairs verification trial list (0–1).
    speakers
        Speaker labels, in the order of the rows/columns of ``pair_means``.
    pair_means
        (S, S) mean cosine between utterances of speaker a and of speaker b (diagonal: i != j).
    """

    mean_same: float
    mean_diff: float
    eer: float
    speakers: tuple[str, ...]
    pair_means: np.ndarray

    def near_duplicates(
        self, threshold: float = NEAR_DUPLICATE_COSINE
    ) -> list[tuple[str, str, float]]:
        """Speaker pairs whose mean cross cosine exceeds ``threshold``, highest first."""
        out = []
        n = len(self.speakers)
        for a in range(n):
            for b in range(a + 1, n):
                if self.pair_means[a, b] > threshold:
                    out.append((self.speakers[a], self.speakers[b], float(self.pair_means[a, b])))
        return sorted(out, key=lambda t: -t[2])

    def closest_pairs(self, k: int = 10) -> list[tuple[str, str, float]]:
        """The ``k`` most similar pairs of different speakers."""
        return self.near_duplicates(threshold=-2.0)[:k]


def equal_error_rate(scores: np.ndarray, targets: np.ndarray) -> float:
    """EER of verification ``scores`` with boolean ``targets``.

    Examples
    --------
    >>> equal_error_rate(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False]))
    0.0
    """
    order = np.argsort(-scores, kind="stable")
    t = targets[order].astype(np.float64)
    n_t, n_n = t.sum(), (1 - t).sum()
    if n_t == 0 or n_n == 0:
        raise ValueError("need both target and non-target trials")
    far = np.concatenate([[0.0], np.cumsum(1 - t) / n_n])  # accept top-k
    frr = np.concatenate([[1.0], 1 - np.cumsum(t) / n_t])
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2)


def similarity_report(embeddings: np.ndarray, labels: Sequence[str]) -> SimilarityReport:
    """Same/different-speaker statistics of unit-norm ``embeddings`` (N, D) labelled ``labels``.

    Examples
    --------
    >>> e = np.eye(3, dtype=np.float32)[[0, 0, 1, 1]]
    >>> r = similarity_report(e, ["a", "a", "b", "b"])
    >>> r.mean_same, r.mean_diff, r.eer
    (1.0, 0.0, 0.0)
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    lab = np.asarray(labels)
    cos = emb @ emb.T
    iu = np.triu_indices(len(lab), k=1)
    same = lab[iu[0]] == lab[iu[1]]
    scores = cos[iu]
    speakers = tuple(dict.fromkeys(labels))
    idx = {s: np.flatnonzero(lab == s) for s in speakers}
    pm = np.zeros((len(speakers), len(speakers)))
    for a, sa in enumerate(speakers):
        for b, sb in enumerate(speakers):
            block = cos[np.ix_(idx[sa], idx[sb])]
            if a == b:
                n = len(idx[sa])
                pm[a, b] = (block.sum() - np.trace(block)) / max(n * (n - 1), 1)
            else:
                pm[a, b] = block.mean()
    return SimilarityReport(
        mean_same=float(scores[same].mean()),
        mean_diff=float(scores[~same].mean()),
        eer=equal_error_rate(scores, same),
        speakers=speakers,
        pair_means=pm,
    )


def ge2e_embeddings(signals: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
    """Resemblyzer GE2E utterance embeddings (N, 256) of mono float ``signals``."""
    from resemblyzer import VoiceEncoder, preprocess_wav

    encoder = VoiceEncoder("cpu", verbose=False)
    return np.stack(
        [encoder.embed_utterance(preprocess_wav(s, source_sr=sample_rate)) for s in signals]
    )


def _read_manifest(path: Path) -> list[dict]:
    if path.suffix == ".json":
        rows = json.loads(path.read_text())
        rows = rows["utterances"] if isinstance(rows, dict) else rows
    else:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    for row in rows:
        p = Path(row["path"])
        row["path"] = str(p if p.is_absolute() else path.parent / p)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints the report."""
    import soundfile as sf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", type=Path, help="manifest.csv/json with path and speaker")
    src.add_argument("--per-voice", type=int, help="synthesise N utterances per catalogue voice")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=10, help="closest pairs to list")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.manifest is not None:
        rows = _read_manifest(args.manifest)
        signals, labels = [], []
        for row in rows:
            x, sr = sf.read(row["path"], dtype="float32")
            signals.append(x)
            labels.append(row["speaker"])
        sample_rate = sr
    else:
        from .sentences import SENTENCES
        from .synth import synthesize, voices

        signals, labels = [], []
        for vi, voice in enumerate(voices()):
            for k in range(args.per_voice):
                text = SENTENCES[(vi * 7 + k * 13) % len(SENTENCES)]
                x, sample_rate = synthesize(voice, text, seed=args.seed + 1000 * vi + k)
                signals.append(x)
                labels.append(voice.id)
    emb = ge2e_embeddings(signals, sample_rate)
    report = similarity_report(emb, labels)
    print(f"utterances: {len(labels)}  speakers: {len(report.speakers)}")
    print(f"mean same-speaker cosine: {report.mean_same:.4f}")
    print(f"mean diff-speaker cosine: {report.mean_diff:.4f}")
    print(f"pair-trial EER: {100 * report.eer:.2f} %")
    diag = np.diag(report.pair_means)
    worst = np.argsort(diag)[:5]
    print("least self-consistent:", ", ".join(f"{report.speakers[i]}={diag[i]:.3f}" for i in worst))
    print(f"closest speaker pairs (near-duplicate if > {NEAR_DUPLICATE_COSINE}):")
    for a, b, c in report.closest_pairs(args.top):
        print(f"  {c:.4f}  {a}  {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
