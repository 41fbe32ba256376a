"""Reference prompts for audio-conditioned TTS models: :func:`voxref.prompt`.

Modules: :mod:`.presets` (what each model wants, with sources), :mod:`.select` (cut points and
choice of pieces), :mod:`.pieces` (the target, and each piece measured and judged),
:mod:`.render` (cutting, denoising, joining, levelling), :mod:`.diarizations` (one diarization
per recording), :mod:`.make` (the pipeline), :mod:`.result` (what is returned).
Importing this package is cheap: models load on the first :func:`prompt` call.
"""

from __future__ import annotations

from typing import Any

from .presets import PRESETS, PromptPreset, get_preset
from .result import PromptCutAtDipWarning, PromptPiece, PromptResult, PromptTooShortWarning

__all__ = [
    "prompt",
    "PRESETS",
    "PromptPreset",
    "get_preset",
    "PromptPiece",
    "PromptResult",
    "PromptTooShortWarning",
    "PromptCutAtDipWarning",
]


def __getattr__(name: str) -> Any:
    if name == "prompt":
        from .make import prompt

        return prompt
    raise AttributeError(name)
