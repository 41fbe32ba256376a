"""Denoisers and the denoising policy.

Every denoiser follows the :class:`Denoiser` protocol: a ``name`` and
``denoise(samples, sample_rate) -> samples`` (mono float32, same rate and length, deterministic).

=========  ==================================================================================
policy     what runs
=========  ==================================================================================
``off``    :class:`NoDenoiser`: the audio passes unchanged.
``gate``   :class:`SpectralGate`: noisereduce spectral gating (non-stationary by default).
``dfn3``   :class:`~voxref.cleaning.dfn3.DeepFilterNet3`: the DeepFilterNet3 network.
``dfn3-    DeepFilterNet3 removing at most N dB of noise (``atten_lim_db=N``), e.g.
limN``     ``"dfn3-lim6"``.
``auto``   :class:`AutoDenoiser`: when the estimated SNR is below
           :data:`AUTO_SNR_THRESHOLD_DB`: DeepFilterNet3 if the noise is stationary
           (:func:`~voxref.cleaning.noise_profile.noise_modulation` below
           :data:`AUTO_MAX_MODULATION`), DeepFilterNet3 limited to
           :data:`AUTO_BABBLE_ATTEN_LIM_DB` of attenuation if it is babble-like (modulation
           below :data:`AUTO_MAX_BABBLE_MODULATION`); otherwise nothing.
=========  ==================================================================================

Which policy helps a speaker embedding is an empirical question: denoising raises SNR and
perceived quality but also moves the voice, and it moves *every* voice towards the same
"denoised" sound. The measurements that decided the default are in BENCHMARKS.md ("Denoising
policy: per-clip evidence", "Denoising policy: babble (attenuation limit)" and the per-stage
ablation; ``benchmarks/clean/denoise_decision.py``, ``benchmarks/results/denoise_babble.md``):

* DeepFilterNet3 brings a clip's embedding closest to its clean embedding in white, pink and brown
  noise, much less in babble, not at all on reverberation and overlapped speech, and moves clean
  and telephone speech away; spectral gating gains less in stationary noise and damages the rest.
* In verification, full DeepFilterNet3 on every clip wins in stationary noise but loses to doing
  nothing on babble, reverberation and overlap: in babble the embedding gets closer to the clean
  voice yet the denoiser pulls different speakers together.

Hence ``"auto"``: DeepFilterNet3 only when the estimated SNR is below
:data:`AUTO_SNR_THRESHOLD_DB` and the noise is stationary (modulation below
:data:`AUTO_MAX_MODULATION`: coloured noise reads low, babble higher, clean pauses, reverberant
tails and overlapped speech much higher). Babble-like noise (modulation below
:data:`AUTO_MAX_BABBLE_MODULATION`, above every clean, reverberant, overlapped or telephone clip of
the per-clip evidence) gets a *limited* DeepFilterNet3 (:data:`AUTO_BABBLE_ATTEN_LIM_DB`):
removing a little of the babble helps, removing all of it carves the voice; the limit chosen is
the one that beats doing nothing at every babble SNR of the benchmark.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, optional_dependency

__all__ = [
    "Denoiser",
    "NoDenoiser",
    "SpectralGate",
    "AutoDenoiser",
    "get_denoiser",
    "check_policy",
    "DENOISE_POLICIES",
    "DEFAULT_POLICY",
    "AUTO_SNR_THRESHOLD_DB",
    "AUTO_MAX_MODULATION",
    "AUTO_MAX_BABBLE_MODULATION",
    "AUTO_BABBLE_ATTEN_LIM_DB",
]

log = logging.getLogger(__name__)

#: Names accepted by :func:`get_denoiser`.
DENOISE_POLICIES = ("off", "gate", "dfn3", "auto")
#: Policy used when none is given.
DEFAULT_POLICY = "auto"
#: ``"auto"`` runs DeepFilterNet3 on recordings whose estimated SNR is below this (dB).
AUTO_SNR_THRESHOLD_DB = 15.0
#: ... and whose noise modulation (:func:`~voxref.cleaning.noise_profile.noise_modulation`) is below this.
AUTO_MAX_MODULATION = 0.8
#: Noise modulated more than stationary noise but below this is babble-like (limited denoising).
AUTO_MAX_BABBLE_MODULATION = 2.0
#: Most noise (dB) ``"auto"`` removes from babble-like noise.
AUTO_BABBLE_ATTEN_LIM_DB = 6.0


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
        with optional_dependency("noisereduce", "noisereduce>=3", "Spectral-gate denoising"):
            from noisereduce import reduce_noise
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
        Recordings with an estimated SNR below this are passed to ``strong``...
    max_modulation
        ... when their noise modulation is below this (stationary noise); ``inf``: SNR only.
    strong
        The denoiser for noisy recordings (default: DeepFilterNet3, built on first use).
    max_babble_modulation
        Recordings below ``threshold_db`` whose noise modulation lies between ``max_modulation``
        and this (babble-like noise) are passed to ``babble``; ``max_babble_modulation <=
        max_modulation`` leaves them untouched.
    babble
        The denoiser for babble-like noise (default: DeepFilterNet3 limited to
        :data:`AUTO_BABBLE_ATTEN_LIM_DB` dB, built on first use).
    vad
        Detector used to estimate the SNR when :meth:`denoise` is not given one.

    Examples
    --------
    >>> auto = AutoDenoiser(strong=SpectralGate())
    >>> auto.choose(25.0).name, auto.choose(3.0).name, auto.choose(3.0, modulation=0.3).name
    ('off', 'gate', 'gate')
    >>> auto = AutoDenoiser(strong=SpectralGate(), babble=SpectralGate(prop_decrease=0.5))
    >>> auto.choose(3.0, modulation=1.3) is auto.babble  # babble-like: a milder denoiser
    True
    >>> auto.choose(3.0, modulation=13.0).name  # reverberant tails / another talker: nothing
    'off'
    """

    name = "auto"

    def __init__(
        self,
        threshold_db: float = AUTO_SNR_THRESHOLD_DB,
        strong: Denoiser | None = None,
        vad: str = "silero",
        max_modulation: float = AUTO_MAX_MODULATION,
        max_babble_modulation: float = AUTO_MAX_BABBLE_MODULATION,
        babble: Denoiser | None = None,
    ) -> None:
        self.threshold_db = float(threshold_db)
        self.max_modulation = float(max_modulation)
        self.max_babble_modulation = float(max_babble_modulation)
        self._strong = strong
        self._babble = babble
        self.vad = vad
        self._off = NoDenoiser()

    @property
    def strong(self) -> Denoiser:
        if self._strong is None:
            from .dfn3 import DeepFilterNet3

            self._strong = DeepFilterNet3()
        return self._strong

    @property
    def babble(self) -> Denoiser:
        if self._babble is None:
            from .dfn3 import DeepFilterNet3

            self._babble = DeepFilterNet3(atten_lim_db=AUTO_BABBLE_ATTEN_LIM_DB)
        return self._babble

    def __repr__(self) -> str:
        return (
            f"AutoDenoiser(threshold_db={self.threshold_db:g}, max_modulation="
            f"{self.max_modulation:g}, max_babble_modulation={self.max_babble_modulation:g})"
        )

    def noisy(self, snr_db: float) -> bool:
        """Whether a recording with estimated SNR ``snr_db`` is below the threshold: only then
        does :meth:`choose` look at the noise modulation (callers skip measuring it otherwise).

        Examples
        --------
        >>> auto = AutoDenoiser(strong=SpectralGate())
        >>> auto.noisy(3.0), auto.noisy(25.0), auto.noisy(float("nan"))
        (True, False, False)
        """
        return bool(np.isfinite(snr_db) and snr_db < self.threshold_db)

    def choose(self, snr_db: float, modulation: float | None = None) -> Denoiser:
        """The denoiser for a recording with estimated SNR ``snr_db`` (``nan``: no speech -> off)
        and noise ``modulation`` (``None`` or ``nan``: unknown, the SNR decides)."""
        if not self.noisy(snr_db):
            return self._off
        if modulation is None or not np.isfinite(modulation) or modulation < self.max_modulation:
            return self.strong
        if modulation < self.max_babble_modulation:
            return self.babble
        return self._off

    def denoise(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        from .noise_profile import noise_modulation
        from .snr import estimate_snr

        snr = estimate_snr(samples, sample_rate, vad=self.vad)
        modulation = noise_modulation(samples, sample_rate) if self.noisy(snr) else float("nan")
        chosen = self.choose(snr, modulation)
        log.debug("auto denoise: SNR %.1f dB, modulation %.2f -> %s", snr, modulation, chosen.name)
        return chosen.denoise(samples, sample_rate)


def get_denoiser(
    policy: str | Denoiser = DEFAULT_POLICY, *, threshold_db: float = AUTO_SNR_THRESHOLD_DB
) -> Denoiser:
    """The denoiser for a policy name (``"off"``, ``"gate"``, ``"gate-stationary"``, ``"dfn3"``,
    ``"dfn3-lim<N>"``, ``"auto"``); a :class:`Denoiser` object is returned as is.

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
    if policy.startswith("dfn3-lim"):
        from .dfn3 import DeepFilterNet3

        return DeepFilterNet3(atten_lim_db=_attenuation_limit(policy))
    if policy == "auto":
        return AutoDenoiser(threshold_db=threshold_db)
    raise ConfigError(_UNKNOWN_POLICY.format(policy=policy))


_UNKNOWN_POLICY = (
    "unknown denoise policy {policy!r}; use one of off, gate, gate-stationary, dfn3, auto, "
    "or dfn3-lim<N> (DeepFilterNet3 removing at most N dB, e.g. dfn3-lim6)."
)


def _attenuation_limit(policy: str) -> float:
    """N of a ``"dfn3-lim<N>"`` policy (a positive number of dB), else :class:`ConfigError`."""
    try:
        limit = float(policy[len("dfn3-lim") :])
    except ValueError:
        limit = float("nan")
    if not limit > 0:
        raise ConfigError(_UNKNOWN_POLICY.format(policy=policy))
    return limit


def check_policy(policy: str) -> str:
    """``policy`` unchanged if it names a denoising policy, else :class:`ConfigError` (nothing built).

    Examples
    --------
    >>> check_policy("dfn3-lim6")
    'dfn3-lim6'
    >>> check_policy("wiener")
    Traceback (most recent call last):
    ...
    voxref.errors.ConfigError: unknown denoise policy 'wiener'; use one of off, gate, gate-stationary, dfn3, auto, or dfn3-lim<N> (DeepFilterNet3 removing at most N dB, e.g. dfn3-lim6).
    """
    if policy in (*DENOISE_POLICIES, "gate-stationary"):
        return policy
    if policy.startswith("dfn3-lim"):
        _attenuation_limit(policy)
        return policy
    raise ConfigError(_UNKNOWN_POLICY.format(policy=policy))
