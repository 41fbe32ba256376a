"""Tiny, randomly initialised pyannote.audio diarization pipelines and SpeechBrain SepFormer
separators, for offline wiring tests.

:func:`build_tiny_diarization_pipeline` writes a folder that ``pyannote.audio.Pipeline``
loads exactly like a downloaded one (``Pipeline.from_pretrained(folder)``), without the hub:

``config.yaml``
    ``pyannote.audio.pipelines.SpeakerDiarization`` with ``$model/...`` sub-folders.
``segmentation/pytorch_model.bin``
    A small ``PyanNet`` (powerset, 3 speakers, at most 2 at once), random weights.
``embedding/pytorch_model.bin``
    ``WeSpeakerResNet34``, random weights.
``plda/xvec_transform.npz``, ``plda/plda.npz``
    A synthetic PLDA (identity-like LDA and between/within-class transform) in pyannote's format.

Checkpoints are Lightning-style dictionaries (``state_dict``, ``pytorch-lightning_version``,
``hyper_parameters``) completed by ``model.on_save_checkpoint``. The outputs of such a pipeline
are meaningless; it only proves that voxref's pyannote backend loads, runs and converts results.
Building takes a few seconds (``pyannote.audio`` import included); random initialisation runs
under :func:`voxref.seeding.seeded_init` so the global RNG state is left untouched.

:func:`build_tiny_sepformer` writes a SpeechBrain ``SepformerSeparation`` directory as the hub
lays it out (``hyperparams.yaml`` in the published inference format + ``encoder.ckpt``,
``masknet.ckpt``, ``decoder.ckpt``), with a one-layer transformer of width 16.

Examples
--------
>>> folder = build_tiny_diarization_pipeline("tiny-pipeline")  # doctest: +SKIP
>>> sorted(p.name for p in folder.iterdir())  # doctest: +SKIP
['config.yaml', 'embedding', 'plda', 'segmentation']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "build_tiny_diarization_pipeline",
    "build_tiny_sepformer",
    "PIPELINE_CONFIG",
    "SEPFORMER_HPARAMS",
]

# The intra- and inter-chunk transformers of the dual-path model have the same settings.
_SB_TRANSFORMER = """\
  num_layers: 1
  d_model: {d}
  nhead: 2
  d_ffn: 32
  dropout: 0
  use_positional_encoding: true
  norm_before: true
"""

#: A SepFormer inference ``hyperparams.yaml`` as on the hub (``speechbrain/sepformer-wsj02mix``
#: layout), with tiny sizes (``{rate}``, ``{d}`` are filled in).
SEPFORMER_HPARAMS = (
    """\
sample_rate: {rate}
num_spks: 2

Encoder: !new:speechbrain.lobes.models.dual_path.Encoder
  kernel_size: 16
  out_channels: {d}

SBtfintra: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
"""
    + _SB_TRANSFORMER
    + """
SBtfinter: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
"""
    + _SB_TRANSFORMER
    + """
MaskNet: !new:speechbrain.lobes.models.dual_path.Dual_Path_Model
  num_spks: !ref <num_spks>
  in_channels: {d}
  out_channels: {d}
  num_layers: 1
  K: 50
  intra_model: !ref <SBtfintra>
  inter_model: !ref <SBtfinter>
  norm: ln
  linear_layer_after_inter_intra: false
  skip_around_intra: true

Decoder: !new:speechbrain.lobes.models.dual_path.Decoder
  in_channels: {d}
  out_channels: 1
  kernel_size: 16
  stride: 8
  bias: false

modules:
  encoder: !ref <Encoder>
  decoder: !ref <Decoder>
  masknet: !ref <MaskNet>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
  loadables:
    encoder: !ref <Encoder>
    masknet: !ref <MaskNet>
    decoder: !ref <Decoder>
"""
)

#: The pipeline's ``config.yaml`` (``{lda}`` is filled in).
PIPELINE_CONFIG = """\
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    clustering: VBxClustering
    segmentation: $model/segmentation
    embedding: $model/embedding
    plda: $model/plda
    segmentation_step: 0.5
    segmentation_batch_size: 8
    embedding_batch_size: 8
    embedding_exclude_overlap: true
params:
  segmentation:
    min_duration_off: 0.0
  clustering:
    threshold: 0.6
    Fa: 0.07
    Fb: 0.8
