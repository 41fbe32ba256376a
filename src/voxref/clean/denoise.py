"""Denoisers and the denoising policy.

Every denoiser follows the :class:`Denoiser` protocol: a ``name`` and
``denoise(samples, sample_rate) -> samples`` (mono float32, same rate and length, deterministic).

=========  ==================================================================================
policy     what runs
=========  ==================================================================================
``off``    :class:`NoDenoiser`: the audio passes unchanged.
``gate``   :class:`SpectralGate`: noisereduce spectral gating (non-stationary by default).
``dfn3``   :class:`~voxref.clean.dfn3.DeepFilterNet3`: the DeepFilterNet3 network.
``auto``   :class:`AutoDenoiser`: DeepFilterNet3 when the estimated SNR is below
           :data:`AUTO_SNR_THRESHOLD_DB`, otherwise nothing.
=========  ==================================================================================

Which policy helps a speaker embedding is an empirical question: denoising raises SNR and
perceived quality but also moves the voice. First evidence (``tests/clean/bench_denoise.py``:
4 synthetic fixture speakers, white and babble noise, cosine between the GE2E embedding of the
clean signal and that of the processed noisy one): DeepFilterNet3 brings the embedding closer to
the clean one at every SNR from 0 to 30 dB (white 5 dB: 0.64 -> 0.86; babble 20 dB: 0.90 -> 0.96;
30 dB: 0.96-0.97 -> 0.98) and costs little on clean speech (0.989); from ~35-40 dB doing nothing
is better. Spectral gating helps below ~10 dB but less than DeepFilterNet3, and damages clean
speech (0.87, stationary 0.67). Hence ``"auto"`` = DeepFilterNet3 below
:data:`AUTO_SNR_THRESHOLD_DB` of estimated SNR. The final default policy is to be chosen from the
full quality benchmark; both are parameters everywhere.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, MissingDependencyError

__all__ = [
    "Denoiser",
    "NoDenoiser",
    "SpectralGate",
    "AutoDenoiser",
    "get_denoiser",
    "DENOISE_POLICIES",
    "DEFAULT_POLICY",
    "AUTO_SNR_THRESHOLD_DB",
]

log = logging.getLogger(__name__)

#: Names accepted by :func:`get_denoiser`.
DENOISE_POLICIES = ("off", "gate", "dfn3", "auto")
#: Policy used when none is given.
DEFAULT_POLICY = "auto"
#: ``"auto"`` runs DeepFilterNet3 on recordings whose estimated SNR is below this (dB).
AUTO_SNR_THRESHOLD_DB = 30.0


@runtime_checkable
class Denoiser(Protocol):
    """Something that removes noise from mono audio."""

    name: str

    def denoise(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono float32 ``samples`` at ``sample_rate`` -> denoised samples, same rate and length."""
        ...


