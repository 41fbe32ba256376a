"""Frame-level speaker counting: how many people talk in each 10 ms frame (0, 1, 2 or more).

:class:`SpeakerCountNet` looks at the log power spectrum below ``max_freq`` (4 kHz by default,
so telephone and wide-band audio look alike) and labels every frame "nobody", "one speaker" or
"overlap". The diarizer (:class:`voxref.separation.Diarizer`, ``overlap_detector=``) adds the
runner-up speaker where it says overlap: the clustering of speaker embeddings cannot see two
voices in one window, a frame-level classifier can (pyannote's segmentation models do the
same with a powerset output; this one only counts, speaker identity stays with the clustering).

Architecture: log power spectrogram (25 ms Hann window, 10 ms hop, bins up to ``max_freq``),
minus its mean over the whole chunk (so the level cancels, the spectral shape stays) -> two 1-D
convolutions -> a bidirectional GRU -> three logits per frame. About 0.16 M weights.

Trained weights come from ``scripts/train_overlap_detector.py`` (synthetic conversations of
espeak-ng voices that neither the benchmark corpus nor :mod:`.synthetic` use, with noise,
reverberation and telephone band-limiting). Checkpoints (:meth:`SpeakerCountNet.save`) hold
only tensors and plain values and load with ``torch.load(..., weights_only=True)``.

Importing this module imports torch.

Examples
--------
>>> import numpy as np
>>> net = SpeakerCountNet(channels=16, hidden=8, seed=0)
>>> x = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
>>> p = net.probabilities(x, 16000)
>>> p.shape, bool(np.allclose(p.sum(axis=1), 1.0, atol=1e-5))
((100, 3), True)
"""

from __future__ import annotations

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
    "SpeakerCountNet",
    "count_labels",
    "default_checkpoint",
    "overlap_frames",
    "source_activity",
]

CHECKPOINT_FORMAT = "voxref.speaker_count/1"
DEFAULT_CHECKPOINT = "speaker_count.pt"


def default_checkpoint() -> Path:
    """Path of the shipped checkpoint (``voxref/data/speaker_count.pt``; may not exist).

    Examples
    --------
    >>> default_checkpoint().name
    'speaker_count.pt'
    """
    return shipped_checkpoint(DEFAULT_CHECKPOINT)


def count_labels(activity: np.ndarray) -> np.ndarray:
    """Per-frame class (0 nobody, 1 one speaker, 2 two or more) from ``(S, T)`` 0/1 activity.

    Examples
    --------
    >>> count_labels(np.array([[0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 1, 0]])).tolist()
    [0, 1, 2, 1]
    """
    a = np.asarray(activity)
    if a.ndim != 2:
        raise ConfigError(f"activity must be (speakers, frames); got shape {a.shape}.")
    return np.minimum(a.astype(bool).sum(axis=0), 2).astype(np.int64)


def source_activity(
    track: np.ndarray,
    sample_rate: int,
    hop: int,
    *,
    floor_db: float = -40.0,
    fill: float = 0.2,
) -> np.ndarray:
    """0/1 activity per ``hop``-sample frame of one dry (isolated) voice track, annotated the
    way people mark turns: frames louder than ``floor_db`` below the track's loudest frame
    count, and pauses shorter than ``fill`` seconds inside speech are filled (word gaps belong to
    the turn).

    Examples
    --------
    >>> x = np.zeros(16000, np.float32)
    >>> x[1600:4800] = 0.5; x[6400:9600] = 0.5  # two bursts 0.1 s apart
    >>> a = source_activity(x, 16000, 160, fill=0.2)
    >>> int(a[:10].sum()), int(a[10:60].sum()), int(a[60:].sum())
    (0, 50, 0)
    """
    from .resegment import runs

    x = np.asarray(track, dtype=np.float64)
    n = len(x) // hop
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    power = np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1)
    peak = float(power.max())
    if peak <= 0:
        return np.zeros(n, dtype=np.int64)
    active = (power > peak * 10 ** (floor_db / 10)).astype(np.int64)
    gap = int(round(fill * sample_rate / hop))
    on = np.flatnonzero(active)
    for a, b, v in runs(active):
        if not v and b - a <= gap and len(on) and on[0] < a and on[-1] >= b:
            active[a:b] = 1
    return active