"""


def _lightning_checkpoint(model) -> dict:
    import torch

    try:
        import lightning

        version = lightning.__version__
    except ImportError:  # pragma: no cover - pyannote.audio depends on lightning
        version = "2.0.0"
    ckpt = {
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "pytorch-lightning_version": version,
        "hyper_parameters": dict(model.hparams),
    }
    model.on_save_checkpoint(ckpt)
    assert isinstance(ckpt["state_dict"], dict) and all(
        isinstance(v, torch.Tensor) for v in ckpt["state_dict"].values()
    )
    return ckpt


def build_tiny_diarization_pipeline(
    folder: str | Path,
    *,
    seed: int = 0,
    segmentation_duration: float = 5.0,
    lda_dimension: int = 16,
) -> Path:
    """Write a randomly initialised pyannote diarization pipeline into ``folder``.

    Parameters
    ----------
    folder
        Created if needed; existing files are overwritten.
    seed
        Seed of the random weights and of the synthetic PLDA.
    segmentation_duration
        Chunk duration of the segmentation model (seconds).
    lda_dimension
        Dimension of the synthetic PLDA space.

    Returns
    -------
    pathlib.Path
        ``folder`` (pass it to ``voxref.diarize(..., pipeline=folder)``).
    """
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.models.segmentation import PyanNet

    from ..seeding import seeded_init

    folder = Path(folder)
    for sub in ("segmentation", "embedding", "plda"):
        (folder / sub).mkdir(parents=True, exist_ok=True)

    with seeded_init(seed):
        seg = PyanNet(
            sincnet={"stride": 10},
            lstm={"hidden_size": 16, "num_layers": 1, "bidirectional": True, "monolithic": True},
            linear={"hidden_size": 16, "num_layers": 1},
        )
        seg.specifications = Specifications(
            problem=Problem.MONO_LABEL_CLASSIFICATION,
            resolution=Resolution.FRAME,
            duration=float(segmentation_duration),
            classes=["speaker#1", "speaker#2", "speaker#3"],
            powerset_max_classes=2,
            permutation_invariant=True,
        )
        seg.build()
        seg.eval()
        torch.save(_lightning_checkpoint(seg), folder / "segmentation" / "pytorch_model.bin")

        emb = WeSpeakerResNet34()
        emb.specifications = Specifications(
            problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=3.0
        )
        emb.build()
        emb.eval()
        torch.save(_lightning_checkpoint(emb), folder / "embedding" / "pytorch_model.bin")
        dim = int(emb.dimension)

    rng = np.random.default_rng(seed)
    lda = np.linalg.qr(rng.standard_normal((dim, dim)))[0][:, :lda_dimension]
    np.savez(
        folder / "plda" / "xvec_transform.npz",
        mean1=np.zeros(dim),
        mean2=np.zeros(lda_dimension),
        lda=lda,
    )
    np.savez(
        folder / "plda" / "plda.npz",
        mu=np.zeros(lda_dimension),
        tr=np.eye(lda_dimension),
        psi=np.linspace(2.0, 0.5, lda_dimension),
    )
    (folder / "config.yaml").write_text(PIPELINE_CONFIG)
    return folder


def build_tiny_sepformer(
    directory: str | Path, *, sample_rate: int = 8000, width: int = 16, seed: int = 0
) -> Path:
    """Write a tiny random SepFormer model directory (see the module docstring); returns it."""
    import torch
    from speechbrain.lobes.models.dual_path import (
        Decoder,
        Dual_Path_Model,
        Encoder,
        SBTransformerBlock,
    )

    from ..seeding import seeded_init

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    d = int(width)
    (out / "hyperparams.yaml").write_text(SEPFORMER_HPARAMS.format(rate=int(sample_rate), d=d))
    # the same modules the YAML describes, built here (no YAML is executed to write the fixture)
    block = {"num_layers": 1, "d_model": d, "nhead": 2, "d_ffn": 32, "dropout": 0}
    block |= {"use_positional_encoding": True, "norm_before": True}
    with seeded_init(seed):
        modules = {
            "encoder": Encoder(kernel_size=16, out_channels=d),
            "masknet": Dual_Path_Model(
                num_spks=2,
                in_channels=d,
                out_channels=d,
                num_layers=1,
                K=50,
                intra_model=SBTransformerBlock(**block),
                inter_model=SBTransformerBlock(**block),
                norm="ln",
                linear_layer_after_inter_intra=False,
                skip_around_intra=True,
            ),
            "decoder": Decoder(in_channels=d, out_channels=1, kernel_size=16, stride=8, bias=False),
        }
    for name, module in modules.items():
        torch.save(module.state_dict(), out / f"{name}.ckpt")
    return out
