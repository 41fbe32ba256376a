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

Loading anything
----------------
:func:`load_pretrained` takes a voxref checkpoint (file or directory), a SpeechBrain model
directory (``hyperparams.yaml`` + ``*.ckpt``), a pyannote checkpoint (``.bin``/``.ckpt`` or a
directory with ``pytorch_model.bin``), a Resemblyzer/Real-Time-Voice-Cloning GE2E checkpoint
(``{"model_state": ...}``), or a Hugging Face hub id. Nothing is downloaded at import; a hub id
is looked up in the local cache first and, when downloads are off (``HF_HUB_OFFLINE=1`` or
``local_files_only=True``) and it is not cached, a :class:`~voxref.errors.MissingCheckpointError`
says what to do at once (no retry loop).

Every torch checkpoint goes through :func:`safe_torch_load` (``weights_only=True``): a pickle
that would construct arbitrary objects is refused with
:class:`~voxref.errors.UnsafeCheckpointError` before anything in it runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..encoding import Encoder, WindowEmbeddings, l2_normalize, window_starts
from ..errors import (
    CheckpointError,
    ConfigError,
    MissingCheckpointError,
    UnsafeCheckpointError,
)
from .ge2e import HOP as GE2E_HOP
from .ge2e import N_FFT as GE2E_N_FFT
from .ge2e import N_MELS as GE2E_N_MELS
from .ge2e import SAMPLE_RATE as GE2E_SAMPLE_RATE
from .ge2e import GE2EEncoder, mel_filterbank

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "ARCHITECTURES",
    "DEFAULT_CONFIGS",
    "EncoderCheckpoint",
    "CheckpointGE2EEncoder",
    "ModuleEncoder",
    "VariableLengthEncoder",
    "build_network",
    "save_checkpoint",
    "save_network",
    "load_checkpoint",
    "safe_torch_load",
    "load_module_checkpoint",
    "SavedModule",
    "shipped_checkpoint",
    "means_shipped",
    "read_checkpoint_bytes",
    "detect_format",
    "hub_file",
    "load_pretrained",
    "KNOWN_HUB_MODELS",
]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "voxref-encoder"
CHECKPOINT_VERSION = 1
CHECKPOINT_FILE = "encoder.pt"
SIDECAR_FILE = "encoder.json"

