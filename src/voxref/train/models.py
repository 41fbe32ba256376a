"""Trainable encoders: waveforms ``(B, T)`` -> embeddings ``(B, D)``, and their export.

* ``"ge2e"``: the GE2E LSTM of :class:`voxref.embedder.ge2e.GE2EEncoder`, built with
  :func:`voxref.embedder.checkpoint.build_network` (same parameter names as Resemblyzer's
  checkpoint) and initialised from the bundled weights. Its mel front end has no parameters;
  crops of ``T`` samples give ``T // 160`` frames, exactly the frames a window of that length
  gets at inference.
* ``"ecapa"``: SpeechBrain's ``Fbank`` + ``ECAPA_TDNN`` (randomly initialised: no pretrained
  weights ship offline), also from :func:`~voxref.embedder.checkpoint.build_network`.
* ``"wespeaker"``: pyannote's ``WeSpeakerResNet34`` (optional; imports pyannote.audio, ~6 s).

The first two export to voxref's checkpoint format (``encoder.pt`` + ``encoder.json``, loaded
by :func:`voxref.embedder.loader.load_pretrained`); WeSpeaker exports a pyannote
(Lightning-style) ``pytorch_model.bin``, which the same loader reads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..seeding import seeded_init
from .config import TrainConfig

__all__ = ["TrainableEncoder", "build_model", "ARCHITECTURE_OF"]

log = logging.getLogger(__name__)

#: TrainConfig.model -> checkpoint architecture.
ARCHITECTURE_OF = {"ge2e": "ge2e-lstm", "ecapa": "ecapa-tdnn", "wespeaker": "wespeaker-resnet34"}

_GE2E_HOP = 160


class TrainableEncoder(nn.Module):
    """A speaker encoder being trained, with what it takes to export and evaluate it.

    Parameters
    ----------
    network
        The torch module (waveforms in, embeddings out).
    architecture
        ``"ge2e-lstm"``, ``"ecapa-tdnn"`` or ``"wespeaker-resnet34"``.
    config
        The architecture's JSON-able configuration.
    dimension
        Embedding size.
    """

    def __init__(
        self, network: nn.Module, architecture: str, config: Mapping[str, Any], dimension: int
    ) -> None:
        super().__init__()
        self.network = network
        self.architecture = architecture
        self.config = dict(config)
        self.dimension = int(dimension)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` float waveforms at 16 kHz -> ``(B, D)`` embeddings (not normalised)."""
        if self.architecture == "ge2e-lstm":
            mels = self.network.mel(waves)[:, : max(1, waves.shape[1] // _GE2E_HOP)]
            return self.network(mels)
        if self.architecture == "wespeaker-resnet34":
            return self.network(waves[:, None, :])
        return self.network(waves)

    def embed_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        """``(U, K, T)`` chunks -> ``(U, K, D)`` embeddings in one forward pass."""
        u, k, t = chunks.shape
        return self.forward(chunks.reshape(u * k, t)).reshape(u, k, -1)

    def state_for_export(self) -> dict[str, torch.Tensor]:
        """CPU copies of the network's weights."""
        return {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}

    # ------------------------------------------------------------------ export
    def export(self, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> Path:
        """Write the weights where :func:`voxref.embedder.loader.load_pretrained` reads them.

        ``path`` is a folder: it gets ``encoder.pt`` + ``encoder.json`` (voxref format), or
        ``pytorch_model.bin`` (pyannote format, WeSpeaker). Returns the file written.
        """
        if self.architecture == "wespeaker-resnet34":
            return _export_pyannote(self.network, Path(path))
        from ..embedder.checkpoint import save_checkpoint

        return save_checkpoint(
            path,
            self.architecture,
            self.config,
            self.state_for_export(),
            metadata=metadata,
        )

    def to_encoder(self, name: str = "voxref-train:current", device: str = "cpu"):
        """An inference :class:`~voxref.encoding.Encoder` running a copy of the current weights.

        It is the exact code path ``voxref.Embedder`` runs on the exported checkpoint, so
        validation numbers are what users get.
        """
        if self.architecture == "wespeaker-resnet34":
            import copy

            from ..embedder.pyannote_backend import PyannoteEncoder

            net = copy.deepcopy(self.network).cpu().eval()
            return PyannoteEncoder(net, name=name, source="<training>", device=device)
        from ..embedder.checkpoint import EncoderCheckpoint

        ckpt = EncoderCheckpoint(
            self.architecture, self.config, self.state_for_export(), {"name": name}
        )
        return ckpt.to_encoder(device)


def _export_pyannote(network: nn.Module, folder: Path) -> Path:
    import lightning

    ckpt = {
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
        "pytorch-lightning_version": lightning.__version__,
        "hyper_parameters": dict(network.hparams),
    }
    network.on_save_checkpoint(ckpt)
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "pytorch_model.bin"
    torch.save(ckpt, file)
    return file


def _bundled_ge2e_state() -> dict[str, torch.Tensor]:
    from ..embedder.ge2e import bundled_weights_path

    state = torch.load(bundled_weights_path(), map_location="cpu", weights_only=True)
    return dict(state.get("model_state", state))


def bundled_ge2e_similarity() -> tuple[float, float]:
    """The GE2E similarity scale ``w`` and offset ``b`` stored with the bundled weights.

    Examples
    --------
    >>> w, b = bundled_ge2e_similarity()
    >>> w > 1.0 and b < 0.0
    True
    """
    state = _bundled_ge2e_state()
    return float(state["similarity_weight"].reshape(-1)[0]), float(
        state["similarity_bias"].reshape(-1)[0]
    )


def _load_init(path: str, architecture: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    from ..embedder.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    if ckpt.architecture != architecture:
        raise ConfigError(
            f"init={path!r} is a {ckpt.architecture} checkpoint; the model to train is "
            f"{architecture}."
        )
    return ckpt.config, ckpt.state_dict


def build_model(config: TrainConfig) -> TrainableEncoder:
    """The encoder to train, initialised as ``config.init`` says.

    Random initialisation is seeded by ``config.seed`` without touching torch's global RNG.

    Examples
    --------
    >>> model = build_model(TrainConfig(model="ge2e"))
    >>> model(torch.zeros(2, 16000)).shape
    torch.Size([2, 256])
    """
    arch = ARCHITECTURE_OF[config.model]
    with seeded_init(int(config.seed)):
        if arch == "wespeaker-resnet34":
            return _build_wespeaker(config)
        from ..embedder.checkpoint import build_network

        model_config = dict(config.model_config)
        state = None
        if config.init not in ("auto", "random"):
            saved_config, state = _load_init(config.init, arch)
            model_config = {**saved_config, **model_config}
        net = build_network(arch, model_config)
        if state is not None:
            net.load_state_dict(state, strict=True)
        elif config.init == "auto" and arch == "ge2e-lstm":
            bundled = {
                k: v for k, v in _bundled_ge2e_state().items() if not k.startswith("similarity")
            }
            try:
                net.load_state_dict(bundled, strict=True)
            except RuntimeError as exc:
                raise ConfigError(
                    "model_config changes the GE2E network's shape, so the bundled weights do "
                    f"not fit ({str(exc).splitlines()[0]}); use init='random' for that."
                ) from None
        with torch.no_grad():
            probe = torch.zeros(1, 16000)
            dim = int(TrainableEncoder(net, arch, net.config, 0).eval()(probe).shape[-1])
        _fix_shift_invariant(net)
        return TrainableEncoder(net, arch, net.config, dim)


def _fix_shift_invariant(net: nn.Module) -> None:
    """Stop training parameters the output does not depend on.

    ECAPA's attentive pooling adds ``asp.conv``'s bias to every frame of a channel before a
    softmax over the frames, which removes it: its gradient is zero up to rounding, and Adam's
    normalised step would move it by about ``lr`` per step in a direction set by that rounding.
    """
    for name, p in net.named_parameters():
        if name.endswith("asp.conv.conv.bias"):
            p.requires_grad_(False)


def _build_wespeaker(config: TrainConfig) -> TrainableEncoder:
    from ..loading.pyannote import import_pyannote

    import_pyannote()
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34

    if config.init not in ("auto", "random"):
        raise ConfigError(
            "init=<checkpoint> is not supported for wespeaker yet; start from random weights."
        )
    net = WeSpeakerResNet34(**dict(config.model_config))
    net.specifications = Specifications(
        problem=Problem.REPRESENTATION,
        resolution=Resolution.CHUNK,
        duration=float(config.crop_seconds),
    )
    with torch.no_grad():
        dim = int(net.eval()(torch.zeros(1, 1, 16000)).shape[-1])
    return TrainableEncoder(net, "wespeaker-resnet34", dict(config.model_config), dim)
