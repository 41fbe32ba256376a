"""The training degradation chain, built from an :class:`~voxref.train.config.AugmentConfig`.

One chain per training speaker: its babble is made of the *other* training speakers, so a crop
is never mixed with its own voice. Chains are :class:`voxref.augment.Compose` objects, so every
call is seeded and logs what it applied (the log becomes the nuisance vector of the vCLUB
penalty).

Examples
--------
>>> import numpy as np
>>> from voxref.train.config import AugmentConfig
>>> pool = {"a": [np.ones(800, "float32")], "b": [np.ones(800, "float32")]}
>>> chains = AugmentationFactory(AugmentConfig(noise_prob=1.0, babble_prob=0.0), pool)
>>> y, log = chains.for_speaker("a").augment(np.sin(np.arange(16000) / 7).astype("float32"),
...                                          16000, seed=0)
>>> log.names()[0] in ("noise", "reverb")
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..augment import AddBabble, AddNoise, Compose, Gain, OneOf, Reverb, Telephone
from .config import AugmentConfig

__all__ = ["AugmentationFactory", "build_chain"]


def build_chain(cfg: AugmentConfig, babble_pool: Sequence[np.ndarray] = ()) -> Compose | None:
    """The :class:`~voxref.augment.Compose` for ``cfg`` (``None`` when augmentation is off).

    Order: reverberation (the room), additive noise or babble (what the microphone also
    picks up), telephone channel, gain. Babble needs ``babble_pool`` (other talkers' speech);
    without it only colored noise is used.
    """
    if not cfg.enabled:
        return None
    steps = []
    if cfg.reverb_prob > 0:
        steps.append((Reverb(rt60=cfg.rt60, drr_db=cfg.drr_db), cfg.reverb_prob))
    if cfg.noise_prob > 0:
        colored = AddNoise(snr_db=cfg.noise_snr, noise=list(cfg.noise_types))
        pool = list(babble_pool)
        if cfg.babble_prob > 0 and pool:
            lo, hi = cfg.babble_speakers
            babble = AddBabble(pool, snr_db=cfg.babble_snr, num_speakers=(lo, max(lo, hi)))
            noise = OneOf([colored, babble], weights=[1.0 - cfg.babble_prob, cfg.babble_prob])
        else:
            noise = colored
        steps.append((noise, cfg.noise_prob))
    if cfg.telephone_prob > 0:
        steps.append((Telephone(codec=["mulaw", "alaw", None]), cfg.telephone_prob))
    if cfg.gain_prob > 0:
        steps.append((Gain(cfg.gain_db), cfg.gain_prob))
    return Compose(steps) if steps else None


class AugmentationFactory:
    """Per-speaker degradation chains whose babble excludes that speaker.

    Parameters
    ----------
    cfg
        The recipe.
    speech_by_speaker
        Training speech per speaker (arrays at the training sample rate): the babble pool.
    max_babble_utterances
        At most this many utterances (spread over speakers) form each speaker's babble pool.
    """

    def __init__(
        self,
        cfg: AugmentConfig,
        speech_by_speaker: Mapping[str, Sequence[np.ndarray]],
        max_babble_utterances: int = 200,
    ) -> None:
        self.cfg = cfg
        self._speech = {s: list(v) for s, v in speech_by_speaker.items()}
        self._max = int(max_babble_utterances)
        self._chains: dict[str, Compose | None] = {}

    def for_speaker(self, speaker: str) -> Compose | None:
        """The chain used for ``speaker``'s crops (built once)."""
        if speaker not in self._chains:
            others = [u for s, utts in self._speech.items() if s != speaker for u in utts]
            if len(others) > self._max:  # an even, deterministic thinning
                idx = np.linspace(0, len(others) - 1, self._max).round().astype(int)
                others = [others[i] for i in idx]
            self._chains[speaker] = build_chain(self.cfg, others)
        return self._chains[speaker]