def overlap_frames(
    probabilities: np.ndarray, threshold: float = 0.5, min_frames: int = 1
) -> np.ndarray:
    """Boolean ``(T,)``: frames whose overlap probability is above ``threshold``, in runs of at
    least ``min_frames``.

    Examples
    --------
    >>> p = np.array([[0, 1, 0], [0, .2, .8], [0, .3, .7], [0, .1, .9], [0, .9, .1], [0, .2, .8]])
    >>> overlap_frames(p, 0.5, min_frames=2).astype(int).tolist()
    [0, 1, 1, 1, 0, 0]
    """
    from .resegment import runs

    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ConfigError(f"probabilities must be (frames, 3); got shape {p.shape}.")
    hit = (p[:, 2] > threshold).astype(np.int64)
    for a, b, v in runs(hit):
        if v and b - a < min_frames:
            hit[a:b] = 0
    return hit.astype(bool)


class SpeakerCountNet(SavedModule, nn.Module):
    """Per-frame speaker count classifier (see the module docstring).

    Parameters
    ----------
    n_fft, win, hop
        STFT size, Hann window length and hop, in samples at ``sample_rate``.
    max_freq
        Highest frequency (Hz) the network sees.
    channels
        Width of the convolutional front end.
    hidden
        GRU units per direction.
    layers
        GRU layers.
    sample_rate
        Rate the network works at; :meth:`probabilities` resamples other rates.
    chunk
        Seconds the network sees at once in :meth:`probabilities` (as in training); chunks
        overlap by half and their outputs are cross-faded.
    seed
        Seeds the initialisation (torch's global RNG state is restored afterwards).

    Examples
    --------
    >>> net = SpeakerCountNet(channels=16, hidden=8, seed=0)
    >>> net(torch.zeros(2, 16000)).shape  # logits (batch, frames, classes)
    torch.Size([2, 100, 3])
    """

    checkpoint_format = CHECKPOINT_FORMAT
    checkpoint_file = DEFAULT_CHECKPOINT
    checkpoint_what = "speaker-count network"
    trained_by = "scripts/train_overlap_detector.py"

    def __init__(
        self,
        n_fft: int = 512,
        win: int = 400,
        hop: int = 160,
        max_freq: float = 4000.0,
        channels: int = 64,
        hidden: int = 64,
        layers: int = 2,
        sample_rate: int = 16_000,
        chunk: float = 4.0,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if min(n_fft, win, hop, channels, hidden, layers) < 1 or win > n_fft or hop > win:
            raise ConfigError(
                f"invalid SpeakerCountNet config: n_fft={n_fft}, win={win}, hop={hop}, "
                f"channels={channels}, hidden={hidden}, layers={layers} (need positive sizes, "
                "hop <= win <= n_fft)."
            )
        if chunk * sample_rate < 2 * hop:
            raise ConfigError(f"chunk must hold at least two hops; got {chunk} s.")
        if not 0 < max_freq <= sample_rate / 2:
            raise ConfigError(f"max_freq must be in (0, {sample_rate / 2}] Hz; got {max_freq}.")
        self.config = {
            "n_fft": int(n_fft),
            "win": int(win),
            "hop": int(hop),
            "max_freq": float(max_freq),
            "channels": int(channels),
            "hidden": int(hidden),
            "layers": int(layers),
            "sample_rate": int(sample_rate),
            "chunk": float(chunk),
        }
        self.metadata: dict = {}
        bins = self.num_bins
        with seeded_init(seed):
            self.front = nn.Sequential(
                nn.Conv1d(bins, channels, 3, padding=1),
                nn.GroupNorm(1, channels),
                nn.PReLU(),
                nn.Conv1d(channels, channels, 3, padding=1),
                nn.GroupNorm(1, channels),
                nn.PReLU(),
            )
            self.rnn = nn.GRU(
                channels, hidden, num_layers=int(layers), batch_first=True, bidirectional=True
            )
            self.out = nn.Linear(2 * hidden, 3)
        self.register_buffer("window", torch.hann_window(win), persistent=False)

    @property
    def num_bins(self) -> int:
        """STFT bins the network sees (up to ``max_freq``)."""
        c = self.config
        return int(np.floor(c["max_freq"] / (c["sample_rate"] / c["n_fft"]))) + 1

    @property
    def frame_step(self) -> float:
        """Seconds between output frames."""
        return self.config["hop"] / self.config["sample_rate"]

    def features(self, samples: torch.Tensor) -> torch.Tensor:
        """Log power ``(B, bins, frames)`` of waveforms ``(B, N)`` minus its mean (per
        waveform); ``N // hop`` frames, frame ``t`` centred at ``(t + 0.5) * hop``."""
        c = self.config
        n = samples.shape[-1]
        frames = max(1, n // c["hop"])
        pad = (c["win"] - c["hop"]) // 2
        x = torch.nn.functional.pad(samples, (pad, c["win"] + c["hop"]))
        spec = torch.stft(
            x,
            c["n_fft"],
            c["hop"],
            win_length=c["win"],
            window=self.window,
            center=False,
            return_complex=True,
        )[:, : self.num_bins, :frames]
        logp = torch.log(spec.abs().pow(2) + 1e-10)
        return logp - logp.mean(dim=(1, 2), keepdim=True)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, frames, 3)`` (nobody / one / overlap) of waveforms ``(B, N)``."""
        if samples.ndim != 2:
            raise ConfigError(f"samples must be (batch, n); got {tuple(samples.shape)}.")
        h = self.front(self.features(samples)).transpose(1, 2)
        h, _ = self.rnn(h)
        return self.out(h)

    @torch.no_grad()
    def probabilities(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Class probabilities ``(frames, 3)`` of a mono recording, one row per
        :attr:`frame_step` seconds (frame ``t`` covers ``[t, t + 1) * frame_step``).

        Other rates are resampled to the network's rate first (and logged).
        """
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1 or x.size == 0:
            raise AudioShapeError(f"samples must be a non-empty 1-D array; got shape {x.shape}.")
        if not np.all(np.isfinite(x)):
            raise AudioShapeError("samples contain NaN or infinity; clean the signal first.")
        own = self.config["sample_rate"]
        if int(sample_rate) != own:
            import logging

            from ..audio.resample import resample

            logging.getLogger(__name__).info(
                "speaker count: resampling %d Hz -> %d Hz", sample_rate, own
            )
            x = resample(x, int(sample_rate), own).astype(np.float32)
        hop = self.config["hop"]
        size = int(self.config["chunk"] * own) // hop * hop
        n_frames = max(1, x.size // hop)
        if x.size <= size:
            starts = [0]
        else:
            last = (x.size - size) // hop * hop
            starts = sorted({*range(0, last + 1, max(hop, size // 2 // hop * hop)), last})
        fade = np.minimum(np.arange(1, size // hop + 1), np.arange(size // hop, 0, -1))
        total = np.zeros((n_frames, 3))
        weight = np.zeros(n_frames)
        was_training = self.training
        self.eval()
        try:
            for i in range(0, len(starts), 16):
                group = starts[i : i + 16]
                batch = np.stack([x[s : s + size] for s in group])
                probs = torch.softmax(self(torch.from_numpy(batch)), dim=-1).numpy()
                for s, p in zip(group, probs):
                    a = s // hop
                    m = min(len(p), n_frames - a)
                    w = fade[:m] if len(starts) > 1 else np.ones(m)
                    total[a : a + m] += w[:, None] * p[:m]
                    weight[a : a + m] += w
        finally:
            self.train(was_training)
        return total / np.maximum(weight, 1e-12)[:, None]
