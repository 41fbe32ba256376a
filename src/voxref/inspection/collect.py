"""Gather what ``voxref inspect`` shows: per-reference audio, speech regions, masks and embeddings.

This module runs the models (through an :class:`~voxref.pipeline.Embedder`) and reduces
their results to plain arrays in :class:`ReferenceView` / :class:`SpeakerView` / :class:`Inspection`
(:mod:`voxref.inspection.views`; their timelines: :mod:`voxref.inspection.timeline`, both importable
from here too); the figures and the HTML are drawn from those alone, so they can be tested without
models.

Diarization turns come from :func:`voxref.diarize` (unless the caller turns it off); target
activity from a ``ReferenceResult.activity`` when the embedder sets one, else it is computed here
from the window embeddings with :func:`voxref.separation.guide.target_activity`, for display only,
and labelled so. A stage that fails on one reference's audio is noted in the report; a missing
stage is an import error, not a note.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioError, ConfigError, VoxrefError
from .timeline import (
    MASK_HOP_S,
    TARGET_THRESHOLD,
    speech_time,
    target_only_audio,
    window_mask,
)
from .views import Inspection, ReferenceView, SpeakerView

__all__ = [
    "Inspection",
    "ReferenceView",
    "SpeakerView",
    "collect",
    "collect_speakers",
    "reference_views",
    "speech_time",
    "window_mask",
    "target_only_audio",
    "list_speaker_folders",
    "AUDIO_EXTENSIONS",
    "MASK_HOP_S",
    "TARGET_THRESHOLD",
]

log = logging.getLogger(__name__)

#: File endings taken as audio when a speaker folder is scanned.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus", ".aiff", ".aif")


# ----------------------------------------------------------------------------- stages
def _per_window(value: Any, n: int, names: Sequence[str]) -> np.ndarray | None:
    """A length-``n`` float array from ``value`` or one of its attributes ``names``."""
    if value is None:
        return None
    if not isinstance(value, np.ndarray) and not hasattr(value, "__len__"):
        for name in names:
            inner = getattr(value, name, None)
            if inner is not None:
                return _per_window(inner, n, names)
        return None
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    return arr if len(arr) == n else None


def _activity_of(ref: Any, n: int) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Target activity, overlap probability and explanation the embedder stored on ``ref``."""
    act = getattr(ref, "activity", None)
    if act is None and getattr(ref, "prepared", None) is not None:
        act = (getattr(ref.prepared, "extras", None) or {}).get("activity")
    if act is None:
        return None, None, ""
    # TargetActivity (voxref.separation.guide) keeps z_tgt in ``weights`` (``target`` is a centroid)
    target = _per_window(act, n, ("weights", "z_target", "z_tgt", "activity", "z"))
    overlap = None
    for name in ("overlap", "overlap_probability", "overlap_probabilities", "p_overlap"):
        if getattr(act, name, None) is not None:
            overlap = _per_window(getattr(act, name), n, ())
            break
    return target, overlap, _activity_note(act)


def _activity_note(act: Any) -> str:
    """One line from a ``TargetActivity``-like object (reason, other voices, confidence)."""
    parts = []
    reason = getattr(act, "reason", "")
    if reason:
        parts.append(str(reason).rstrip("."))
    others = getattr(act, "other_speakers", None)
    if others is not None and not reason:
        parts.append(f"{int(others)} other voice(s)")
    conf = getattr(act, "confidence", None)
    if conf is not None:
        parts.append(f"confidence {float(conf):.2f}")
    return "; ".join(parts)


def _add_separation_activity(views: list[ReferenceView]) -> None:
    """Target activity from :func:`voxref.separation.guide.target_activity`, for display only.

    Used when the embedder stored none: the references' window embeddings go through the
    separation stage's cross-reference analysis (the same inputs the embedder would give it).
    """
    with_windows = [v for v in views if v.window_embeddings is not None and v.num_windows]
    if not with_windows or any(v.activity is not None for v in views):
        return
    from ..encoding import WindowEmbeddings
    from ..separation.guide import target_activity

    try:
        acts = target_activity(
            [
                WindowEmbeddings(v.window_embeddings, v.window_times[:, 0], v.window_times[:, 1])
                for v in with_windows
            ]
        )
    except (VoxrefError, ValueError) as exc:  # what these references cannot give
        log.warning("target activity failed: %s", exc)
        return
    for v, act in zip(with_windows, acts):
        n = v.num_windows
        v.activity = _per_window(getattr(act, "weights", None), n, ())
        v.overlap = _per_window(getattr(act, "overlap", None), n, ())
        v.activity_note = _activity_note(act)
        v.activity_source = "inspect" if v.activity is not None else ""


