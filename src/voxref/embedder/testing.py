"""Tiny randomly initialised encoder checkpoints in the real on-disk formats (for tests).

Each builder writes files laid out exactly as the real models are (same file names, same
``hyperparams.yaml`` structure, same Lightning checkpoint keys), with small layer sizes and
seeded random weights, so the loading code can be tested offline in seconds. The weights are
meaningless: embeddings are deterministic but do not identify speakers.

========================================  ==========================================================
builder                                   the real model it imitates (published configuration)
========================================  ==========================================================
:func:`make_speechbrain_ecapa_dir`        ``speechbrain/spkrec-ecapa-voxceleb``: 80 mels, ECAPA
                                          channels [1024, 1024, 1024, 1024, 3072], attention 128,
                                          192-d, 7205 VoxCeleb speakers (tiny: [32, 32, 32, 32, 96],
                                          attention 16, 192-d, 5 speakers)
:func:`make_speechbrain_xvector_dir`      ``speechbrain/spkrec-xvect-voxceleb``: 24 mels, TDNN
                                          [512, 512, 512, 512, 1500], 512-d (tiny: [64, 64, 64, 64,
                                          128], 512-d)
:func:`make_pyannote_checkpoint`          ``pyannote/wespeaker-voxceleb-resnet34-LM`` (WeSpeaker
                                          ResNet34, 256-d: full size, 6.6 M parameters) or
                                          ``pyannote/embedding`` (x-vector SincNet, 512-d, 4.3 M)
:func:`make_voxref_checkpoint`            voxref's own format (tiny configs in
                                          :data:`TINY_CONFIGS`)
========================================  ==========================================================

Random initialisation runs under :func:`voxref.seeding.seeded_init` with the given ``seed``: the
global RNG state is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TINY_CONFIGS",
    "ECAPA_HPARAMS_TEMPLATE",
    "XVECTOR_HPARAMS_TEMPLATE",
    "make_speechbrain_ecapa_dir",
    "make_speechbrain_xvector_dir",
    "make_pyannote_checkpoint",
    "make_voxref_checkpoint",
]

TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "ge2e-lstm": {"hidden_size": 64, "num_layers": 1, "embedding_dim": 256},
    "ecapa-tdnn": {
        "channels": [32, 32, 32, 32, 96],
        "attention_channels": 16,
        "se_channels": 16,
        "lin_neurons": 192,
    },
    "xvector-tdnn": {"tdnn_channels": [64, 64, 64, 64, 128], "lin_neurons": 512},
}

# The feature front end shared by both hub files: filterbank, per-utterance normalisation.
_SPEECHBRAIN_FEATURES = """\
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

"""

# The end shared by both hub files: embedding normalisation, modules, label encoder, pretrainer.
_SPEECHBRAIN_TAIL = """\
mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""

# Same keys, tags and pretrainer layout as the hub's hyperparams.yaml of spkrec-ecapa-voxceleb.
ECAPA_HPARAMS_TEMPLATE = (
    """\
# ############################################################################
# Model: ECAPA for speaker verification (tiny random copy made by voxref.embedder.testing)
# ############################################################################

# Feature parameters
n_mels: {n_mels}

# Pretrain folder (HuggingFace)
pretrained_path: speechbrain/spkrec-ecapa-voxceleb

# Output parameters
out_n_neurons: {num_speakers}

# Model params
"""
    + _SPEECHBRAIN_FEATURES
    + """\
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {channels}
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: {attention_channels}
    lin_neurons: {lin_neurons}

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {lin_neurons}
    out_neurons: !ref <out_n_neurons>

"""
    + _SPEECHBRAIN_TAIL
)

# Same layout as the hub's hyperparams.yaml of spkrec-xvect-voxceleb.
XVECTOR_HPARAMS_TEMPLATE = (
    """\
# Model: x-vector for speaker verification (tiny random copy made by voxref.embedder.testing)
n_mels: {n_mels}
pretrained_path: speechbrain/spkrec-xvect-voxceleb
out_n_neurons: {num_speakers}

"""
    + _SPEECHBRAIN_FEATURES
    + """\
embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector
    in_channels: !ref <n_mels>
    activation: !name:torch.nn.LeakyReLU
    tdnn_blocks: 5
    tdnn_channels: {tdnn_channels}
    tdnn_kernel_sizes: [5, 3, 3, 1, 1]
    tdnn_dilations: [1, 2, 3, 1, 1]
    lin_neurons: {lin_neurons}

classifier: !new:speechbrain.lobes.models.Xvector.Classifier
    input_shape: [null, null, {lin_neurons}]
    activation: !name:torch.nn.LeakyReLU
    lin_blocks: 1
    lin_neurons: {lin_neurons}
    out_neurons: !ref <out_n_neurons>

"""
    + _SPEECHBRAIN_TAIL
)


