"""The bridge kinds (:class:`RidgeBridge`, :class:`ProcrustesBridge`, :class:`MLPBridge`), their
base class, and saving / loading them.

What a bridge is and how to build one: :mod:`voxref.tts.bridge`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import CheckpointError, ConfigError
from ..seeding import seeded_init

__all__ = [
    "BRIDGE_FORMAT",
    "BRIDGE_KINDS",
    "BRIDGE_VERSION",
    "Bridge",
    "MLPBridge",
    "ProcrustesBridge",
    "RidgeBridge",
    "fit_bridge",
    "load_bridge",
    "paired_arrays",
    "unit_rows",
]

BRIDGE_FORMAT = "voxref-bridge"
BRIDGE_VERSION = 1


def unit_rows(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def paired_arrays(source: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(source, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ConfigError(
            f"paired embeddings must be (N, D_source) and (N, D_target); got {x.shape}, {y.shape}."
        )
    if len(x) < 2:
        raise ConfigError("a bridge needs at least 2 paired embeddings (ideally thousands).")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ConfigError("paired embeddings contain NaN or infinity.")
    return x, y


class Bridge(ABC):
    """Base class: ``fit(source, target)``, ``transform(x)``, ``save(path)``.

    Attributes
    ----------
    source_dim, target_dim
        Dimensions (set by :meth:`fit`).
    source_encoder, target_encoder
        Optional ``Encoder.describe()`` dicts (recorded in exports' sidecars).
    """

    kind: str = "bridge"

    def __init__(self) -> None:
        self.source_dim: int | None = None
        self.target_dim: int | None = None
        self.source_encoder: dict | None = None
        self.target_encoder: dict | None = None
        self.num_pairs: int = 0
        #: :meth:`BridgeReport.to_dict` of the held-apart evaluation (set by
        #: :func:`fit_and_evaluate`, saved with the bridge); ``None`` when nobody measured it.
        self.report: dict | None = None

    # ------------------------------------------------------------------ api
    def fit(
        self,
        source: Any,
        target: Any,
        *,
        source_encoder: Any = None,
        target_encoder: Any = None,
    ) -> Bridge:
        """Fit on paired embeddings ``(N, D_source)`` and ``(N, D_target)`` of the same clips."""
        x, y = paired_arrays(source, target)
        self.source_dim, self.target_dim, self.num_pairs = x.shape[1], y.shape[1], len(x)
        self.source_encoder = _describe(source_encoder)
        self.target_encoder = _describe(target_encoder)
        self._fit(unit_rows(x).astype(np.float64), unit_rows(y).astype(np.float64))
        return self

    def transform(self, x: Any) -> np.ndarray:
        """Map ``(N, D_source)`` or ``(D_source,)`` to unit-norm target embeddings."""
        if self.source_dim is None:
            raise ConfigError(f"this {self.kind} bridge is not fitted; call fit() first.")
        a = np.asarray(x, dtype=np.float64)
        single = a.ndim == 1
        a = a[None] if single else a
        if a.ndim != 2 or a.shape[1] != self.source_dim:
            raise ConfigError(
                f"the bridge maps {self.source_dim}-d embeddings; got shape {np.shape(x)}."
            )
        out = unit_rows(self._transform(unit_rows(a).astype(np.float64)))
        return out[0] if single else out

    def describe(self) -> dict:
        """Kind, dimensions, encoders and config (what an export sidecar records)."""
        return {
            "kind": self.kind,
            "source_dim": self.source_dim,
            "target_dim": self.target_dim,
            "source_encoder": self.source_encoder,
            "target_encoder": self.target_encoder,
            "num_pairs": self.num_pairs,
            "config": self.config(),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bridge (plain dict + tensors; loads with ``weights_only=True``)."""
        import torch

        if self.source_dim is None:
            raise ConfigError("fit the bridge before saving it.")
        obj = {
            "format": BRIDGE_FORMAT,
            "version": BRIDGE_VERSION,
            "kind": self.kind,
            "config": self.config(),
            "meta": {k: v for k, v in self.describe().items() if k != "config"},
            "report": self.report,
            "tensors": {
                k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self._state().items()
            },
        }
        return atomic_write(path, lambda tmp: torch.save(obj, tmp))

    # ------------------------------------------------------------------ subclass hooks
    def config(self) -> dict:
        return {}

    @abstractmethod
    def _fit(self, x: np.ndarray, y: np.ndarray) -> None: ...

    @abstractmethod
    def _transform(self, x: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _load_state(self, state: Mapping[str, np.ndarray]) -> None: ...


def _describe(encoder: Any) -> dict | None:
    if encoder is None:
        return None
    return dict(encoder.describe()) if hasattr(encoder, "describe") else dict(encoder)


class RidgeBridge(Bridge):
    """``y = x W + b`` by ridge regression (closed form, centred).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((200, 8)); a = rng.standard_normal((8, 4))
    >>> b = RidgeBridge(alpha=1e-6).fit(x / np.linalg.norm(x, axis=1, keepdims=True), x @ a)
    >>> y = x @ a; y /= np.linalg.norm(y, axis=1, keepdims=True)
    >>> float(np.mean(np.sum(b.transform(x) * y, axis=1))) > 0.99
    True
    """

    kind = "ridge"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        if alpha < 0:
            raise ConfigError("alpha must be >= 0.")
        self.alpha = float(alpha)

    def config(self) -> dict:
        return {"alpha": self.alpha}

    def _fit(self, x, y):
        mx, my = x.mean(0), y.mean(0)
        xc, yc = x - mx, y - my
        gram = xc.T @ xc + self.alpha * np.eye(x.shape[1])
        self.weight = np.linalg.lstsq(gram, xc.T @ yc, rcond=None)[0]
        self.bias = my - mx @ self.weight

    def _transform(self, x):
        return x @ self.weight + self.bias

    def _state(self):
        return {"weight": self.weight, "bias": self.bias}

    def _load_state(self, state):
        self.weight, self.bias = state["weight"], state["bias"]


class ProcrustesBridge(Bridge):
    """Centred, scaled orthogonal Procrustes: ``y = s * match(x - mu_x) R + mu_y``.

    ``match`` projects the source on its top principal axes when it has more dimensions than
    the target, or zero-pads it when it has fewer; ``R`` is the orthogonal matrix closest to
    mapping one onto the other (SVD of the cross-covariance). A rotation keeps the angles
    between speakers, so it cannot overfit the way a full linear map can.

    Parameters
    ----------
    center
        Remove and restore the mean embedding of each space (default; GE2E embeddings, being
        post-ReLU, share a large common direction).
    scale
        Fit the scalar ``s`` too.
    """

    kind = "procrustes"

    def __init__(self, center: bool = True, scale: bool = True) -> None:
        super().__init__()
        self.center = bool(center)
        self.scale = bool(scale)

    def config(self) -> dict:
        return {"center": self.center, "scale": self.scale}

    def _match(self, xc):
        if self.projection is not None:
            return xc @ self.projection
        pad = self.target_dim - xc.shape[1]
        return np.pad(xc, ((0, 0), (0, pad))) if pad > 0 else xc

    def _fit(self, x, y):
        self.mean_x = x.mean(0) if self.center else np.zeros(x.shape[1])
        self.mean_y = y.mean(0) if self.center else np.zeros(y.shape[1])
        xc, yc = x - self.mean_x, y - self.mean_y
        self.projection = None
        if x.shape[1] > y.shape[1]:
            evals, evecs = np.linalg.eigh(xc.T @ xc)  # ascending
            self.projection = evecs[:, ::-1][:, : y.shape[1]]  # (Ds, Dt) top principal axes
        xm = self._match(xc)
        u, s, vt = np.linalg.svd(xm.T @ yc)
        self.rotation = u @ vt
        denom = float(np.sum(xm**2))
        self.factor = float(s.sum() / denom) if (self.scale and denom > 0) else 1.0

    def _transform(self, x):
        return self.factor * self._match(x - self.mean_x) @ self.rotation + self.mean_y

    def _state(self):
        st = {
            "mean_x": self.mean_x,
            "mean_y": self.mean_y,
            "rotation": self.rotation,
            "factor": np.array([self.factor]),
        }
        if self.projection is not None:
            st["projection"] = self.projection
        return st

    def _load_state(self, state):
        self.mean_x, self.mean_y = state["mean_x"], state["mean_y"]
        self.rotation = state["rotation"]
        self.factor = float(np.asarray(state["factor"]).reshape(-1)[0])
        self.projection = state.get("projection")


class MLPBridge(Bridge):
    """``y = x A + MLP(x)``: a linear path plus one hidden ReLU layer, trained on ``1 - cos``.

    Full-batch Adam; weights are initialised under :func:`voxref.seeding.seeded_init` with
    ``seed``, so two fits on the same data are bit-identical and the global RNG is untouched.
    It overfits small sets (hundreds of pairs) more readily than :class:`RidgeBridge`: compare
    their held-apart cosine with :func:`fit_and_evaluate` before choosing it.

    Parameters
    ----------
    hidden
        Hidden width.
    epochs, lr, weight_decay
        Optimisation (Adam, full batch).
    seed
        Initialisation seed.
    """

    kind = "mlp"

    def __init__(
        self,
        hidden: int = 128,
        epochs: int = 300,
        lr: float = 1e-2,
        weight_decay: float = 1e-3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.hidden, self.epochs, self.lr = int(hidden), int(epochs), float(lr)
        self.weight_decay, self.seed = float(weight_decay), int(seed)
        self.final_loss: float | None = None

    def config(self) -> dict:
        return {
            "hidden": self.hidden,
            "epochs": self.epochs,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
        }

    def _net(self):
        from torch import nn

        with seeded_init(self.seed):
            lin = nn.Linear(self.source_dim, self.target_dim)
            mlp = nn.Sequential(
                nn.Linear(self.source_dim, self.hidden),
                nn.ReLU(),
                nn.Linear(self.hidden, self.target_dim),
            )
        return lin, mlp

    def _forward(self, x):
        return self._lin(x) + self._mlp(x)

    def _fit(self, x, y):
        import torch

        self.mean_x = x.mean(0)
        self._lin, self._mlp = self._net()
        params = list(self._lin.parameters()) + list(self._mlp.parameters())
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        xt = torch.from_numpy((x - self.mean_x).astype(np.float32))
        yt = torch.from_numpy(y.astype(np.float32))
        for _ in range(self.epochs):
            opt.zero_grad()
            loss = (1 - torch.nn.functional.cosine_similarity(self._forward(xt), yt)).mean()
            loss.backward()
            opt.step()
        self.final_loss = float(loss.detach())

    def _transform(self, x):
        import torch

        with torch.inference_mode():
            xt = torch.from_numpy((x - self.mean_x).astype(np.float32))
            return self._forward(xt).double().numpy()

    def _state(self):
        st = {"mean_x": self.mean_x}
        for prefix, mod in (("lin", self._lin), ("mlp", self._mlp)):
            for k, v in mod.state_dict().items():
                st[f"{prefix}.{k}"] = v.detach().numpy()
        return st

    def _load_state(self, state):
        import torch

        self.mean_x = state["mean_x"]
        self._lin, self._mlp = self._net()
        for prefix, mod in (("lin", self._lin), ("mlp", self._mlp)):
            mod.load_state_dict(
                {
                    k[len(prefix) + 1 :]: torch.as_tensor(v, dtype=torch.float32)
                    for k, v in state.items()
                    if k.startswith(prefix + ".")
                }
            )


BRIDGE_KINDS: dict[str, type[Bridge]] = {
    "ridge": RidgeBridge,
    "procrustes": ProcrustesBridge,
    "mlp": MLPBridge,
}


def fit_bridge(kind: str, source: Any, target: Any, **options: Any) -> Bridge:
    """Fit a bridge of ``kind`` (``"ridge"``, ``"procrustes"``, ``"mlp"``); options go to its
    constructor, except ``source_encoder`` / ``target_encoder`` which go to ``fit``."""
    if kind not in BRIDGE_KINDS:
        raise ConfigError(f"unknown bridge {kind!r}; use one of {sorted(BRIDGE_KINDS)}.")
    enc = {k: options.pop(k) for k in ("source_encoder", "target_encoder") if k in options}
    return BRIDGE_KINDS[kind](**options).fit(source, target, **enc)


def load_bridge(path: str | os.PathLike) -> Bridge:
    """Read a bridge written by :meth:`Bridge.save` (``weights_only=True``)."""
    from ..loading.safe import safe_torch_load

    obj = safe_torch_load(path)
    if not isinstance(obj, dict) or obj.get("format") != BRIDGE_FORMAT:
        raise CheckpointError(f"{path} is not a voxref bridge.")
    if obj.get("version", 0) > BRIDGE_VERSION:
        raise CheckpointError(f"{path} is bridge version {obj.get('version')}: upgrade voxref.")
    kind = obj.get("kind")
    if kind not in BRIDGE_KINDS:
        raise CheckpointError(f"{path}: unknown bridge kind {kind!r}.")
    bridge = BRIDGE_KINDS[kind](**obj.get("config", {}))
    meta = obj.get("meta", {})
    bridge.source_dim, bridge.target_dim = meta.get("source_dim"), meta.get("target_dim")
    bridge.source_encoder, bridge.target_encoder = (
        meta.get("source_encoder"),
        meta.get("target_encoder"),
    )
    bridge.num_pairs = int(meta.get("num_pairs") or 0)
    report = obj.get("report")
    bridge.report = dict(report) if isinstance(report, dict) else None
    bridge._load_state({k: v.numpy() for k, v in obj["tensors"].items()})
    return bridge
