"""Training batches: GE2E-style ``N speakers x M utterances`` or random labelled crops, with
on-the-fly augmentation, nuisance vectors, and the chunked utterances of the timbre loss.

Reproducibility
---------------
The batch of step ``k`` is a pure function of ``(config.seed, k)``: every random choice (speakers,
utterances, crop offsets, augmentation seeds) comes from ``numpy.random.default_rng([seed, k,
stream, slot])``, one generator per slot of the step's global batch (speaker slot, crop slot,
timbre slot). Batches can therefore be made in any order, by any DataLoader worker, a run
resumed at step ``k`` sees exactly the batches an uninterrupted run would have seen, and ``W``
processes each making their slice (``rank``) see together the batch of one process with ``W``
times the batch size.

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
        Training speakers (at least ``world_size * speakers_per_batch`` of them).
    config
        Batch shape (per process), crop lengths, augmentation and timbre options, seed.
    rank, world_size
        This process's share of the global batch: the step's global batch has ``world_size``
        times the configured speakers (GE2E) or crops (AAM), and ``rank`` makes the
        ``rank``-th slice of it. Everything random is drawn per *slot* of the global batch
        (speaker slot, crop slot, timbre slot), so the slices of ``W`` processes concatenate
        to the batch one process makes with ``W`` times the batch size.
    """

    def __init__(
        self, corpus: SpeakerCorpus, config: TrainConfig, rank: int = 0, world_size: int = 1
    ) -> None:
        from ..errors import ConfigError

        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside a world of {world_size} processes.")
        total = config.speakers_per_batch * world_size
        if len(corpus.speakers) < total:
            raise ConfigError(
                f"speakers_per_batch={config.speakers_per_batch} x {world_size} process(es) = "
                f"{total} speakers per step, but the training data has only "
                f"{len(corpus.speakers)} speakers; lower speakers_per_batch or add speakers."
            )
        self.corpus = corpus
        self.config = config
        self.rank, self.world_size = int(rank), int(world_size)
        self.sample_rate = corpus.sample_rate
        self.crop = int(round(config.crop_seconds * self.sample_rate))
        self.chunk = int(round(config.timbre_chunk_seconds * self.sample_rate))
        self.ge2e_batches = "ge2e" in config.loss
        speech = {s: [corpus.audio(i) for i in corpus.indices(s)] for s in corpus.speakers}
        self.augmentation = AugmentationFactory(config.augment, speech)
        self._labels = corpus.labels()

    @property
    def batch_size(self) -> int:
        """Crops per process and step."""
        return self.config.speakers_per_batch * self.config.utterances_per_speaker

    @property
    def global_batch_size(self) -> int:
        """Crops per step over all processes."""
        return self.batch_size * self.world_size

    # ------------------------------------------------------------------ pieces
    def _pick(self, step: int) -> list[int]:
        """Utterance indices of the step's *global* batch (speaker-major for GE2E batches).

        Cheap (no audio): every process computes it and takes its slice.
        """
        cfg = self.config
        seed = int(cfg.seed)
        rng = np.random.default_rng([seed, int(step), 1])
        if not self.ge2e_batches:
            return [int(i) for i in rng.integers(0, len(self.corpus), size=self.global_batch_size)]
        count = cfg.speakers_per_batch * self.world_size
        speakers = rng.choice(len(self.corpus.speakers), size=count, replace=False)
        picks = []
        m = cfg.utterances_per_speaker
        for slot, s in enumerate(speakers):
            pool = self.corpus.indices(self.corpus.speakers[int(s)])
            slot_rng = np.random.default_rng([seed, int(step), 1, slot])
            chosen = slot_rng.choice(len(pool), size=m, replace=len(pool) < m)
            picks += [pool[int(c)] for c in chosen]
        return picks

    def _crops(self, picks: list[int], slots: range, step: int):
        waves, nuisance = [], []
        for slot in slots:
            i = picks[slot]
            rng = np.random.default_rng([int(self.config.seed), int(step), 3, slot])
            x = random_crop(self.corpus.audio(i), self.crop, rng)
            chain = self.augmentation.for_speaker(self.corpus.utterances[i].speaker)
            y, log = _augment(chain, x, self.sample_rate, int(rng.integers(_MAX_SEED)))
            waves.append(y)
            nuisance.append(nuisance_vector(log))
        return np.stack(waves), np.stack(nuisance)

    def _timbre(self, picks: list[int], step: int):
        """``(U, K, Tc)`` degraded and clean chunks of this process's timbre slots.

        Global timbre slot ``u`` takes the first utterance of the ``u``-th batch speaker (a
        random crop of the batch for AAM batches; a random batch utterance past them).
        """
        cfg = self.config
        k, chunk = cfg.timbre_chunks, self.chunk
        firsts = picks[:: cfg.utterances_per_speaker] if self.ge2e_batches else picks
        count = cfg.timbre_utterances or cfg.speakers_per_batch
        noisy, clean = [], []
        for slot in range(self.rank * count, (self.rank + 1) * count):
            rng = np.random.default_rng([int(cfg.seed), int(step), 2, slot])
            i = firsts[slot] if slot < len(firsts) else picks[int(rng.integers(len(picks)))]
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
        """This process's slice of the batch of ``step`` (deterministic in ``(seed, step)``)."""
        import torch

        picks = self._pick(step)
        slots = range(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        waves, nuisance = self._crops(picks, slots, step)
        noisy = clean = None
        if self.config.timbre_weight > 0:
            t_noisy, t_clean = self._timbre(picks, step)
            noisy, clean = torch.from_numpy(t_noisy), torch.from_numpy(t_clean)
        n, m = (
            (self.config.speakers_per_batch, self.config.utterances_per_speaker)
            if self.ge2e_batches
            else (0, 0)
        )
        local = [picks[s] for s in slots]
        return Batch(
            step=int(step),
            waves=torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)),
            labels=torch.from_numpy(self._labels[local]),
            nuisance=torch.from_numpy(nuisance.reshape(len(local), len(NUISANCE_FIELDS))),
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