def _fmt_list(values: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _write_speechbrain_extras(
    d: Path, lin_neurons: int, num_speakers: int, classifier: Any, seed: int
) -> None:
    import torch
    from speechbrain.dataio.encoder import CategoricalEncoder
    from speechbrain.processing.features import InputNormalization

    torch.save(classifier.state_dict(), d / "classifier.ckpt")
    norm = InputNormalization(norm_type="global", std_norm=False)
    g = torch.Generator().manual_seed(seed + 1)
    norm(torch.randn(8, 1, lin_neurons, generator=g), torch.ones(8))
    norm._save(d / "mean_var_norm_emb.ckpt")
    labels = CategoricalEncoder()
    labels.update_from_iterable([f"id1{i:04d}" for i in range(num_speakers)])
    labels.save(d / "label_encoder.txt")


def make_speechbrain_ecapa_dir(
    directory: str | os.PathLike,
    *,
    seed: int = 0,
    channels: Sequence[int] = (32, 32, 32, 32, 96),
    attention_channels: int = 16,
    lin_neurons: int = 192,
    n_mels: int = 80,
    num_speakers: int = 5,
) -> Path:
    """A SpeechBrain ``spkrec-ecapa-voxceleb``-style directory with tiny random weights.

    Writes ``hyperparams.yaml`` (the hub file's structure, including
    ``pretrained_path: speechbrain/spkrec-ecapa-voxceleb``), ``embedding_model.ckpt``,
    ``mean_var_norm_emb.ckpt``, ``classifier.ckpt`` and ``label_encoder.txt``.
    """
    import torch
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier

    from ..seeding import seeded_init

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    with seeded_init(seed):
        model = ECAPA_TDNN(
            n_mels,
            lin_neurons=lin_neurons,
            channels=list(channels),
            attention_channels=attention_channels,
        )
        classifier = Classifier(input_size=lin_neurons, out_neurons=num_speakers)
    torch.save(model.state_dict(), d / "embedding_model.ckpt")
    _write_speechbrain_extras(d, lin_neurons, num_speakers, classifier, seed)
    (d / "hyperparams.yaml").write_text(
        ECAPA_HPARAMS_TEMPLATE.format(
            n_mels=n_mels,
            num_speakers=num_speakers,
            channels=_fmt_list(channels),
            attention_channels=attention_channels,
            lin_neurons=lin_neurons,
        ),
        encoding="utf-8",
    )
    return d


def make_speechbrain_xvector_dir(
    directory: str | os.PathLike,
    *,
    seed: int = 0,
    tdnn_channels: Sequence[int] = (64, 64, 64, 64, 128),
    lin_neurons: int = 512,
    n_mels: int = 24,
    num_speakers: int = 5,
) -> Path:
    """A SpeechBrain ``spkrec-xvect-voxceleb``-style directory with tiny random weights."""
    import torch
    from speechbrain.lobes.models.Xvector import Classifier, Xvector

    from ..seeding import seeded_init

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    with seeded_init(seed):
        model = Xvector(
            activation=torch.nn.LeakyReLU,
            tdnn_channels=list(tdnn_channels),
            lin_neurons=lin_neurons,
            in_channels=n_mels,
        )
        classifier = Classifier(
            input_shape=[None, None, lin_neurons],
            activation=torch.nn.LeakyReLU,
            lin_blocks=1,
            lin_neurons=lin_neurons,
            out_neurons=num_speakers,
        )
    torch.save(model.state_dict(), d / "embedding_model.ckpt")
    _write_speechbrain_extras(d, lin_neurons, num_speakers, classifier, seed)
    (d / "hyperparams.yaml").write_text(
        XVECTOR_HPARAMS_TEMPLATE.format(
            n_mels=n_mels,
            num_speakers=num_speakers,
            tdnn_channels=_fmt_list(tdnn_channels),
            lin_neurons=lin_neurons,
        ),
        encoding="utf-8",
    )
    return d


def make_pyannote_checkpoint(
    path: str | os.PathLike,
    *,
    architecture: str = "wespeaker-resnet34",
    seed: int = 0,
    duration: float = 3.0,
) -> Path:
    """A pyannote 4 (Lightning-style) embedding checkpoint with random weights.

    Parameters
    ----------
    path
        A file (``.bin`` / ``.ckpt``), or a directory that gets ``pytorch_model.bin`` (the hub
        layout).
    architecture
        ``"wespeaker-resnet34"`` (``WeSpeakerResNet34``, 256-d) or ``"xvector-sincnet"``
        (``XVectorSincNet``, 512-d).
    duration
        Chunk duration stored in the task specifications.
    """
    import torch

    from ..loading.pyannote import import_pyannote
    from ..seeding import seeded_init

    import_pyannote()
    import lightning
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34, XVectorSincNet

    classes = {"wespeaker-resnet34": WeSpeakerResNet34, "xvector-sincnet": XVectorSincNet}
    if architecture not in classes:
        raise ValueError(f"architecture must be one of {sorted(classes)}")
    with seeded_init(seed):
        model = classes[architecture]()
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=duration
    )
    ckpt = {
        "state_dict": model.state_dict(),
        "pytorch-lightning_version": lightning.__version__,
        "hyper_parameters": dict(model.hparams),
    }
    model.on_save_checkpoint(ckpt)
    p = Path(path)
    if p.suffix.lower() not in (".bin", ".ckpt", ".pt"):
        p.mkdir(parents=True, exist_ok=True)
        p = p / "pytorch_model.bin"
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, p)
    return p


def make_voxref_checkpoint(
    path: str | os.PathLike,
    architecture: str = "ge2e-lstm",
    *,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """A voxref-format checkpoint with random weights (``config`` default: :data:`TINY_CONFIGS`)."""
    from ..seeding import seeded_init
    from .checkpoint import build_network, save_network

    cfg = dict(TINY_CONFIGS[architecture] if config is None else config)
    with seeded_init(seed):
        net = build_network(architecture, cfg)
    return save_network(path, net, metadata={"name": f"tiny-{architecture}", **(metadata or {})})
