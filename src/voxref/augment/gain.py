"""Level changes: gain in dB, and hard clipping at a level or at a target clipping ratio.

The clipping ratio is the fraction of *all* samples whose magnitude exceeds the clipping level
(and is therefore flattened to it). For a requested ratio ``r`` the level is the magnitude of the
``round(r * T)+1``-th largest sample, so exactly ``round(r * T)`` samples are clipped; when
magnitudes tie at that level (integer PCM input), the achievable count closest to it is used.

Examples
--------
>>> import numpy as np
>>> x = np.sin(np.arange(16000) / 10).astype(np.float32)
>>> y = clip(x, 16000, ratio=0.1)
>>> round(float(np.mean(np.abs(x) > np.abs(y).max())), 3)
0.1
>>> float(apply_gain(x, 16000, -6.0).max() / x.max()) == float(np.float32(10 ** (-6 / 20)))
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from .base import ParamSpec, Transform, check_sample_rate, check_samples, check_spec, draw

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["apply_gain", "clip", "clipping_level", "Gain", "Clip"]


def apply_gain(samples: np.ndarray, sample_rate: int, gain_db: float) -> np.ndarray:
    """Multiply by ``10 ** (gain_db / 20)`` (dtype preserved; no clipping).

    Examples
    --------
    >>> apply_gain(np.ones(2, dtype=np.float32), 16000, 20.0).tolist()
    [10.0, 10.0]
    """
    x = check_samples(samples)
    check_sample_rate(sample_rate)
    return (x * x.dtype.type(10.0 ** (gain_db / 20.0))).astype(x.dtype)


def clipping_level(samples: np.ndarray, ratio: float) -> float:
    """Magnitude above which ``round(ratio * T)`` samples lie (``inf`` when ``ratio`` rounds to 0).

    When magnitudes tie at the boundary (integer PCM input), the level is the sample magnitude
    whose count of larger samples is closest to ``round(ratio * T)``.

    Examples
    --------
    >>> clipping_level(np.array([0.1, -0.4, 0.3, 0.2]), 0.5)
    0.2
    >>> clipping_level(np.array([0.1, 0.2, 0.2, 0.2, 0.2, 0.3]), 0.4)  # 1 above 0.2 or 5 above 0.1
    0.2
    """
    if not 0.0 <= ratio < 1.0:
        raise ConfigError(f"clipping ratio={ratio!r} must be in [0, 1).")
    a = np.sort(np.abs(np.asarray(samples, dtype=np.float64)))
    n = a.size
    k = int(round(ratio * n))
    if k == 0:
        return float("inf")
    level = a[n - k - 1]
    above = n - int(np.searchsorted(a, level, side="right"))
    below_i = int(np.searchsorted(a, level, side="left")) - 1
    if above != k and below_i >= 0 and abs((n - below_i - 1) - k) < abs(above - k):
        level = a[below_i]  # clipping the tied samples too is closer to the requested ratio
    return float(level)


def clip(
    samples: np.ndarray,
    sample_rate: int,
    level: float | None = None,
    *,
    ratio: float | None = None,
) -> np.ndarray:
    """Hard-clip at ``level`` (absolute amplitude), or at the level that clips ``ratio`` of samples.

    Examples
    --------
    >>> clip(np.array([0.5, -0.9, 0.2], dtype=np.float32), 16000, 0.4).tolist()
    [0.4000000059604645, -0.4000000059604645, 0.20000000298023224]
    """
    x = check_samples(samples)
    check_sample_rate(sample_rate)
    if (level is None) == (ratio is None):
        raise ConfigError(
            "give exactly one of level=... (amplitude) or ratio=... (fraction of samples)."
        )
    if level is None:
        level = clipping_level(x, float(ratio))
    elif not level > 0:
        raise ConfigError(f"clipping level={level!r} must be > 0.")
    return np.clip(x, -level, level).astype(x.dtype)


class Gain(Transform):
    """Gain drawn from ``gain_db`` (dB).

    Examples
    --------
    >>> out, p = Gain((-6.0, 6.0)).apply(np.ones(4, dtype=np.float32), 16000, np.random.default_rng(0))
    >>> bool(np.allclose(out, 10 ** (p["gain_db"] / 20)))
    True
    """

    name = "gain"

    def __init__(self, gain_db: ParamSpec = (-6.0, 6.0)) -> None:
        self.gain_db = check_spec(gain_db, "gain_db", -120.0, 120.0)

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        g = draw(self.gain_db, rng)
        return apply_gain(samples, sample_rate, g), {"gain_db": g}

    def _apply_batch(
        self, batch: torch.Tensor, sample_rate: int, rngs: list[np.random.Generator]
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        import torch

        gains = [draw(self.gain_db, r) for r in rngs]
        factor = torch.tensor(
            [10.0 ** (g / 20.0) for g in gains], dtype=batch.dtype, device=batch.device
        )
        return batch * factor[:, None], [{"gain_db": g} for g in gains]


class Clip(Transform):
    """Hard clipping at a drawn clipping ratio (default) or a drawn absolute level.

    Parameters
    ----------
    ratio
        Spec of the fraction of samples to clip, in [0, 1).
    level
        Spec of the absolute clipping amplitude (instead of ``ratio``).

    Examples
    --------
    >>> x = np.sin(np.arange(4000) / 10).astype(np.float32)
    >>> _, p = Clip(ratio=0.05).apply(x, 16000, np.random.default_rng(0))
    >>> p["clip_ratio"]
    0.05
    """

    name = "clip"

    def __init__(
        self, ratio: ParamSpec | None = (0.001, 0.05), level: ParamSpec | None = None
    ) -> None:
        if level is not None:
            ratio = None
            self.level = check_spec(level, "level", 1e-9, 1e9)
        else:
            self.level = None
        if ratio is None and level is None:
            raise ConfigError("give ratio=... or level=...")
        self.ratio = None if ratio is None else check_spec(ratio, "ratio", 0.0, 0.999)

    def apply(
        self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if self.level is not None:
            level = draw(self.level, rng)
        else:
            level = clipping_level(samples, draw(self.ratio, rng))
        out = np.clip(samples, -level, level).astype(samples.dtype)
        achieved = float(np.mean(np.abs(samples) > level)) if samples.size else 0.0
        return out, {"clip_level": level, "clip_ratio": achieved}

    def _apply_batch(
        self, batch: torch.Tensor, sample_rate: int, rngs: list[np.random.Generator]
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        import torch

        mags = batch.detach().abs().to(torch.float64)
        if self.level is not None:
            levels = torch.tensor([draw(self.level, r) for r in rngs], dtype=torch.float64)
        else:  # the level needs a sort per row; done on the numpy copy
            rows = mags.cpu().numpy()
            vals = [clipping_level(rows[i], draw(self.ratio, r)) for i, r in enumerate(rngs)]
            levels = torch.tensor(vals, dtype=torch.float64)
        levels = levels.to(batch.device)
        out = torch.maximum(
            torch.minimum(batch.to(torch.float64), levels[:, None]), -levels[:, None]
        )
        achieved = (mags > levels[:, None]).double().mean(dim=1).tolist()
        params = [
            {"clip_level": float(lv), "clip_ratio": a} for lv, a in zip(levels.tolist(), achieved)
        ]
        return out.to(batch.dtype), params
