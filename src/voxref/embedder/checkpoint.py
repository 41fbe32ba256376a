"""voxref's encoder checkpoint format, safe checkpoint loading, and :func:`load_pretrained`.

The voxref checkpoint format
----------------------------
A checkpoint is a plain dictionary saved with :func:`torch.save` and read back with
``torch.load(..., weights_only=True)``: it holds only ``dict``/``list``/``str``/``int``/``float``/
``bool``/``None`` and tensors, so loading it never runs code.

.. code-block:: text

    {
      "format": "voxref-encoder",          # CHECKPOINT_FORMAT
      "version": 1,                        # CHECKPOINT_VERSION
      "architecture": "ge2e-lstm",         # one of ARCHITECTURES
      "config": {...},                     # JSON-able hyper-parameters, all defaults filled in
      "state_dict": {name: tensor, ...},   # the network's weights (see build_network)
      "metadata": {...},                   # JSON-able: voxref_version, created (UTC), name, training info
    }

It is stored either as one file (``my_encoder.pt``, with a human-readable sidecar
``my_encoder.json``) or as a directory holding ``encoder.pt`` + ``encoder.json``. The sidecar
repeats everything but the weights and adds the file's SHA-256; a checkpoint whose bytes do not
match its sidecar is refused as corrupt. Architectures and their networks (``build_network``):

``ge2e-lstm``
    GE2E d-vector network (Wan et al. 2018) as in Resemblyzer / SV2TTS: 40 mel bands (25 ms /
    10 ms, 16 kHz), 3-layer LSTM 256, linear 256 + ReLU, L2-normalised. Parameter names are
    Resemblyzer's (``lstm.*``, ``linear.*``), so ``GE2EEncoder().model.state_dict()`` saves as is
    and a fine-tuned checkpoint loads back as a :class:`~voxref.embedder.ge2e.GE2EEncoder`
    (:class:`CheckpointGE2EEncoder`). Config: ``hidden_size``, ``num_layers``, ``embedding_dim``
    (front end fixed: ``sample_rate`` 16000, ``n_mels`` 40).
``ecapa-tdnn``
    SpeechBrain's ``Fbank`` -> sentence mean normalisation -> ``ECAPA_TDNN``, exactly the
    computation of ``EncoderClassifier.encode_batch``; parameter names ``embedding_model.*``
    (the same tensors as SpeechBrain's ``embedding_model.ckpt``). Defaults are SpeechBrain's
    constructor defaults (channels ``[512, 512, 512, 512, 1536]``, 192-d); the published
    ``speechbrain/spkrec-ecapa-voxceleb`` uses channels ``[1024, 1024, 1024, 1024, 3072]``,
    attention 128, 80 mels, 192-d.
``xvector-tdnn``
    SpeechBrain's ``Fbank(n_mels=24)`` -> sentence mean normalisation -> ``Xvector`` (512-d), the
    layout of ``speechbrain/spkrec-xvect-voxceleb`` (SpeechT5's speaker space).

Writers: :func:`save_checkpoint` (``architecture, config, state_dict``) or :func:`save_network`
(a module from :func:`build_network`). Readers: :func:`load_checkpoint` ->
:class:`EncoderCheckpoint` -> ``.to_encoder()``.

Loading any encoder (this format, SpeechBrain, pyannote, GE2E, hub ids) is
:func:`voxref.embedder.loader.load_pretrained`; every torch checkpoint goes through
:func:`voxref.loading.safe.safe_torch_load` (``weights_only=True``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..encoding import Encoder, ModuleEncoder, probe_dimension
from ..errors import CheckpointError, ConfigError, MissingCheckpointError
from ..loading.safe import read_checkpoint_bytes, safe_torch_load
from .ge2e import DEFAULT_CONFIG as GE2E_CONFIG
from .ge2e import N_MELS as GE2E_N_MELS
from .ge2e import SAMPLE_RATE as GE2E_SAMPLE_RATE
from .ge2e import CheckpointGE2EEncoder, build_ge2e_network

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CHECKPOINT_FILE",
    "ARCHITECTURES",
    "DEFAULT_CONFIGS",
    "EncoderCheckpoint",
    "build_network",
    "resolve_config",
    "save_checkpoint",
    "save_network",
    "load_checkpoint",
    "parse_checkpoint",
    "is_voxref_dict",
]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "voxref-encoder"
CHECKPOINT_VERSION = 1
CHECKPOINT_FILE = "encoder.pt"
SIDECAR_FILE = "encoder.json"

DEFAULT_CONFIGS: dict[str, dict[str, Any]] = {
    "ge2e-lstm": dict(GE2E_CONFIG),
    "ecapa-tdnn": {
        "sample_rate": 16000,
        "n_mels": 80,
        "channels": [512, 512, 512, 512, 1536],
        "kernel_sizes": [5, 3, 3, 3, 1],
        "dilations": [1, 2, 3, 4, 1],
        "attention_channels": 128,
        "res2net_scale": 8,
        "se_channels": 128,
        "global_context": True,
        "lin_neurons": 192,
        "window_seconds": 3.0,
        "hop_seconds": 1.5,
    },
    "xvector-tdnn": {
        "sample_rate": 16000,
        "n_mels": 24,
        "tdnn_blocks": 5,
        "tdnn_channels": [512, 512, 512, 512, 1500],
        "tdnn_kernel_sizes": [5, 3, 3, 1, 1],
        "tdnn_dilations": [1, 2, 3, 1, 1],
        "lin_neurons": 512,
        "window_seconds": 3.0,
        "hop_seconds": 1.5,
    },
}
ARCHITECTURES = tuple(DEFAULT_CONFIGS)


# =========================================================================== config helpers
def _plain(value: Any, where: str) -> Any:
    """Copy of ``value`` made of JSON types (tuples become lists); raise on anything else."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where}: keys must be strings, got {k!r}.")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    raise ConfigError(
        f"{where} = {value!r} ({type(value).__name__}) is not a plain JSON value; checkpoint "
        "configs and metadata hold only str/int/float/bool/None, lists and dicts."
    )


