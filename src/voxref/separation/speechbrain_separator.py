"""A pretrained SpeechBrain separator (SepFormer) behind voxref's separator interface.

SpeechBrain publishes SepFormer models trained on thousands of real speakers
(``speechbrain/sepformer-wsj02mix``, ``sepformer-libri2mix``, ``sepformer-whamr``, 8 kHz;
``sepformer-whamr16k``); none ships inside a wheel, so voxref cannot bundle one, but a user who has
one (a local directory laid out as on the hub, or a hub id when online) can use it wherever
voxref takes a separator: ``Embedder(separate="speechbrain/sepformer-libri2mix")`` or
``Embedder(separate="/models/sepformer-libri2mix")``.

Loading follows :mod:`voxref.loading.speechbrain`: the ``hyperparams.yaml`` is checked
against an allow-list before anything is built (``speechbrain.lobes.models.dual_path`` is allowed),
weight files load with ``torch.load(weights_only=True)`` first and only from the directory given.

:meth:`SpeechBrainSeparator.split` has the same contract as
:meth:`voxref.separation.separator.TwoSpeakerSeparator.split`: mono samples at any rate in,
float32 ``(num_spks, N)`` at the same rate and length out (resampled to the model's rate and back,
logged). Importing this module does not import speechbrain; loading does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioShapeError, optional_dependency

__all__ = ["SpeechBrainSeparator", "is_speechbrain_separator"]

log = logging.getLogger(__name__)


def is_speechbrain_separator(spec: str | os.PathLike) -> bool:
    """Does ``spec`` name a SpeechBrain model (a directory with ``hyperparams.yaml``, or a hub id
    ``owner/name`` that is not a local path)?

    Examples
    --------
    >>> is_speechbrain_separator("speechbrain/sepformer-libri2mix")
    True
    >>> is_speechbrain_separator("model.pt")
    False
    """
    from ..loading.hub import is_hub_id

    p = Path(spec)
    if p.is_dir():
        return (p / "hyperparams.yaml").is_file()
    return not p.exists() and is_hub_id(spec)


class SpeechBrainSeparator:
    """A SpeechBrain ``SepformerSeparation`` model (see the module docstring).

    Parameters
    ----------
    model
        A loaded ``speechbrain.inference.separation.SepformerSeparation``.
    source
        Where it came from (directory or hub id), for reports.
    """

    def __init__(self, model: Any, *, source: str) -> None:
        self.model = model
        self.source = source
        self.sample_rate = int(getattr(model.hparams, "sample_rate", 8000))
        self.num_sources = int(getattr(model.hparams, "num_spks", 2))
        self.two_voice_threshold_db: float | None = None
        """No one/two-voice gate: hub separators are trained on mixtures only."""

    @classmethod
    def from_directory(
        cls,
        directory: str | os.PathLike,
        *,
        device: str = "cpu",
        allow_yaml_targets: Iterable[str] = (),
        source: str | None = None,
    ) -> SpeechBrainSeparator:
        """Load a local SpeechBrain separation model directory the caller chose."""
        from ..loading.speechbrain import load_speechbrain_directory

        hparams, modules = load_speechbrain_directory(
            directory,
            allow_yaml_targets=allow_yaml_targets,
            modules_needed=("encoder", "masknet", "decoder"),
            what="a SepformerSeparation",
        )
        with optional_dependency("speechbrain", "speechbrain>=1.0,<2", "The SpeechBrain separator"):
            from speechbrain.inference.separation import SepformerSeparation
        model = SepformerSeparation(modules=modules, hparams=hparams, run_opts={"device": device})
        model.mods.eval()
        return cls(model, source=source or str(directory))

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
    ) -> SpeechBrainSeparator:
        """Load a hub model (cache first; downloads only when allowed), with the same checks."""
        from ..loading.speechbrain import speechbrain_hub_directory

        directory = speechbrain_hub_directory(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            local_files_only=local_files_only,
            allow_yaml_targets=allow_yaml_targets,
        )
        return cls.from_directory(
            directory, device=device, allow_yaml_targets=allow_yaml_targets, source=repo_id
        )

    @classmethod
    def load(cls, spec: str | os.PathLike, **kwargs: Any) -> SpeechBrainSeparator:
        """A local model directory, else a hub id."""
        if Path(spec).is_dir():
            return cls.from_directory(spec, **kwargs)
        return cls.from_hub(str(spec), **kwargs)

    def split(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """The talkers of ``samples``: float32 ``(num_sources, N)`` at ``sample_rate``."""
        import torch

        from ..audio.resample import run_at_rate

        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1 or x.size == 0:
            raise AudioShapeError(f"samples must be a non-empty 1-D array; got shape {x.shape}.")
        if not np.all(np.isfinite(x)):
            raise AudioShapeError("samples contain NaN or infinity; clean the signal first.")
        if int(sample_rate) != self.sample_rate:
            log.info(
                "separator %s: resampling %d -> %d Hz and back",
                self.source,
                int(sample_rate),
                self.sample_rate,
            )

        def run(work: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                est = self.model.separate_batch(torch.from_numpy(work)[None])
            return est[0].T.cpu().numpy()  # (num_sources, n)

        return run_at_rate(x, sample_rate, self.sample_rate, run)
