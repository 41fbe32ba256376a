"""voxref: one robust speaker embedding from a few messy reference recordings.

``import voxref`` is cheap: torch, SpeechBrain and pyannote load only when a model is first used.

Examples
--------
>>> import voxref
>>> e = voxref.embed(["a.wav", "b.wav"])  # doctest: +SKIP
>>> e.shape  # doctest: +SKIP
(256,)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import encoder_names as _encoder_names
from ._version import __version__


def _get_encoder(spec: Any, device: str = "cpu") -> Any:
    """:func:`voxref.embedder.registry.get_encoder`, imported when a name is first resolved."""
    from .embedder.registry import get_encoder

    return get_encoder(spec, device=device)


# lower packages (the diarizer) turn encoder names into encoders through this
_encoder_names.install_resolver(_get_encoder)

# public name -> module that defines it (imported on first attribute access)
_LAZY = {
    "embed": "voxref.api",
    "embed_many": "voxref.api",
    "similarity": "voxref.api",
    "Embedder": "voxref.pipeline",
    "EmbeddingResult": "voxref.pipeline",
    "EmbedderTuning": "voxref.tuning",
    "Audio": "voxref.audio.signal",
    "load_audio": "voxref.audio.load",
    "clean": "voxref.cleaning.pipeline",
    "CleanResult": "voxref.cleaning.pipeline",
    "QualityReport": "voxref.cleaning.quality",
    "detect_speech": "voxref.cleaning.vad",
    "estimate_snr": "voxref.cleaning.snr",
    "diarize": "voxref.separation.diarization",
    "extract_target": "voxref.separation.target",
    "TargetResult": "voxref.separation.target",
    "inspect": "voxref.inspection.report",
    "load_pretrained": "voxref.embedder.loader",
    "export_embedding": "voxref.tts.export",
    "load_bridge": "voxref.tts.bridge",
    "embed_long": "voxref.longform",
    "embed_dir": "voxref.batch",
    "embed_dataset": "voxref.scale.dataset",
    "prompt": "voxref.prompting.make",
    "PromptResult": "voxref.prompting.result",
}

__all__ = [  # noqa: F822  (resolved lazily by __getattr__)
    "__version__",
    "errors",
    "embed",
    "embed_many",
    "similarity",
    "Embedder",
    "EmbeddingResult",
    "EmbedderTuning",
    "Audio",
    "load_audio",
    "clean",
    "CleanResult",
    "QualityReport",
    "detect_speech",
    "estimate_snr",
    "diarize",
    "extract_target",
    "TargetResult",
    "inspect",
    "load_pretrained",
    "export_embedding",
    "load_bridge",
    "embed_long",
    "embed_dir",
    "embed_dataset",
    "prompt",
    "PromptResult",
]

from . import errors  # noqa: E402  (light: no third-party imports)

if TYPE_CHECKING:  # pragma: no cover
    from .api import embed, embed_many, similarity
    from .audio.load import load_audio
    from .audio.signal import Audio
    from .pipeline import Embedder, EmbeddingResult
    from .tuning import EmbedderTuning


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'voxref' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
