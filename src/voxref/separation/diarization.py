"""Offline speaker diarization: who speaks when, from voxref's own encoder (no hub models).

Pipeline (:class:`Diarizer`):

1. **Speech regions**: ``voxref.cleaning.vad`` (silero) with tight padding (:mod:`.speech`).
2. **Window embeddings**: 1.5 s windows every 0.25 s inside the speech regions (:mod:`.windows`).
3. **Clustering**: windows are centred on the recording's mean embedding (GE2E d-vectors all lie in
   one positive cone; removing the common part sharpens the contrast between voices), then Ward
   agglomerative clustering (:mod:`.clustering`) cut at the given number of speakers (plus one
   extra cluster, which tends to collect windows straddling two voices), or at the largest jump in
   merge cost; clusters are then merged by centroid cosine in the encoder's own space down to
   the given number, or while above ``merge_threshold``.
4. **Resegmentation**: window-to-centroid scores are spread on a 10 ms frame grid, a Viterbi pass
   with a switch penalty picks one speaker per frame, and turns shorter than ``min_duration`` are
   absorbed by a neighbour (:mod:`.resegment`). A second pass re-scores the frames with shorter
   windows (0.75 s every 0.25 s) against centroids taken from the first pass, which sharpens turn
   boundaries and recovers short turns.
5. **Overlap** (:mod:`.overlap_rules`): a frame-level speaker counter (:mod:`.overlap_detector`,
   shipped weights) gives each 10 ms frame a probability of two or more voices; where it is above
   ``count_threshold`` (0.9) within ``count_near_turn`` (0.5 s) of a change of speaker, the
   runner-up speaker is added. Without the counter (``overlap_detector=None``) both speakers are
   instead extended by ``turn_overlap`` (0.15 s) across each change of speaker, since the next
   talker often starts before the previous one stops. Each window also gets a misfit score (how
   badly its best speaker fits it, as a robust z-score); optionally (``detect_overlap=True``) the
   runner-up speaker is added where the misfit persists for ``min_overlap`` seconds.

The options a user sets are the encoder, the VAD, the overlap detector and the analysis level;
the knobs of the stages above are advanced options, ``Diarizer(advanced=DiarizerTuning(...))``
(:mod:`.diarization_tuning`), recorded in every result when changed.

How well it does (DER on pyannote's real two-speaker sample and on synthetic 2-4-speaker
conversations, speaker counts, speed) is measured by ``python -m voxref.separation.benchmark``
and the diarization benchmark; the figures are in BENCHMARKS.md. The counter's threshold and
reach were chosen on the sample and the synthetic conversations together: it is the only real
conversation available offline, so the sample figure is not a held-out one.

The result is a :class:`~.diarization_result.DiarizationResult` around a
:class:`pyannote.core.Annotation` (``pyannote.core`` is light; ``pyannote.audio`` is never imported
here), so RTTM output (``annotation.write_rttm``) and ``pyannote.metrics`` work. :func:`diarize`
can also run a user-supplied pyannote.audio pipeline (see :mod:`.pyannote_backend`).

Examples
--------
>>> from voxref.sample_data import pyannote_sample
>>> wav, _ = pyannote_sample()
>>> ann = diarize(wav, num_speakers=2)  # doctest: +SKIP
>>> sorted(ann.labels())  # doctest: +SKIP
['SPEAKER_00', 'SPEAKER_01']
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio.level import check_level_dbfs, level_audio
from ..audio.load import AudioInput, load_audio
from ..audio.signal import Audio
from ..encoder_names import encoder_by_name
from ..encoding import Encoder, WindowEmbeddings
from ..errors import ConfigError
from ..option_checks import check_count
from .clustering import centre, cluster_centroids, merge_close_clusters, ward_clusters
from .diarization_result import DiarizationResult, RecordingWindows, speaker_label, to_annotation
from .diarization_tuning import (
    COUNT_NEAR_TURN,
    COUNT_THRESHOLD,
    TURN_OVERLAP,
    DiarizerTuning,
    check_removed_diarizer_options,
)
from .overlap_rules import counted_overlap, misfit_overlap, on_grid, turn_change_overlap
from .resegment import enforce_min_duration, frame_scores, overlap_scores, runs, viterbi_path
from .speech import regions_to_mask, speech_regions
from .windows import embed_speech_windows

if TYPE_CHECKING:  # pragma: no cover
    from pyannote.core import Annotation

__all__ = [
    "Diarizer",
    "DiarizerTuning",
    "DiarizationResult",
    "RecordingWindows",
    "DIARIZATION_LEVEL_DBFS",
    "diarize",
    "to_annotation",
    "speaker_label",
    "centre",
    "turn_change_overlap",
    "TURN_OVERLAP",
    "COUNT_THRESHOLD",
    "COUNT_NEAR_TURN",
]

log = logging.getLogger(__name__)

#: Active level (dBFS, speech band) a recording is scaled to before analysis, so that the result
#: no longer depends on the recording's gain: the lowest mean DER (collar 0) over pyannote's
#: sample and the synthetic conversations of :mod:`.benchmark`, levels -26 to -18 dB in 1 dB
#: steps (``benchmarks/results/separation.md``, "the diarizer levels the recording first"); a
#: coarse choice (on the sample alone DER moves with level by one turn boundary), 1 dB above the
#: level :class:`~voxref.Embedder` scales references to.
DIARIZATION_LEVEL_DBFS = -21.0


class Diarizer:
    """voxref's offline diarizer (VAD -> window embeddings -> clustering -> resegmentation).

    Parameters
    ----------
    encoder
        An :class:`~voxref.encoding.Encoder`, or a name / checkpoint resolved by
        :func:`voxref.embedder.registry.get_encoder` on first use (default ``"ge2e"``).
    vad
        Voice activity detector name/object for :func:`.speech.speech_regions`.
    overlap_detector
        Frame-level speaker counter (:class:`.overlap_detector.SpeakerCountNet`) that marks
        overlapped speech; the runner-up speaker is added there. ``"default"`` or ``True``:
        the shipped checkpoint; a path; a loaded network; ``None``: off (both speakers are then
        extended across each change of speaker instead, see ``DiarizerTuning.turn_overlap``).
    level_dbfs
        Active level (dBFS, speech band) the recording is scaled to before analysis
        (:data:`DIARIZATION_LEVEL_DBFS`; ``None``: as it is), as :class:`~voxref.Embedder` scales
        references. The GE2E encoder works on linear mel power, so its windows, and the
        clustering thresholds, depend on level: unscaled, a quiet recording of two voices can be
        diarized as one speaker. Only the analysis is scaled; :func:`~.target.extract_target`
        returns audio at the recording's own level.
    advanced
        The knobs of the stages (window lengths, Viterbi penalty, clustering thresholds, the
        second pass, overlap rules): a :class:`~.diarization_tuning.DiarizerTuning` or a dict of
        its fields; ``None``: the defaults. Validated here, before any audio is read; the ones
        changed are recorded in :attr:`DiarizationResult.tuning`.

    Examples
    --------
    >>> Diarizer(advanced=DiarizerTuning(min_duration=0.5)).advanced.changed()
    {'min_duration': 0.5}
    >>> Diarizer(min_duration=0.5)
    Traceback (most recent call last):
    ...
    voxref.errors.ConfigError: Diarizer(min_duration=...) is an advanced option now: pass Diarizer(advanced=DiarizerTuning(min_duration=...)) (from voxref.separation.diarization_tuning import DiarizerTuning).
    """

    def __init__(
        self,
        encoder: Encoder | str = "ge2e",
        *,
        vad: Any = "silero",
        overlap_detector: Any = "default",
        level_dbfs: float | None = DIARIZATION_LEVEL_DBFS,
        advanced: DiarizerTuning | dict[str, Any] | None = None,
        **removed: Any,
    ) -> None:
        check_removed_diarizer_options(removed)
        self.advanced = DiarizerTuning.coerce(advanced)
        self._encoder = encoder
        self.vad = vad
        counting = overlap_detector is not None and overlap_detector is not False
        turn_overlap = self.advanced.turn_overlap
        if turn_overlap is None:
            turn_overlap = 0.0 if counting else TURN_OVERLAP
        #: Seconds both speakers are extended across a change of speaker (resolved: 0 with a
        #: counter, :data:`TURN_OVERLAP` without, unless set in :attr:`advanced`).
        self.turn_overlap = float(turn_overlap)
        self._overlap_detector = overlap_detector if counting else None
        self.level_dbfs = check_level_dbfs(level_dbfs)

    @property
    def frame_step(self) -> float:
        """Seconds per output frame (``advanced.frame_step``)."""
        return self.advanced.frame_step

    @property
    def encoder(self) -> Encoder:
        if not isinstance(self._encoder, Encoder):
            self._encoder = encoder_by_name(self._encoder)
        return self._encoder

    @property
    def overlap_detector(self) -> Any:
        """The speaker counter (loaded on first use), or ``None``."""
        spec = self._overlap_detector
        if spec is None or spec is False:
            return None
        if spec is True or isinstance(spec, (str, Path)):
            from ..loading.modules import means_shipped
            from .overlap_detector import SpeakerCountNet

            self._overlap_detector = SpeakerCountNet.load(None if means_shipped(spec) else spec)
        return self._overlap_detector

    def analyse(self, audio: AudioInput, sample_rate: int | None = None) -> RecordingWindows:
        """The expensive, speaker-count-independent part: VAD and window embeddings.

        Diarize the result with :meth:`run` (as often as needed, e.g. with different
        ``num_speakers``).
        """
        enc = self.encoder
        t0 = time.perf_counter()
        audio_obj = self.level(load_audio(audio, enc.sample_rate, sample_rate=sample_rate))
        x, sr = audio_obj.samples, audio_obj.sample_rate
        timings: dict[str, float] = {}
        regions = speech_regions(x, sr, vad=self.vad)
        timings["vad"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        windows = embed_speech_windows(
            enc, x, sr, regions, window=self.advanced.window, hop=self.advanced.hop
        )
        fine = None
        if self.advanced.fine_window:
            fine = embed_speech_windows(
                enc, x, sr, regions, window=self.advanced.fine_window, hop=self.advanced.fine_hop
            )
        timings["embed"] = time.perf_counter() - t1
        counts, count_step = None, self.frame_step
        if self.overlap_detector is not None:
            t2 = time.perf_counter()
            counts = self.overlap_detector.probabilities(x, sr)
            count_step = self.overlap_detector.frame_step
            timings["count"] = time.perf_counter() - t2
        src = audio_obj.source or ""
        uri = Path(src).stem if src and not src.startswith("<") else None
        return RecordingWindows(
            regions, windows, fine, len(x) / sr, uri, timings, counts, count_step, audio_obj.history
        )

    def level(self, audio: Audio) -> Audio:
        """``audio`` as the diarizer analyses it: scaled to :attr:`level_dbfs` (see the class
        parameters), the gain noted in its history and logged."""
        out = level_audio(audio, self.level_dbfs, what="recording (for analysis)")
        if out is not audio:
            log.debug("%s: %s", audio.source or "<array>", out.history[-1])
        return out

    def run(
        self,
        recording: RecordingWindows,
        *,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int | None = None,
    ) -> DiarizationResult:
        """Cluster and resegment an :meth:`analyse` result."""
        num_speakers = check_count("num_speakers", num_speakers)
        t0 = time.perf_counter()
        result = self.from_windows(
            recording.windows,
            recording.regions,
            recording.duration,
            fine_windows=recording.fine_windows,
            num_speakers=num_speakers,
            min_speakers=min_speakers,
            max_speakers=max_speakers,
            uri=recording.uri,
            # a diarizer without a counter ignores counts made by one that has it
            count_probabilities=(
                recording.count_probabilities if self._overlap_detector is not None else None
            ),
            count_step=recording.count_step,
        )
        timings = dict(recording.timings)
        timings["cluster+resegment"] = time.perf_counter() - t0
        timings["total"] = sum(timings.values())
        result.timings = timings
        log.info(
            "diarized %.1f s: %d speaker(s) in %.2f s (RTF %.3f)",
            recording.duration,
            result.num_speakers,
            timings["total"],
            timings["total"] / max(recording.duration, 1e-9),
        )
        return result

    def __call__(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        *,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int | None = None,
    ) -> DiarizationResult:
        """Diarize one recording (path, array + ``sample_rate``, or :class:`~voxref.audio.Audio`)."""
        num_speakers = check_count("num_speakers", num_speakers)
        return self.run(
            self.analyse(audio, sample_rate),
            num_speakers=num_speakers,
            min_speakers=min_speakers,
            max_speakers=max_speakers,
        )

    # ------------------------------------------------------------------ stages
    def cluster(
        self,
        embeddings: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int | None = None,
    ) -> np.ndarray:
        """Cluster labels (0 = most windows) of unit-norm window embeddings (encoder space).

        Ward clustering runs on the centred embeddings and may over-cluster; clusters are then
        merged by centroid similarity in the encoder's own space (where its cosine is calibrated)
        down to ``num_speakers``, or while above :attr:`merge_threshold`.
        """
        kmax = max_speakers or self.advanced.max_speakers
        z = centre(embeddings)
        k0 = None
        if num_speakers is not None:
            k0 = min(kmax, num_speakers + self.advanced.extra_clusters)
        labels, _ = ward_clusters(
            z, k0, min_speakers=min_speakers, max_speakers=kmax, min_ratio=self.advanced.min_ratio
        )
        min_size = max(1, int(round(self.advanced.min_cluster_fraction * len(z))))
        return merge_close_clusters(
            embeddings,
            labels,
            num_speakers=num_speakers,
            threshold=self.advanced.merge_threshold,
            min_size=min_size,
            min_speakers=min_speakers,
        )

    def from_windows(
        self,
        windows: WindowEmbeddings,
        regions: tuple[tuple[float, float], ...],
        duration: float,
        *,
        fine_windows: WindowEmbeddings | None = None,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int | None = None,
        uri: str | None = None,
        count_probabilities: np.ndarray | None = None,
        count_step: float | None = None,
    ) -> DiarizationResult:
        """Run clustering and resegmentation on precomputed window embeddings.

        ``fine_windows`` (shorter windows, same encoder) refine the turn boundaries in a second
        pass when given; ``count_probabilities`` (``(T, 3)`` from a speaker counter, one row per
        ``count_step`` seconds) add the runner-up speaker where they say overlap.
        """
        step = self.frame_step
        n_frames = int(np.ceil(duration / step))
        speech = regions_to_mask(regions, n_frames, step)
        e = np.asarray(windows.embeddings, dtype=np.float64)
        if len(e) == 0:
            empty = np.full(n_frames, -1, dtype=np.int64)
            return DiarizationResult(
                to_annotation(empty, step, uri=uri),
                0,
                np.zeros((0, e.shape[1] if e.ndim == 2 else 0)),
                windows,
                np.zeros(0, dtype=np.int64),
                step,
                empty,
                np.zeros((n_frames, 0)),
                empty.copy(),
                np.zeros(0),
                tuple(regions),
                duration,
                tuning=self.advanced.changed(),
            )
        z = centre(e)
        labels = self.cluster(
            e, num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers
        )
        k = int(labels.max()) + 1
        cz = cluster_centroids(z, labels)
        scores = frame_scores(z @ cz.T, windows.starts, windows.ends, n_frames, step)
        path = self._resegment(scores, speech, k)
        misfit, _ = overlap_scores(z, cz)
        frame_misfit = frame_scores(misfit[:, None], windows.starts, windows.ends, n_frames, step)[
            :, 0
        ]
        if fine_windows is not None and len(fine_windows) and k >= 2:
            fz = centre(fine_windows.embeddings)
            fl = labels_at(path, fine_windows, step)
            if all(np.sum(fl == j) >= 2 for j in range(k)):
                fc = np.stack([fz[fl == j].mean(axis=0) for j in range(k)])
                fc = fc / np.linalg.norm(fc, axis=1, keepdims=True)
                fine = frame_scores(
                    fz @ fc.T, fine_windows.starts, fine_windows.ends, n_frames, step
                )
                w = self.advanced.fine_weight
                mixed = np.where(np.isnan(fine), scores, (1 - w) * scores + w * fine)
                scores = mixed
                path = self._resegment(scores, speech, k)
                fmis, _ = overlap_scores(fz, fc)
                fm = frame_scores(
                    fmis[:, None], fine_windows.starts, fine_windows.ends, n_frames, step
                )[:, 0]
                frame_misfit = np.fmax(frame_misfit, fm)
        overlap = np.full(n_frames, -1, dtype=np.int64)
        if self.advanced.detect_overlap and k >= 2:
            overlap = misfit_overlap(
                windows,
                misfit,
                path,
                scores,
                frame_step=step,
                threshold=self.advanced.overlap_threshold,
                min_seconds=self.advanced.min_overlap,
            )
        p_overlap = None
        if count_probabilities is not None:
            p_overlap = on_grid(
                np.asarray(count_probabilities, dtype=np.float64),
                count_step or step,
                n_frames,
                step,
            )
            if k >= 2:
                counted = counted_overlap(
                    p_overlap,
                    path,
                    scores,
                    frame_step=step,
                    threshold=self.advanced.count_threshold,
                    min_seconds=self.advanced.min_count_overlap,
                    near_turn=self.advanced.count_near_turn,
                )
                overlap = np.where(overlap >= 0, overlap, counted)
            p_overlap = p_overlap[:, 2]
        if self.turn_overlap > 0 and k >= 2:
            at_turns = turn_change_overlap(path, int(round(self.turn_overlap / step)))
            overlap = np.where(overlap >= 0, overlap, at_turns)
        ann = to_annotation(path, step, frame_overlap=overlap, uri=uri)
        return DiarizationResult(
            annotation=ann,
            num_speakers=k,
            centroids=cluster_centroids(e, labels),
            windows=windows,
            window_labels=labels,
            frame_step=step,
            frame_speaker=path,
            frame_scores=scores,
            frame_overlap=overlap,
            window_overlap=misfit,
            regions=tuple(regions),
            duration=duration,
            frame_misfit=frame_misfit,
            fine_windows=fine_windows,
            frame_overlap_probability=p_overlap,
            tuning=self.advanced.changed(),
        )

    def _resegment(self, scores: np.ndarray, speech: np.ndarray, k: int) -> np.ndarray:
        """Viterbi speaker path over each speech run, then the minimum-duration rule."""
        step = self.frame_step
        active = speech & ~np.isnan(scores[:, 0])
        path = np.full(len(scores), -1, dtype=np.int64)
        if k == 1:
            path[active] = 0
            return path
        for a, b, v in runs(active.astype(np.int64)):
            if v:
                path[a:b] = viterbi_path(
                    self.advanced.score_scale * scores[a:b], self.advanced.switch_penalty
                )
        return enforce_min_duration(
            path, scores, max(1, int(round(self.advanced.min_duration / step)))
        )


def labels_at(path: np.ndarray, windows: WindowEmbeddings, frame_step: float) -> np.ndarray:
    """Speaker of each window: the path's label if it is the same over the window's middle half."""
    out = np.full(len(windows), -1, dtype=np.int64)
    for i, (s, e) in enumerate(zip(windows.starts, windows.ends)):
        q = 0.25 * (e - s)
        a, b = int(round((s + q) / frame_step)), int(round((e - q) / frame_step))
        seg = path[max(0, a) : max(a + 1, b)]
        if len(seg) and seg[0] >= 0 and np.all(seg == seg[0]):
            out[i] = seg[0]
    return out


def diarize(
    audio: AudioInput,
    sample_rate: int | None = None,
    num_speakers: int | None = None,
    *,
    min_speakers: int = 1,
    max_speakers: int | None = None,
    pipeline: Any = None,
    token: str | None = None,
    return_details: bool = False,
    **options: Any,
) -> Annotation | DiarizationResult:
    """Who speaks when in ``audio``, as a ``pyannote.core.Annotation``.

    Parameters
    ----------
    audio
        Path, array (with ``sample_rate``), ``(array, sr)`` pair or :class:`~voxref.audio.Audio`.
    sample_rate
        Rate of an array input.
    num_speakers
        Number of speakers when known (else estimated, between ``min_speakers`` and
        ``max_speakers``).
    pipeline
        Optional pyannote.audio diarization pipeline to use instead of the offline diarizer: a
        local folder with ``config.yaml``, a hub id (needs ``token`` and network), or a
        ``pyannote.audio.Pipeline`` object.
    token
        Hugging Face token for a hub id.
    return_details
        Return the full :class:`DiarizationResult` (offline diarizer) or
        :class:`~.pyannote_backend.PyannoteDiarization` instead of the annotation.
    **options
        :class:`Diarizer` options (offline diarizer only).

    Examples
    --------
    >>> import numpy as np
    >>> hiss = 1e-3 * np.random.default_rng(0).standard_normal(32000).astype(np.float32)
    >>> len(diarize(hiss, sample_rate=16000))  # no speech, no turn
    0
    """
    num_speakers = check_count("num_speakers", num_speakers)  # before any audio is read
    if pipeline is not None:
        if options:
            raise ConfigError(
                f"options {sorted(options)} apply to voxref's own diarizer, not to a pyannote pipeline."
            )
        from .pyannote_backend import PyannoteDiarizer

        res = PyannoteDiarizer(pipeline, token=token)(
            audio,
            sample_rate,
            num_speakers=num_speakers,
            min_speakers=min_speakers,
            max_speakers=max_speakers,
        )
        return res if return_details else res.annotation
    res = Diarizer(**options)(
        audio,
        sample_rate,
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
    )
    return res if return_details else res.annotation
