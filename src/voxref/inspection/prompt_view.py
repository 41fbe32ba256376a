"""The prompt an inspect report shows: which pieces of which reference :func:`voxref.prompt` chose.

A :class:`PromptView` is made from a :class:`~voxref.prompting.result.PromptResult` passed in
(:func:`prompt_view`) or from the JSON sidecar ``voxref prompt`` writes beside the prompt audio
(:func:`load_prompt_sidecar`), so a report of a prompt already made runs no second diarization.
:func:`attach_prompt` then finds each piece's reference among the report's references; a piece of a
file that is not one of them, or lying past the end of its recording, is a
:class:`~voxref.errors.ConfigError`: the sidecar belongs to other references.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = [
    "PromptSpan",
    "PromptView",
    "prompt_view",
    "load_prompt_sidecar",
    "attach_prompt",
    "END_TOLERANCE_S",
]

#: A piece may end this much after its recording's end (rounding of the sidecar, resampling).
END_TOLERANCE_S = 0.05
_AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass
class PromptSpan:
    """One chosen piece: where it lies on its source's timeline and how it was judged.

    Attributes
    ----------
    order
        Position in the prompt (0 first).
    source
        The reference it was cut from, as the prompt was given it.
    start, end
        Seconds on the source's own timeline.
    snr_db, similarity
        Estimated SNR (dB) and cosine to the target voice.
    actions
        What was done to it (cut margins, denoiser, fades, resampling).
    reference
        Index of its reference among the report's references (set by :func:`attach_prompt`).
    """

    order: int
    source: str
    start: float
    end: float
    snr_db: float = float("nan")
    similarity: float = float("nan")
    actions: list[str] = field(default_factory=list)
    reference: int = -1

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class PromptView:
    """What the report shows of a prompt: its pieces, its audio and where it came from.

    Attributes
    ----------
    spans
        The chosen pieces in prompt order.
    audio, sample_rate
        The finished prompt (mono), played in the report.
    preset
        The preset's name.
    origin
        ``"made for this report"``, ``"passed in"`` or the sidecar's path.
    actions, warnings
        What was done to the joined prompt, and the prompt's warnings.
    """

    spans: list[PromptSpan]
    audio: np.ndarray
    sample_rate: int
    preset: str = ""
    origin: str = ""
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.audio) / float(self.sample_rate)

    def spans_of(self, reference: int) -> list[PromptSpan]:
        """The pieces cut from reference ``reference`` (after :func:`attach_prompt`)."""
        return [s for s in self.spans if s.reference == reference]


def _float(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return f if math.isfinite(f) else float("nan")


def _span(order: int, piece: Any, where: str) -> PromptSpan:
    get = piece.get if isinstance(piece, dict) else lambda k, d=None: getattr(piece, k, d)
    source, start, end = get("source"), _float(get("start")), _float(get("end"))
    if not source or not (math.isfinite(start) and math.isfinite(end)) or not 0 <= start < end:
        raise ConfigError(
            f"prompt piece {order + 1} of {where} has no valid source/start/end "
            f"({source!r}, {get('start')!r}, {get('end')!r}); write the prompt again with "
            "`voxref prompt`."
        )
    return PromptSpan(
        order,
        str(source),
        start,
        end,
        snr_db=_float(get("snr_db")),
        similarity=_float(get("similarity")),
        actions=[str(a) for a in (get("actions") or [])],
    )


def prompt_view(result: Any, *, origin: str = "passed in") -> PromptView:
    """A :class:`PromptView` of a :class:`~voxref.prompting.result.PromptResult`."""
    spans = [_span(k, p, "the prompt") for k, p in enumerate(result.pieces)]
    return PromptView(
        spans,
        np.asarray(result.audio, dtype=np.float32).reshape(-1),
        int(result.sample_rate),
        preset=str((result.preset or {}).get("name", "")),
        origin=origin,
        actions=list(result.actions),
        warnings=list(result.warnings),
    )


def load_prompt_sidecar(path: str | os.PathLike) -> PromptView:
    """Read the JSON sidecar of ``voxref prompt`` and the prompt audio beside it.

    The audio is the ``.wav`` or ``.flac`` of the same name (``prompt.json`` -> ``prompt.wav``),
    as :meth:`~voxref.prompting.result.PromptResult.write` leaves them.

    Raises
    ------
    voxref.errors.ConfigError
        The sidecar is missing, not JSON, has no pieces, or its audio is not beside it.
    """
    import soundfile as sf

    side = Path(path)
    if not side.is_file():
        raise ConfigError(f"prompt sidecar {side} not found; give the .json `voxref prompt` wrote.")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{side} is not a prompt sidecar (not JSON: {exc}); give the .json `voxref prompt` "
            "wrote."
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("pieces"), list):
        raise ConfigError(f"{side} has no 'pieces' list; it is not a `voxref prompt` sidecar.")
    if not data["pieces"]:
        raise ConfigError(f"{side} lists no prompt pieces; there is nothing to show.")
    spans = [_span(k, p, str(side)) for k, p in enumerate(data["pieces"])]
    audio_path = next(
        (side.with_suffix(s) for s in _AUDIO_SUFFIXES if side.with_suffix(s).is_file()), None
    )
    if audio_path is None:
        raise ConfigError(
            f"no prompt audio beside {side} (looked for {side.with_suffix('.wav').name} and "
            f"{side.with_suffix('.flac').name}); keep the prompt next to its sidecar."
        )
    audio, sr = sf.read(str(audio_path), dtype="float32", always_2d=True)
    preset = data.get("preset") or {}
    return PromptView(
        spans,
        audio.mean(axis=1),
        int(sr),
        preset=str(preset.get("name", "")) if isinstance(preset, dict) else str(preset),
        origin=str(side),
        actions=[str(a) for a in data.get("actions") or []],
        warnings=[str(w) for w in data.get("warnings") or []],
    )


def _same_file(a: str, b: str, base: Path | None) -> bool:
    if a == b:
        return True
    candidates = [Path(a)]
    if base is not None and not Path(a).is_absolute():
        candidates.append(base / a)
    for pa in candidates:
        try:
            if pa.is_file() and Path(b).is_file() and os.path.samefile(pa, b):
                return True
        except OSError:
            continue
    return False


def attach_prompt(
    view: PromptView, sources: Sequence[str], durations: Sequence[float] | None = None
) -> PromptView:
    """Set each piece's :attr:`PromptSpan.reference` to its index in ``sources``.

    A piece's source matches a reference given by the same string or naming the same file
    (relative names are also tried from the sidecar's folder).

    Raises
    ------
    voxref.errors.ConfigError
        A piece comes from a file that is not among ``sources``, or ends after its recording
        (``durations``, seconds, when known): the prompt was made from other references.
    """
    base = Path(view.origin).parent if view.origin.endswith(".json") else None
    for span in view.spans:
        idx = next(
            (i for i, s in enumerate(sources) if _same_file(span.source, str(s), base)), None
        )
        if idx is None:
            raise ConfigError(
                f"prompt piece {span.order + 1} comes from {span.source!r}, which is not among the "
                f"references inspected ({', '.join(repr(str(s)) for s in sources) or 'none'}); "
                "inspect the references the prompt was made from."
            )
        if durations is not None:
            dur = float(durations[idx])
            if dur > 0 and span.end > dur + END_TOLERANCE_S:
                raise ConfigError(
                    f"prompt piece {span.order + 1} ends at {span.end:.2f} s but {span.source!r} "
                    f"lasts {dur:.2f} s; the prompt was made from another version of that file."
                )
        span.reference = idx
    return view
