"""The :class:`Embedder`: composes load -> clean -> guide -> encode -> pool, holding the models.

Which voice or separated stream of a reference it keeps: :mod:`voxref.pipeline.voice_keeping`;
what it returns: :mod:`voxref.pipeline.results`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.level import TARGET_LEVEL_DBFS, check_level_dbfs, level_audio
from ..audio.load import AudioInput, load_audio
from ..audio.signal import Audio
from ..cleaning.vad import check_vad_name
from ..embedder.guide_vector import check_guide, check_guiding_flag
from ..embedder.registry import get_encoder
from ..encoding import Encoder, WindowEmbeddings, l2_normalize
from ..errors import (
    BatchReport,
    ConfigError,
    InputFate,
    LowConfidenceWarning,
    NonFiniteAudioError,
    NoUsableReferenceError,
    TooShortAudioError,
    VoxrefError,
)
from ..option_checks import (
    check_device,
    check_level_range,
    check_min_seconds,
    check_speakers_mapping,
)
from ..tuning import EmbedderTuning, check_removed_options
from .inputs import as_list
from .results import EmbeddingResult, PartialBatchError, PreparedReference, ReferenceResult
from .voice_keeping import VoiceKeeping, separator_spec

__all__ = ["Embedder"]

log = logging.getLogger(__name__)


class Embedder(VoiceKeeping):
    """Turns one speaker's reference recordings into one L2-normalised embedding.

    Models load once, lazily, on first use; one ``Embedder`` can be shared between threads.

    Parameters
    ----------
    encoder
        ``"ge2e"`` (bundled GE2E d-vector, 256-d, offline) or an :class:`Encoder`.
    pooling
        How reference embeddings are pooled: ``"attention"`` (default, parameter-free: quality and
        leave-one-out agreement), ``"mean"`` (plain mean, also inside each reference), ``"trained"``
        (the shipped :class:`~voxref.embedder.pooling.AttentivePooling` head), a head checkpoint
        path, or an object with ``pool(embeddings, qualities)``.
    guiding
        Find the target voice in each reference (the voice the references share, or the
        ``guide=`` vector of :meth:`embed`) and embed only the windows where it speaks alone
        (guided speaker embedding). A single reference with another speaker's turns keeps its
        dominant voice (:meth:`lone_target`). ``False``: every window of every reference.
    min_seconds
        References with less usable speech than this (after VAD) are rejected.
    clean
        Run the cleaning stage (VAD, denoising, quality report; :func:`voxref.clean`). With
        ``False`` the whole recording is embedded as it is.
    vad
        Voice activity detector for cleaning: ``"silero"`` (bundled) or ``"energy"``.
    denoise
        Denoising policy (``"off"``, ``"gate"``, ``"dfn3"``, ``"dfn3-lim<N>"``, ``"auto"``) or a
        ``Denoiser``; default: the cleaning stage's ``"auto"``, chosen on the quality benchmark.
    level_dbfs
        Active speech level (dBFS, measured in the 300-3400 Hz speech band) each reference's
        speech is scaled to before the encoder (:func:`voxref.audio.level.normalize_level`);
        ``None``: as recorded. The GE2E encoder is not level-invariant (its input is a power mel
        spectrogram), so a quiet and a loud recording of one voice embed apart. Default -22 dBFS
        in the speech band (:data:`~voxref.audio.level.TARGET_LEVEL_DBFS`; about -20 dBFS over
        the full band for an average voice), about the level of the speech Resemblyzer-based TTS
        models were trained on; why the speech band: :mod:`voxref.audio.level`. Level on vs off
        on the quality benchmark: ``benchmarks/results/level_decision.md`` and BENCHMARKS.md.
    separate
        Split references into two talkers and keep the target's stream
        (:mod:`voxref.separation.streams`). ``True``: voxref's own separator
        (:mod:`voxref.separation.separator`, shipped checkpoint), or a checkpoint path of it; or
        a SpeechBrain separation model directory or hub id (``"speechbrain/sepformer-libri2mix"``,
        :mod:`voxref.separation.speechbrain_separator`). Default off. A reference where another
        talker takes turns keeps its voice split (the target's solo speech) first; the others
        are separated. A separator that can tell one voice from two (voxref's shipped one,
        trained with single-voice examples) separates only references whose quieter stream is
        above the checkpoint's threshold (:func:`voxref.separation.separator.weaker_stream_db`;
        :attr:`EmbedderTuning.separate_threshold_db <voxref.tuning.EmbedderTuning>` overrides it)
        and keeps the stream closest to the other references (or ``guide``); a lone reference
        without a guide keeps the stream of the voice that dominates it. Other separators keep
        a stream only when it is closer to the target than the unseparated reference (never for
        a lone reference). References the clean stage found babble in are never separated.
        Measured in BENCHMARKS.md, "Overlapped references".
    strict
        When every reference is unusable: ``True`` raises
        :class:`~voxref.errors.NoUsableReferenceError`; ``False`` (default) embeds them anyway
        where at least 0.4 s of audio is there
        (:data:`voxref.best_effort.BEST_EFFORT_MIN_SECONDS`: the speech found, or the
        whole clip when less than that was found; looped up to the encoder's shortest input),
        marks them ``"down-weighted"`` with "best effort, low confidence" and the rejection in
        their fate, and warns with :class:`~voxref.errors.LowConfidenceWarning`. A plain encoder
        returns a vector for such clips too; this one says it should not be trusted much.
        Only rejections for too little speech or too much noise are overridden: unreadable,
        empty, silent, non-finite or heavily clipped input, and audio in which no speech was
        found at all, is never embedded.
    device
        Torch device for the encoder.
    advanced
        Options for experiments (window length and step, window attention temperature, the
        separation margin and threshold): a :class:`voxref.tuning.EmbedderTuning` (or a dict of
        its fields); ``None``: the defaults. Changed ones are recorded in
        :attr:`EmbeddingResult.advanced`. The keywords ``window=``, ``hop=``,
        ``window_temperature=``, ``separate_margin=``, ``separate_threshold_db=`` and
        ``guide=True/False`` of earlier versions raise a :class:`~voxref.errors.ConfigError`
        naming their new spelling.

    Examples
    --------
    >>> from voxref.sample_data import pyannote_sample
    >>> wav, _ = pyannote_sample()            # 30 s of real speech shipped with pyannote.audio
    >>> emb = Embedder()
    >>> v = emb.embed([wav])
    >>> v.shape, v.dtype
    ((256,), dtype('float32'))
    """

    def __init__(
        self,
        encoder: str | Encoder = "ge2e",
        *,
        pooling: str | Any = "attention",
        min_seconds: float = 0.5,
        clean: bool = True,
        guiding: bool = True,
        vad: str = "silero",
        denoise: str | None = None,
        level_dbfs: float | None = TARGET_LEVEL_DBFS,
        separate: bool | str | os.PathLike = False,
        strict: bool = False,
        device: str = "cpu",
        advanced: EmbedderTuning | Mapping[str, Any] | None = None,
        **removed: Any,
    ) -> None:
        from ..embedder.pooling import POOLING_METHODS

        check_removed_options(removed)  # old spellings raise, naming the new one

        if (
            isinstance(pooling, str)
            and pooling not in POOLING_METHODS
            and not os.path.exists(pooling)
        ):
            raise ConfigError(
                f"unknown pooling {pooling!r}; use one of {POOLING_METHODS}, a checkpoint path, "
                "or a module with pool(embeddings, qualities)."
            )
        self._encoder_spec = encoder
        self._encoder: Encoder | None = encoder if isinstance(encoder, Encoder) else None
        self.pooling = pooling
        self.advanced = EmbedderTuning.coerce(advanced)
        self.min_seconds = check_min_seconds(min_seconds)
        self.clean = bool(clean)
        self.guiding = check_guiding_flag(guiding)
        self.level_dbfs = check_level_range(check_level_dbfs(level_dbfs))
        self._clean_options: dict[str, Any] = {"vad": check_vad_name(vad)}
        if denoise is not None:
            if isinstance(denoise, str):
                from ..cleaning.denoise import check_policy

                check_policy(denoise)  # a typo fails here, not at the first reference
            self._clean_options["denoise"] = denoise
        self.separate: str | Path | None = separator_spec(separate)
        self._separator: Any = None
        self.strict = bool(strict)
        self.device = check_device(device)
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(
        cls,
        source: str | os.PathLike,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        device: str = "cpu",
        **options: Any,
    ) -> Embedder:
        """An :class:`Embedder` whose encoder is loaded from a checkpoint or a hub id.

        ``source`` may be a voxref checkpoint (from ``voxref train``), a SpeechBrain model
        directory (``hyperparams.yaml`` + ``embedding_model.ckpt``), a pyannote embedding
        checkpoint, or a hub id (``"speechbrain/spkrec-ecapa-voxceleb"``,
        ``"pyannote/wespeaker-voxceleb-resnet34-LM"``) when online. Nothing is downloaded before
        this call; offline (``HF_HUB_OFFLINE=1`` or ``local_files_only``) a missing model fails at
        once with :class:`~voxref.errors.MissingCheckpointError`. Checkpoints load with
        ``weights_only=True``. ``options`` go to :class:`Embedder` (cleaning, pooling...).

        Examples
        --------
        >>> import os, tempfile
        >>> from voxref.embedder.testing import make_voxref_checkpoint
        >>> path = make_voxref_checkpoint(os.path.join(tempfile.mkdtemp(), "enc.pt"))
        >>> emb = Embedder.from_pretrained(path)
        >>> type(emb.encoder).__name__, emb.dimension
        ('CheckpointGE2EEncoder', 256)
        """
        from ..embedder.loader import load_pretrained

        encoder = load_pretrained(
            source,
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            local_files_only=local_files_only,
            device=device,
        )
        return cls(encoder, device=device, **options)

    # ----------------------------------------------------------------- models
    @property
    def encoder(self) -> Encoder:
        """The encoder backend (built on first use)."""
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    self._encoder = get_encoder(self._encoder_spec, device=self.device)
        return self._encoder

    def load_models(self) -> None:
        """Load the encoder (and the cleaning stage's detector) now: a missing, unsafe or
        offline model raises its own error here, before any audio is read."""
        _ = self.encoder
        if self.clean:
            from ..cleaning.vad import get_vad

            get_vad(self._clean_options["vad"])

    @property
    def sample_rate(self) -> int:
        return self.encoder.sample_rate

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    # ----------------------------------------------------------------- stages
    def load(
        self, x: AudioInput, index: int | None = None, sample_rate: int | None = None
    ) -> Audio:
        """Stage 1: load + validate + downmix + resample to the encoder's rate."""
        return load_audio(x, self.sample_rate, sample_rate=sample_rate, index=index)

    def prepare(
        self, x: AudioInput, index: int | None = None, sample_rate: int | None = None
    ) -> PreparedReference:
        """Everything about one reference that does not depend on the others: load, clean, encode.

        The result can be cached and combined into many reference sets with :meth:`combine`.
        Raises a :class:`~voxref.errors.VoxrefError` when the reference is unusable.
        """
        audio, speech, fields = self._clean_speech(x, index, sample_rate)
        return self.encode_speech(audio, speech, **fields)

    def _clean_speech(
        self,
        x: AudioInput,
        index: int | None,
        sample_rate: int | None,
        on_regions: Any = None,
        beside: Any = None,
    ) -> tuple[Audio, Audio, dict[str, Any]]:
        """:meth:`prepare` up to the encoder: the audio, its levelled speech, the other fields
        (``on_regions``, ``beside``: see :func:`voxref.cleaning.pipeline.clean_in_schedule`)."""
        audio = self.load(x, index=index, sample_rate=sample_rate)
        speech, regions, report, cleaned = audio, None, None, None
        if self.clean:
            from ..cleaning.pipeline import clean_in_schedule

            cleaned = clean_in_schedule(
                audio, **self._clean_options, on_regions=on_regions, beside=beside
            )
            cleaned = cleaned.raise_if_rejected()
            speech, regions, report = cleaned.speech, cleaned.regions, cleaned.report
        if speech.duration < self.min_seconds:
            raise TooShortAudioError(
                f"{speech.duration:.2f} s of usable speech; at least {self.min_seconds:.2f} s is needed. "
                "Give a longer clip of the target voice.",
                audio.source,
            )
        fields = {
            "regions": regions,
            "report": report,
            "denoiser": cleaned.denoiser if cleaned is not None else "off",
        }
        return audio, level_audio(speech, self.level_dbfs), fields

    def encode_speech(
        self, audio: Audio, speech: Audio, samples: np.ndarray | None = None, **fields: Any
    ) -> PreparedReference:
        """The last stage of :meth:`prepare`: window embeddings of the cleaned, levelled speech.

        ``samples`` (default: ``speech.samples``) are what the encoder sees; ``fields`` are the
        other :class:`PreparedReference` fields (``regions``, ``report``, ``denoiser``,
        ``extras``). Raises :class:`~voxref.errors.NonFiniteAudioError` when the encoder gives
        non-finite embeddings.
        """
        windows = self.encoder.embed_windows(
            speech.samples if samples is None else samples,
            self.advanced.window,
            self.advanced.hop,
            source=audio.source,
        )
        return self._prepared(audio, speech, windows, fields)

    def _prepared(
        self, audio: Audio, speech: Audio, windows: WindowEmbeddings, fields: dict[str, Any]
    ) -> PreparedReference:
        if not np.all(np.isfinite(windows.embeddings)):
            raise NonFiniteAudioError(
                "the encoder produced non-finite embeddings for this audio; check its level "
                "(samples should lie in [-1, 1]).",
                audio.source,
            )
        return PreparedReference(
            source=audio.source,
            audio=audio,
            speech=speech,
            windows=windows,
            speech_seconds=speech.duration,
            **fields,
        )

    def combine(
        self,
        prepared: Sequence[PreparedReference | InputFate],
        *,
        speaker: str | None = None,
        guide: np.ndarray | None = None,
    ) -> EmbeddingResult:
        """Pool prepared references (and the fates of failed ones) into one speaker embedding.

        Stages: guided target activity per window (:func:`voxref.separation.guide.target_activity`:
        the other references, or ``guide``, tell which voice is the target), window attention
        masked by that activity (:func:`voxref.embedder.pooling.guided_window_pool`), then
        quality-aware attention over references (:func:`voxref.embedder.pooling.pool_references`).
        """
        from ..embedder.pooling import guided_window_pool, pool_references
        from ..embedder.pooling.voices import keep_one_voice

        usable = [p for p in prepared if isinstance(p, PreparedReference)]
        activities: list[Any] = [None] * len(usable)
        pooled_windows = [p.windows for p in usable]
        if self.guiding and usable:
            from ..separation.guide import target_activity

            activities = target_activity(
                [p.windows for p in usable], guide=guide, attribute_only=True
            )
            if len(usable) == 1 and guide is None:
                # a lone reference: nothing to compare with, so the dominant voice is the target;
                # short windows find another speaker's turn where the 1.6 s windows cannot
                lone = self.lone_target(usable[0])
                if lone is not None:
                    pooled_windows[0], activities[0] = lone.windows, lone.activity
                    log.info("%s: %s", usable[0].source, lone.activity.reason)
                elif self.separate is not None:
                    # talkers at once and no guide: the stream of the voice that dominates the
                    # mixture (the one closest to the unseparated reference)
                    chosen = self.separated_target(usable[0], None, activities[0])
                    if chosen is not None:
                        pooled_windows[0], activities[0] = chosen
                        log.info("%s: %s", usable[0].source, chosen[1].reason)
            else:
                # several references (or a guide) say who the target is: a reference holding two
                # voices keeps the one closest to it, re-embedded where it speaks alone
                from ..separation.dominant import guided_voice, worth_splitting
                from .preparing import split_voices_side_by_side

                split_voices_side_by_side(self, usable, activities, guide)
                for i, (p, act) in enumerate(zip(usable, activities)):
                    target = guide if guide is not None else act.target
                    if target is None or not np.size(target):
                        continue
                    t = l2_normalize(np.asarray(target))
                    # another talker's turns: keep the target's solo speech (measured better
                    # than separating on the conversation condition); talkers at once: separate
                    chosen = guided_voice(self.voice_split(p), t) if worth_splitting(act) else None
                    if chosen is None and self.separate is not None:
                        chosen = self.separated_target(p, t, act)
                    if chosen is not None:
                        pooled_windows[i], activities[i] = chosen
                        log.info("%s: %s", p.source, chosen[1].reason)
        # "mean" pooling is a plain (masked) mean inside each reference too
        window_opts = {"temperature": float("inf")} if self.pooling == "mean" else {}
        if self.advanced.window_temperature is not None:
            window_opts = {"temperature": self.advanced.window_temperature}
        refs: list[ReferenceResult] = []
        report = BatchReport()
        pairs = iter(zip(usable, activities, pooled_windows))
        for p in prepared:
            if isinstance(p, InputFate):
                refs.append(ReferenceResult(p.source, None, 0.0, p))
                report.add(p)
                continue
            _, act, windows = next(pairs)
            # a copy: the prepared reference may be combined into other sets
            quality = (
                None
                if p.report is None
                else dataclasses.replace(p.report, reasons=list(p.report.reasons))
            )
            if act is not None:
                emb, window_w = guided_window_pool(windows, act.weights, act.overlap, **window_opts)
                if quality is not None:
                    # what is left of other voices once their turns are masked out
                    quality.set_overlap_ratio(act.mixed_ratio)
            else:
                emb, window_w = guided_window_pool(p.windows, **window_opts)
            weak = quality is not None and quality.verdict != "ok"
            fate = InputFate(
                p.source,
                "down-weighted" if weak else "used",
                "; ".join(quality.reasons) if weak else "",
            )
            if "best_effort" in p.extras:
                fate = InputFate(
                    p.source,
                    "down-weighted",
                    f"best effort, low confidence: {p.extras['best_effort']}",
                )
            refs.append(
                ReferenceResult(
                    p.source, emb, 0.0, fate, windows, window_w, p.speech_seconds, p, act, quality
                )
            )
            report.add(fate)
        if not usable:
            raise NoUsableReferenceError(report, speaker)
        # references of another voice than the one kept get no weight (pooling/voices.py)
        used, voices = keep_one_voice([r for r in refs if r.embedding is not None], guide)
        embedding, weights = pool_references(
            np.stack([r.embedding for r in used]),
            [r.quality for r in used] if self.clean else None,
            method=self.pooling,
        )
        for r, w in zip(used, weights):
            r.weight = float(w)
        return EmbeddingResult(
            embedding=l2_normalize(embedding),
            references=refs,
            report=report,
            encoder=self.encoder.describe(),
            pooling=self.pooling if isinstance(self.pooling, str) else type(self.pooling).__name__,
            voices=voices,
            advanced=self.advanced.changed(),
        )

    def prepare_all(
        self, inputs: AudioInput | Sequence[AudioInput], *, sample_rate: int | None = None
    ) -> list[PreparedReference | InputFate]:
        """:meth:`prepare` each input; a failed one becomes an :class:`InputFate` saying why.

        With more than one torch thread the work is spread over them
        (:mod:`voxref.embedder.workers`): each reference's cleaning is a task, and once it is
        done, its windows' batches through the encoder are tasks too
        (:meth:`GE2EEncoder.plan_windows <voxref.embedder.ge2e.GE2EEncoder.plan_windows>`), so a
        free thread encodes one reference while another is still being cleaned. The tasks and
        what each computes do not depend on the thread count, so neither do the results;
        the input order is kept (:mod:`voxref.pipeline.preparing`).
        """
        from .preparing import prepare_references

        items = as_list(inputs)
        if not items:
            raise ConfigError("no reference given; pass at least one file, array or tensor.")
        self.load_models()  # a model or configuration error fails here, not per reference
        return prepare_references(self, items, sample_rate)

    # ----------------------------------------------------------------- public
    def embed_details(
        self,
        inputs: AudioInput | Sequence[AudioInput],
        *,
        sample_rate: int | None = None,
        speaker: str | None = None,
        guide: np.ndarray | None = None,
    ) -> EmbeddingResult:
        """Like :meth:`embed` with ``return_details=True``."""
        guide = check_guide(guide, dimension=self.dimension, guiding=self.guiding)  # before audio
        prepared = self.prepare_all(inputs, sample_rate=sample_rate)
        if not self.strict and not any(isinstance(p, PreparedReference) for p in prepared):
            from ..best_effort import best_effort_references

            prepared = best_effort_references(self, as_list(inputs), prepared, sample_rate)
            kept = [p for p in prepared if isinstance(p, PreparedReference)]
            if kept:
                import warnings

                who = f" for speaker {speaker!r}" if speaker else ""
                msg = (
                    f"no reference{who} passed the checks; embedding {len(kept)} of them anyway "
                    f"(low confidence: {kept[0].extras['best_effort']}). Give a longer, cleaner "
                    "clip, or pass strict=True to raise instead."
                )
                log.warning(msg)
                warnings.warn(msg, LowConfidenceWarning, stacklevel=3)
        return self.combine(prepared, speaker=speaker, guide=guide)

    def embed(
        self,
        inputs: AudioInput | Sequence[AudioInput],
        *,
        sample_rate: int | None = None,
        return_details: bool = False,
        guide: np.ndarray | None = None,
    ) -> np.ndarray | EmbeddingResult:
        """One unit-norm float32 embedding ``(dimension,)`` from one speaker's references.

        Bad references are skipped and reported (see ``return_details``); when every reference is
        unusable, they are embedded anyway with a :class:`~voxref.errors.LowConfidenceWarning`
        where there is audio enough (see ``strict``), else (or with ``strict=True``) a
        :class:`~voxref.errors.NoUsableReferenceError` names each one and why.
        ``guide`` (an enrollment embedding of the target, same encoder) says which voice to keep
        in references that hold several; without it, the voice the references share is the target.
        """
        res = self.embed_details(inputs, sample_rate=sample_rate, guide=guide)
        return res if return_details else res.embedding

    def embed_many(
        self,
        speakers: Mapping[str, AudioInput | Sequence[AudioInput]],
        *,
        sample_rate: int | None = None,
        skip_failed: bool = False,
        return_details: bool = False,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Embed several speakers: ``{speaker: references} -> {speaker: embedding}``.

        With more than one torch thread and at least two speakers per thread, speakers are
        embedded side by side (:mod:`voxref.embedder.workers`; the same vectors).
        Every speaker is attempted. If some have no usable reference, a :class:`PartialBatchError`
        carrying the successful results is raised after all are done — or, with ``skip_failed``,
        they are logged and left out of the returned dict (their errors stay available with
        ``return_details=True``, which maps each speaker to its :class:`EmbeddingResult` or error).
        """
        from tqdm.auto import tqdm

        from ..embedder.workers import call_threads, run_all

        results: dict[str, Any] = {}
        failures: dict[str, VoxrefError] = {}
        check_speakers_mapping(speakers)
        items = list(speakers.items())
        bar = tqdm(total=len(items), desc="speakers", disable=not progress, unit="spk")

        def one(spk: Any, refs: Any) -> EmbeddingResult | VoxrefError:
            try:
                return self.embed_details(refs, sample_rate=sample_rate, speaker=str(spk))
            except VoxrefError as exc:
                return exc
            finally:
                bar.update(1)

        # enough speakers to keep every thread busy: speakers side by side, each in one thread
        # (the same computation as one after the other); else each speaker's call uses them all
        threads = call_threads()
        if threads > 1 and len(items) >= 2 * threads:
            outcomes = run_all([lambda s=s, r=r: one(s, r) for s, r in items], threads)
        else:
            outcomes = [one(s, r) for s, r in items]
        bar.close()
        for (spk, _), res in zip(items, outcomes):
            if isinstance(res, VoxrefError):
                failures[spk] = res
                log.warning("speaker %s failed: %s", spk, str(res).splitlines()[0])
            else:
                results[spk] = res if return_details else res.embedding
        if failures and not skip_failed:
            raise PartialBatchError(results, failures)
        if return_details:
            results.update(failures)
        return results
