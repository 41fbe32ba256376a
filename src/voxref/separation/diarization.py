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
5. **Overlap**: a frame-level speaker counter (:mod:`.overlap_detector`, shipped weights, about
   RTF 0.005) gives each 10 ms frame a probability of two or more voices; where it is above
   ``count_threshold`` (0.9) within ``count_near_turn`` (0.5 s) of a change of speaker, the
   runner-up speaker is added. Without the counter (``overlap_detector=None``) both speakers are
   instead extended by ``turn_overlap`` (0.15 s) across each change of speaker, since the next
   talker often starts before the previous one stops. Each window also gets a misfit score (how
   badly its best speaker fits it, as a robust z-score); optionally (``detect_overlap=True``) the
   runner-up speaker is added where the misfit persists for ``min_overlap`` seconds.

Measured (``python -m voxref.separation.benchmark``; DER from ``pyannote.metrics``, overlap
scored): on pyannote's 30 s real two-speaker sample, DER 8.6 % at collar 0 and 2.7 % at collar
0.25 s, the same with 2 speakers given or estimated; without the counter (turn-change extension)
11.4 % / 5.1 % (missed 5.5, false alarm 4.2, confusion 1.7; 12.0 % with neither). The counter's
threshold and reach were chosen on this sample and the synthetic conversations together: it is
the only real conversation available offline, so the sample figure is not a held-out one. On
ten synthetic 2–4-speaker conversations (espeak-ng / flite, with overlaps, no voice of them in
the counter's training): mean DER 5.0 % (collar 0) / 1.0 % (collar 0.25) with the count given
(6.4 / 2.2 % without the counter), 9/10 counts right when estimated
(the miss: two similar espeak male voices merged). One
speaker is found in 18/18 single-voice recordings of six utterances, but only in 2/4 recordings of
four utterances separated by long pauses: GE2E windows of synthetic speech cluster by utterance,
and a short single-speaker recording can look like the sample's two (similar) voices.
Speed: about 0.08 s of CPU per second of audio (RTF 0.08, one thread).

The result is a :class:`pyannote.core.Annotation` (``pyannote.core`` is light; ``pyannote.audio`` is
never imported here), so RTTM output (``annotation.write_rttm``) and ``pyannote.metrics`` work.
:func:`diarize` can also run a user-supplied pyannote.audio pipeline (see
:mod:`.pyannote_backend`).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio.level import check_level_dbfs, level_audio
from ..audio.load import AudioInput, load_audio
from ..audio.signal import Audio
from ..encoding import Encoder, WindowEmbeddings, l2_normalize
from ..errors import ConfigError
from ..option_checks import check_count
from .clustering import (
    cluster_centroids,
    merge_close_clusters,
    spectral_clusters,
    ward_clusters,
)
from .resegment import enforce_min_duration, frame_scores, overlap_scores, runs, viterbi_path
from .speech import regions_to_mask, speech_regions
from .windows import embed_speech_windows

if TYPE_CHECKING:  # pragma: no cover
    from pyannote.core import Annotation

__all__ = [
    "Diarizer",
    "DiarizationResult",
    "RecordingWindows",
    "diarize",
    "to_annotation",
    "speaker_label",
]

log = logging.getLogger(__name__)

#: Seconds both speakers are extended across a change of speaker when no overlap detector runs.
TURN_OVERLAP = 0.15
#: Overlap probability above which the speaker counter adds the runner-up speaker.
COUNT_THRESHOLD = 0.9
#: The counter's overlaps are kept only this close (seconds) to a change of speaker.
COUNT_NEAR_TURN: float | None = 0.5
#: Active level (dBFS, speech band) a recording is scaled to before analysis, so that the result
#: no longer depends on the recording's gain. Chosen as the lowest mean DER (collar 0) over
#: pyannote's sample + the 10 synthetic conversations of :mod:`.benchmark`, levels -26 to -18 dB
#: in 1 dB steps (benchmarks/results/separation.md, "the diarizer levels the recording first"): -21 gives 4.9 % (-20: 4.9,
#: -19: 5.0, -22: 6.4, -24: 5.4, unscaled 5.3). On the sample alone DER moves between 8.4 and
#: 14.5 % with level (one turn boundary), so this is a coarse choice; 1 dB above the level
#: :class:`~voxref.Embedder` scales references to.
DIARIZATION_LEVEL_DBFS = -21.0


def speaker_label(index: int) -> str:
    """pyannote-style label of speaker ``index``.

    Examples
    --------
    >>> speaker_label(3)
    'SPEAKER_03'
    """
    return f"SPEAKER_{index:02d}"


@dataclass
class DiarizationResult:
    """Everything the offline diarizer found in one recording.

    Attributes
    ----------
    annotation
        ``pyannote.core.Annotation``: speaker turns (overlapping where overlap was detected).
    num_speakers
        Number of speakers.
    centroids
        ``(K, D)`` unit-norm speaker centroids in the encoder's (uncentred) space.
    windows
        The window embeddings used (inside speech).
    window_labels
        ``(N,)`` cluster of each window.
    frame_step
        Seconds per frame of ``frame_speaker`` / ``frame_scores`` / ``frame_overlap``.
    frame_speaker
        ``(T,)`` speaker index per frame, ``-1`` outside speech.
    frame_scores
        ``(T, K)`` frame-level score of each speaker (cosine in the centred space; nan outside
        speech).
    frame_overlap
        ``(T,)`` second speaker where an overlap was detected, else ``-1``.
    frame_misfit
        ``(T,)`` frame-level misfit (the larger of the long and the fine windows' misfit
        spread on the frame grid; nan outside the windows): high where no single speaker fits.
    fine_windows
        The short windows of the second pass (``None`` when it was off).
    frame_overlap_probability
        ``(T,)`` the speaker counter's probability of two or more voices per frame (``None``
        when it was off).
    window_overlap
        ``(N,)`` misfit of each window (robust z-score of how badly its best speaker fits it;
        above ~2.5 suggests a mixture), see :func:`.resegment.overlap_scores`.
    regions
        Speech regions (seconds).
    duration
        Length of the recording (seconds).
    timings
        Seconds spent in each stage.
    """

    annotation: Annotation
    num_speakers: int
    centroids: np.ndarray
    windows: WindowEmbeddings
    window_labels: np.ndarray
    frame_step: float
    frame_speaker: np.ndarray
    frame_scores: np.ndarray
    frame_overlap: np.ndarray
    window_overlap: np.ndarray
    regions: tuple[tuple[float, float], ...]
    duration: float
    frame_misfit: np.ndarray | None = None
    fine_windows: WindowEmbeddings | None = None
    frame_overlap_probability: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [speaker_label(k) for k in range(self.num_speakers)]


def to_annotation(
    frame_speaker: np.ndarray,
    frame_step: float,
    *,
    frame_overlap: np.ndarray | None = None,
    uri: str | None = None,
    labels: list[str] | None = None,
) -> Annotation:
    """A ``pyannote.core.Annotation`` from frame-level speaker indices (``-1`` = nobody).

    ``frame_overlap`` (optional, ``-1`` = none) adds a second speaker's turns.

    Examples
    --------
    >>> ann = to_annotation(np.array([-1, 0, 0, 1, 1, -1]), 0.5)
    >>> [(round(s.start, 2), round(s.end, 2), lab) for s, _, lab in ann.itertracks(yield_label=True)]
    [(0.5, 1.5, 'SPEAKER_00'), (1.5, 2.5, 'SPEAKER_01')]
    """
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    name = (lambda k: labels[k]) if labels else speaker_label
    for a, b, v in runs(np.asarray(frame_speaker)):
        if v >= 0:
            ann[Segment(round(a * frame_step, 3), round(b * frame_step, 3)), f"T{len(ann)}"] = name(
                v
            )
    if frame_overlap is not None:
        for a, b, v in runs(np.asarray(frame_overlap)):
            if v >= 0:
                seg = Segment(round(a * frame_step, 3), round(b * frame_step, 3))
                ann[seg, f"O{len(ann)}"] = name(v)
    return ann.support()


@dataclass
class RecordingWindows:
    """One recording's speech regions and window embeddings (see :meth:`Diarizer.analyse`).

    Attributes
    ----------
    regions
        Speech regions (seconds).
    windows
        Long windows (first pass).
    fine_windows
        Short windows (second pass), or ``None``.
    duration
        Seconds.
    uri
        File stem of the recording, when it came from a file.
    timings
        Seconds spent in VAD and embedding.
    count_probabilities
        ``(T, 3)`` per-frame probabilities of nobody / one speaker / overlap from the speaker
        counter (one row per :attr:`count_step` seconds), or ``None`` when it was off.
    count_step
        Seconds per row of ``count_probabilities``.
    history
        What was done to the recording before analysis (resampling, downmixing, levelling).
    """

    regions: tuple[tuple[float, float], ...]
    windows: WindowEmbeddings
    fine_windows: WindowEmbeddings | None
    duration: float
    uri: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    count_probabilities: np.ndarray | None = None
    count_step: float = 0.01
    history: tuple[str, ...] = ()


class Diarizer:
    """voxref's offline diarizer (VAD -> window embeddings -> clustering -> resegmentation).

    Parameters
    ----------
    encoder
        An :class:`~voxref.encoding.Encoder` or a registry name (default ``"ge2e"``).
    window, hop
        Embedding window and step (seconds).
    vad
        Voice activity detector name/object for :func:`.speech.speech_regions`.
    frame_step
        Resolution of the output (seconds).
    switch_penalty
        Viterbi cost of changing speaker, in units of frame score (cosine x ``score_scale``).
    score_scale
        Multiplier turning cosine scores into log-likelihood-like frame scores.
    min_duration
        Shortest speaker turn kept (seconds).
    merge_threshold
        Without a given number of speakers, clusters whose centroids have a cosine (encoder space)
        at least this high are merged.
    extra_clusters
        With a given number of speakers, spectral clustering first finds this many more clusters,
        which are then merged down (windows straddling two voices tend to form a cluster of their
        own).
    min_cluster_fraction
        Clusters with fewer than this fraction of the windows are dissolved into their neighbours.
    max_speakers
        Upper bound on the estimated number of speakers.
    fine_window, fine_hop, fine_weight
        Second pass: shorter windows (``None`` disables it) scored against centroids taken from
        the first pass, mixed into the frame scores with this weight, sharpen turn boundaries
        and catch short turns.
    detect_overlap
        Add a second speaker (the runner-up) where the windows persistently fit no single speaker.
        Off by default: on the benchmark its precision is about 0.5, so it does not lower the
        error rate (see :func:`.resegment.overlap_scores`).
    overlap_threshold, min_overlap
        Misfit score (robust z-score) above which a frame counts as mixed, and shortest overlap
        kept (seconds).
    turn_overlap
        Seconds by which both speakers are extended across a change of speaker inside continuous
        speech (each is added as the second speaker on the other's side): in conversation the
        next talker often starts before the previous one stops, and a hard boundary misses that
        overlap. 0 disables it. ``None`` (default): 0 when an overlap detector runs, else 0.15 s,
        chosen on pyannote's sample and the synthetic conversations of :mod:`.benchmark`
        (overlap scored, collar 0, no counter): DER 12.0 -> 11.4 % and 7.6 -> 6.4 % at 0.15 s
        (0.1 s: 11.2 / 6.7 %, 0.2 s: 11.6 / 6.2 %).
    overlap_detector
        Frame-level speaker counter (:class:`.overlap_detector.SpeakerCountNet`) that marks
        overlapped speech; the runner-up speaker is added there. ``"default"`` or ``True``:
        the shipped checkpoint; a path; a loaded network; ``None``: off.
    count_threshold, min_count_overlap
        Overlap probability above which a frame gets a second speaker, and the shortest such
        run kept (seconds). The counter was trained on synthetic voices and is over-confident
        on real speech (on pyannote's sample it calls a quarter of the single-speaker frames
        overlapped at 0.5, against 94 % of the overlapped ones), hence the high threshold.
    count_near_turn
        Only frames this close (seconds) to a change of speaker inside continuous speech get a
        second speaker from the counter (``None``: anywhere). Most overlap in conversation is
        at interruptions; away from them the counter's false alarms cost more than its hits
        gain (sample: DER 12.7 % anywhere vs 8.6 % within 0.5 s, at threshold 0.9).
    level_dbfs
        Active level (dBFS, speech band) the recording is scaled to before analysis
        (:data:`DIARIZATION_LEVEL_DBFS`; ``None``: as it is), as :class:`~voxref.Embedder` scales
        references. The GE2E encoder works on linear mel power, so its windows, and the
        clustering thresholds, depend on level: unscaled, pyannote's sample 20 dB quieter is
        diarized as one speaker (DER 50 %), and 1.5 dB changes of gain move its DER by points.
        Only the analysis is scaled; :func:`~.target.extract_target` returns audio at the
        recording's own level.
    seed
        Seed of the clustering's k-means starts.
    """

    def __init__(
        self,
        encoder: Encoder | str = "ge2e",
        *,
        window: float = 1.5,
        hop: float = 0.25,
        vad: Any = "silero",
        frame_step: float = 0.01,
        switch_penalty: float = 2.0,
        score_scale: float = 10.0,
        min_duration: float = 0.3,
        clustering: str = "ward",
        min_ratio: float = 1.25,
        merge_threshold: float = 0.9,
        extra_clusters: int = 1,
        min_cluster_fraction: float = 0.05,
        max_speakers: int = 8,
        detect_overlap: bool = False,
        fine_window: float | None = 0.75,
        fine_hop: float = 0.25,
        fine_weight: float = 1.0,
        overlap_threshold: float = 2.5,
        min_overlap: float = 0.3,
        turn_overlap: float | None = None,
        overlap_detector: Any = "default",
        count_threshold: float = COUNT_THRESHOLD,
        min_count_overlap: float = 0.1,
        count_near_turn: float | None = COUNT_NEAR_TURN,
        level_dbfs: float | None = DIARIZATION_LEVEL_DBFS,
        seed: int = 0,
    ) -> None:
        if window <= 0 or hop <= 0 or frame_step <= 0:
            raise ConfigError("window, hop and frame_step must be positive seconds.")
        self._encoder = encoder
        self.window = float(window)
        self.hop = float(hop)
        self.vad = vad
        self.frame_step = float(frame_step)
        self.switch_penalty = float(switch_penalty)
        self.score_scale = float(score_scale)
        self.min_duration = float(min_duration)
        if clustering not in ("ward", "spectral"):
            raise ConfigError(f"clustering must be 'ward' or 'spectral', got {clustering!r}.")
        self.clustering = clustering
        self.min_ratio = float(min_ratio)
        self.merge_threshold = float(merge_threshold)
        self.extra_clusters = int(extra_clusters)
        self.min_cluster_fraction = float(min_cluster_fraction)
        self.max_speakers = int(max_speakers)
        self.detect_overlap = bool(detect_overlap)
        self.fine_window = None if fine_window is None else float(fine_window)
        self.fine_hop = float(fine_hop)
        self.fine_weight = float(fine_weight)
        self.overlap_threshold = float(overlap_threshold)
        self.min_overlap = float(min_overlap)
        counting = overlap_detector is not None and overlap_detector is not False
        if turn_overlap is None:
            turn_overlap = 0.0 if counting else TURN_OVERLAP
        if turn_overlap < 0:
            raise ConfigError(f"turn_overlap must be >= 0 seconds, got {turn_overlap}.")
        self.turn_overlap = float(turn_overlap)
        self._overlap_detector = overlap_detector if counting else None
        self.count_threshold = float(count_threshold)
        self.min_count_overlap = float(min_count_overlap)
        self.count_near_turn = None if count_near_turn is None else float(count_near_turn)
        self.level_dbfs = check_level_dbfs(level_dbfs)
        self.seed = int(seed)

    @property
    def encoder(self) -> Encoder:
        if isinstance(self._encoder, str):
            from ..embedder.registry import get_encoder

            self._encoder = get_encoder(self._encoder)
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
        windows = embed_speech_windows(enc, x, sr, regions, window=self.window, hop=self.hop)
        fine = None
        if self.fine_window:
            fine = embed_speech_windows(
                enc, x, sr, regions, window=self.fine_window, hop=self.fine_hop
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

        Spectral clustering runs on the centred embeddings and may over-cluster; clusters are then
        merged by centroid similarity in the encoder's own space (where its cosine is calibrated)
        down to ``num_speakers``, or while above :attr:`merge_threshold`.
        """
        kmax = max_speakers or self.max_speakers
        z = centre(embeddings)
        k0 = None
        if num_speakers is not None:
            k0 = min(kmax, num_speakers + self.extra_clusters)
        if self.clustering == "spectral":
            labels = spectral_clusters(
                z,
                k0,
                min_speakers=max(min_speakers, num_speakers or 1),
                max_speakers=kmax,
                seed=self.seed,
            )
        else:
            labels, _ = ward_clusters(
                z, k0, min_speakers=min_speakers, max_speakers=kmax, min_ratio=self.min_ratio
            )
        min_size = max(1, int(round(self.min_cluster_fraction * len(z))))
        return merge_close_clusters(
            embeddings,
            labels,
            num_speakers=num_speakers,
            threshold=self.merge_threshold,
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
            fl = _labels_at(path, fine_windows, step)
            if all(np.sum(fl == j) >= 2 for j in range(k)):
                fc = np.stack([fz[fl == j].mean(axis=0) for j in range(k)])
                fc = fc / np.linalg.norm(fc, axis=1, keepdims=True)
                fine = frame_scores(
                    fz @ fc.T, fine_windows.starts, fine_windows.ends, n_frames, step
                )
                w = self.fine_weight
                mixed = np.where(np.isnan(fine), scores, (1 - w) * scores + w * fine)
                scores = mixed
                path = self._resegment(scores, speech, k)
                fmis, _ = overlap_scores(fz, fc)
                fm = frame_scores(
                    fmis[:, None], fine_windows.starts, fine_windows.ends, n_frames, step
                )[:, 0]
                frame_misfit = np.fmax(frame_misfit, fm)
        overlap = np.full(n_frames, -1, dtype=np.int64)
        if self.detect_overlap and k >= 2:
            overlap = self._overlap_frames(windows, misfit, path, scores)
        p_overlap = None
        if count_probabilities is not None:
            p_overlap = _on_grid(
                np.asarray(count_probabilities, dtype=np.float64),
                count_step or step,
                n_frames,
                step,
            )
            if k >= 2:
                counted = self._counted_overlap(p_overlap, path, scores)
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
                path[a:b] = viterbi_path(self.score_scale * scores[a:b], self.switch_penalty)
        return enforce_min_duration(path, scores, max(1, int(round(self.min_duration / step))))

    def _counted_overlap(
        self, probabilities: np.ndarray, path: np.ndarray, scores: np.ndarray
    ) -> np.ndarray:
        """Second speaker (the runner-up by frame score) where the speaker counter says overlap
        inside a speaker's turn, else ``-1``."""
        from .overlap_detector import overlap_frames

        min_frames = max(1, int(round(self.min_count_overlap / self.frame_step)))
        hit = overlap_frames(probabilities, self.count_threshold, min_frames) & (path >= 0)
        if self.count_near_turn is not None:
            reach = int(round(self.count_near_turn / self.frame_step))
            hit &= turn_change_overlap(path, reach) >= 0
        return np.where(hit, _runner_up(scores, path), -1).astype(np.int64)

    def _overlap_frames(
        self,
        windows: WindowEmbeddings,
        misfit: np.ndarray,
        path: np.ndarray,
        scores: np.ndarray,
    ) -> np.ndarray:
        """Frames where a second speaker is added: speech whose windows persistently fit no one."""
        step = self.frame_step
        n_frames = len(path)
        f = frame_scores(misfit[:, None], windows.starts, windows.ends, n_frames, step)[:, 0]
        runner_up = _runner_up(scores, path)
        out = np.where((np.nan_to_num(f) > self.overlap_threshold) & (path >= 0), runner_up, -1)
        min_frames = int(round(self.min_overlap / step))
        for a, b, v in runs(out):
            if v >= 0 and b - a < min_frames:
                out[a:b] = -1
        return out.astype(np.int64)


def _runner_up(scores: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Per frame, the best-scoring speaker other than the one on ``path``."""
    ranked = np.argsort(-np.nan_to_num(scores, nan=-np.inf), axis=1)
    return np.where(ranked[:, 0] == path, ranked[:, 1], ranked[:, 0])


def _on_grid(values: np.ndarray, step: float, n_frames: int, frame_step: float) -> np.ndarray:
    """Rows of ``values`` (one per ``step`` seconds) at the centres of ``n_frames`` frames of
    ``frame_step`` seconds (nearest row; the last row repeats past the end)."""
    centres = (np.arange(n_frames) + 0.5) * frame_step
    idx = np.clip((centres / step).astype(np.int64), 0, len(values) - 1)
    return values[idx]


def turn_change_overlap(path: np.ndarray, frames: int) -> np.ndarray:
    """Second speaker per frame around changes of speaker inside continuous speech.

    At each frame where the speaker changes from ``a`` to ``b`` with no silence between, ``a`` is
    added to the first ``frames`` frames of ``b``'s turn and ``b`` to the last ``frames`` of
    ``a``'s (never past another change).

    Parameters
    ----------
    path
        ``(F,)`` speaker index per frame, ``-1`` = nobody.
    frames
        Frames added on each side of a change.

    Returns
    -------
    np.ndarray
        ``(F,)`` second speaker per frame, ``-1`` = none.

    Examples
    --------
    >>> turn_change_overlap(np.array([0, 0, 0, 1, 1, 1, -1, 1, 0]), 2).tolist()
    [-1, 1, 1, 0, 0, -1, -1, 0, 1]
    """
    p = np.asarray(path, dtype=np.int64)
    out = np.full(len(p), -1, dtype=np.int64)
    if frames <= 0:
        return out
    changes = np.flatnonzero((p[1:] >= 0) & (p[:-1] >= 0) & (p[1:] != p[:-1])) + 1
    for c in changes:
        a, b = p[c - 1], p[c]
        after = slice(c, min(len(p), c + frames))
        out[after] = np.where(p[after] == b, a, out[after])
        before = slice(max(0, c - frames), c)
        out[before] = np.where(p[before] == a, b, out[before])
    return out


def _labels_at(path: np.ndarray, windows: WindowEmbeddings, frame_step: float) -> np.ndarray:
    """Speaker of each window: the path's label if it is the same over the window's middle half."""
    out = np.full(len(windows), -1, dtype=np.int64)
    for i, (s, e) in enumerate(zip(windows.starts, windows.ends)):
        q = 0.25 * (e - s)
        a, b = int(round((s + q) / frame_step)), int(round((e - q) / frame_step))
        seg = path[max(0, a) : max(a + 1, b)]
        if len(seg) and seg[0] >= 0 and np.all(seg == seg[0]):
            out[i] = seg[0]
    return out


def centre(embeddings: np.ndarray) -> np.ndarray:
    """Subtract the mean embedding and re-normalise (rows of the result are unit-norm)."""
    e = np.asarray(embeddings, dtype=np.float64)
    if len(e) < 2:
        return l2_normalize(e).astype(np.float64)
    return l2_normalize(e - e.mean(axis=0)).astype(np.float64)


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