DEFAULT_CONFIGS: dict[str, dict[str, Any]] = {
    "ge2e-lstm": {
        "sample_rate": GE2E_SAMPLE_RATE,
        "n_mels": GE2E_N_MELS,
        "hidden_size": 256,
        "num_layers": 3,
        "embedding_dim": 256,
        "window_seconds": 1.6,
        "hop_seconds": 0.4,
    },
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

# hub id -> (backend, what it is). Other ids work too (the backend is then guessed).
KNOWN_HUB_MODELS: dict[str, tuple[str, str]] = {
    "speechbrain/spkrec-ecapa-voxceleb": ("speechbrain", "ECAPA-TDNN, 192-d, VoxCeleb1+2"),
    "speechbrain/spkrec-xvect-voxceleb": ("speechbrain", "x-vector, 512-d (SpeechT5's space)"),
    "pyannote/wespeaker-voxceleb-resnet34-LM": ("pyannote", "WeSpeaker ResNet34, 256-d"),
    "pyannote/embedding": ("pyannote", "x-vector SincNet, 512-d (gated: needs a token)"),
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
_MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar")


# =========================================================================== safe torch.load
def read_checkpoint_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a checkpoint file (read once, so what is checked is what is loaded)."""
    p = Path(path)
    if not p.is_file():
        raise MissingCheckpointError(f"no checkpoint file at {p}.")
    return p.read_bytes()


def safe_torch_load(
    source: str | os.PathLike | bytes,
    *,
    safe_globals: Iterable[Any] = (),
    name: str | None = None,
) -> Any:
    """``torch.load(weights_only=True)`` with errors that say what happened and what to do.

    Parameters
    ----------
    source
        A path, or the checkpoint's bytes.
    safe_globals
        Extra classes the checkpoint may reference (``torch.serialization.safe_globals`` entries),
        e.g. pyannote's ``Specifications``.
    name
        How to call the checkpoint in messages (default: the path).

    Raises
    ------
    UnsafeCheckpointError
        The pickle references something other than tensors and plain containers (a class with
        ``__reduce__``, ``os.system``...). Nothing in it has run.
    CheckpointError
        The file is not a torch checkpoint (truncated, text...).

    Examples
    --------
    >>> import io, torch
    >>> buf = io.BytesIO(); torch.save({"w": torch.ones(2)}, buf)
    >>> safe_torch_load(buf.getvalue())["w"].tolist()
    [1.0, 1.0]
    """
    import pickle

    import torch

    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), name or "<checkpoint bytes>"
    else:
        data, label = read_checkpoint_bytes(source), name or str(source)
    extra = list(safe_globals)
    try:
        if extra:
            with torch.serialization.safe_globals(extra):
                return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", msg)
        if found or any(s in msg for s in ("call reduce", "Can only create", "Can only build")):
            what = f" (it references {found.group(1)})" if found else ""
            raise UnsafeCheckpointError(
                f"{label} holds Python objects that would run code when loaded{what}; voxref "
                "only loads checkpoints with torch.load(weights_only=True) and did not run it. "
                "If you trust the file, re-save just its tensors (e.g. "
                "torch.save(torch.load(path, weights_only=False)['state_dict'], 'clean.pt')) "
                "and load that."
            ) from None
        raise CheckpointError(
            f"{label} is not a readable torch checkpoint (corrupt, not a checkpoint, or using "
            f"pickle features voxref refuses): {msg.splitlines()[-1] if msg else ''}"
        ) from None
    except Exception as exc:  # torch's unpickler raises many kinds on corrupt bytes
        raise CheckpointError(
            f"{label} is not a readable torch checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); is the file complete?"
        ) from None


def save_module_checkpoint(
    module: Any, path: str | os.PathLike, *, checkpoint_format: str, metadata: dict | None
) -> Path:
    """Write ``{"format", "config", "state_dict", "metadata"}`` for ``module`` (its ``config``
    dict and CPU copies of its tensors): plain values only, so :func:`load_module_checkpoint`
    reads it back with ``torch.load(weights_only=True)``."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    torch.save(
        {
            "format": checkpoint_format,
            "config": dict(module.config),
            "state_dict": state,
            "metadata": dict(metadata or {}),
        },
        path,
    )
    return path


def load_module_checkpoint(
    cls: Any,
    path: str | os.PathLike,
    *,
    checkpoint_format: str,
    what: str,
    map_location: str = "cpu",
) -> Any:
    """A ``torch.nn.Module`` of class ``cls`` from a ``{format, config, state_dict, metadata}``
    checkpoint written by its ``save`` (the pooling head, the target extractor).

    Loaded with :func:`safe_torch_load`; the module is built from ``config``, gets ``metadata``
    as an attribute and is returned in eval mode on ``map_location``.

    Raises
    ------
    UnsafeCheckpointError, CheckpointError
    """
    ckpt = safe_torch_load(path)
    fmt = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
    if fmt != checkpoint_format or "config" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path} is not a {checkpoint_format} checkpoint (format={fmt!r}); write one with "
            f"{cls.__name__}.save."
        )
    try:
        net = cls(**ckpt["config"])
    except (TypeError, ConfigError, KeyError) as exc:
        raise CheckpointError(
            f"{path}: unusable {what} config {ckpt.get('config')!r}: {exc}"
        ) from exc
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored config: {exc}") from exc
    net.metadata = dict(ckpt.get("metadata", {}))
    net.eval()
    return net.to(map_location)


def shipped_checkpoint(filename: str) -> Path:
    """Path of ``voxref/data/<filename>`` (the file may not exist).

    Examples
    --------
    >>> shipped_checkpoint("speaker_count.pt").parent.name
    'data'
    """
    from importlib import resources

    return Path(str(resources.files("voxref") / "data" / filename))


def means_shipped(spec: Any) -> bool:
    """Whether a model option asks for the checkpoint shipped with voxref (``True`` or
    ``"default"``), as ``separate=``, ``overlap_detector=`` and the benchmarks spell it.

    Examples
    --------
    >>> means_shipped(True), means_shipped("default"), means_shipped("my.pt"), means_shipped(None)
    (True, True, False, False)
    """
    return spec is True or (isinstance(spec, str) and spec == "default")


