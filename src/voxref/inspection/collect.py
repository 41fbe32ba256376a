"""Gather what ``voxref inspect`` shows: per-reference audio, speech regions, masks and embeddings.

This module runs the models (through an :class:`~voxref.pipeline.Embedder`) and reduces
their results to plain arrays in :class:`ReferenceView` / :class:`SpeakerView` / :class:`Inspection`;
the figures and the HTML are drawn from those alone, so they can be tested without models.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.timeline import source_to_concatenated
from ..errors import AudioError, ConfigError, VoxrefError

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
#: Resolution (s) of the target mask drawn on a recording's timeline.
MASK_HOP_S = 0.01
#: Speech where the target mask is at least this is kept in the "target-only" audio.
TARGET_THRESHOLD = 0.5


@dataclass
class ReferenceView:
    """Everything the report shows about one reference, as plain arrays.

    Attributes
    ----------
    index
        Position in the input list.
    source
        Input name (path as given).
    status, reason
        Fate in the pooled embedding (``used``, ``down-weighted``, ``rejected``, ``failed``) and why.
    weight
        Pooling weight (0 for a rejected reference).
    report
        The :class:`~voxref.cleaning.quality.QualityReport` (``None`` when the file could not be read).
    samples, sample_rate
        The recording as voxref loaded it (mono); ``None`` when it could not be loaded.
    regions
        Speech regions ``[(start, end)]`` on the recording's timeline (``None``: cleaning was off).
    window_times
        ``(N, 2)`` start/end of each embedding window on the *speech* timeline (concatenated
        speech regions).
    window_weights
        Per-window pooling weights.
    activity
        Per-window target activity in [0, 1], when known.
    overlap
        Per-window probability that a window mixes voices, when known.
    activity_source
        ``"embedder"`` (the activity the embedder pooled with), ``"inspect"`` (computed by the
        report from the window embeddings; the pooling did not use it) or ``""`` (none).
    activity_note
        The separation stage's explanation (other voices found, confidence...).
    embedding
        The reference's embedding (``None`` when rejected).
    window_embeddings
        ``(N, D)`` window embeddings.
    speech, speech_sample_rate
        The cleaned speech the encoder saw (concatenated regions).
    turns
        Diarization turns ``[(start, end, label)]`` on the recording's timeline, or ``None``.
    diarization_note
        Why there are no turns (``"not available"``, an error...), empty when there are.
    """

    index: int
    source: str
    status: str
    reason: str = ""
    weight: float = 0.0
    report: Any = None
    samples: np.ndarray | None = None
    sample_rate: int = 16_000
    regions: list[tuple[float, float]] | None = None
    window_times: np.ndarray | None = None
    window_weights: np.ndarray | None = None
    activity: np.ndarray | None = None
    overlap: np.ndarray | None = None
    activity_source: str = ""
    activity_note: str = ""
    embedding: np.ndarray | None = None
    window_embeddings: np.ndarray | None = None
    speech: np.ndarray | None = None
    speech_sample_rate: int = 16_000
    turns: list[tuple[float, float, str]] | None = None
    diarization_note: str = "not run"

    @property
    def name(self) -> str:
        """File name without its folder."""
        return os.path.basename(self.source) or self.source

    @property
    def duration(self) -> float:
        return 0.0 if self.samples is None else len(self.samples) / float(self.sample_rate)

    @property
    def num_windows(self) -> int:
        return 0 if self.window_embeddings is None else int(self.window_embeddings.shape[0])

    def _relative_weights(self) -> np.ndarray | None:
        w = self.window_weights
        if w is None or not len(w):
            return None
        peak = float(np.max(w))
        return w / peak if peak > 0 else w

    def weight_mask(self, hop: float = MASK_HOP_S) -> tuple[np.ndarray, np.ndarray]:
        """Window weights over their maximum on the recording's timeline (``nan`` off speech).

        This is where the reference's embedding was taken from, as the pooling weighted it.
        """
        return window_mask(
            self.duration, self.regions, self.window_times, self._relative_weights(), hop=hop
        )

    def activity_mask(self, hop: float = MASK_HOP_S) -> tuple[np.ndarray, np.ndarray] | None:
        """Target activity on the recording's timeline, or ``None`` when unknown."""
        if self.activity is None:
            return None
        return window_mask(self.duration, self.regions, self.window_times, self.activity, hop=hop)

    def overlap_mask(self, hop: float = MASK_HOP_S) -> tuple[np.ndarray, np.ndarray] | None:
        """Overlap probability on the recording's timeline, or ``None`` when unknown."""
        if self.overlap is None:
            return None
        return window_mask(self.duration, self.regions, self.window_times, self.overlap, hop=hop)

    def target_audio(self, max_seconds: float | None = None) -> np.ndarray | None:
        """The cleaned speech of the target (see :func:`target_only_audio`).

        Windows count as target when their activity (when known, else their relative pooling
        weight) is at least :data:`TARGET_THRESHOLD`.
        """
        if self.speech is None:
            return None
        values = self.activity if self.activity is not None else self._relative_weights()
        return target_only_audio(
            self.speech, self.speech_sample_rate, self.window_times, values, max_seconds=max_seconds
        )


