"""Training batches: GE2E-style ``N speakers x M utterances`` or random labelled crops, with
on-the-fly augmentation, nuisance vectors, and the chunked utterances of the timbre loss.

Reproducibility
---------------
The batch of step ``k`` is a pure function of ``(config.seed, k)``: every random choice (speakers,
utterances, crop offsets, augmentation seeds) comes from ``numpy.random.default_rng([seed, k,
stream])``. Batches can therefore be made in any order, by any DataLoader worker, and a run
resumed at step ``k`` sees exactly the batches an uninterrupted run would have seen.

Examples
--------
>>> import numpy as np
>>> from voxref.train.config import TrainConfig, AugmentConfig
>>> from voxref.train.data import SpeakerCorpus
>>> rng = np.random.default_rng(0)
>>> corpus = SpeakerCorpus.from_arrays(
...     {s: [0.1 * rng.standard_normal(24000).astype("float32") for _ in range(3)] for s in "abc"},
...     16000)
>>> cfg = TrainConfig(speakers_per_batch=2, utterances_per_speaker=2, crop_seconds=1.0,
...                   augment=AugmentConfig(enabled=False))
>>> maker = BatchMaker(corpus, cfg)
>>> b = maker.make(0)
>>> tuple(b.waves.shape), b.labels.tolist() == maker.make(0).labels.tolist()
((4, 16000), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..augment import NUISANCE_FIELDS, nuisance_vector
from .augmentation import AugmentationFactory
from .config import TrainConfig
from .data import SpeakerCorpus

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Batch", "BatchMaker", "StepBatches", "random_crop", "spread_starts"]

_MAX_SEED = 2**63 - 1


@dataclass
class Batch:
    """One training step's inputs (torch tensors, CPU).

    Attributes
    ----------
    step
        The step this batch belongs to.
    waves
        ``(B, T)`` augmented crops; for GE2E batches ``B = N * M``, speaker-major.
    labels
        ``(B,)`` speaker indices into the training corpus' speaker list.
    nuisance
        ``(B, F)`` nuisance vectors (:func:`voxref.augment.nuisance_vector`) of the crops.
    num_speakers, num_utterances
        ``N`` and ``M`` for GE2E batches (``0, 0`` for random batches).
    timbre_noisy, timbre_clean
        ``(U, K, Tc)`` degraded and clean chunks of ``U`` utterances, or ``None``.
    """

    step: int
    waves: torch.Tensor
    labels: torch.Tensor
    nuisance: torch.Tensor
    num_speakers: int = 0
    num_utterances: int = 0
    timbre_noisy: torch.Tensor | None = None
    timbre_clean: torch.Tensor | None = None

    def to(self, device) -> Batch:
        """The same batch with every tensor on ``device``."""

        def move(t):
            return None if t is None else t.to(device, non_blocking=True)

        return Batch(
            self.step,
            move(self.waves),
            move(self.labels),
            move(self.nuisance),
            self.num_speakers,
            self.num_utterances,
            move(self.timbre_noisy),
            move(self.timbre_clean),
        )


def random_crop(x: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``num_samples`` crop of ``x``; shorter signals are zero-padded at the end.

    Examples
    --------
    >>> random_crop(np.arange(5, dtype=np.float32), 8, np.random.default_rng(0)).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0]
    """
    if len(x) <= num_samples:
        return np.pad(x, (0, num_samples - len(x))).astype(np.float32, copy=False)
    start = int(rng.integers(0, len(x) - num_samples + 1))
    return x[start : start + num_samples]


def spread_starts(length: int, chunk: int, count: int) -> np.ndarray:
    """``count`` chunk starts spread evenly over ``length`` samples (overlapping if needed).

    Examples
    --------
    >>> spread_starts(100, 40, 3).tolist()
    [0, 30, 60]
    """
    return np.linspace(0, max(0, length - chunk), count).round().astype(np.int64)


def _augment(chain, x: np.ndarray, sample_rate: int, seed: int):
    if chain is None:
        return x.astype(np.float32, copy=False), []
    y, log = chain.augment(x, sample_rate, seed=seed)
    return y, log


