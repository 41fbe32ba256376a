"""Extract one target speaker from a multi-speaker recording, guided by references or an embedding.

:func:`extract_target` diarizes the recording (:mod:`.diarization`), picks the speaker whose
centroid is closest to the guide, keeps that speaker's turns minus the frames that look mixed with
another voice (the diarizer's frame misfit, from 1.5 s and 0.75 s windows), and returns those
target-only segments, their audio, and an embedding pooled over the windows that lie inside them
(target-masked attention pooling, :func:`.guide.guided_pool`).

The defaults (misfit above 1.5 or within 0.2 s of a speaker change is left out) were chosen on
pyannote's sample and on synthetic 2–4-speaker conversations: how much of what is kept is the
target alone, and how much of the target's clean speech is kept, is measured by
``python -m voxref.separation.benchmark`` (BENCHMARKS.md; the run that set the defaults is in
docs/decisions.md, "Target extraction").

The guide can be:

* reference recordings of the target (paths, arrays with ``sample_rate``, ``(array, sr)`` pairs,
  :class:`~voxref.audio.Audio`), possibly with other voices in them: the target in the references
  is found by cross-reference agreement (:func:`.guide.target_activity`);
* an embedding vector ``(D,)`` from the same encoder;
* explicit target segments on the recording itself: a list of ``(start, end)`` seconds.

Selection cannot help where the target is *never* alone (every window mixed); those parts are left
out and reported (``TargetResult.reason``).

Examples
--------
>>> from voxref.sample_data import pyannote_sample
>>> wav, _ = pyannote_sample()
>>> res = extract_target(wav, [(10.6, 14.4)])  # doctest: +SKIP
>>> res.target_label, round(res.duration, 1)  # doctest: +SKIP
('SPEAKER_01', 11.9)
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio.load import AudioInput, load_audio
from ..encoding import WindowEmbeddings, l2_normalize
from ..errors import (
    ConfigError,
    LowConfidenceWarning,
    NoSpeechError,
    TargetNotFoundError,
)
from ..option_checks import check_cosine, check_count
from .diarization import DiarizationResult, Diarizer
from .guide import guided_pool
from .resegment import runs
from .target_guide import (
    guide_embedding,
    is_embedding,
    is_segment_list,
    reference_list,
    segments_embedding,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyannote.core import Annotation

__all__ = [
    "TargetResult",
    "extract_target",
    "guide_embedding",
    "is_segment_list",
    "reference_list",
    "check_target_found",
    "TARGET_LABEL",
    "TARGET_FOUND_FROM",
]

log = logging.getLogger(__name__)

#: Label of the target speaker in :attr:`TargetResult.annotation`.
TARGET_LABEL = "TARGET"

#: Cosine (default GE2E diarizer) from which a diarized speaker's centroid is the guided voice.
#: Chosen between the scores of present and absent voices on two-voice recordings of the
#: espeak-ng / flite fixture voices (docs/decisions.md, "Target extraction"; tests/reliability,
#: "target-not-in-recording"). Clean synthetic speech only: a noisy recording of the target
#: scores lower and may need ``min_guide_similarity`` lowered (or ``None``).
TARGET_FOUND_FROM = 0.8


def _presence_threshold(value: float | None | str, with_pipeline: bool) -> float | None:
    """The cosine the guided voice must reach (``None``: not checked); checked before audio."""
    if value is None:
        return None
    if isinstance(value, str):
        if value != "auto":
            raise ConfigError(
                f"min_guide_similarity={value!r}: give 'auto', a cosine in [-1, 1] or None."
            )
        return None if with_pipeline else TARGET_FOUND_FROM
    return check_cosine("min_guide_similarity", value)


def check_target_found(
    similarity: np.ndarray, labels: list[str], threshold: float, source: str | None = None
) -> None:
    """Raise :class:`~voxref.errors.TargetNotFoundError` when no speaker reaches ``threshold``."""
    sims = {labels[k]: float(v) for k, v in enumerate(np.asarray(similarity).reshape(-1))}
    best = max(sims.values(), default=float("-inf"))
    if best >= threshold:
        return
    where = f" {source}" if source else " the recording"
    raise TargetNotFoundError(
        f"the guided voice was not found in{where}: the closest of its {len(sims)} speaker(s) "
        f"has cosine {best:.2f} to the guide, below {threshold:.2f}, so it is another voice. "
        "Check that the guide is this speaker; pass min_guide_similarity=None (CLI: "
        "--min-guide-similarity -1) to take the closest speaker anyway.",
        sims,
    )


@dataclass
class TargetResult:
    """The target speaker's part of a recording.

    Attributes
    ----------
    segments
        Target-only ``(start, end)`` regions in seconds (the target speaks, nobody else seems to).
    audio
        Those regions concatenated (float32 mono, 10 ms fades at the joins).
    sample_rate
        Rate of ``audio``.
    embedding
        Unit-norm target embedding pooled over the windows inside ``segments`` (``(D,)``).
    confidence
        ``[0, 1]``: how clearly one speaker of the recording matches the guide.
    annotation
        The recording's diarization with the chosen speaker renamed ``"TARGET"``.
    target_label
        The diarizer's label of the chosen speaker (labels joined by ``+`` when the diarizer had
        split the target into several clusters).
    guide_similarity
        Cosine of each diarized speaker's centroid to the guide.
    reason
        One sentence for the user.
    diarization
        The full :class:`~.diarization.DiarizationResult` (``None`` with a pyannote pipeline).
    """

    segments: list[tuple[float, float]]
    audio: np.ndarray
    sample_rate: int
    embedding: np.ndarray
    confidence: float
    annotation: Annotation
    target_label: str
    guide_similarity: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    diarization: DiarizationResult | None = None

    @property
    def duration(self) -> float:
        """Seconds of target-only speech."""
        return float(sum(e - s for s, e in self.segments))

    def target_annotation(self) -> Annotation:
        """The target-only segments as an annotation (label ``"TARGET"``)."""
        from pyannote.core import Annotation, Segment

        ann = Annotation(uri=self.annotation.uri)
        for i, (s, e) in enumerate(self.segments):
            ann[Segment(s, e), i] = TARGET_LABEL
        return ann

    def to_dict(self) -> dict:
        return {
            "segments": [[round(s, 3), round(e, 3)] for s, e in self.segments],
            "duration_s": round(self.duration, 3),
            "confidence": round(float(self.confidence), 3),
            "target_label": self.target_label,
            "guide_similarity": {k: round(v, 3) for k, v in self.guide_similarity.items()},
            "reason": self.reason,
        }


# --------------------------------------------------------------------------- extraction
def _frames_to_segments(mask: np.ndarray, step: float, min_duration: float, max_gap: float):
    segs: list[list[float]] = []
    for a, b, v in runs(mask.astype(np.int64)):
        if not v:
            continue
        s, e = a * step, b * step
        if segs and s - segs[-1][1] <= max_gap:
            segs[-1][1] = e
        else:
            segs.append([s, e])
    return [(round(s, 3), round(e, 3)) for s, e in segs if e - s >= min_duration - 1e-9]


def _concat(
    x: np.ndarray, sr: int, segments: list[tuple[float, float]], fade: float = 0.01
) -> np.ndarray:
    parts = []
    nf = int(fade * sr)
    for s, e in segments:
        p = x[int(round(s * sr)) : int(round(e * sr))].astype(np.float32).copy()
        if nf and len(p) > 2 * nf:
            ramp = np.linspace(0.0, 1.0, nf, dtype=np.float32)
            p[:nf] *= ramp
            p[-nf:] *= ramp[::-1]
        parts.append(p)
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)


def _coverage(windows: WindowEmbeddings, segments: list[tuple[float, float]]) -> np.ndarray:
    """Fraction of each window inside the segments."""
    cov = np.zeros(len(windows))
    for s, e in segments:
        cov += np.clip(np.minimum(windows.ends, e) - np.maximum(windows.starts, s), 0.0, None)
    return np.clip(cov / np.maximum(windows.ends - windows.starts, 1e-9), 0.0, 1.0)


def extract_target(
    recording: AudioInput,
    guide: Any,
    *,
    sample_rate: int | None = None,
    guide_sample_rate: int | None = None,
    num_speakers: int | None = None,
    diarizer: Diarizer | None = None,
    diarization: DiarizationResult | None = None,
    misfit_threshold: float = 1.5,
    overlap_threshold: float = 0.5,
    guard: float = 0.2,
    min_duration: float = 0.3,
    same_voice_margin: float = 0.04,
    pipeline: Any = None,
    token: str | None = None,
    min_guide_similarity: float | None | str = "auto",
) -> TargetResult:
    """Find the target speaker in ``recording`` and return its target-only parts.

    Parameters
    ----------
    recording
        Path, array (with ``sample_rate``), ``(array, sr)`` pair or :class:`~voxref.audio.Audio`.
    guide
        Reference recordings of the target (a list, or a single path), an embedding ``(D,)``
        from the diarizer's encoder, or a list of ``(start, end)`` target segments (seconds) on
        ``recording``.
    sample_rate
        Rate of an array ``recording``.
    guide_sample_rate
        Rate of array references in ``guide`` (default: ``sample_rate``).
    num_speakers
        Number of speakers in ``recording`` when known.
    diarizer
        A configured :class:`~.diarization.Diarizer` (default: the offline one, GE2E).
    diarization
        A diarization of this same ``recording`` by ``diarizer`` (to extract several targets from
        one recording without diarizing it again).
    misfit_threshold
        Frames of the target's turns whose misfit (see :func:`.resegment.overlap_scores`) is
        above this are treated as mixed and left out.
    overlap_threshold
        Frames where the diarizer's speaker counter gives two or more voices a probability
        above this are left out too (stricter than the diarizer's own threshold: a frame lost
        costs the target little, a mixed frame kept pulls its embedding to the other voice).
    guard
        Seconds left out on each side of a change between the target and another speaker
        (interruptions and back-channels cluster there).
    min_duration
        Shortest target-only segment kept (seconds).
    same_voice_margin
        Diarized speakers whose centroid is within this cosine of the best match to the guide are
        taken as the target too (the diarizer may split one voice into two clusters).
    pipeline, token
        A pyannote.audio diarization pipeline (folder, hub id + token, or object) to use instead
        of the offline diarizer: its overlap-aware turns give the target-only regions (the
        target's turns minus every other speaker's) and its embedding model compares speakers
        with the guide (a guide vector must then come from that model). ``diarizer``,
        ``diarization``, ``misfit_threshold``, ``overlap_threshold`` and ``same_voice_margin``
        do not apply.
    min_guide_similarity
        The guided voice counts as present only when a speaker of the recording has at least
        this cosine to the guide; otherwise :class:`~voxref.errors.TargetNotFoundError` is raised
        rather than another voice returned as the target. ``"auto"`` (default):
        :data:`TARGET_FOUND_FROM` with voxref's own encoder; with ``pipeline`` (another encoder's
        scale, where no threshold has been measured) presence is not checked and a
        :class:`~voxref.errors.LowConfidenceWarning` says so - pass a number on that model's
        scale to check it. A number: that threshold, with either diarizer. ``None``: always take
        the closest speaker. Never applied to a guide of segments (they are on the recording).

    Returns
    -------
    TargetResult

    Raises
    ------
    TargetNotFoundError
        No speaker of the recording is close enough to the guide.

    Examples
    --------
    >>> import numpy as np
    >>> extract_target(np.zeros(100), [(0.0, 1.0)], sample_rate=16000)  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    voxref.errors.SilentAudioError: ...
    """
    num_speakers = check_count("num_speakers", num_speakers)  # before any audio is read
    threshold = _presence_threshold(min_guide_similarity, pipeline is not None)
    if pipeline is not None:
        return _extract_with_pyannote(
            recording,
            guide,
            pipeline=pipeline,
            token=token,
            sample_rate=sample_rate,
            guide_sample_rate=guide_sample_rate,
            num_speakers=num_speakers,
            guard=guard,
            min_duration=min_duration,
            threshold=threshold,
        )
    d = diarizer or Diarizer()
    enc = d.encoder
    audio = load_audio(recording, enc.sample_rate, sample_rate=sample_rate)
    x, sr = audio.samples, audio.sample_rate
    res = diarization if diarization is not None else d(audio, num_speakers=num_speakers)
    if abs(res.duration - audio.duration) > 0.05:
        raise ConfigError(
            f"the diarization covers {res.duration:.2f} s but the recording lasts "
            f"{audio.duration:.2f} s; pass the diarization of this recording."
        )
    if res.num_speakers == 0:
        raise NoSpeechError("no speech found in the recording.", audio.source)

    # embeddings come from the recording as the diarizer analysed it (levelled); the target
    # audio returned keeps the recording's own level
    x_analysed = d.level(audio).samples

    # the guide embedding
    if is_segment_list(guide):
        g = segments_embedding([(float(s), float(e)) for s, e in guide], res, x_analysed, sr, enc)
        guide_note = "guide: target segments"
    elif is_embedding(guide, enc.dimension):
        g = np.asarray(guide, dtype=np.float64).reshape(-1)
        guide_note = "guide: embedding"
    elif (
        isinstance(guide, np.ndarray)
        and guide.ndim == 1
        and guide.dtype.kind == "f"
        and guide.shape[0] < 4096
    ):
        raise ConfigError(
            f"the guide vector has {guide.shape[0]} values but the encoder gives {enc.dimension}-d "
            "embeddings; use the same encoder, or pass reference audio."
        )
    else:
        g, why = guide_embedding(
            guide,
            enc,
            sample_rate=guide_sample_rate or sample_rate,
            vad=d.vad,
            level_dbfs=d.level_dbfs,
        )
        guide_note = f"guide: references ({why})"
    g = l2_normalize(np.asarray(g, dtype=np.float64)).astype(np.float64)

    # which diarized speaker is the target: the closest to the guide, plus any cluster almost as
    # close (the diarizer can split one voice in two, never the reverse)
    sims = res.centroids @ g
    order = np.argsort(-sims)
    best = float(sims[order[0]])
    targets = [int(k) for k in order if sims[k] >= best - same_voice_margin]
    rest = [int(k) for k in order if int(k) not in targets]
    second = float(sims[rest[0]]) if rest else -1.0
    labels = res.labels
    if threshold is not None and guide_note != "guide: target segments":
        check_target_found(sims, labels, threshold, audio.source)
    if rest:
        confidence = float(np.clip((best - second) / 0.1, 0.0, 1.0))
    else:
        confidence = float(np.clip((best - 0.5) / 0.3, 0.0, 1.0))

    # target-only frames: the target's turns minus frames that fit no single speaker
    step = res.frame_step
    is_tgt = np.isin(res.frame_speaker, targets)
    mixed = np.zeros_like(is_tgt)
    if res.frame_misfit is not None and res.num_speakers >= 2:
        mixed = np.nan_to_num(res.frame_misfit, nan=0.0) > misfit_threshold
    if res.frame_overlap is not None:
        mixed |= res.frame_overlap >= 0
    if res.frame_overlap_probability is not None and res.num_speakers >= 2:
        mixed |= res.frame_overlap_probability > overlap_threshold
    keep = is_tgt & ~mixed
    g_frames = int(round(guard / step))
    if g_frames > 0:
        who = np.where(is_tgt, 1, np.where(res.frame_speaker >= 0, 0, -1))
        change = np.flatnonzero((who[1:] != who[:-1]) & (who[1:] >= 0) & (who[:-1] >= 0))
        for c in change:
            keep[max(0, c - g_frames + 1) : c + g_frames + 1] = False
    segments = _frames_to_segments(keep, step, min_duration, max_gap=0.05)
    target_audio = _concat(x, sr, segments)

    # embedding: target-masked attention over the windows inside the target-only segments
    centroid = l2_normalize(res.centroids[targets].mean(axis=0)).astype(np.float64)
    cov = _coverage(res.windows, segments)
    z = np.clip((cov - 0.5) / 0.5, 0.0, 1.0)
    if z.sum() > 0:
        emb = guided_pool(res.windows.embeddings, z, centroid)
    elif len(target_audio) >= enc.min_num_samples:
        emb = enc.embed_utterance(_concat(x_analysed, sr, segments))
    else:
        emb = centroid

    ann = res.annotation.rename_labels({labels[k]: TARGET_LABEL for k in targets})
    excluded = float(is_tgt.sum() * step) - sum(e - s for s, e in segments)
    parts = [
        guide_note,
        f"target = {'+'.join(labels[k] for k in targets)} of {res.num_speakers} speaker(s) "
        f"(cosine to guide {best:.2f}" + (f", next {second:.2f})" if rest else ")"),
        f"{sum(e - s for s, e in segments):.1f} s target-only",
    ]
    if excluded > 0.05:
        parts.append(f"{excluded:.1f} s of the target's turns left out as mixed or too short")
    if confidence < 0.3:
        parts.append("low confidence: no speaker clearly matches the guide")
        log.warning("extract_target: %s", "; ".join(parts))
    return TargetResult(
        segments=segments,
        audio=target_audio,
        sample_rate=sr,
        embedding=l2_normalize(emb),
        confidence=round(confidence, 3),
        annotation=ann,
        target_label="+".join(labels[k] for k in targets),
        guide_similarity={labels[k]: float(sims[k]) for k in range(len(sims))},
        reason="; ".join(parts),
        diarization=res,
    )


def _extract_with_pyannote(
    recording: AudioInput,
    guide: Any,
    *,
    pipeline: Any,
    token: str | None,
    sample_rate: int | None,
    guide_sample_rate: int | None,
    num_speakers: int | None,
    guard: float,
    min_duration: float,
    threshold: float | None,
) -> TargetResult:
    """:func:`extract_target` with a pyannote.audio pipeline (overlap-aware turns, its embeddings)."""
    from pyannote.core import Segment, Timeline

    from .pyannote_backend import PyannoteDiarizer

    pd = PyannoteDiarizer(pipeline, token=token)
    audio = load_audio(recording, pd.sample_rate, sample_rate=sample_rate)
    x, sr = audio.samples, audio.sample_rate
    res = pd(audio, num_speakers=num_speakers)
    labels = res.labels
    if not labels:
        raise NoSpeechError("the pyannote pipeline found no speech in the recording.", audio.source)
    ann = res.annotation

    sims: dict[str, float] = {}
    if is_segment_list(guide):
        guide_tl = Timeline([Segment(float(s), float(e)) for s, e in guide]).support()
        for lab in labels:
            sims[lab] = float(ann.label_timeline(lab).crop(guide_tl).duration())
        total = max(guide_tl.duration(), 1e-9)
        sims = {k: v / total for k, v in sims.items()}  # share of the guide segments
        guide_note = "guide: target segments"
    else:
        if res.speaker_embeddings is None:
            raise ConfigError(
                "this pyannote pipeline gives no speaker embeddings; guide it with target segments."
            )
        if isinstance(guide, np.ndarray) and guide.ndim == 1 and guide.dtype.kind == "f":
            g = guide.astype(np.float64)
            guide_note = "guide: embedding"
        else:
            refs = reference_list(guide)
            vecs = []
            for r in refs:
                a = load_audio(r, pd.sample_rate, sample_rate=guide_sample_rate or sample_rate)
                vecs.append(pd.embed(a.samples, a.sample_rate))
            g = np.mean(vecs, axis=0).astype(np.float64)
            guide_note = f"guide: {len(vecs)} reference(s) embedded by the pipeline"
        dim = len(next(iter(res.speaker_embeddings.values())))
        if g.shape[0] != dim:
            raise ConfigError(
                f"the guide has {g.shape[0]} values but the pipeline's embeddings have {dim}; "
                "embed the guide with the pipeline's own model (or pass reference audio)."
            )
        g = g / max(np.linalg.norm(g), 1e-12)
        sims = {
            lab: float(np.nan_to_num(res.speaker_embeddings[lab] @ g, nan=-1.0)) for lab in labels
        }
    if not is_segment_list(guide):
        if threshold is not None:
            check_target_found(np.array([sims[k] for k in labels]), labels, threshold, audio.source)
        else:
            warnings.warn(
                "extract_target with a pyannote pipeline does not check that the guided voice is "
                "in the recording (no presence threshold is known on that model's scale); the "
                "closest speaker is returned. Pass min_guide_similarity=<cosine on the pipeline's "
                "scale> to check it.",
                LowConfidenceWarning,
                stacklevel=3,
            )
    ranked = sorted(labels, key=lambda k: -sims[k])
    tgt = ranked[0]
    best = sims[tgt]
    second = sims[ranked[1]] if len(ranked) > 1 else None
    scale = 1.0 if is_segment_list(guide) else 0.1
    if second is not None:
        confidence = float(np.clip((best - second) / scale, 0.0, 1.0))
    else:
        confidence = float(np.clip(best, 0.0, 1.0))

    # target-only: the target's turns minus everybody else's, minus a guard around them
    mine = ann.label_timeline(tgt).support()
    others = Timeline(
        [seg for seg, _, lab in ann.itertracks(yield_label=True) if lab != tgt]
    ).support()
    blocked = Timeline(
        [Segment(max(0.0, s.start - guard), s.end + guard) for s in others]
    ).support()
    keep = mine.extrude(blocked) if len(blocked) else mine
    segments = [
        (round(s.start, 3), round(min(s.end, audio.duration), 3))
        for s in keep.support()
        if s.duration >= min_duration
    ]
    target_audio = _concat(x, sr, segments)
    if len(target_audio) >= int(0.5 * sr):
        emb = pd.embed(target_audio, sr)
    elif res.speaker_embeddings is not None:
        emb = res.speaker_embeddings[tgt]
    else:
        emb = np.zeros(0, dtype=np.float32)
    parts = [
        guide_note,
        f"target = {tgt} of {len(labels)} speaker(s) (pyannote pipeline; match {best:.2f}"
        + (f", next {second:.2f})" if second is not None else ")"),
        f"{sum(e - s for s, e in segments):.1f} s target-only",
    ]
    return TargetResult(
        segments=segments,
        audio=target_audio,
        sample_rate=sr,
        embedding=np.nan_to_num(np.asarray(emb, dtype=np.float32)),
        confidence=round(confidence, 3),
        annotation=ann.rename_labels({tgt: TARGET_LABEL}),
        target_label=tgt,
        guide_similarity=sims,
        reason="; ".join(parts),
        diarization=None,
    )