@dataclass
class SpeakerView:
    """One speaker of ``inspect --speakers DIR``: its pooled embedding and its references'."""

    name: str
    embedding: np.ndarray | None
    reference_embeddings: np.ndarray
    reference_sources: list[str]
    num_files: int
    speech_seconds: float
    note: str = ""


@dataclass
class Inspection:
    """What one report shows."""

    references: list[ReferenceView] = field(default_factory=list)
    embedding: np.ndarray | None = None
    encoder: dict = field(default_factory=dict)
    pooling: str = ""
    note: str = ""
    speakers: list[SpeakerView] = field(default_factory=list)
    speakers_dir: str | None = None
    #: The prompt shown on the references' timelines
    #: (:class:`~voxref.inspection.prompt_view.PromptView`), or ``None``.
    prompt: Any = None


# ----------------------------------------------------------------------------- timelines
def speech_time(t: np.ndarray, regions: Sequence[tuple[float, float]] | None) -> np.ndarray:
    """Map recording times to the concatenated-speech timeline (``nan`` outside speech).

    The inverse of :meth:`voxref.pipeline.PreparedReference.to_original_time` on speech.

    Examples
    --------
    >>> speech_time(np.array([0.5, 1.5, 2.25]), [(1.0, 2.0), (2.0, 3.0)]).tolist()
    [nan, 0.5, 1.25]
    >>> speech_time(np.array([0.5]), None).tolist()
    [0.5]
    """
    t = np.asarray(t, dtype=np.float64)
    if regions is None:
        return t.copy()
    return source_to_concatenated(t, regions)


#: Grid step (s) on which window values are accumulated before being read back at any time.
_COVER_STEP_S = 0.001