class NoDenoiser:
    """The ``"off"`` policy: returns a float32 copy of the input.

    Examples
    --------
    >>> NoDenoiser().denoise(np.ones(3), 16000).tolist()
    [1.0, 1.0, 1.0]
    """

    name = "off"

    def denoise(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        return np.array(samples, dtype=np.float32, copy=True)


class SpectralGate:
    """Spectral gating with ``noisereduce`` (deterministic; no randomness involved).

    Parameters
    ----------
    stationary
        ``False`` (default): the noise threshold follows a running estimate of each frequency's
        floor (``time_constant_s``), which copes with changing noise. ``True``: one threshold
        per frequency from the whole clip's statistics.
    prop_decrease
        Fraction of the gated noise removed (1.0 = all).
    time_constant_s
        Time constant of the non-stationary noise floor.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = 0.05 * rng.standard_normal(48000).astype(np.float32)  # 3 s of stationary noise
    >>> y = SpectralGate().denoise(x, 16000)
    >>> y.shape, bool(np.std(y) < 0.3 * np.std(x))
    ((48000,), True)
    """

    def __init__(
        self, stationary: bool = False, prop_decrease: float = 1.0, time_constant_s: float = 2.0
    ) -> None:
        self.stationary = bool(stationary)
        self.prop_decrease = float(prop_decrease)
        self.time_constant_s = float(time_constant_s)
        self.name = "gate-stationary" if self.stationary else "gate"

    def __repr__(self) -> str:
        return f"SpectralGate(stationary={self.stationary}, prop_decrease={self.prop_decrease:g})"

    def denoise(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        try:
            from noisereduce import reduce_noise
        except ImportError as exc:
            raise MissingDependencyError(
                "noisereduce", "noisereduce>=3", "Spectral-gate denoising"
            ) from exc
        x = np.asarray(samples, dtype=np.float32)
        if len(x) == 0:
            return x.copy()
        y = reduce_noise(
            y=x,
            sr=int(sample_rate),
            stationary=self.stationary,
            prop_decrease=self.prop_decrease,
            time_constant_s=self.time_constant_s,
            n_jobs=1,
            use_torch=False,
        )
        return np.ascontiguousarray(y[: len(x)], dtype=np.float32)


class AutoDenoiser:
    """The ``"auto"`` policy: denoise only recordings that need it.

    Parameters
    ----------
    threshold_db
        Recordings with an estimated SNR below this are passed to ``strong``.
    strong
        The denoiser for noisy recordings (default: DeepFilterNet3, built on first use).
    vad
        Detector used to estimate the SNR when :meth:`denoise` is not given one.

    Examples
    --------
    >>> auto = AutoDenoiser(strong=NoDenoiser())
    >>> auto.choose(25.0).name, auto.choose(3.0).name
    ('off', 'off')
    >>> AutoDenoiser(strong=SpectralGate()).choose(3.0).name
    'gate'
    """

    name = "auto"

    def __init__(
        self,
        threshold_db: float = AUTO_SNR_THRESHOLD_DB,
        strong: Denoiser | None = None,
        vad: str = "silero",
    ) -> None:
        self.threshold_db = float(threshold_db)
        self._strong = strong
        self.vad = vad
        self._off = NoDenoiser()

    @property
    def strong(self) -> Denoiser:
        if self._strong is None:
            from .dfn3 import DeepFilterNet3

            self._strong = DeepFilterNet3()
        return self._strong

    def choose(self, snr_db: float) -> Denoiser:
        """The denoiser for a recording with estimated SNR ``snr_db`` (``nan``: no speech -> off)."""
        if np.isfinite(snr_db) and snr_db < self.threshold_db:
            return self.strong
        return self._off

    def denoise(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        from .snr import estimate_snr

        snr = estimate_snr(samples, sample_rate, vad=self.vad)
        chosen = self.choose(snr)
        log.debug("auto denoise: SNR %.1f dB -> %s", snr, chosen.name)
        return chosen.denoise(samples, sample_rate)


def get_denoiser(
    policy: str | Denoiser = DEFAULT_POLICY, *, threshold_db: float = AUTO_SNR_THRESHOLD_DB
) -> Denoiser:
    """The denoiser for a policy name (``"off"``, ``"gate"``, ``"gate-stationary"``, ``"dfn3"``,
    ``"auto"``); a :class:`Denoiser` object is returned as is.

    Examples
    --------
    >>> get_denoiser("gate").name
    'gate'
    """
    if not isinstance(policy, str):
        if not isinstance(policy, Denoiser):
            raise ConfigError(
                f"denoise must be a policy name or a Denoiser, got {type(policy).__name__}."
            )
        return policy
    if policy == "off":
        return NoDenoiser()
    if policy == "gate":
        return SpectralGate(stationary=False)
    if policy == "gate-stationary":
        return SpectralGate(stationary=True)
    if policy == "dfn3":
        from .dfn3 import DeepFilterNet3

        return DeepFilterNet3()
    if policy == "auto":
        return AutoDenoiser(threshold_db=threshold_db)
    raise ConfigError(
        f"unknown denoise policy {policy!r}; use one of {[*DENOISE_POLICIES, 'gate-stationary']}."
    )
