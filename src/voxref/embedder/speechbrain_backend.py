"""SpeechBrain speaker encoders (ECAPA-TDNN 192-d, x-vector 512-d) behind voxref's ``Encoder``.

A SpeechBrain ``EncoderClassifier`` model directory, laid out as on the hub
(``speechbrain/spkrec-ecapa-voxceleb``, ``speechbrain/spkrec-xvect-voxceleb``), is loaded by
:mod:`voxref.loading.speechbrain`, which says what is checked (the ``hyperparams.yaml`` against an
allow-list before anything is built, every weight file with ``weights_only=True``); its names are
importable from here too. :func:`build_speechbrain_network` builds the same networks for voxref
checkpoints (``ecapa-tdnn``, ``xvector-tdnn``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..encoding import ModuleEncoder, probe_dimension
from ..errors import ConfigError
from ..loading.speechbrain import (  # the safe loading, kept importable from here
    DEFAULT_ALLOWED_YAML_TARGETS,
    HPARAMS_FILE,
    check_hyperparams,
    import_speechbrain,
    load_speechbrain_directory,
    pretrainer_files,
    speechbrain_hub_directory,
    yaml_allow_list,
)

__all__ = [
    "SpeechBrainEncoder",
    "load_speechbrain_directory",
    "speechbrain_hub_directory",
    "DEFAULT_ALLOWED_YAML_TARGETS",
    "yaml_allow_list",
    "check_hyperparams",
    "pretrainer_files",
    "build_speechbrain_network",
]

log = logging.getLogger(__name__)


# =========================================================================== encoder
class SpeechBrainEncoder(ModuleEncoder):
    """A SpeechBrain ``EncoderClassifier`` (ECAPA-TDNN, x-vector, ...) as a voxref encoder.

    Embeddings are ``encode_batch(wavs)`` (no ``mean_var_norm_emb``, as SpeechBrain's speaker
    verification does), L2-normalised by voxref. Default windows: 3 s every 1.5 s;
    :meth:`embed_utterance` embeds the whole signal in one pass.

    Build one with :meth:`from_directory` or :meth:`from_hub` (or
    :func:`voxref.embedder.loader.load_pretrained`).

    Examples
    --------
    >>> enc = SpeechBrainEncoder.from_hub("speechbrain/spkrec-ecapa-voxceleb")  # doctest: +SKIP
    >>> enc.dimension  # doctest: +SKIP
    192
    """

    def __init__(self, classifier: Any, *, name: str, source: str, device: str = "cpu") -> None:
        self.classifier = classifier
        sample_rate = int(getattr(getattr(classifier, "hparams", None), "sample_rate", 16000))

        def forward(wavs):
            return classifier.encode_batch(wavs)

        architecture = type(classifier.mods["embedding_model"]).__name__
        super().__init__(
            forward,
            name=name,
            sample_rate=sample_rate,
            dimension=probe_dimension(forward, sample_rate, device),
            device=device,
            info={"backend": "speechbrain", "architecture": architecture, "source": source},
        )

    @classmethod
    def from_directory(
        cls,
        directory: str | os.PathLike,
        *,
        device: str = "cpu",
        allow_yaml_targets: Iterable[str] = (),
        name: str | None = None,
        hparams_file: str = HPARAMS_FILE,
        source: str | None = None,
    ) -> SpeechBrainEncoder:
        """Load a local SpeechBrain model directory the caller chose (see the module docstring).

        Raises
        ------
        UnsafeCheckpointError
            The YAML names a target outside the allow-list, or a weight file holds a pickle
            that would run code.
        MissingCheckpointError
            A file the YAML's pretrainer needs is not in the directory.
        """
        hparams, modules = load_speechbrain_directory(
            directory,
            hparams_file=hparams_file,
            allow_yaml_targets=allow_yaml_targets,
            modules_needed=("embedding_model",),
            what="an EncoderClassifier",
        )
        speaker = import_speechbrain()
        d = Path(directory)
        classifier = speaker.EncoderClassifier(
            modules=modules, hparams=hparams, run_opts={"device": device}
        )
        return cls(
            classifier,
            name=name or f"speechbrain:{d.name}",
            source=source or str(d),
            device=device,
        )

    @classmethod
    def from_hub(
        cls,
        repo_id: str,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        device: str = "cpu",
        allow_yaml_targets: Iterable[str] = (),
    ) -> SpeechBrainEncoder:
        """Load a hub model (cache first; downloads only when allowed), with the same checks."""
        directory = speechbrain_hub_directory(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            local_files_only=local_files_only,
            allow_yaml_targets=allow_yaml_targets,
        )
        return cls.from_directory(
            directory,
            device=device,
            allow_yaml_targets=allow_yaml_targets,
            name=f"speechbrain:{repo_id}",
            source=repo_id + (f"@{revision}" if revision else ""),
        )


# =========================================================================== voxref-format nets
def build_speechbrain_network(architecture: str, config: Mapping[str, Any]):
    """Waveform -> embedding network from SpeechBrain parts for voxref checkpoints.

    ``Fbank(n_mels)`` -> sentence mean normalisation -> ``ECAPA_TDNN`` / ``Xvector``: the same
    computation as ``EncoderClassifier.encode_batch``, with the same ``embedding_model.*``
    parameter names as SpeechBrain's ``embedding_model.ckpt``.
    """
    import_speechbrain()
    from speechbrain.lobes.features import Fbank
    from speechbrain.processing.features import InputNormalization

    cfg = dict(config)
    if architecture == "ecapa-tdnn":
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

        model = ECAPA_TDNN(
            cfg["n_mels"],
            lin_neurons=cfg["lin_neurons"],
            channels=list(cfg["channels"]),
            kernel_sizes=list(cfg["kernel_sizes"]),
            dilations=list(cfg["dilations"]),
            attention_channels=cfg["attention_channels"],
            res2net_scale=cfg["res2net_scale"],
            se_channels=cfg["se_channels"],
            global_context=cfg["global_context"],
        )
    elif architecture == "xvector-tdnn":
        from speechbrain.lobes.models.Xvector import Xvector

        model = Xvector(
            tdnn_blocks=cfg["tdnn_blocks"],
            tdnn_channels=list(cfg["tdnn_channels"]),
            tdnn_kernel_sizes=list(cfg["tdnn_kernel_sizes"]),
            tdnn_dilations=list(cfg["tdnn_dilations"]),
            lin_neurons=cfg["lin_neurons"],
            in_channels=cfg["n_mels"],
        )
    else:
        raise ConfigError(f"{architecture!r} is not a SpeechBrain-based architecture.")
    return _waveform_network_class()(
        Fbank(n_mels=cfg["n_mels"], sample_rate=cfg["sample_rate"]),
        InputNormalization(norm_type="sentence", std_norm=False),
        model,
    )


_NET_CLASS: list[type] = []


def _waveform_network_class() -> type:
    if _NET_CLASS:
        return _NET_CLASS[0]
    import torch
    from torch import nn

    class SpeechBrainWaveformNetwork(nn.Module):
        """``compute_features`` -> ``mean_var_norm`` -> ``embedding_model``; ``(B, T) -> (B, D)``."""

        def __init__(self, compute_features, mean_var_norm, embedding_model) -> None:
            super().__init__()
            self.compute_features = compute_features
            self.mean_var_norm = mean_var_norm
            self.embedding_model = embedding_model

        def forward(self, wavs):
            lens = torch.ones(wavs.shape[0], device=wavs.device)
            feats = self.mean_var_norm(self.compute_features(wavs), lens)
            emb = self.embedding_model(feats, lens)
            return emb.reshape(wavs.shape[0], -1)

    _NET_CLASS.append(SpeechBrainWaveformNetwork)
    return SpeechBrainWaveformNetwork