def _covering_mean(t: np.ndarray, window_times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` over the windows covering each time ``t`` (``nan`` where none does).

    Windows are accumulated on a 1 ms grid with difference arrays (linear in the number of
    windows and grid points, so hour-long recordings with thousands of windows stay cheap).
    """
    step = _COVER_STEP_S
    first = np.ceil(window_times[:, 0] / step - 1e-6).astype(np.int64)
    last = np.ceil(window_times[:, 1] / step - 1e-6).astype(np.int64)
    size = int(max(last.max(initial=0), 0)) + 2
    count = np.zeros(size)
    total = np.zeros(size)
    np.add.at(count, np.clip(first, 0, size - 1), 1.0)
    np.add.at(count, np.clip(last, 0, size - 1), -1.0)
    np.add.at(total, np.clip(first, 0, size - 1), values)
    np.add.at(total, np.clip(last, 0, size - 1), -values)
    count, total = np.cumsum(count), np.cumsum(total)
    k = np.floor(np.asarray(t, dtype=np.float64) / step + 1e-6).astype(np.int64)
    ok = (k >= 0) & (k < size)
    out = np.full(len(k), np.nan)
    kk = k[ok]
    c = count[kk]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = np.where(c > 0.5, total[kk] / np.maximum(c, 1.0), np.nan)
    return out


def window_mask(
    duration: float,
    regions: Sequence[tuple[float, float]] | None,
    window_times: np.ndarray | None,
    values: np.ndarray | None,
    *,
    hop: float = MASK_HOP_S,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-window values spread on the recording's timeline.

    Each instant of the recording inside a speech region is mapped to the concatenated-speech
    timeline the windows live on; its value is the mean over the windows covering it. Instants
    outside speech (or covered by no window) are ``nan``.

    Parameters
    ----------
    duration
        Length of the recording (s).
    regions
        Speech regions on the recording's timeline (``None``: the windows cover the recording).
    window_times
        ``(N, 2)`` window start/end on the speech timeline.
    values
        ``(N,)`` per-window values (weights, activity...).
    hop
        Step of the returned grid (s).

    Returns
    -------
    times, mask
        Grid times (s) on the recording's timeline and the mask there.

    Examples
    --------
    >>> wt = np.array([[0.0, 1.0], [0.5, 1.5]])
    >>> t, m = window_mask(3.0, [(1.0, 2.5)], wt, np.array([1.0, 0.0]), hop=0.5)
    >>> t.tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    >>> m.tolist()
    [nan, nan, 1.0, 0.5, 0.0, nan]
    """
    n = max(1, int(np.ceil(duration / hop - 1e-9)))
    times = np.arange(n) * hop
    if window_times is None or values is None or len(values) == 0:
        return times, np.full(n, np.nan)
    wt = np.asarray(window_times, dtype=np.float64).reshape(-1, 2)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(v) != len(wt):
        raise ConfigError(f"{len(v)} values for {len(wt)} windows; give one value per window.")
    st = speech_time(times, regions)
    mask = np.full(n, np.nan)
    ok = np.isfinite(st)
    mask[ok] = _covering_mean(st[ok], wt, v)
    return times, mask


def target_only_audio(
    speech: np.ndarray,
    sample_rate: int,
    window_times: np.ndarray | None,
    mask_values: np.ndarray | None,
    *,
    threshold: float = TARGET_THRESHOLD,
    max_seconds: float | None = None,
) -> np.ndarray:
    """The cleaned speech where the per-window target mask is at least ``threshold``.

    Without window values the whole speech is kept. At most ``max_seconds`` are returned.

    Examples
    --------
    >>> x = np.arange(40, dtype=np.float32)
    >>> wt = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 4.0]])
    >>> target_only_audio(x, 10, wt, np.array([1.0, 0.0, 1.0]), max_seconds=2.5).shape
    (25,)
    >>> target_only_audio(x, 10, None, None).shape
    (40,)
    """
    x = np.asarray(speech, dtype=np.float32)
    if window_times is not None and mask_values is not None and len(mask_values):
        t = (np.arange(len(x)) + 0.5) / float(sample_rate)
        wt = np.asarray(window_times, dtype=np.float64).reshape(-1, 2)
        v = np.asarray(mask_values, dtype=np.float64).reshape(-1)
        keep = np.zeros(len(x), dtype=bool)
        # window by window (a (T, N) matrix would be large for long recordings)
        cover = np.zeros(len(x), dtype=np.float64)
        total = np.zeros(len(x), dtype=np.float64)
        for (s, e), value in zip(wt, v):
            a, b = np.searchsorted(t, [s, e])
            cover[a:b] += 1.0
            total[a:b] += value
        keep = (cover > 0) & (total >= threshold * np.maximum(cover, 1.0))
        x = x[keep]
    if max_seconds is not None:
        x = x[: int(round(max_seconds * sample_rate))]
    return x


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