def resolve_config(architecture: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``config`` merged over the architecture's defaults, validated.

    Examples
    --------
    >>> resolve_config("ge2e-lstm", {"num_layers": 2})["num_layers"]
    2
    """
    if architecture not in DEFAULT_CONFIGS:
        raise ConfigError(
            f"unknown encoder architecture {architecture!r}; voxref checkpoints support "
            f"{', '.join(ARCHITECTURES)}."
        )
    defaults = DEFAULT_CONFIGS[architecture]
    cfg = dict(defaults)
    unknown = set(config or {}) - set(defaults)
    if unknown:
        raise ConfigError(
            f"unknown {architecture} config key(s) {sorted(unknown)}; known: {sorted(defaults)}."
        )
    cfg.update(_plain(dict(config or {}), "config"))
    if architecture == "ge2e-lstm":
        fixed = {"sample_rate": GE2E_SAMPLE_RATE, "n_mels": GE2E_N_MELS}
        for k, v in fixed.items():
            if cfg[k] != v:
                raise ConfigError(f"ge2e-lstm uses the GE2E front end ({k}={v}); got {k}={cfg[k]}.")
    return cfg


# =========================================================================== networks
def build_network(architecture: str, config: Mapping[str, Any] | None = None):
    """A fresh (randomly initialised) torch network for a voxref architecture.

    Every network maps waveforms ``(batch, num_samples)`` at ``config["sample_rate"]`` to
    embeddings ``(batch, dimension)`` and carries ``.architecture`` and ``.config`` so
    :func:`save_network` can write it. Initialisation uses torch's global RNG: wrap the call in
    :func:`voxref.seeding.seeded_init` for reproducible weights that leave that RNG alone.

    Examples
    --------
    >>> import torch
    >>> net = build_network("ge2e-lstm", {"num_layers": 1})
    >>> net(torch.zeros(2, 16000)).shape
    torch.Size([2, 256])
    """
    cfg = resolve_config(architecture, config)
    if architecture == "ge2e-lstm":
        net = build_ge2e_network(cfg)
    else:
        from .speechbrain_backend import build_speechbrain_network

        net = build_speechbrain_network(architecture, cfg)
    net.architecture = architecture
    net.config = cfg
    return net


# =========================================================================== save / load
@dataclass
class EncoderCheckpoint:
    """A loaded voxref encoder checkpoint.

    Attributes
    ----------
    architecture
        One of :data:`ARCHITECTURES`.
    config
        Full hyper-parameters (defaults filled in).
    state_dict
        The network weights.
    metadata
        Free-form JSON-able information (``voxref_version``, ``created``, ``name``, training...).
    path
        Where it was read from.
    """

    architecture: str
    config: dict[str, Any]
    state_dict: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def build_network(self):
        """The network with these weights loaded (eval mode)."""
        net = build_network(self.architecture, self.config)
        try:
            net.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(
                f"{self.path or 'checkpoint'}: weights do not fit a {self.architecture} network "
                f"with config {self.config}: {str(exc).splitlines()[0]}"
            ) from None
        return net.eval()

    @property
    def name(self) -> str:
        stem = self.path.parent.name if self.path and self.path.name == CHECKPOINT_FILE else None
        stem = stem or (self.path.stem if self.path else "checkpoint")
        return str(self.metadata.get("name") or f"voxref-{self.architecture}:{stem}")

    def to_encoder(self, device: str = "cpu") -> Encoder:
        """An :class:`~voxref.encoding.Encoder` running this checkpoint."""
        if self.architecture == "ge2e-lstm":
            return CheckpointGE2EEncoder(self, device=device)
        net = self.build_network().to(device)
        cfg = self.config
        return ModuleEncoder(
            net,
            name=self.name,
            sample_rate=int(cfg["sample_rate"]),
            dimension=probe_dimension(net, int(cfg["sample_rate"]), device),
            window_seconds=float(cfg["window_seconds"]),
            hop_seconds=float(cfg["hop_seconds"]),
            device=device,
            info={"backend": "voxref", "architecture": self.architecture, "source": str(self.path)},
        )


def _sidecar_path(file: Path) -> Path:
    return file.parent / SIDECAR_FILE if file.name == CHECKPOINT_FILE else file.with_suffix(".json")


def save_checkpoint(
    path: str | os.PathLike,
    architecture: str,
    config: Mapping[str, Any] | None,
    state_dict: Mapping[str, Any],
    *,
    metadata: Mapping[str, Any] | None = None,
    sidecar: bool = True,
) -> Path:
    """Write a voxref encoder checkpoint (the format in this module's docstring).

    Parameters
    ----------
    path
        A ``.pt``/``.pth`` file, or a directory (created; gets ``encoder.pt`` + ``encoder.json``).
    architecture, config
        See :data:`DEFAULT_CONFIGS`; missing config keys take the defaults.
    state_dict
        Parameter name -> tensor (moved to CPU).
    metadata
        JSON-able extras (training recipe, data, metrics...). ``voxref_version`` and ``created``
        are added.
    sidecar
        Also write the JSON sidecar (always written for directories).

    Returns
    -------
    Path
        The checkpoint file written.

    Examples
    --------
    >>> import tempfile, torch
    >>> net = build_network("ge2e-lstm", {"num_layers": 1})
    >>> d = tempfile.mkdtemp()
    >>> f = save_checkpoint(d + "/enc", "ge2e-lstm", net.config, net.state_dict())
    >>> load_checkpoint(f).config["num_layers"]
    1
    """
    import torch

    from .._version import __version__

    cfg = resolve_config(architecture, config)
    tensors = {}
    for k, v in state_dict.items():
        if not isinstance(k, str) or not torch.is_tensor(v):
            raise ConfigError(f"state_dict entry {k!r} is not a (str, tensor) pair.")
        tensors[k] = v.detach().to("cpu").contiguous().clone()
    meta = _plain(dict(metadata or {}), "metadata")
    meta.setdefault("voxref_version", __version__)
    meta.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    obj = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "architecture": architecture,
        "config": cfg,
        "state_dict": tensors,
        "metadata": meta,
    }
    p = Path(path)
    if p.suffix.lower() in (".pt", ".pth"):
        file = p
        file.parent.mkdir(parents=True, exist_ok=True)
    else:
        p.mkdir(parents=True, exist_ok=True)
        file, sidecar = p / CHECKPOINT_FILE, True
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    atomic_write_bytes(file, data)
    if sidecar:
        info = {k: v for k, v in obj.items() if k != "state_dict"}
        info["file"] = file.name
        info["sha256"] = hashlib.sha256(data).hexdigest()
        info["num_parameters"] = int(sum(t.numel() for t in tensors.values()))
        atomic_write_text(_sidecar_path(file), json.dumps(info, indent=2) + "\n")
    return file


def save_network(
    path: str | os.PathLike, network, *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """:func:`save_checkpoint` for a network made by :func:`build_network` (after training)."""
    arch = getattr(network, "architecture", None)
    if arch not in DEFAULT_CONFIGS:
        raise ConfigError(
            "save_network needs a network from voxref.embedder.checkpoint.build_network (it "
            "carries .architecture and .config); use save_checkpoint for anything else."
        )
    return save_checkpoint(path, arch, network.config, network.state_dict(), metadata=metadata)


def _checkpoint_file(path: Path) -> Path:
    if path.is_dir():
        file = path / CHECKPOINT_FILE
        if not file.is_file():
            raise MissingCheckpointError(f"{path} has no {CHECKPOINT_FILE} (voxref checkpoint).")
        return file
    if not path.is_file():
        raise MissingCheckpointError(f"no voxref checkpoint at {path}.")
    return path


def is_voxref_dict(obj: Any) -> bool:
    """Whether a loaded object is a voxref encoder checkpoint dictionary (its format tag)."""
    return isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT


def parse_checkpoint(obj: Any, path: Path | None = None) -> EncoderCheckpoint:
    """Validate a loaded checkpoint dictionary and wrap it as :class:`EncoderCheckpoint`."""
    import torch

    where = str(path or "checkpoint")
    if not is_voxref_dict(obj):
        raise CheckpointError(f"{where} is not a voxref encoder checkpoint (no format tag).")
    version = obj.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{where} is voxref checkpoint version {version!r}; this voxref reads version "
            f"{CHECKPOINT_VERSION} and older: upgrade voxref."
        )
    arch = obj.get("architecture")
    if arch not in DEFAULT_CONFIGS:
        raise CheckpointError(
            f"{where}: unknown architecture {arch!r} ({', '.join(ARCHITECTURES)})."
        )
    sd = obj.get("state_dict")
    if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
        raise CheckpointError(f"{where}: 'state_dict' must map names to tensors.")
    try:
        cfg = resolve_config(arch, obj.get("config") or {})
        meta = _plain(obj.get("metadata") or {}, "metadata")
    except ConfigError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    return EncoderCheckpoint(arch, cfg, sd, meta, path)


def load_checkpoint(path: str | os.PathLike) -> EncoderCheckpoint:
    """Read a voxref encoder checkpoint (file or directory) safely and check its sidecar.

    Raises
    ------
    MissingCheckpointError, UnsafeCheckpointError, CheckpointError
    """
    file = _checkpoint_file(Path(path))
    data = read_checkpoint_bytes(file)
    side = _sidecar_path(file)
    if side.is_file():
        try:
            info = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{side} is not valid JSON: {exc}") from None
        want = info.get("sha256")
        if want and want != hashlib.sha256(data).hexdigest():
            raise CheckpointError(
                f"{file} does not match the SHA-256 in {side}: the checkpoint was modified or "
                "truncated after it was written. Re-copy it, or delete the sidecar to load anyway."
            )
    return parse_checkpoint(safe_torch_load(data, name=str(file)), file)