def _turns_of(annotation: Any) -> list[tuple[float, float, str]]:
    """``[(start, end, label)]`` of a ``pyannote.core.Annotation`` (or a list of such triples)."""
    if hasattr(annotation, "itertracks"):
        return [
            (float(seg.start), float(seg.end), str(label))
            for seg, _, label in annotation.itertracks(yield_label=True)
        ]
    return [(float(s), float(e), str(lab)) for s, e, lab in annotation]


def _diarizer() -> Any:
    """:func:`voxref.diarize`."""
    from ..separation.diarization import diarize

    return diarize


def _load_for_display(source: Any, index: int, sample_rate: int) -> tuple[np.ndarray | None, str]:
    """The recording as voxref reads it, for drawing a reference that was rejected."""
    from ..audio.load import load_audio

    try:
        return load_audio(source, sample_rate, index=index).samples, ""
    except VoxrefError as exc:
        return None, getattr(exc, "reason", str(exc))


def _report_for_rejected(source: Any, index: int, vad: str) -> Any:
    """A :class:`QualityReport` for a reference the embedder refused (it explains why)."""
    from ..cleaning.pipeline import check
    from ..cleaning.quality import QualityReport

    name = str(source) if isinstance(source, (str, os.PathLike)) else f"<array {index}>"
    try:
        return check(source, vad=vad)
    except AudioError as exc:
        return QualityReport.rejected(name, exc.reason)
    except VoxrefError as exc:
        return QualityReport.rejected(name, str(exc))


def reference_views(
    result: Any,
    inputs: Sequence[Any] | None = None,
    *,
    diarize: bool | Any = True,
    vad: str = "silero",
    sample_rate: int = 16_000,
    separation: bool = True,
) -> list[ReferenceView]:
    """One :class:`ReferenceView` per reference of an :class:`~voxref.EmbeddingResult`.

    Parameters
    ----------
    result
        ``Embedder.combine(...)`` / ``voxref.embed(..., return_details=True)`` output.
    inputs
        The inputs in the same order (used to draw and report references the embedder rejected).
    diarize
        ``True``: run :func:`voxref.diarize` on each recording when it is available; ``False``:
        skip; or a callable ``audio -> Annotation``.
    vad
        Detector for the quality report of a rejected reference.
    sample_rate
        Rate references are loaded at for drawing.
    separation
        When the embedder stored no target activity, compute it (for display) with
        :func:`voxref.separation.guide.target_activity` if that stage is installed.
    """
    weights = _pooling_weights(result)
    diarize_fn = _diarizer() if diarize is True else (diarize or None)
    views = []
    for i, ref in enumerate(result.references):
        p = getattr(ref, "prepared", None)
        view = ReferenceView(
            index=i,
            source=str(ref.source),
            status=ref.fate.status,
            reason=ref.fate.reason,
            weight=float(weights[i]) if i < len(weights) else float(ref.weight),
        )
        if p is not None:
            view.report = p.report
            view.samples = np.asarray(p.audio.samples, dtype=np.float32)
            view.sample_rate = int(p.audio.sample_rate)
            view.regions = None if p.regions is None else [tuple(r) for r in p.regions.regions]
            win = ref.windows if ref.windows is not None else p.windows
            view.window_times = np.stack([win.starts, win.ends], axis=1).astype(np.float64)
            view.window_embeddings = np.asarray(win.embeddings, dtype=np.float32)
            n = len(win)
            if ref.window_weights is not None and len(ref.window_weights) == n:
                view.window_weights = np.asarray(ref.window_weights, dtype=np.float64)
            view.activity, view.overlap, view.activity_note = _activity_of(ref, n)
            view.activity_source = "embedder" if view.activity is not None else ""
            view.speech = np.asarray(p.speech.samples, dtype=np.float32)
            view.speech_sample_rate = int(p.speech.sample_rate)
            view.embedding = None if ref.embedding is None else np.asarray(ref.embedding)
        else:
            source = inputs[i] if inputs is not None and i < len(inputs) else ref.source
            view.report = _report_for_rejected(source, i, vad)
            view.samples, why = _load_for_display(source, i, sample_rate)
            view.sample_rate = sample_rate
            if view.samples is not None and view.report is not None:
                from ..cleaning.vad import detect_speech

                try:
                    regions = detect_speech(view.samples, sample_rate, vad=vad)
                    view.regions = [tuple(r) for r in regions.regions]
                except VoxrefError as exc:  # pragma: no cover - VAD failing on loadable audio
                    log.info("no VAD regions for %s: %s", view.source, exc)
            elif why:
                view.reason = view.reason or why
        _add_turns(view, diarize_fn)
        views.append(view)
    if separation:
        _add_separation_activity(views)
    return views


def _add_turns(view: ReferenceView, diarize_fn: Any) -> None:
    if diarize_fn is None:
        view.diarization_note = "not available"
        return
    if view.samples is None:
        view.diarization_note = "no audio"
        return
    try:
        ann = diarize_fn((view.samples, view.sample_rate))
        view.turns = _turns_of(ann)
        view.diarization_note = ""
    except (VoxrefError, ValueError, RuntimeError) as exc:
        log.warning("diarization of %s failed: %s", view.source, exc)
        view.diarization_note = f"failed: {exc}"


