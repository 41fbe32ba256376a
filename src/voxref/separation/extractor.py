"""A guide-conditioned time-frequency mask estimator for target-speaker extraction.

:class:`TargetExtractor` is a small SpeakerBeam / VoiceFilter-style network: it takes the
magnitude STFT of a mixture and an embedding of the wanted speaker (the *guide*, e.g. a unit-norm
GE2E vector from :meth:`voxref.embedder.ge2e.GE2EEncoder.embed_utterance`) and predicts a mask in
``[0, 1]`` for every time-frequency bin. :meth:`TargetExtractor.extract` applies the mask to the
complex STFT and resynthesises with the mixture's phase, so the output has exactly the input's
length.

Architecture: level-normalised log magnitude ``(T, F)`` -> linear + layer norm -> FiLM by the
guide (per-channel scale and shift, SpeakerBeam's multiplicative adaptation generalised) -> a
bidirectional GRU stack -> a second FiLM by the guide -> linear -> sigmoid mask ``(T, F)``. The
whole reference is processed at once (offline), so the recurrent layers are bidirectional.

The trained weights are made by ``scripts/train_target_extractor.py`` (synthetic voices of the
benchmark corpus mixed with ``voxref.augment.overlap.add_overlap``); that script writes
``voxref/data/target_extractor.pt`` only when extraction beats window selection on held-apart
speakers.

Checkpoints (:meth:`TargetExtractor.save`) hold only tensors and plain Python values
(``{"format", "config", "state_dict", "metadata"}``) and load with
``torch.load(..., weights_only=True)``.

Importing this module imports torch.

Examples
--------
>>> import numpy as np
>>> net = TargetExtractor(hidden=16, layers=1, embedding_dim=8, seed=0)
>>> x = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
>>> guide = np.eye(8, dtype=np.float32)[0]
>>> y = net.extract(x, 16000, guide)
>>> y.shape == x.shape, y.dtype
(True, dtype('float32'))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import (
    AudioShapeError,
    ConfigError,
)
from ..loading.modules import SavedModule, shipped_checkpoint
from ..seeding import seeded_init

__all__ = ["CHECKPOINT_FORMAT", "DEFAULT_CHECKPOINT", "TargetExtractor", "default_checkpoint"]

CHECKPOINT_FORMAT = "voxref.target_extractor/1"
DEFAULT_CHECKPOINT = "target_extractor.pt"
_EPS = 1e-5


def default_checkpoint() -> Path:
    """Path of the shipped checkpoint (``voxref/data/target_extractor.pt``; may not exist).

    Examples
    --------
    >>> default_checkpoint().name
    'target_extractor.pt'
    """
    return shipped_checkpoint(DEFAULT_CHECKPOINT)


class TargetExtractor(SavedModule, nn.Module):
    """Mask estimator conditioned on a speaker embedding (see the module docstring).

    Parameters
    ----------
    n_fft
        STFT size (Hann window of the same length) at ``sample_rate``.
    hop
        STFT hop in samples.
    hidden
        Width of the input projection and of each GRU direction.
    layers
        Number of bidirectional GRU layers.
    embedding_dim
        Dimension of the guide embedding (256 for GE2E).
    sample_rate
        Rate the network works at; :meth:`extract` resamples other rates.
    seed
        Seeds the initialisation (the global RNG state is restored afterwards); ``None`` uses
        torch's global RNG.

    Examples
    --------
    >>> net = TargetExtractor(hidden=8, layers=1, embedding_dim=4, seed=0)
    >>> spec = torch.rand(2, 50, net.num_bins)
    >>> m = net(spec, torch.nn.functional.normalize(torch.randn(2, 4), dim=-1))
    >>> m.shape, bool(((m >= 0) & (m <= 1)).all())
    (torch.Size([2, 50, 257]), True)
    """

    checkpoint_format = CHECKPOINT_FORMAT
    checkpoint_file = DEFAULT_CHECKPOINT
    checkpoint_what = "target extractor"
    trained_by = "scripts/train_target_extractor.py"

    def __init__(
        self,
        n_fft: int = 512,
        hop: int = 160,
        hidden: int = 128,
        layers: int = 2,
        embedding_dim: int = 256,
        sample_rate: int = 16_000,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if n_fft < 16 or hop < 1 or hop > n_fft or hidden < 1 or layers < 1 or embedding_dim < 1:
            raise ConfigError(
                f"invalid TargetExtractor config: n_fft={n_fft}, hop={hop}, hidden={hidden}, "
                f"layers={layers}, embedding_dim={embedding_dim} (need 1 <= hop <= n_fft, "
                "n_fft >= 16, positive sizes)."
            )
        self.config = {
            "n_fft": int(n_fft),
            "hop": int(hop),
            "hidden": int(hidden),
            "layers": int(layers),
            "embedding_dim": int(embedding_dim),
            "sample_rate": int(sample_rate),
        }
        self.metadata: dict = {}
        bins = self.num_bins
        with seeded_init(seed):
            self.proj = nn.Linear(bins, hidden)
            self.norm = nn.LayerNorm(hidden)
            self.film_in = nn.Linear(embedding_dim, 2 * hidden)
            self.rnn = nn.GRU(
                hidden, hidden, num_layers=layers, batch_first=True, bidirectional=True
            )
            self.film_out = nn.Linear(embedding_dim, 4 * hidden)
            self.out = nn.Linear(2 * hidden, bins)
            # FiLM starts as the identity (scale 1, shift 0): the guide's effect is learned
            for film in (self.film_in, self.film_out):
                nn.init.zeros_(film.weight)
                nn.init.zeros_(film.bias)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @property
    def num_bins(self) -> int:
        """Frequency bins of the STFT (``n_fft // 2 + 1``)."""
        return self.config["n_fft"] // 2 + 1

    # ------------------------------------------------------------------ signal <-> STFT
    def stft(self, samples: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, T, F)`` of waveforms ``(B, N)`` (centred frames, Hann window)."""
        spec = torch.stft(
            samples,
            self.config["n_fft"],
            self.config["hop"],
            window=self.window,
            center=True,
            return_complex=True,
        )
        return spec.transpose(1, 2)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Waveforms ``(B, length)`` from a complex STFT ``(B, T, F)``."""
        return torch.istft(
            spec.transpose(1, 2),
            self.config["n_fft"],
            self.config["hop"],
            window=self.window,
            center=True,
            length=length,
        )

    # ------------------------------------------------------------------ network
    def forward(self, magnitude: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """Mask ``(B, T, F)`` in ``[0, 1]`` for mixture magnitudes ``(B, T, F)`` and guides ``(B, D)``.

        The input is made level-invariant (log magnitude minus its mean over the whole
        spectrogram), so scaling the mixture does not change the mask.
        """
        if magnitude.ndim != 3 or magnitude.shape[-1] != self.num_bins:
            raise ConfigError(
                f"magnitude must be (batch, frames, {self.num_bins}); got {tuple(magnitude.shape)}."
            )
        if guide.ndim != 2 or guide.shape != (magnitude.shape[0], self.config["embedding_dim"]):
            raise ConfigError(
                f"guide must be (batch, {self.config['embedding_dim']}); got {tuple(guide.shape)}."
            )
        x = torch.log(magnitude + _EPS)
        x = x - x.mean(dim=(1, 2), keepdim=True)
        h = self.norm(self.proj(x))
        g_scale, g_shift = self.film_in(guide).unsqueeze(1).chunk(2, dim=-1)
        h = torch.relu(h * (1.0 + g_scale) + g_shift)
        h, _ = self.rnn(h)
        o_scale, o_shift = self.film_out(guide).unsqueeze(1).chunk(2, dim=-1)
        h = torch.relu(h * (1.0 + o_scale) + o_shift)
        return torch.sigmoid(self.out(h))

    def separate(
        self, samples: torch.Tensor, guide: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable extraction: ``(waveforms (B, N), mask (B, T, F))`` from ``(B, N)`` + ``(B, D)``."""
        spec = self.stft(samples)
        mask = self(spec.abs(), guide)
        return self.istft(spec * mask, samples.shape[-1]), mask

    @torch.no_grad()
    def extract(self, samples: np.ndarray, sample_rate: int, guide: np.ndarray) -> np.ndarray:
        """The target speaker's signal in ``samples`` (float32, same length and rate).

        Parameters
        ----------
        samples
            1-D mixture.
        sample_rate
            Its rate; resampled to the network's rate and back when different.
        guide
            Embedding of the target speaker ``(embedding_dim,)`` (normalised here).

        Returns
        -------
        numpy.ndarray
            The masked mixture, resynthesised with the mixture's phase.
        """
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1 or x.size == 0:
            raise AudioShapeError(f"samples must be a non-empty 1-D array; got shape {x.shape}.")
        g = np.asarray(guide, dtype=np.float32).reshape(-1)
        if g.shape[0] != self.config["embedding_dim"] or not np.all(np.isfinite(g)):
            raise ConfigError(
                f"guide must be a finite ({self.config['embedding_dim']},) embedding; got "
                f"shape {g.shape}. Embed a clean reference with the same encoder."
            )
        g = g / max(float(np.linalg.norm(g)), 1e-8)
        from ..audio.resample import run_at_rate

        def run(work: np.ndarray) -> np.ndarray:
            was_training = self.training
            self.eval()
            try:
                y, _ = self.separate(torch.from_numpy(work)[None], torch.from_numpy(g)[None])
            finally:
                self.train(was_training)
            return y[0].numpy()

        return run_at_rate(x, sample_rate, self.config["sample_rate"], run)