class BatchMaker:
    """Makes the batch of any step from the training corpus (see the module docstring).

    Parameters
    ----------
    corpus
        Training speakers (at least ``speakers_per_batch`` of them).
    config
        Batch shape, crop lengths, augmentation and timbre options, seed.
    """

    def __init__(self, corpus: SpeakerCorpus, config: TrainConfig) -> None:
        from ..errors import ConfigError

        if len(corpus.speakers) < config.speakers_per_batch:
            raise ConfigError(
                f"speakers_per_batch={config.speakers_per_batch} but the training data has only "
                f"{len(corpus.speakers)} speakers; lower it or add speakers."
            )
        self.corpus = corpus
        self.config = config
        self.sample_rate = corpus.sample_rate
        self.crop = int(round(config.crop_seconds * self.sample_rate))
        self.chunk = int(round(config.timbre_chunk_seconds * self.sample_rate))
        self.ge2e_batches = "ge2e" in config.loss
        speech = {s: [corpus.audio(i) for i in corpus.indices(s)] for s in corpus.speakers}
        self.augmentation = AugmentationFactory(config.augment, speech)
        self._labels = corpus.labels()

    @property
    def batch_size(self) -> int:
        return self.config.speakers_per_batch * self.config.utterances_per_speaker

    # ------------------------------------------------------------------ pieces
    def _pick(self, rng: np.random.Generator) -> list[int]:
        """Utterance indices of one batch (speaker-major for GE2E batches)."""
        cfg = self.config
        if not self.ge2e_batches:
            return [int(i) for i in rng.integers(0, len(self.corpus), size=self.batch_size)]
        speakers = rng.choice(len(self.corpus.speakers), size=cfg.speakers_per_batch, replace=False)
        picks = []
        for s in speakers:
            pool = self.corpus.indices(self.corpus.speakers[int(s)])
            m = cfg.utterances_per_speaker
            chosen = rng.choice(len(pool), size=m, replace=len(pool) < m)
            picks += [pool[int(c)] for c in chosen]
        return picks

    def _crops(self, picks: list[int], rng: np.random.Generator):
        waves, nuisance = [], []
        for i in picks:
            x = random_crop(self.corpus.audio(i), self.crop, rng)
            chain = self.augmentation.for_speaker(self.corpus.utterances[i].speaker)
            y, log = _augment(chain, x, self.sample_rate, int(rng.integers(_MAX_SEED)))
            waves.append(y)
            nuisance.append(nuisance_vector(log))
        return np.stack(waves), np.stack(nuisance)

    def _timbre(self, picks: list[int], rng: np.random.Generator):
        """``(U, K, Tc)`` degraded and clean chunks, one utterance per batch speaker."""
        cfg = self.config
        k, chunk = cfg.timbre_chunks, self.chunk
        firsts = picks[:: cfg.utterances_per_speaker] if self.ge2e_batches else picks
        count = cfg.timbre_utterances or cfg.speakers_per_batch
        chosen = [firsts[int(j)] for j in rng.permutation(len(firsts))[:count]]
        while len(chosen) < count:  # more timbre utterances than speakers: draw further ones
            chosen.append(picks[int(rng.integers(len(picks)))])
        noisy, clean = [], []
        for i in chosen:
            x = self.corpus.audio(i)
            seg = random_crop(x, min(len(x), k * chunk) if len(x) > chunk else chunk, rng)
            starts = spread_starts(len(seg), chunk, k)
            chain = self.augmentation.for_speaker(self.corpus.utterances[i].speaker)
            seeds = rng.integers(_MAX_SEED, size=k)
            cuts = [seg[s : s + chunk] for s in starts]
            if cfg.timbre_noise == "shared":
                y, _ = _augment(chain, seg, self.sample_rate, int(seeds[0]))
                degraded = [y[s : s + chunk] for s in starts]
            else:
                degraded = [
                    _augment(chain, c, self.sample_rate, int(sd))[0] for c, sd in zip(cuts, seeds)
                ]
            noisy.append(np.stack(degraded))
            clean.append(np.stack(cuts))
        return np.stack(noisy), np.stack(clean)

    # ------------------------------------------------------------------ batch
    def make(self, step: int) -> Batch:
        """The batch of ``step`` (deterministic in ``(config.seed, step)``)."""
        import torch

        seed = int(self.config.seed)
        rng = np.random.default_rng([seed, int(step), 1])
        picks = self._pick(rng)
        waves, nuisance = self._crops(picks, rng)
        noisy = clean = None
        if self.config.timbre_weight > 0:
            t_noisy, t_clean = self._timbre(picks, np.random.default_rng([seed, int(step), 2]))
            noisy, clean = torch.from_numpy(t_noisy), torch.from_numpy(t_clean)
        n, m = (
            (self.config.speakers_per_batch, self.config.utterances_per_speaker)
            if self.ge2e_batches
            else (0, 0)
        )
        return Batch(
            step=int(step),
            waves=torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)),
            labels=torch.from_numpy(self._labels[picks]),
            nuisance=torch.from_numpy(nuisance.reshape(len(picks), len(NUISANCE_FIELDS))),
            num_speakers=n,
            num_utterances=m,
            timbre_noisy=noisy,
            timbre_clean=clean,
        )


class StepBatches:
    """Map-style dataset ``step -> Batch`` for a :class:`torch.utils.data.DataLoader`.

    Use it with ``batch_size=None`` and a sampler yielding the steps to run (e.g.
    ``range(start, total)``); each worker calls :meth:`BatchMaker.make`, so the result is the
    same whatever the number of workers.
    """

    def __init__(self, maker: BatchMaker, total_steps: int) -> None:
        self.maker = maker
        self.total_steps = int(total_steps)

    def __len__(self) -> int:
        return self.total_steps

    def __getitem__(self, step: int) -> Batch:
        return self.maker.make(int(step))
