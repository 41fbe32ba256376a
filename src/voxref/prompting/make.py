"""The prompt pipeline: references -> target voice -> pieces between pauses -> the best ones.

Stages (each reusing a part voxref already has):

1. Every reference is prepared as ``embed`` prepares it (load, VAD, quality report, window
   embeddings; :meth:`voxref.Embedder.prepare_all`): bad files are skipped and reported.
2. The target voice: the ``guide`` (an embedding, clean recordings of the target, or ``(start,
   end)`` target segments on the first reference), else the voice the references share
   (:meth:`voxref.Embedder.combine`; a lone reference: its dominant voice;
   :func:`.pieces.target_embedding`).
3. Each reference is diarized and the target's speaker found (:func:`voxref.extract_target`);
   it is cut into pieces between pauses, each measured and judged usable or not
   (:func:`.pieces.measure_pieces`: :data:`MIN_TARGET_SIMILARITY`, :data:`MAX_OTHER_VOICE`,
   :data:`MAX_OVERLAP`).
4. The best usable pieces are chosen (:func:`.select.choose_contiguous` for presets that want
   one stretch, else :func:`.select.choose_pieces`) and rendered (:mod:`.render`: cut inside
   their pauses, denoised only where the ``auto`` policy would, resampled to the preset's
   rate, joined, levelled to :data:`~.presets.PROMPT_LEVEL_DBFS`). When no piece between
   pauses fits the preset (pieces longer than its maximum: the references never pause), the
   too-long pieces give way to their parts between the deepest energy dips
   (:func:`.select.dip_cuts`), with a :class:`~.result.PromptCutAtDipWarning`.
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from numbers import Real
from typing import Any

import numpy as np

from ..audio.level import check_level_dbfs
from ..audio.load import load_audio
from ..audio.resample import resample
from ..errors import (
    BatchReport,
    ConfigError,
    InputFate,
    MissingDependencyError,
    NoTargetVoiceError,
    NoUsableReferenceError,
)
from ..separation.target import reference_list
from .pieces import (
    MAX_OTHER_VOICE,
    MAX_OVERLAP,
    MIN_TARGET_SIMILARITY,
    Reference,
    levelled,
    measure_pieces,
    target_embedding,
)
from .presets import PROMPT_LEVEL_DBFS, PromptPreset, get_preset
from .render import CUT_MARGIN_S, JOIN_PAUSE_S, choose_denoiser, finish, render
from .result import PromptCutAtDipWarning, PromptPiece, PromptResult, PromptTooShortWarning
from .select import choose_contiguous, choose_pieces, piece_score

__all__ = ["prompt", "MIN_TARGET_SIMILARITY", "MAX_OTHER_VOICE", "MAX_OVERLAP"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_SHARED: dict[str, Any] = {}
#: Diarizations the shared diarizer keeps (the last few recordings: the same references given
#: again, e.g. one prompt per speaker of one recording, are not diarized again).
_MAX_CACHED = 4


def _shared(name: str) -> Any:
    with _LOCK:
        if name not in _SHARED:
            if name == "embedder":
                from .. import Embedder

                _SHARED[name] = Embedder()
            else:
                from .diarizations import RememberingDiarizer

                _SHARED[name] = RememberingDiarizer(max_items=_MAX_CACHED)
        return _SHARED[name]


def _dnsmos(p: PromptPiece, refs: dict[int, Reference]) -> None:
    from ..cleaning.dnsmos import dnsmos_scores

    a = refs[p.reference].prep.audio
    seg = a.samples[int(p.start * a.sample_rate) : int(p.end * a.sample_rate)]
    p.dnsmos = dnsmos_scores(seg, a.sample_rate)


def _dip_part(c: PromptPiece) -> bool:
    """A part of a too-long piece cut at an energy dip (not a piece between two pauses)."""
    return c.dip_before or c.dip_after


def _choose(pieces: list[PromptPiece], p: PromptPreset, target_s: float) -> list[PromptPiece]:
    """The best usable ``pieces`` for preset ``p`` (one stretch or several pieces)."""
    if not pieces:
        return []
    starts = np.array([c.start for c in pieces])
    ends = np.array([c.end for c in pieces])
    scores = np.array([c.score for c in pieces])
    usable = np.array([c.usable for c in pieces], dtype=bool)
    if p.contiguous:
        groups = np.array([c.reference for c in pieces])
        idx = choose_contiguous(
            starts, ends, groups, usable, scores, target=target_s, maximum=p.max_seconds
        )
    else:
        idx = choose_pieces(
            ends - starts,
            usable,
            scores,
            target=target_s,
            maximum=p.max_seconds,
            join_pause=JOIN_PAUSE_S + 2 * CUT_MARGIN_S,
        )
    return [pieces[i] for i in idx]


def _speechmos_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("speechmos") is not None


def prompt(
    references: Any,
    *,
    preset: str | PromptPreset = "generic",
    seconds: float | None = None,
    guide: Any = None,
    sample_rate: int | None = None,
    denoise: str = "auto",
    level_dbfs: float | None = PROMPT_LEVEL_DBFS,
    min_similarity: float = MIN_TARGET_SIMILARITY,
    dnsmos: bool | None = None,
    per_reference: bool = False,
    embedder: Any = None,
    diarizer: Any = None,
) -> PromptResult:
    """The best clean, target-only prompt for an audio-conditioned TTS model.

    Parameters
    ----------
    references
        Recordings of the target voice (paths, ``(array, sample_rate)`` pairs, arrays with
        ``sample_rate``), possibly noisy and with other people talking.
    preset
        ``"generic"``, ``"xtts"``, ``"f5"``, ``"cosyvoice"``, ``"openvoice"``, ``"styletts2"``
        (:mod:`voxref.prompting.presets`: rate, lengths, one stretch or several pieces).
    seconds
        Length to aim at (default: the preset's); at most the preset's maximum.
    guide
        Who the target is: an embedding (``voxref.embed`` of the target), clean recording(s) of
        the target, or ``(start, end)`` seconds where the target speaks in the first reference.
        Default: the voice the references share (one reference: its dominant voice).
    sample_rate
        Rate of array references.
    denoise
        ``"auto"`` (only stationary noise below 15 dB SNR gets DeepFilterNet3, babble a limited
        one; see :mod:`voxref.cleaning.denoise`), ``"off"``, or another policy name.
    level_dbfs
        Active speech level of the prompt (full band, dBFS); ``None`` keeps the recorded level.
    min_similarity
        Cosine a piece needs to the target (:data:`MIN_TARGET_SIMILARITY`).
    dnsmos
        ``None``: DNSMOS scores for the chosen pieces when ``speechmos`` is installed; ``True``:
        score every usable piece and rank by it too (slower; needs ``speechmos``); ``False``: off.
    per_reference
        Also return each reference's target-only pieces joined (:attr:`PromptResult.per_reference`).
    embedder, diarizer
        A configured :class:`voxref.Embedder` / diarizer (default: shared offline ones). A
        :class:`~voxref.prompting.diarizations.RememberingDiarizer` keeps its diarizations for
        the caller (``voxref inspect --prompt`` draws the same turns without diarizing again).

    Returns
    -------
    PromptResult

    Raises
    ------
    voxref.errors.NoUsableReferenceError
        Every reference is unusable (each named with why).
    voxref.errors.NoTargetVoiceError
        No piece of any reference is the target voice speaking alone.

    Warns
    -----
    PromptTooShortWarning
        The prompt is shorter than the preset's minimum (the message says by how much and why).
    PromptCutAtDipWarning
        No piece between pauses fits the preset (the references never pause), so the prompt was
        cut at energy dips inside the speech (:func:`.select.dip_cuts`), not at pauses.
    """
    p = get_preset(preset)
    target_s = p.target_seconds if seconds is None else float(seconds)
    if not (math.isfinite(target_s) and 1.0 <= target_s <= p.max_seconds):
        raise ConfigError(
            f"seconds must lie between 1 and {p.max_seconds:g} for preset {p.name!r} "
            f"(its maximum); got {seconds!r}."
        )
    level_dbfs = check_level_dbfs(level_dbfs)
    if isinstance(denoise, str):
        from ..cleaning.denoise import check_policy

        check_policy(denoise)
    if not (isinstance(min_similarity, Real) and -1.0 <= float(min_similarity) <= 1.0):
        raise ConfigError(f"min_similarity must be a cosine in [-1, 1]; got {min_similarity!r}.")
    if dnsmos and not _speechmos_installed():
        raise MissingDependencyError("speechmos", "speechmos librosa", "DNSMOS quality scores")
    emb = embedder if embedder is not None else _shared("embedder")
    diar = diarizer if diarizer is not None else _shared("diarizer")
    items = reference_list(references)
    prepared = emb.prepare_all(items, sample_rate=sample_rate)
    report = BatchReport()
    refs: dict[int, Reference] = {}
    from ..cleaning.snr import measure_snr

    for i, (item, prep) in enumerate(zip(items, prepared)):
        if isinstance(prep, InputFate):
            report.add(prep)
            continue
        native_sr = prep.audio.original_sample_rate or prep.audio.sample_rate
        native = load_audio(item, native_sr, sample_rate=sample_rate, index=i)
        est = measure_snr(prep.audio.samples, prep.audio.sample_rate, regions=prep.regions)
        refs[i] = Reference(i, prep, native, est.noise_power, est.snr_db)
    if not refs:
        raise NoUsableReferenceError(report)
    target, how = target_embedding(emb, prepared, guide, sample_rate)
    candidates: list[PromptPiece] = []
    notes: list[str] = []
    for i, ref in refs.items():
        log.info("prompt: reference %d/%d %s", i + 1, len(items), ref.prep.source)
        pieces, why = measure_pieces(
            ref, target, diar, emb.encoder, float(min_similarity), max_seconds=p.max_seconds
        )
        candidates += pieces
        ok = [c for c in pieces if c.usable and not _dip_part(c)]
        best = max((c.similarity for c in pieces if math.isfinite(c.similarity)), default=math.nan)
        notes.append(
            f"{ref.prep.source}: {len(ok)} of {sum(not _dip_part(c) for c in pieces)} "
            "pieces usable "
            f"({sum(c.duration for c in ok):.1f} s), best similarity {best:.2f}; {why}"
        )
        report.add(
            InputFate(
                ref.prep.source,
                "used" if ok else "rejected",
                "" if ok else "no piece where the target voice speaks alone",
            )
        )
    usable = np.array([c.usable for c in candidates], dtype=bool)
    if not usable.any():
        voiced = [c for c in candidates if c.similarity >= min_similarity]
        msg = (
            "the target voice never speaks alone in the references (only with another voice)"
            if voiced
            else f"the target voice ({how}) is not in any reference: no piece reaches a "
            f"similarity of {min_similarity:.2f}"
        )
        raise NoTargetVoiceError(msg, notes)
    for ref in refs.values():
        choose_denoiser(ref, denoise)
    use_dnsmos = dnsmos is not False and _speechmos_installed()
    if dnsmos:
        for c in candidates:
            if c.usable:
                _dnsmos(c, refs)
    for c in candidates:
        c.score = piece_score(
            c.snr_db,
            c.similarity,
            c.bandwidth_hz,
            c.clipping,
            min_similarity=float(min_similarity),
            dnsmos_ovrl=None if c.dnsmos is None else c.dnsmos["ovrl_mos"],
        )
    between_pauses = [c for c in candidates if not _dip_part(c)]
    chosen = _choose(between_pauses, p, target_s)
    cut_at_dips = False
    if sum(c.duration for c in chosen) < p.min_seconds and any(
        c.usable and _dip_part(c) for c in candidates
    ):
        # no piece between pauses fits: the pieces too long for the preset give way to their
        # parts between energy dips
        split = [c for c in candidates if not _dip_part(c) and c.duration > p.max_seconds]
        parts = [c for c in candidates if c not in split]
        alt = _choose(parts, p, target_s)
        if sum(c.duration for c in alt) > sum(c.duration for c in chosen):
            chosen, cut_at_dips = alt, any(_dip_part(c) for c in alt)
    audio = render(chosen, refs, p.sample_rate, p.contiguous)
    audio, actions = finish(audio, p.sample_rate, level_dbfs)
    if use_dnsmos and not dnsmos:
        for c in chosen:
            _dnsmos(c, refs)
    per_ref: dict[str, np.ndarray] = {}
    if per_reference:
        for i, ref in refs.items():
            mine = [c for c in candidates if c.reference == i and c.usable and not _dip_part(c)]
            if mine:
                y = render(mine, refs, p.sample_rate, contiguous=False)
                per_ref[ref.prep.source] = finish(y, p.sample_rate, level_dbfs)[0]
                for c in mine:
                    c.kept = c in chosen
    e = (
        emb.encoder.embed_utterance(levelled(resample(audio, p.sample_rate, 16000), 16000))
        if (
            len(audio) >= emb.encoder.min_num_samples * p.sample_rate / 16000
            and emb.sample_rate == 16000
        )
        else None
    )
    from ..encoding import l2_normalize

    sim = float(l2_normalize(np.asarray(e, float)) @ target) if e is not None else math.nan
    result = PromptResult(
        audio=audio,
        sample_rate=p.sample_rate,
        preset=p.to_dict() | {"seconds": target_s},
        pieces=chosen,
        candidates=candidates,
        report=report,
        target=how,
        target_similarity=sim,
        actions=actions,
        per_reference=per_ref,
    )
    speech = float(sum(c.duration for c in chosen))
    if cut_at_dips:
        msg = (
            f"no piece between pauses fits preset {p.name!r} (at most {p.max_seconds:g} s): the "
            "references never pause long enough (sound that never stops, such as babble, fills "
            "the pauses), so the prompt was cut at the deepest energy dips inside the speech, "
            "not at pauses; a cut there may clip a word. Listen to it, or give references with "
            "quiet between sentences."
        )
        result.warnings.append(msg)
        log.warning("prompt: %s", msg)
        warnings.warn(msg, PromptCutAtDipWarning, stacklevel=2)
    if speech < p.min_seconds:
        whole = [c for c in candidates if not _dip_part(c)]
        total = float(sum(c.duration for c in whole if c.usable))
        dropped = sum(not c.usable for c in whole)
        shape = "in one contiguous stretch " if p.contiguous else ""
        msg = (
            f"the prompt holds {speech:.1f} s of speech; preset {p.name!r} wants at least "
            f"{p.min_seconds:g} s. The references hold {total:.1f} s of clean target-only "
            f"speech in all ({speech:.1f} s {shape}usable); {dropped} of {len(whole)} "
            "pieces were dropped (another voice, overlap, too short, or not the target: see "
            "the pieces' reasons). Give longer references of the target speaking alone."
        )
        too_long = [c for c in whole if c.usable and c.duration > p.max_seconds]
        if too_long and not cut_at_dips:
            msg += (
                f" {len(too_long)} usable piece(s) ({sum(c.duration for c in too_long):.1f} s) "
                f"are longer than the preset's maximum ({p.max_seconds:g} s) and hold no pause "
                "to cut at (sound that never stops, such as babble, fills the pauses): cut the "
                "references shorter at pauses, or give ones with quiet between sentences."
            )
        result.warnings.append(msg)
        log.warning("prompt: %s", msg)
        warnings.warn(msg, PromptTooShortWarning, stacklevel=2)
    return result