class SavedModule:
    """``save`` / ``load`` for a ``torch.nn.Module`` with a ``config`` dict and ``metadata``, in
    the ``{format, config, state_dict, metadata}`` layout of :func:`save_module_checkpoint`.

    Subclasses set :attr:`checkpoint_format`, :attr:`checkpoint_file` (the shipped file in
    ``voxref/data``), :attr:`checkpoint_what` (for messages) and :attr:`trained_by` (the script
    that writes one).
    """

    checkpoint_format: str = ""
    checkpoint_file: str = ""
    checkpoint_what: str = ""
    trained_by: str = ""

    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Write ``{"format", "config", "state_dict", "metadata"}`` (weights_only-loadable)."""
        return save_module_checkpoint(
            self,
            path,
            checkpoint_format=self.checkpoint_format,
            metadata=metadata if metadata is not None else getattr(self, "metadata", {}),
        )

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, map_location: str = "cpu") -> Any:
        """Load a checkpoint written by :meth:`save` (default: the shipped one)."""
        path = Path(path) if path is not None else shipped_checkpoint(cls.checkpoint_file)
        if not path.is_file():
            raise MissingCheckpointError(
                f"no {cls.checkpoint_what} checkpoint at {path}; train one with {cls.trained_by}."
            )
        return load_module_checkpoint(
            cls,
            path,
            checkpoint_format=cls.checkpoint_format,
            what=cls.checkpoint_what,
            map_location=map_location,
        )


def unsafe_global_in(exc: BaseException) -> str | None:
    """The global an :class:`UnsafeCheckpointError` from :func:`safe_torch_load` names, if any."""
    found = re.search(r"references ([\w.]+)\)", str(exc))
    return found.group(1) if found else None


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
@lru_cache(maxsize=1)
def _ge2e_network_class() -> type:
    import torch
    from torch import nn

    class GE2ENetwork(nn.Module):
        """GE2E d-vector network; ``forward`` takes waveforms ``(B, T)`` or mels ``(B, F, 40)``."""

        architecture = "ge2e-lstm"

        def __init__(self, config: Mapping[str, Any]) -> None:
            super().__init__()
            self.config = dict(config)
            self.lstm = nn.LSTM(
                config["n_mels"], config["hidden_size"], config["num_layers"], batch_first=True
            )
            self.linear = nn.Linear(config["hidden_size"], config["embedding_dim"])
            self.register_buffer(
                "stft_window", torch.hann_window(GE2E_N_FFT, periodic=True), persistent=False
            )
            self.register_buffer("mel_basis", torch.from_numpy(mel_filterbank()), persistent=False)

        def mel(self, waveforms):
            """Mel power spectrogram ``(B, frames, 40)`` as :meth:`GE2EEncoder.mel`."""
            spec = torch.stft(
                waveforms,
                GE2E_N_FFT,
                GE2E_HOP,
                GE2E_N_FFT,
                window=self.stft_window,
                center=True,
                pad_mode="constant",
                return_complex=True,
            )
            power = spec.real**2 + spec.imag**2  # (B, freq, frames)
            return (self.mel_basis @ power).transpose(1, 2)

        def forward(self, x):
            mels = self.mel(x) if x.dim() == 2 else x
            _, (hidden, _) = self.lstm(mels)
            e = torch.relu(self.linear(hidden[-1]))
            return e / torch.linalg.vector_norm(e, dim=1, keepdim=True).clamp_min(1e-12)

    return GE2ENetwork


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
        net = _ge2e_network_class()(cfg)
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
            dimension=_probe_dimension(net, int(cfg["sample_rate"]), device),
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
    file.write_bytes(data)
    if sidecar:
        info = {k: v for k, v in obj.items() if k != "state_dict"}
        info["file"] = file.name
        info["sha256"] = hashlib.sha256(data).hexdigest()
        info["num_parameters"] = int(sum(t.numel() for t in tensors.values()))
        _sidecar_path(file).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
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


def _is_voxref_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT


def parse_checkpoint(obj: Any, path: Path | None = None) -> EncoderCheckpoint:
    """Validate a loaded checkpoint dictionary and wrap it as :class:`EncoderCheckpoint`."""
    import torch

    where = str(path or "checkpoint")
    if not _is_voxref_dict(obj):
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


# =========================================================================== encoders
def _probe_dimension(forward: Any, sample_rate: int, device: str) -> int:
    """Output size of ``forward`` on one second of a quiet sine (deterministic)."""
    import torch

    t = np.arange(sample_rate, dtype=np.float32) / sample_rate
    x = torch.from_numpy((0.05 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32))[None]
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(0)
        out = forward(x.to(device))
    return int(out.reshape(1, -1).shape[1])


class VariableLengthEncoder(Encoder):
    """An encoder whose network accepts any input length (ECAPA, x-vector, WeSpeaker...).

    Windows are never zero-padded (silence would enter the statistics pooling): a signal shorter
    than a window is embedded whole, and the last window is aligned to the signal's end.
    """

    min_seconds: float = 0.5
    max_utterance_seconds: float = 60.0

    @property
    def min_num_samples(self) -> int:
        return int(round(self.min_seconds * self.sample_rate))

    def embed_windows(
        self,
        samples: np.ndarray,
        window: float | None = None,
        hop: float | None = None,
        *,
        min_coverage: float = 0.75,
        source: str | None = None,
    ) -> WindowEmbeddings:
        """Unit-norm embeddings of sliding windows (see the class docstring for the edges).

        ``min_coverage`` is accepted for interface compatibility and unused: nothing is padded.
        """
        x = self._check(samples, source)
        win = int(round((window or self.window_seconds) * self.sample_rate))
        hp = max(1, int(round((hop or self.hop_seconds) * self.sample_rate)))
        if len(x) <= win:
            with self._lock:
                emb = l2_normalize(self.embed_batch(x[None]))
            return WindowEmbeddings(
                emb, np.zeros(1), np.array([len(x) / self.sample_rate], dtype=np.float64)
            )
        starts = window_starts(len(x), win, hp, 1.0)
        if starts[-1] + win < len(x):
            starts = np.append(starts, len(x) - win)
        out = []
        for i in range(0, len(starts), self.batch_size):
            chunk = np.stack([x[s : s + win] for s in starts[i : i + self.batch_size]])
            with self._lock:
                out.append(self.embed_batch(chunk))
        st = starts.astype(np.float64) / self.sample_rate
        return WindowEmbeddings(
            l2_normalize(np.concatenate(out, axis=0)), st, st + win / self.sample_rate
        )

    def embed_utterance(self, samples: np.ndarray, *, source: str | None = None) -> np.ndarray:
        """One unit-norm embedding of the whole signal in one forward pass (as SpeechBrain and
        pyannote users do); signals longer than ``max_utterance_seconds`` fall back to the
        mean of window embeddings."""
        x = self._check(samples, source)
        if len(x) > self.max_utterance_seconds * self.sample_rate:
            return self.embed_windows(x, source=source).mean()
        with self._lock:
            return l2_normalize(self.embed_batch(x[None])[0])


class ModuleEncoder(VariableLengthEncoder):
    """An encoder around a callable mapping waveforms ``(B, T)`` (torch) to ``(B, D)``.

    Parameters
    ----------
    forward
        Called under ``torch.inference_mode()`` on a float32 tensor on ``device``.
    name, sample_rate, dimension, window_seconds, hop_seconds
        The :class:`~voxref.encoding.Encoder` properties.
    min_seconds
        Shortest input accepted.
    info
        Extra fields for :meth:`describe` (backend, architecture, source).

    Examples
    --------
    >>> import numpy as np, torch
    >>> enc = ModuleEncoder(lambda w: torch.stack([w.mean(1), w.std(1)], 1), name="toy",
    ...                     sample_rate=16000, dimension=2)
    >>> enc.embed_utterance(np.ones(16000, dtype="float32")).round(3).tolist()
    [1.0, 0.0]
    """

    def __init__(
        self,
        forward: Callable[[Any], Any],
        *,
        name: str,
        sample_rate: int,
        dimension: int,
        window_seconds: float = 3.0,
        hop_seconds: float = 1.5,
        min_seconds: float = 0.5,
        device: str = "cpu",
        info: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.forward = forward
        self.name = name
        self.sample_rate = int(sample_rate)
        self.dimension = int(dimension)
        self.window_seconds = float(window_seconds)
        self.hop_seconds = float(hop_seconds)
        self.min_seconds = float(min_seconds)
        self.device = device
        self.info = dict(info or {})
        self.rng_seed = 0

    def embed_batch(self, windows: np.ndarray) -> np.ndarray:
        """Run the network on ``(B, T)`` windows.

        The call runs under a private, fixed-seed torch RNG: some networks draw random numbers
        at inference (SpeechBrain's ``StatisticsPooling``, used by the x-vector, adds tiny
        Gaussian noise to the mean), which would otherwise make embeddings differ between calls
        and consume the caller's global RNG.
        """
        import torch

        x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(self.device)
        dev = torch.device(self.device)
        devices = [dev.index or 0] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(self.rng_seed)
            out = self.forward(x)
        return out.reshape(len(windows), -1).float().cpu().numpy()

    def describe(self) -> dict:
        return {**super().describe(), **self.info}


class CheckpointGE2EEncoder(GE2EEncoder):
    """A :class:`~voxref.embedder.ge2e.GE2EEncoder` running weights from a voxref checkpoint.

    Same front end, windowing and Resemblyzer-compatible ``embed_utterance``; only the weights
    (and, if the config says so, the LSTM size / embedding dimension) differ.
    """

    def __init__(self, checkpoint: EncoderCheckpoint, device: str = "cpu") -> None:
        super().__init__(weights=checkpoint.path or "<in-memory checkpoint>", device=device)
        self.checkpoint = checkpoint
        self.name = checkpoint.name
        self.dimension = int(checkpoint.config["embedding_dim"])
        self.window_seconds = float(checkpoint.config["window_seconds"])
        self.hop_seconds = float(checkpoint.config["hop_seconds"])

    def _build(self):
        import torch

        net = self.checkpoint.build_network().to(self.device)
        self._window = torch.hann_window(GE2E_N_FFT, periodic=True, device=self.device)
        self._fbank = torch.from_numpy(mel_filterbank()).to(self.device)
        return net

    def describe(self) -> dict:
        return {
            **super().describe(),
            "backend": "voxref",
            "architecture": "ge2e-lstm",
            "source": str(self.checkpoint.path),
        }


# =========================================================================== detection
def detect_format(path: str | os.PathLike) -> str:
    """Which loader a local file or directory needs, without running anything in it.

    Returns one of ``"voxref"``, ``"speechbrain"``, ``"pyannote"``, ``"ge2e"`` (Resemblyzer / RTVC
    ``{"model_state": ...}``).
    """
    p = Path(path)
    if p.is_dir():
        if (p / CHECKPOINT_FILE).is_file():
            return "voxref"
        if (p / "hyperparams.yaml").is_file():
            return "speechbrain"
        if (p / "pytorch_model.bin").is_file():
            return "pyannote"
        raise CheckpointError(
            f"{p} is a directory but holds none of {CHECKPOINT_FILE} (voxref), hyperparams.yaml "
            "(SpeechBrain) or pytorch_model.bin (pyannote); pass the checkpoint file itself."
        )
    if not p.is_file():
        raise MissingCheckpointError(f"no file or directory at {p}.")
    if p.suffix.lower() in (".yaml", ".yml"):
        return "speechbrain"
    try:
        obj = safe_torch_load(p)
    except UnsafeCheckpointError as exc:
        ref = unsafe_global_in(exc) or ""
        if ref.startswith(("pyannote.audio.", "pytorch_lightning.", "lightning.")):
            return "pyannote"  # checked again, against pyannote's allow-list, by its loader
        raise
    if _is_voxref_dict(obj):
        return "voxref"
    if isinstance(obj, dict) and "pyannote.audio" in obj:
        return "pyannote"
    if isinstance(obj, dict) and isinstance(obj.get("model_state"), dict):
        return "ge2e"
    if isinstance(obj, dict) and any(str(k).startswith("lstm.weight_ih_l0") for k in obj):
        return "ge2e"
    raise CheckpointError(
        f"{p} is a torch file voxref does not recognise (keys: {list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__}). "
        "voxref loads its own checkpoints (save_checkpoint), SpeechBrain model directories, pyannote "
        "checkpoints and Resemblyzer/RTVC GE2E checkpoints."
    )


# =========================================================================== hub
def _downloads_disabled(local_files_only: bool) -> bool:
    if local_files_only:
        return True
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return env in ("1", "true", "yes", "on")


def hub_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> Path:
    """Local path of ``filename`` from hub repo ``repo_id``: from the cache, else downloaded.

    The cache is checked first; when downloads are off (``HF_HUB_OFFLINE=1`` or
    ``local_files_only``) a missing file raises :class:`MissingCheckpointError` at once.
    """
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
    except ImportError as exc:  # pragma: no cover - a dependency of speechbrain and pyannote
        from ..errors import MissingDependencyError

        raise MissingDependencyError(
            "huggingface_hub", "huggingface_hub", "Loading models by hub id"
        ) from exc
    cached = try_to_load_from_cache(
        repo_id, filename, cache_dir=str(cache_dir) if cache_dir else None, revision=revision
    )
    if isinstance(cached, str) and Path(cached).is_file():
        return Path(cached)
    where = f"{repo_id}/{filename}" + (f"@{revision}" if revision else "")
    if _downloads_disabled(local_files_only):
        raise MissingCheckpointError(
            f"{where} is not in the local Hugging Face cache"
            f"{f' ({cache_dir})' if cache_dir else ''} and downloads are off "
            "(HF_HUB_OFFLINE=1 or local_files_only=True). Download it once with network access "
            f"(`huggingface-cli download {repo_id}`, or unset HF_HUB_OFFLINE), or pass a local "
            "checkpoint path instead."
        )
    try:
        return Path(
            hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                cache_dir=str(cache_dir) if cache_dir else None,
                token=token,
            )
        )
    except GatedRepoError as exc:
        raise MissingCheckpointError(
            f"{repo_id} is gated: accept its conditions on https://huggingface.co/{repo_id} and "
            "pass token=<your HF token> (or log in with `huggingface-cli login`)."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise MissingCheckpointError(
            f"no hub repository {repo_id!r} (or it is private: pass token=...)."
        ) from exc
    except Exception as exc:  # network errors, missing file, ...
        raise MissingCheckpointError(
            f"could not download {where}: {type(exc).__name__}: {str(exc).splitlines()[0]}. "
            "Check the id and your connection, or pass a local path."
        ) from exc


def _hub_backend(
    repo_id: str, backend: str | None, hub_kwargs: dict[str, Any]
) -> tuple[str, Path | None]:
    """Which backend a hub repo needs, and its voxref checkpoint file if that is what it is."""
    if backend:
        return backend, None
    if repo_id in KNOWN_HUB_MODELS:
        return KNOWN_HUB_MODELS[repo_id][0], None
    owner = repo_id.split("/", 1)[0].lower()
    if owner == "speechbrain":
        return "speechbrain", None
    if owner in ("pyannote", "pyannoteai"):
        return "pyannote", None
    tried = []
    for kind, filename in (
        ("voxref", CHECKPOINT_FILE),
        ("speechbrain", "hyperparams.yaml"),
        ("pyannote", "pytorch_model.bin"),
    ):
        try:
            found = hub_file(repo_id, filename, **hub_kwargs)
        except MissingCheckpointError as exc:
            tried.append(f"{filename}: {str(exc).splitlines()[0]}")
            continue
        return kind, (found if kind == "voxref" else None)
    raise MissingCheckpointError(
        f"cannot tell what {repo_id!r} is; none of its expected files could be found:\n  "
        + "\n  ".join(tried)
        + "\nPass backend='speechbrain' | 'pyannote' | 'voxref', or a local path."
    )


# =========================================================================== dispatcher
def _looks_like_path(source: str) -> bool:
    return (
        source.startswith((".", "/", "~", "\\"))
        or os.sep in source.strip("/").replace("/", "", 1)
        or Path(source).suffix.lower() in _MODEL_SUFFIXES + (".yaml", ".yml")
        or (len(source) > 1 and source[1] == ":")
    )


def is_hub_id(source: str | os.PathLike) -> bool:
    """Is ``source`` a hub id ``owner/name`` (and not something that looks like a local path)?

    Examples
    --------
    >>> is_hub_id("speechbrain/spkrec-ecapa-voxceleb"), is_hub_id("./models/x"), is_hub_id("a.pt")
    (True, False, False)
    """
    text = os.fspath(source)
    return not _looks_like_path(text) and bool(_HUB_ID.match(text))


def load_pretrained(
    source: str | os.PathLike | Encoder,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    backend: str | None = None,
    device: str = "cpu",
    allow_yaml_targets: Iterable[str] = (),
) -> Encoder:
    """An :class:`~voxref.encoding.Encoder` from a checkpoint path or a hub id.

    Parameters
    ----------
    source
        A voxref checkpoint (``.pt`` or directory), a SpeechBrain model directory
        (``hyperparams.yaml`` + ``embedding_model.ckpt`` ...), a pyannote checkpoint (``.bin`` /
        ``.ckpt``, or a directory with ``pytorch_model.bin``), a Resemblyzer / Real-Time-Voice-
        Cloning GE2E ``.pt``, or a Hugging Face hub id such as
        ``"speechbrain/spkrec-ecapa-voxceleb"``, ``"speechbrain/spkrec-xvect-voxceleb"``,
        ``"pyannote/wespeaker-voxceleb-resnet34-LM"``, ``"pyannote/embedding"``.
    revision, cache_dir, token, local_files_only
        Hub options (``token`` for gated pyannote models). Nothing is downloaded when
        ``local_files_only`` or ``HF_HUB_OFFLINE=1``: only the cache is read.
    backend
        Force ``"voxref"``, ``"speechbrain"``, ``"pyannote"`` or ``"ge2e"`` instead of detecting.
    device
        Torch device.
    allow_yaml_targets
        Extra module prefixes a SpeechBrain ``hyperparams.yaml`` may construct (see
        :func:`voxref.embedder.speechbrain_backend.check_hyperparams`). Only extend this for
        YAML you have read: HyperPyYAML runs what it names.

    Raises
    ------
    MissingCheckpointError
        Nothing at the path; or a hub id not cached while offline (the message says what to do).
    UnsafeCheckpointError
        A pickle or YAML that would run code (nothing in it has run).
    CheckpointError
        A file voxref cannot interpret.
    MissingDependencyError
        The backend's package (speechbrain / pyannote.audio) is not installed.

    Examples
    --------
    >>> enc = load_pretrained("speechbrain/spkrec-ecapa-voxceleb")  # doctest: +SKIP
    >>> enc.dimension  # doctest: +SKIP
    192
    """
    if isinstance(source, Encoder):
        return source
    text = os.fspath(source)
    path = Path(text).expanduser()
    yaml_allow = tuple(allow_yaml_targets)
    if path.exists():
        if revision is not None:
            raise ConfigError("revision= applies to hub ids only, not to local paths.")
        kind = backend or detect_format(path)
        return _load_local(kind, path, device=device, allow_yaml_targets=yaml_allow)
    if not is_hub_id(text):
        raise MissingCheckpointError(
            f"{text!r} is neither an existing file or directory nor a hub id 'owner/name'."
        )
    hub_kwargs = {
        "revision": revision,
        "cache_dir": cache_dir,
        "token": token,
        "local_files_only": local_files_only,
    }
    kind, found = _hub_backend(text, backend, hub_kwargs)
    if kind == "voxref":
        file = found or hub_file(text, CHECKPOINT_FILE, **hub_kwargs)
        return load_checkpoint(file).to_encoder(device)
    if kind == "speechbrain":
        from .speechbrain_backend import SpeechBrainEncoder

        return SpeechBrainEncoder.from_hub(
            text, device=device, allow_yaml_targets=yaml_allow, **hub_kwargs
        )
    if kind == "pyannote":
        from .pyannote_backend import PyannoteEncoder

        return PyannoteEncoder.from_hub(text, device=device, **hub_kwargs)
    raise ConfigError(f"unknown backend {kind!r}; use voxref, speechbrain or pyannote.")


def _load_local(
    kind: str, path: Path, *, device: str, allow_yaml_targets: tuple[str, ...]
) -> Encoder:
    if kind == "voxref":
        return load_checkpoint(path).to_encoder(device)
    if kind == "speechbrain":
        from .speechbrain_backend import SpeechBrainEncoder

        directory = path.parent if path.is_file() else path
        return SpeechBrainEncoder.from_directory(
            directory, device=device, allow_yaml_targets=allow_yaml_targets
        )
    if kind == "pyannote":
        from .pyannote_backend import PyannoteEncoder

        return PyannoteEncoder.from_checkpoint(path, device=device)
    if kind == "ge2e":
        file = path / "pretrained.pt" if path.is_dir() else path
        safe_torch_load(file)  # GE2EEncoder loads with weights_only=True too; fail early here
        return GE2EEncoder(weights=file, device=device)
    raise ConfigError(f"unknown backend {kind!r}; use voxref, speechbrain, pyannote or ge2e.")
