"""pyannote.audio embedding models (WeSpeaker ResNet34 256-d, x-vector SincNet 512-d) as encoders.

The checkpoint is loaded by :func:`voxref.loading.pyannote.load_pyannote_model` (safe by
construction: pyannote's own ``Model.from_pretrained`` is never called; see that module for what is
checked), importable from here too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..encoding import ModuleEncoder, l2_normalize
from ..loading.hub import hub_file
from ..loading.pyannote import (  # the safe loading, kept importable from here
    MODEL_FILE,
    load_pyannote_model,
    pyannote_safe_globals,
)

__all__ = ["PyannoteEncoder", "load_pyannote_model", "pyannote_safe_globals"]

log = logging.getLogger(__name__)


class PyannoteEncoder(ModuleEncoder):
    """A pyannote.audio embedding ``Model`` as a voxref encoder.

    :meth:`embed_batch` calls the model directly on ``(B, 1, T)`` windows;
    :meth:`embed_utterance` runs ``pyannote.audio.Inference(model, window="whole")`` on the
    in-memory waveform, exactly as pyannote documents for one embedding per file.

    Examples
    --------
    >>> enc = PyannoteEncoder.from_hub("pyannote/wespeaker-voxceleb-resnet34-LM")  # doctest: +SKIP
    >>> enc.dimension  # doctest: +SKIP
    256
    """

    def __init__(self, model: Any, *, name: str, source: str, device: str = "cpu") -> None:
        model = model.eval().to(device)
        self.model = model
        self._inference = None

        def forward(wavs):
            return model(wavs[:, None, :])

        super().__init__(
            forward,
            name=name,
            sample_rate=int(model.hparams.get("sample_rate", 16000)),
            dimension=int(model.dimension),
            device=device,
            info={"backend": "pyannote", "architecture": type(model).__name__, "source": source},
        )

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, *, device: str = "cpu", name: str | None = None
    ) -> PyannoteEncoder:
        """Load a local pyannote checkpoint file (or a directory with ``pytorch_model.bin``)."""
        p = Path(path)
        model = load_pyannote_model(p)
        stem = p.parent.name if p.name == MODEL_FILE else p.stem
        label = name or f"pyannote:{p.name if p.is_dir() else stem}"
        return cls(model, name=label, source=str(p), device=device)

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
    ) -> PyannoteEncoder:
        """Load ``pytorch_model.bin`` of a hub model (cache first; downloads only when allowed)."""
        file = hub_file(
            repo_id,
            MODEL_FILE,
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            local_files_only=local_files_only,
        )
        model = load_pyannote_model(file, name=f"{repo_id}/{MODEL_FILE}")
        return cls(model, name=f"pyannote:{repo_id}", source=repo_id, device=device)

    def embed_utterance(self, samples: np.ndarray, *, source: str | None = None) -> np.ndarray:
        """Unit-norm embedding of the whole signal with ``Inference(model, window="whole")``."""
        import torch

        x = self._check(samples, source)
        if len(x) > self.max_utterance_seconds * self.sample_rate:
            return self.embed_windows(x, source=source).mean()
        with self._lock:
            if self._inference is None:
                from ..loading.pyannote import pyannote_import

                with pyannote_import("pyannote.audio>=4,<5", "The pyannote encoder backend"):
                    from pyannote.audio import Inference

                self._inference = Inference(
                    self.model, window="whole", device=torch.device(self.device)
                )
            out = self._inference(
                {
                    "waveform": torch.from_numpy(np.ascontiguousarray(x))[None],
                    "sample_rate": self.sample_rate,
                }
            )
        return l2_normalize(np.asarray(out, dtype=np.float32).reshape(-1))