def _pooling_weights(result: Any) -> np.ndarray:
    w = getattr(result, "weights", None)
    if w is None:
        return np.array([r.weight for r in result.references], dtype=np.float64)
    return np.asarray(w, dtype=np.float64).reshape(-1)


# ----------------------------------------------------------------------------- speakers
def list_speaker_folders(speakers_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """``{speaker: [audio files]}`` from a folder holding one sub-folder per speaker.

    Sub-folders without audio files are left out; files directly inside ``speakers_dir`` are
    ignored.

    Raises
    ------
    ConfigError
        ``speakers_dir`` is not a folder or holds no speaker sub-folder with audio.
    """
    root = Path(speakers_dir)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder; give a folder with one sub-folder per speaker.")
    out: dict[str, list[Path]] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(
            f for f in sub.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
        )
        if files:
            out[sub.name] = files
    if not out:
        raise ConfigError(
            f"no speaker sub-folder with audio files ({', '.join(AUDIO_EXTENSIONS)}) in {root}; "
            "put each speaker's recordings in their own sub-folder."
        )
    return out


def collect_speakers(speakers_dir: str | os.PathLike, embedder: Any) -> list[SpeakerView]:
    """Embed each speaker of ``speakers_dir`` (one sub-folder each) with ``embedder``."""
    views = []
    for name, files in list_speaker_folders(speakers_dir).items():
        try:
            res = embedder.combine(embedder.prepare_all([str(f) for f in files]), speaker=name)
        except VoxrefError as exc:
            log.warning("speaker %s: %s", name, str(exc).splitlines()[0])
            views.append(
                SpeakerView(
                    name,
                    None,
                    np.zeros((0, 0), np.float32),
                    [],
                    len(files),
                    0.0,
                    note=str(exc).splitlines()[0],
                )
            )
            continue
        used = [r for r in res.references if r.embedding is not None]
        views.append(
            SpeakerView(
                name=name,
                embedding=np.asarray(res.embedding, dtype=np.float32),
                reference_embeddings=np.stack([r.embedding for r in used]).astype(np.float32),
                reference_sources=[r.source for r in used],
                num_files=len(files),
                speech_seconds=float(sum(r.speech_seconds for r in used)),
                note=""
                if len(used) == len(files)
                else f"{len(files) - len(used)} file(s) rejected",
            )
        )
    return views


# ----------------------------------------------------------------------------- all
def collect(
    files: Sequence[Any] | None,
    embedder: Any = None,
    *,
    speakers_dir: str | os.PathLike | None = None,
    diarize: bool | Any = True,
) -> Inspection:
    """Run ``embedder`` on ``files`` (one speaker's references) and on ``speakers_dir``.

    Either may be empty, not both. A set of references none of which is usable still gives an
    inspection (every row says why); only the pooled embedding is missing.
    """
    from ..errors import NoUsableReferenceError
    from ..pipeline import Embedder

    files = list(files or [])
    if not files and speakers_dir is None:
        raise ConfigError("nothing to inspect: give reference files, a speakers folder, or both.")
    embedder = embedder if embedder is not None else Embedder()
    out = Inspection(speakers_dir=None if speakers_dir is None else str(speakers_dir))
    vad = getattr(embedder, "_clean_options", {}).get("vad", "silero")
    if files:
        prepared = embedder.prepare_all(files)
        try:
            result = embedder.combine(prepared)
        except NoUsableReferenceError as exc:
            result = _unpooled(prepared, embedder)
            out.note = str(exc).splitlines()[0]
        voices = getattr(result, "voices", None)
        if voices is not None and voices.mixed:  # which references hold which voice
            used = [r.source for r in result.references if r.embedding is not None]
            out.note = voices.message(used)
        out.embedding = result.embedding
        out.encoder = dict(result.encoder)
        out.pooling = str(result.pooling)
        out.references = reference_views(
            result,
            files,
            diarize=diarize,
            vad=vad if isinstance(vad, str) else "silero",
            sample_rate=int(embedder.sample_rate),
        )
    if speakers_dir is not None:
        out.speakers = collect_speakers(speakers_dir, embedder)
        if not out.encoder:
            out.encoder = dict(embedder.encoder.describe())
            out.pooling = str(embedder.pooling)
    return out


def _unpooled(prepared: Sequence[Any], embedder: Any) -> Any:
    """A result-like object for a set with no usable reference (no pooled embedding)."""
    from types import SimpleNamespace

    from ..pipeline import ReferenceResult

    refs = [ReferenceResult(p.source, None, 0.0, p) for p in prepared]
    return SimpleNamespace(
        embedding=None,
        references=refs,
        encoder=embedder.encoder.describe(),
        pooling=embedder.pooling,
        weights=np.zeros(len(refs)),
    )
