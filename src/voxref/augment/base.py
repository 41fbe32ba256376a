"""What every augmentation shares: the :class:`Transform` interface, seeding and input checks.

Seeding
-------
Every random call takes ``seed`` (an ``int``) or ``rng`` (a :class:`numpy.random.Generator`),
never both; with neither, a fresh unseeded generator is used. No transform touches numpy's,
torch's or Python's global random state.

Batch path and its seed scheme
------------------------------
:meth:`Transform.apply_batch` takes a ``(B, T)`` tensor. Item ``i`` is processed with
``numpy.random.default_rng(seeds[i])``, where ``seeds`` is given, or drawn as ``B`` 63-bit
integers from the ``torch.Generator`` (:func:`batch_seeds`). Hence item ``i`` of the batch equals
the numpy path called with ``seed=seeds[i]`` (exactly for the per-item fallback, to float32
rounding where a transform does the arithmetic in torch).

Parameter specs
---------------
A parameter such as ``snr_db`` may be a number (fixed), a 2-tuple ``(low, high)`` (uniform draw)
or a list (uniform choice among the values), see :func:`draw`.

Examples
--------
>>> import numpy as np
>>> rng = make_rng(seed=3)
>>> draw((0.0, 10.0), rng) == draw((0.0, 10.0), make_rng(seed=3))
True
>>> draw([0.9, 1.0, 1.1], make_rng(seed=0)) in (0.9, 1.0, 1.1)
True
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AudioShapeError, ConfigError, NonFiniteAudioError, SampleRateError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "ParamSpec",
    "Transform",
    "make_rng",
    "draw",
    "batch_seeds",
    "check_samples",
    "check_sample_rate",
    "check_spec",
]

#: A number (fixed value), ``(low, high)`` tuple (uniform) or list of values (uniform choice).
ParamSpec = float | int | tuple | list


def make_rng(
    seed: int | None = None, rng: np.random.Generator | None = None
) -> np.random.Generator:
    """The generator to use for one call: ``rng`` if given, else one seeded with ``seed``.

    Raises
    ------
    voxref.errors.ConfigError
        When both are given, or ``rng`` is not a :class:`numpy.random.Generator`.

    Examples
    --------
    >>> int(make_rng(seed=1).integers(100)) == int(make_rng(seed=1).integers(100))
    True
    """
    if rng is not None:
        if seed is not None:
            raise ConfigError("pass either seed=... or rng=..., not both.")
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}."
            )
        return rng
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an int or None, got {type(seed).__name__}.")
    return np.random.default_rng(seed)


def check_spec(spec: ParamSpec, name: str, low: float = -np.inf, high: float = np.inf) -> ParamSpec:
    """Validate a parameter spec (all its values within ``[low, high]``) and return it.

    Examples
    --------
    >>> check_spec((0.0, 1.0), "fraction", 0.0, 1.0)
    (0.0, 1.0)
    """
    if isinstance(spec, tuple):
        if len(spec) != 2 or spec[0] > spec[1]:
            raise ConfigError(
                f"{name}={spec!r}: a tuple means a (low, high) range with low <= high."
            )
        values = list(spec)
    elif isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{name}=[]: give at least one value to choose from.")
        values = list(spec)
    elif isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, bool):
        values = [spec]
    else:
        raise ConfigError(
            f"{name}={spec!r}: expected a number, a (low, high) tuple or a list of values."
        )
    for v in values:
        if not np.isfinite(v) or not (low <= v <= high):
            raise ConfigError(
                f"{name}={spec!r}: every value must be finite and in [{low}, {high}]."
            )
    return spec


def draw(spec: ParamSpec, rng: np.random.Generator) -> float:
    """Draw one value from a parameter spec (fixed numbers consume no randomness).

    Examples
    --------
    >>> draw(5.0, make_rng(seed=0))
    5.0
    >>> 0.0 <= draw((0.0, 1.0), make_rng(seed=0)) <= 1.0
    True
    """
    if isinstance(spec, tuple):
        return float(rng.uniform(spec[0], spec[1]))
    if isinstance(spec, list):
        return float(spec[int(rng.integers(len(spec)))])
    return float(spec)


def batch_seeds(batch_size: int, generator: torch.Generator | None = None) -> list[int]:
    """``batch_size`` non-negative 63-bit seeds drawn from a torch generator.

    Examples
    --------
    >>> import torch
    >>> batch_seeds(2, torch.Generator().manual_seed(0)) == batch_seeds(2, torch.Generator().manual_seed(0))
    True
    """
    import torch

    if generator is None:
        generator = torch.Generator()
        generator.seed()
    vals = torch.randint(0, 2**63 - 1, (batch_size,), generator=generator, dtype=torch.int64)
    return [int(v) for v in vals.tolist()]


def check_sample_rate(sample_rate: Any) -> int:
    """Return ``sample_rate`` as an int, or raise :class:`~voxref.errors.SampleRateError`.

    Examples
    --------
    >>> check_sample_rate(16000)
    16000
    """
    try:
        sr = int(sample_rate)
    except (TypeError, ValueError) as exc:
        raise SampleRateError(f"sample_rate={sample_rate!r} is not a number of Hz.") from exc
    if sr != sample_rate or sr <= 0:
        raise SampleRateError(f"sample_rate={sample_rate!r} must be a positive integer (Hz).")
    return sr


def check_samples(samples: Any, source: str = "<array>") -> np.ndarray:
    """Return ``samples`` as a 1-D floating numpy array (not copied), or raise a typed error.

    Examples
    --------
    >>> check_samples(np.zeros(4, dtype=np.float32)).dtype
    dtype('float32')
    """
    x = np.asarray(samples)
    if x.ndim != 1:
        raise AudioShapeError(
            f"expected 1-D mono samples, got shape {x.shape}; downmix first (voxref.audio.downmix) "
            "or use apply_batch for (batch, samples) tensors.",
            source,
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise AudioShapeError(
            f"samples have dtype {x.dtype}; convert to float32 in [-1, 1] first (voxref.audio.load_audio).",
            source,
        )
    if x.size and not np.all(np.isfinite(x)):
        raise NonFiniteAudioError("samples contain NaN or infinity.", source)
    return x


class Transform(abc.ABC):
    """Base class of all augmentations.

    Subclasses implement :meth:`apply`; ``__call__``, :meth:`apply_batch` and logging follow.
    ``name`` is the key under which :class:`~voxref.augment.compose.Compose` logs the transform.
    """

    name: str = "transform"

    @abc.abstractmethod
    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Transform one 1-D signal; return ``(output, params)``.

        ``output`` has the dtype and length of ``samples``; ``params`` records what was done
        (drawn values), for logs and :func:`~voxref.augment.compose.nuisance_vector`.
        """

    def __call__(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Transform one 1-D float signal; dtype and length are preserved."""
        out, _ = self.apply_checked(samples, sample_rate, make_rng(seed, rng))
        return out

    def apply_checked(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """:meth:`apply` after validating inputs, with dtype/length restored on the way out."""
        x = check_samples(samples)
        sr = check_sample_rate(sample_rate)
        out, params = self.apply(x, sr, rng)
        out = np.asarray(out)
        if out.shape != x.shape:  # pragma: no cover - a bug in a subclass
            raise AssertionError(
                f"{type(self).__name__} changed the shape {x.shape} -> {out.shape}"
            )
        return out.astype(x.dtype, copy=False), params

    def apply_batch(
        self,
        batch: torch.Tensor,
        sample_rate: int,
        *,
        generator: torch.Generator | None = None,
        seeds: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Transform each row of a ``(B, T)`` float tensor (see the module's seed scheme).

        The default runs the numpy path per item; transforms with batched torch arithmetic
        override :meth:`_apply_batch`. Returns a tensor with the dtype and device of ``batch``.
        """
        out, _ = self.apply_batch_logged(batch, sample_rate, generator=generator, seeds=seeds)
        return out

    def apply_batch_logged(
        self,
        batch: torch.Tensor,
        sample_rate: int,
        *,
        generator: torch.Generator | None = None,
        seeds: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """Like :meth:`apply_batch`, also returning each item's ``params``."""
        if batch.ndim != 2:
            raise AudioShapeError(
                f"expected a (batch, samples) tensor, got shape {tuple(batch.shape)}."
            )
        if not batch.dtype.is_floating_point:
            raise AudioShapeError(f"batch has dtype {batch.dtype}; expected a float tensor.")
        sr = check_sample_rate(sample_rate)
        if seeds is None:
            seeds = batch_seeds(batch.shape[0], generator)
        elif generator is not None:
            raise ConfigError("pass either generator=... or seeds=..., not both.")
        if len(seeds) != batch.shape[0]:
            raise ConfigError(f"got {len(seeds)} seeds for a batch of {batch.shape[0]}.")
        rngs = [np.random.default_rng(int(s)) for s in seeds]
        return self._apply_batch(batch, sr, rngs)

    def _apply_batch(
        self, batch: torch.Tensor, sample_rate: int, rngs: list[np.random.Generator]
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        import torch

        rows, params = [], []
        src = batch.detach().cpu()
        if src.dtype not in (torch.float32, torch.float64):
            src = src.to(torch.float32)  # float16 / bfloat16: numpy path in float32
        src = src.numpy()
        for i, rng in enumerate(rngs):
            out, p = self.apply_checked(src[i], sample_rate, rng)
            rows.append(out)
            params.append(p)
        result = torch.from_numpy(np.stack(rows)) if rows else batch.detach().cpu().clone()
        return result.to(device=batch.device, dtype=batch.dtype), params

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._repr_fields().items())
        return f"{type(self).__name__}({fields})"

    def _repr_fields(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}
