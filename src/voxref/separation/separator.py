"""A speaker-independent two-talker separator (time-frequency masks, permutation-invariant).

:class:`TwoSpeakerSeparator` splits a mono recording into two streams, one per talker, without
knowing who either is: it is trained with utterance-level permutation-invariant training (uPIT,
Kolbaek et al. 2017), so it learns *how* two voices differ (harmonic structure, continuity),
not *which* voices exist. Which stream is the target is decided afterwards by the guide (the
other references or an enrollment embedding, :func:`voxref.separation.guided_streams`): this is
why it generalises from a few dozen training voices where a guide-conditioned extractor
(:mod:`.extractor`) did not.

Architecture: log power spectrogram (level-normalised) -> 1x1 convolution -> a temporal
convolutional network (depthwise-separable dilated 1-D convolutions with residual connections,
Conv-TasNet's separator on STFT frames) -> two sigmoid masks ``(2, T, F)`` applied to the complex
STFT, resynthesised with the mixture's phase; the output has exactly the input's length.

Trained weights come from ``scripts/train_separator.py`` (espeak-ng voices that are not in the
benchmark corpus, mixed with :func:`voxref.augment.overlap.add_overlap`). Checkpoints
(:meth:`TwoSpeakerSeparator.save`) hold only tensors and plain values and load with
``torch.load(..., weights_only=True)``.

Importing this module imports torch.

Examples
--------
>>> import numpy as np
>>> net = TwoSpeakerSeparator(channels=8, hidden=16, blocks=2, repeats=1, seed=0)
>>> x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
>>> streams = net.split(x, 16000)
>>> streams.shape, streams.dtype
((2, 8000), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import AudioShapeError, ConfigError
from ..loading.modules import SavedModule, shipped_checkpoint
from ..seeding import seeded_init

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_CHECKPOINT",
    "TwoSpeakerSeparator",
    "default_checkpoint",
    "pit_separation_loss",
    "pit_si_sdr_loss",
    "si_sdr",
    "snr",
    "weaker_stream_db",
]

CHECKPOINT_FORMAT = "voxref.two_speaker_separator/1"
DEFAULT_CHECKPOINT = "two_speaker_separator.pt"
_EPS = 1e-8


def default_checkpoint() -> Path:
    """Path of the shipped checkpoint (``voxref/data/two_speaker_separator.pt``; may not exist).

    Examples
    --------
    >>> default_checkpoint().name
    'two_speaker_separator.pt'
    """
    return shipped_checkpoint(DEFAULT_CHECKPOINT)


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR in dB over the last axis (zero-mean signals).

    Examples
    --------
    >>> t = torch.sin(torch.arange(1000.0) / 5)
    >>> round(float(si_sdr(3 * t, t)), 1) > 60
    True
    >>> float(si_sdr(0 * t, t))  # silence holds none of the reference
    -80.0
    """
    est = estimate - estimate.mean(dim=-1, keepdim=True)
    ref = reference - reference.mean(dim=-1, keepdim=True)
    # from the correlation: SI-SDR = 10 log10(rho^2 / (1 - rho^2)); the same value as projecting
    # onto the reference, but a silent estimate scores -80 dB (none of the reference in it), not
    # the 0 dB that 0/0 gives, which a loss with single-voice examples would learn to exploit
    rho2 = (est * ref).sum(-1).pow(2) / (est.pow(2).sum(-1) * ref.pow(2).sum(-1) + _EPS**2)
    rho2 = rho2.clamp(0.0, 1.0)  # rounding can take it a hair above 1
    return 10 * torch.log10(rho2 / (1 - rho2 + _EPS) + _EPS)


def _check_pair(estimates: torch.Tensor, sources: torch.Tensor) -> None:
    if estimates.shape != sources.shape or estimates.ndim != 3 or estimates.shape[1] != 2:
        raise ConfigError(
            f"estimates and sources must both be (batch, 2, samples); got "
            f"{tuple(estimates.shape)} and {tuple(sources.shape)}."
        )


def _best_order_score(
    score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    estimates: torch.Tensor,
    sources: torch.Tensor,
) -> torch.Tensor:
    """Per example ``(B,)``: the mean ``score`` of the two streams in the better of the two
    stream orders (utterance-level PIT); checks the shapes first."""
    _check_pair(estimates, sources)
    same = (score(estimates[:, 0], sources[:, 0]) + score(estimates[:, 1], sources[:, 1])) / 2
    swap = (score(estimates[:, 0], sources[:, 1]) + score(estimates[:, 1], sources[:, 0])) / 2
    return torch.maximum(same, swap)


def pit_si_sdr_loss(estimates: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """Negative SI-SDR of the better of the two stream orders, averaged over the batch.

    ``estimates`` and ``sources`` are ``(B, 2, N)``; each example takes the permutation with the
    higher mean SI-SDR (utterance-level PIT).

    Examples
    --------
    >>> s = torch.randn(3, 2, 800)
    >>> bool(pit_si_sdr_loss(s.flip(1), s) < -60)  # the swapped order is found
    True
    """
    return -_best_order_score(si_sdr, estimates, sources).mean()


def snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio of ``estimate`` to ``reference`` in dB over the last axis.

    Unlike :func:`si_sdr` the scale counts: a stream far too quiet (or silent) scores 0 dB, not
    the SI-SDR of its shape.

    Examples
    --------
    >>> t = torch.sin(torch.arange(1000.0) / 5)
    >>> round(float(snr(0.9 * t, t)), 1), round(float(snr(0 * t, t)), 1)
    (20.0, 0.0)
    """
    err = (estimate - reference).pow(2).sum(-1)
    return 10 * torch.log10((reference.pow(2).sum(-1) + _EPS) / (err + _EPS))


def pit_separation_loss(
    estimates: torch.Tensor,
    sources: torch.Tensor,
    single: torch.Tensor,
    *,
    silence_weight: float = 0.1,
    floor_db: float = -30.0,
    max_db: float = 30.0,
) -> torch.Tensor:
    """Permutation-invariant negative SNR that also teaches the separator to say "one voice".

    Two-voice examples: the negative mean :func:`snr` of the better stream order (uPIT). SNR,
    not SI-SDR: SI-SDR ignores the scale, so a stream kept 40 dB too quiet would still score,
    and a separator taught that one voice leaves the second stream quiet learns to keep it quiet
    always. Examples where ``single`` is true hold one voice (``sources[:, 0]``;
    ``sources[:, 1]`` is silent): the negative SNR of the stream that holds it plus
    ``silence_weight`` times the other stream's energy in dB relative to the mixture's, floored
    at ``floor_db`` (the better assignment). SNR counts up to ``max_db``. Averaged over the
    batch. The silence reward is kept small (at most ``silence_weight * -floor_db`` = 3 dB per
    single-voice example) so that muting the second stream everywhere never pays.

    A separator trained this way leaves the second stream near silent for a single voice, so
    :func:`weaker_stream_db` tells one voice from two.

    Examples
    --------
    >>> s = torch.randn(2, 2, 800)
    >>> s[1, 1] = 0
    >>> single = torch.tensor([False, True])
    >>> at_optimum = pit_separation_loss(s.flip(1), s, single)
    >>> leaky = s.clone()
    >>> leaky[1, 1] = 0.3 * s[1, 0]
    >>> bool(at_optimum < pit_separation_loss(leaky, s, single))
    True
    """
    _check_pair(estimates, sources)
    single = torch.as_tensor(single, dtype=torch.bool, device=estimates.device)
    if single.shape != estimates.shape[:1]:
        raise ConfigError(f"single must be (batch,); got {tuple(single.shape)}.")

    def score(e: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return snr(e, r).clamp(max=max_db)

    two = -_best_order_score(score, estimates, sources)
    mix_energy = sources.sum(dim=1).pow(2).sum(-1, keepdim=True) + _EPS
    rel_db = 10 * torch.log10(estimates.pow(2).sum(-1) / mix_energy + _EPS)  # (B, 2)
    quiet = torch.clamp(rel_db, min=floor_db)
    voice = sources[:, 0]
    first = -score(estimates[:, 0], voice) + silence_weight * quiet[:, 1]
    second = -score(estimates[:, 1], voice) + silence_weight * quiet[:, 0]
    one = torch.minimum(first, second)
    return torch.where(single, one, two).mean()


def weaker_stream_db(streams: np.ndarray, mixture: np.ndarray) -> float:
    """Energy of the quieter of two separated streams relative to the mixture, in dB.

    Near 0 to -10 dB when the mixture holds two talkers; far lower for one voice when the
    separator was trained with single-voice examples (:func:`pit_separation_loss`): the
    checkpoint's ``metadata["two_voice_threshold_db"]`` is the calibrated boundary.

    Examples
    --------
    >>> t = np.linspace(0, 1, 1000)
    >>> a, b = np.sin(40 * t), 0.1 * np.sin(70 * t)
    >>> round(weaker_stream_db(np.stack([a, b]), a + b))
    -20
    """
    s = np.asarray(streams, dtype=np.float64)
    m = np.asarray(mixture, dtype=np.float64)
    energy = (s**2).sum(axis=-1)
    return float(10 * np.log10(energy.min() / max(float((m**2).sum()), 1e-20) + 1e-20))


class _Block(nn.Module):
    """Residual depthwise-separable dilated convolution block (Conv-TasNet style)."""

    def __init__(self, channels: int, hidden: int, dilation: int, kernel: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, hidden, 1),
            nn.PReLU(),
            nn.GroupNorm(1, hidden),
            nn.Conv1d(
                hidden,
                hidden,
                kernel,
                dilation=dilation,
                padding=dilation * (kernel - 1) // 2,
                groups=hidden,
            ),
            nn.PReLU(),
            nn.GroupNorm(1, hidden),
            nn.Conv1d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class TwoSpeakerSeparator(SavedModule, nn.Module):
    """Two-stream mask estimator (see the module docstring).

    Parameters
    ----------
    n_fft, hop
        STFT size (Hann window of the same length) and hop, in samples at ``sample_rate``.
    channels
        Width of the residual stream of the convolutional network.
    hidden
        Width inside each block.
    blocks
        Blocks per repeat; block ``b`` has dilation ``2**b``.
    repeats
        How many times the dilation ladder is stacked.
    sample_rate
        Rate the network works at; :meth:`split` resamples other rates (and says so in the log).
    seed
        Seeds the initialisation (torch's global RNG state is restored afterwards).

    Examples
    --------
    >>> net = TwoSpeakerSeparator(channels=8, hidden=16, blocks=2, repeats=1, seed=0)
    >>> m = net(torch.rand(2, 40, net.num_bins))
    >>> m.shape, bool(((m >= 0) & (m <= 1)).all())
    (torch.Size([2, 2, 40, 257]), True)
    """

    checkpoint_format = CHECKPOINT_FORMAT
    checkpoint_file = DEFAULT_CHECKPOINT
    checkpoint_what = "two-speaker separator"
    trained_by = "scripts/train_separator.py"

    def __init__(
        self,
        n_fft: int = 512,
        hop: int = 128,
        channels: int = 128,
        hidden: int = 256,
        blocks: int = 6,
        repeats: int = 2,
        sample_rate: int = 16_000,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if min(n_fft, hop, channels, hidden, blocks, repeats) < 1 or hop > n_fft or n_fft < 16:
            raise ConfigError(
                f"invalid TwoSpeakerSeparator config: n_fft={n_fft}, hop={hop}, "
                f"channels={channels}, hidden={hidden}, blocks={blocks}, repeats={repeats} "
                "(need positive sizes, n_fft >= 16 and hop <= n_fft)."
            )
        self.config = {
            "n_fft": int(n_fft),
            "hop": int(hop),
            "channels": int(channels),
            "hidden": int(hidden),
            "blocks": int(blocks),
            "repeats": int(repeats),
            "sample_rate": int(sample_rate),
        }
        self.metadata: dict = {}
        bins = self.num_bins
        with seeded_init(seed):
            self.inp = nn.Sequential(nn.GroupNorm(1, bins), nn.Conv1d(bins, channels, 1))
            self.tcn = nn.Sequential(
                *[
                    _Block(channels, hidden, 2**b)
                    for _ in range(int(repeats))
                    for b in range(int(blocks))
                ]
            )
            self.out = nn.Sequential(nn.PReLU(), nn.Conv1d(channels, 2 * bins, 1))
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @property
    def two_voice_threshold_db(self) -> float | None:
        """Level of the quieter stream (:func:`weaker_stream_db`) above which a recording holds
        two voices; calibrated by ``scripts/train_separator.py`` on held-apart voices and kept in
        ``metadata``. ``None`` for a separator trained without single-voice examples."""
        value = self.metadata.get("two_voice_threshold_db")
        return None if value is None else float(value)

    @property
    def separation_threshold_db(self) -> float | None:
        """Level of the quieter stream above which :class:`voxref.Embedder` separates a
        reference: ``metadata["separation_threshold_db"]`` when the checkpoint has one, else
        :attr:`two_voice_threshold_db`. It may be stricter than the gate's equal-error point: a
        single voice taken for two loses part of itself, while a faint second talker left in
        costs little (the shipped checkpoint's value was chosen on the quality benchmark,
        ``benchmarks/results/separation_threshold.json``)."""
        value = self.metadata.get("separation_threshold_db")
        return self.two_voice_threshold_db if value is None else float(value)

    @property
    def num_bins(self) -> int:
        """Frequency bins of the STFT (``n_fft // 2 + 1``)."""
        return self.config["n_fft"] // 2 + 1

    def stft(self, samples: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, T, F)`` of waveforms ``(B, N)`` (centred frames, Hann window)."""
        c = self.config
        spec = torch.stft(
            samples, c["n_fft"], c["hop"], window=self.window, center=True, return_complex=True
        )
        return spec.transpose(1, 2)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Waveforms ``(..., length)`` from a complex STFT ``(..., T, F)``."""
        c = self.config
        lead = spec.shape[:-2]
        flat = spec.reshape(-1, *spec.shape[-2:]).transpose(1, 2)
        y = torch.istft(flat, c["n_fft"], c["hop"], window=self.window, center=True, length=length)
        return y.reshape(*lead, length)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Masks ``(B, 2, T, F)`` in ``[0, 1]`` for mixture magnitudes ``(B, T, F)``.

        The input is the log power minus its mean over the whole spectrogram, so scaling the
        mixture does not change the masks.
        """
        if magnitude.ndim != 3 or magnitude.shape[-1] != self.num_bins:
            raise ConfigError(
                f"magnitude must be (batch, frames, {self.num_bins}); got {tuple(magnitude.shape)}."
            )
        x = torch.log(magnitude.pow(2) + 1e-10)
        x = x - x.mean(dim=(1, 2), keepdim=True)
        h = self.tcn(self.inp(x.transpose(1, 2)))
        m = torch.sigmoid(self.out(h))  # (B, 2F, T)
        b, _, t = m.shape
        return m.reshape(b, 2, self.num_bins, t).transpose(2, 3)

    def separate(self, samples: torch.Tensor) -> torch.Tensor:
        """Differentiable separation: streams ``(B, 2, N)`` of waveforms ``(B, N)``."""
        spec = self.stft(samples)
        masks = self(spec.abs())
        return self.istft(spec.unsqueeze(1) * masks, samples.shape[-1])

    @torch.no_grad()
    def split(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """The two talkers of ``samples``: float32 ``(2, N)`` at ``sample_rate``, same length.

        Stream order carries no meaning; pick the target with a guide. Other rates are resampled
        to the network's rate and back.
        """
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1 or x.size == 0:
            raise AudioShapeError(f"samples must be a non-empty 1-D array; got shape {x.shape}.")
        if not np.all(np.isfinite(x)):
            raise AudioShapeError("samples contain NaN or infinity; clean the signal first.")
        from ..audio.resample import run_at_rate

        def run(work: np.ndarray) -> np.ndarray:
            was_training = self.training
            self.eval()
            try:
                return self.separate(torch.from_numpy(work)[None])[0].numpy()
            finally:
                self.train(was_training)

        return run_at_rate(x, sample_rate, self.config["sample_rate"], run)
