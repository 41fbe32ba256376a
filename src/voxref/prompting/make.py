"""The prompt pipeline: references -> target voice -> pieces between pauses -> the best ones.

Stages (each reusing a part voxref already has):

1. Every reference is prepared as ``embed`` prepares it (load, VAD, quality report, window
   embeddings; :meth:`voxref.Embedder.prepare_all`): bad files are skipped and reported.
2. The target voice: the ``guide`` (an embedding, clean recordings of the target, or ``(start,
   end)`` target segments on the first reference), else the voice the references share
   (:meth:`voxref.Embedder.combine`; a lone reference: its dominant voice).
3. Each reference is diarized and the target's speaker found (:func:`voxref.extract_target`);
   it is cut into pieces between pauses (:mod:`.select`). A piece is usable when the diarizer
   gives (almost) none of it to another voice or to overlap, and when its own embedding is close
   to the target: cosine at least :data:`MIN_TARGET_SIMILARITY` and closer to the target's
   centroid than to any other voice of that reference.
4. The best usable pieces are chosen (:func:`.select.choose_contiguous` for presets that want
   one stretch, else :func:`.select.choose_pieces`), cut with margins inside their pauses and
   10 ms fades, denoised only where the ``auto`` policy would (stationary noise below 15 dB SNR:
   DeepFilterNet3; babble: DeepFilterNet3 limited to 6 dB; never full DeepFilterNet3 in babble),
   resampled from the reference's own rate to the preset's, joined, levelled to
   :data:`~.presets.PROMPT_LEVEL_DBFS` and limited to a -1 dBFS peak.
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from numbers import Real
from typing import Any

import numpy as np

from ..audio.level import TARGET_LEVEL_DBFS, check_level_dbfs, normalize_level
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
from ..separation.target import is_segment_list, reference_list
from .presets import PROMPT_LEVEL_DBFS, PromptPreset, get_preset
from .result import PromptPiece, PromptResult, PromptTooShortWarning
from .select import (
    choose_contiguous,
    choose_pieces,
    pause_frames,
    piece_score,
    pieces_between_pauses,
)

__all__ = ["prompt", "MIN_TARGET_SIMILARITY", "MAX_OTHER_VOICE", "MAX_OVERLAP"]

log = logging.getLogger(__name__)

#: Cosine (GE2E, pieces levelled to -22 dBFS) a piece's embedding must reach to the target's.
#: Chosen on synthetic tuning voices only, never on the pyannote sample:
#: ``scripts/prompt_similarity_threshold.py`` (30 ordered pairs of the six espeak-ng / flite
#: voices of ``voxref.separation.synthetic.VOICES``, two-voice conversations clean and in white
#: noise at 10 dB, cut as here; pieces of at least 0.8 s; target from two clean utterances)
#: minimises ``rejected right + 3 x accepted wrong`` at 0.66: 125 pieces of the target alone
#: (1st / 5th / 50th percentile 0.58 / 0.62 / 0.83), 118 of the other voice alone (50th / 95th /
#: 99th / max 0.50 / 0.69 / 0.86 / 0.87); 15 right pieces rejected, 9 wrong ones accepted.
#: That run cut noisy pieces with the older noise-floor pause rule (3 dB / 80 ms, see
#: ``select.PAUSE_ABOVE_NOISE_DB``); not re-run since. The threshold alone lets some wrong
#: pieces through, hence the two other checks (the diarizer's speaker labels and "closer to
#: another voice of the reference"). Checked afterwards
#: on the pyannote sample (tests/prompting): no kept piece holds the other speaker per
#: sample.rttm.
MIN_TARGET_SIMILARITY = 0.66
#: Largest share of a piece's frames the diarizer may give to another speaker.
MAX_OTHER_VOICE = 0.05
#: Largest share of a piece's frames the diarizer may find two voices in.
MAX_OVERLAP = 0.05
#: Shortest piece that can be used (s). Pieces shorter than the encoder's minimum (0.8 s for
#: GE2E) are repeated up to it for the similarity check.
MIN_PIECE_S = 0.4
#: Largest share of clipped samples in a usable piece.
MAX_CLIPPING = 0.001
#: Seconds of the surrounding pause kept on each side of a cut (at most half the pause).
CUT_MARGIN_S = 0.12
#: Fade length at every cut (s).
FADE_S = 0.01
#: Silence between pieces that are not contiguous in their reference (s).
JOIN_PAUSE_S = 0.3
#: Peak limit of the finished prompt (dBFS).
PEAK_DBFS = -1.0

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


def _levelled(x: np.ndarray, sr: int) -> np.ndarray:
    return normalize_level(x, sr, TARGET_LEVEL_DBFS)[0]


def _target(
    emb: Any, prepared: list, guide: Any, sample_rate: int | None
) -> tuple[np.ndarray, str]:
    """The target embedding (unit norm) and how it was found."""
    from ..encoding import l2_normalize

    usable = [p for p in prepared if not isinstance(p, InputFate)]
    if guide is None:
        res = emb.combine(prepared)
        how = (
            "the dominant voice of the reference"
            if len(usable) == 1
            else f"the voice the {len(usable)} references share"
        )
        return l2_normalize(np.asarray(res.embedding, dtype=np.float64)), how
    if isinstance(guide, np.ndarray) and guide.ndim == 1 and guide.dtype.kind == "f":
        if guide.shape[0] != emb.dimension:
            raise ConfigError(
                f"the guide vector has {guide.shape[0]} values but the encoder gives "
                f"{emb.dimension}-d embeddings; use voxref.embed(...) of the target, or pass "
                "a clean recording of the target as the guide."
            )
        return l2_normalize(guide.astype(np.float64)), "the guide embedding"
    if isinstance(guide, (list, tuple)) and len(guide) == 0:
        raise ConfigError(
            "the guide is empty; give target segments, a recording or an embedding, or None."
        )
    if is_segment_list(guide):
        first = usable[0]
        x, sr = first.audio.samples, first.audio.sample_rate
        parts = [x[int(s * sr) : int(e * sr)] for s, e in guide]
        audio = np.concatenate([p for p in parts if len(p)] or [np.zeros(0, np.float32)])
        if len(audio) < emb.encoder.min_num_samples:
            raise ConfigError(
                f"the guide segments hold {len(audio) / sr:.2f} s of {first.source}; give at "
                f"least {emb.encoder.min_num_samples / sr:.2f} s of the target speaking."
            )
        e = emb.encoder.embed_utterance(_levelled(audio, sr))
        return (
            l2_normalize(np.asarray(e, dtype=np.float64)),
            f"the guide segments on {first.source}",
        )
    e = emb.embed(guide, sample_rate=sample_rate)
    return l2_normalize(np.asarray(e, dtype=np.float64)), "the guide recording(s)"


class _Reference:
    """One usable reference: its audio at its own rate and what was measured on it."""

    def __init__(self, index: int, prep: Any, native: Any, noise_power: float, snr_db: float):
        self.index = index
        self.prep = prep
        self.native = native
        self.noise_power = noise_power
        self.snr_db = snr_db
        self.denoiser: Any = None
        self.denoise_note = ""


def _piece_snr(x: np.ndarray, noise_power: float) -> float:
    from ..cleaning.snr import SNR_CEILING_DB, SNR_FLOOR_DB

    p = float(np.mean((x - np.mean(x)) ** 2)) if len(x) else 0.0
    if noise_power <= 0:
        return float(SNR_CEILING_DB)
    s = max(p - noise_power, 1e-12)
    return float(np.clip(10 * np.log10(s / noise_power), SNR_FLOOR_DB, SNR_CEILING_DB))


def _measure_pieces(
    ref: _Reference,
    target: np.ndarray,
    diarizer: Any,
    encoder: Any,
    min_similarity: float,
) -> tuple[list[PromptPiece], str]:
    """Every piece of one reference, measured, with the reason it cannot be used (if any)."""
    from ..audio.properties import clipping_ratio
    from ..cleaning.quality import estimate_bandwidth
    from ..encoding import l2_normalize
    from ..separation.target import extract_target

    prep = ref.prep
    a16 = prep.audio
    x16, sr16 = a16.samples, a16.sample_rate
    # the prompt judges every piece against the target itself (min_similarity, and a reference
    # without the target gives no piece), so extract_target's whole-recording check stays off
    tr = extract_target(
        a16,
        target,
        diarizer=diarizer,
        diarization=diarizer(a16),
        min_guide_similarity=None,
    )
    res = tr.diarization
    labels = res.labels
    tidx = [labels.index(lab) for lab in tr.target_label.split("+") if lab in labels]
    oidx = [k for k in range(res.num_speakers) if k not in tidx]
    c_t = l2_normalize(res.centroids[tidx].mean(axis=0)) if tidx else target
    others = res.centroids[oidx] if oidx else np.zeros((0, len(target)))
    step = res.frame_step
    speaker = res.frame_speaker
    # the diarizer's overlap decision or the speaker counter's probability above 0.5 (as
    # extract_target): the counter also flags some single-voice stretches (on the pyannote
    # sample 39 % / 55 % of two pieces where sample.rttm has one speaker), but the diarizer's
    # decision alone missed a 0.4 s back-channel there: purity first
    overlap = np.zeros(len(speaker), dtype=bool)
    if res.frame_overlap is not None:
        overlap |= res.frame_overlap >= 0
    if res.frame_overlap_probability is not None and res.num_speakers >= 2:
        overlap |= res.frame_overlap_probability > 0.5
    pause = pause_frames(x16, sr16, res.regions, ref.noise_power)
    nat = ref.native
    out: list[PromptPiece] = []
    for s, e, pb, pa in pieces_between_pauses(pause):
        e = min(e, a16.duration)
        piece = PromptPiece(prep.source, ref.index, round(s, 3), round(e, 3))
        piece.pause_before, piece.pause_after = round(pb, 3), round(pa, 3)
        fs, fe = int(round(s / step)), max(int(round(e / step)), int(round(s / step)) + 1)
        sp = speaker[fs:fe]
        piece.other_voice = float(np.mean((sp >= 0) & ~np.isin(sp, tidx))) if len(sp) else 0.0
        piece.overlap = float(np.mean(overlap[fs:fe])) if fe <= len(overlap) else 0.0
        seg16 = x16[int(s * sr16) : int(e * sr16)]
        piece.snr_db = _piece_snr(seg16, ref.noise_power)
        segn = nat.samples[int(s * nat.sample_rate) : int(e * nat.sample_rate)]
        piece.clipping = clipping_ratio(segn)
        piece.bandwidth_hz = estimate_bandwidth(segn, nat.sample_rate)
        closer_other = False
        if len(seg16) >= MIN_PIECE_S * sr16:
            if len(seg16) < encoder.min_num_samples:
                # a short piece is repeated up to the encoder's minimum for the check (the
                # threshold was chosen on pieces of at least that length: a looser check)
                seg16 = np.tile(seg16, int(np.ceil(encoder.min_num_samples / len(seg16))))
            emb = l2_normalize(np.asarray(encoder.embed_utterance(_levelled(seg16, sr16)), float))
            piece.similarity = float(emb @ target)
            if len(others):
                osims = others @ emb
                piece.other_similarity = float(osims.max())
                closer_other = bool(osims.max() > float(emb @ c_t))
        if e - s < MIN_PIECE_S:
            piece.reason = (
                f"too short: {e - s:.2f} s, the voice cannot be checked below {MIN_PIECE_S:.2f} s"
            )
        elif piece.other_voice > MAX_OTHER_VOICE:
            piece.reason = (
                f"other voice: the diarizer gives {piece.other_voice:.0%} of it to another speaker"
            )
        elif piece.overlap > MAX_OVERLAP:
            piece.reason = f"overlap: two voices at once in {piece.overlap:.0%} of it"
        elif not piece.similarity >= min_similarity:
            piece.reason = (
                f"not the target: similarity {piece.similarity:.2f} < {min_similarity:.2f}"
            )
        elif closer_other:
            piece.reason = (
                f"closer to another voice: {piece.other_similarity:.2f} to it, "
                f"{piece.similarity:.2f} to the target"
            )
        elif piece.clipping > MAX_CLIPPING:
            piece.reason = f"clipped: {piece.clipping:.2%} of its samples"
        out.append(piece)
    return out, tr.reason


def _choose_denoiser(ref: _Reference, policy: Any) -> None:
    """The denoiser for one reference: ``auto`` decides from its SNR and noise modulation."""
    from ..cleaning.denoise import AutoDenoiser, NoDenoiser, get_denoiser

    if policy == "off":
        ref.denoiser = NoDenoiser()
        return
    if policy == "auto":
        from ..cleaning.noise_profile import noise_modulation

        auto = AutoDenoiser()
        a = ref.prep.audio
        mod = noise_modulation(a.samples, a.sample_rate)
        ref.denoiser = auto.choose(ref.snr_db, mod)
        if ref.denoiser.name != "off":
            ref.denoise_note = (
                f"denoised: {ref.denoiser.name} (reference SNR {ref.snr_db:.1f} dB, noise "
                f"modulation {mod:.2f})"
            )
        return
    ref.denoiser = get_denoiser(policy)
    ref.denoise_note = f"denoised: {ref.denoiser.name}"


def _cut(ref: _Reference, start: float, end: float, before: float, after: float) -> tuple:
    """Native-rate samples of ``[start, end]`` plus margins inside the pauses, denoised, faded."""
    nat = ref.native
    sr = nat.sample_rate
    m0 = min(CUT_MARGIN_S, 0.5 * before)
    m1 = min(CUT_MARGIN_S, 0.5 * after)
    a = max(0, int(round((start - m0) * sr)))
    b = min(len(nat.samples), int(round((end + m1) * sr)))
    actions = [f"cut {a / sr:.2f}-{b / sr:.2f} s (inside the pauses)"]
    if ref.denoiser is not None and ref.denoiser.name != "off":
        ctx = int(0.5 * sr)  # context so the denoiser has settled at the cut
        a0, b0 = max(0, a - ctx), min(len(nat.samples), b + ctx)
        y = ref.denoiser.denoise(nat.samples[a0:b0], sr)[a - a0 : a - a0 + (b - a)]
        actions.append(ref.denoise_note)
    else:
        y = nat.samples[a:b].copy()
    y = np.asarray(y, dtype=np.float32)
    n = min(int(round(FADE_S * sr)), len(y) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
        actions.append(f"{FADE_S * 1000:.0f} ms fades")
    return y, sr, actions


def _render(
    chosen: list[PromptPiece], refs: dict[int, _Reference], out_sr: int, contiguous: bool
) -> np.ndarray:
    """Cut, denoise, fade and resample the chosen pieces; join them."""
    parts: list[np.ndarray] = []
    if contiguous and chosen:
        first, last = chosen[0], chosen[-1]
        ref = refs[first.reference]
        y, sr, actions = _cut(ref, first.start, last.end, first.pause_before, last.pause_after)
        groups = [(y, sr, actions, chosen)]
    else:
        groups = []
        for p in chosen:
            y, sr, actions = _cut(refs[p.reference], p.start, p.end, p.pause_before, p.pause_after)
            groups.append((y, sr, actions, [p]))
    gap = np.zeros(int(round(JOIN_PAUSE_S * out_sr)), dtype=np.float32)
    for k, (y, sr, actions, pieces) in enumerate(groups):
        if sr != out_sr:
            y = resample(y, sr, out_sr)
            actions = [*actions, f"resampled {sr} -> {out_sr} Hz"]
        for p in pieces:
            p.kept = True
            p.actions = list(actions)
        if k:
            parts.append(gap)
        parts.append(np.asarray(y, dtype=np.float32))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _finish(y: np.ndarray, sr: int, level_dbfs: float | None) -> tuple[np.ndarray, list[str]]:
    actions = []
    if level_dbfs is not None and len(y):
        y, gain = normalize_level(y, sr, level_dbfs, band=None)
        actions.append(f"levelled {gain:+.1f} dB to {level_dbfs:g} dBFS active speech level")
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    limit = 10 ** (PEAK_DBFS / 20)
    if peak > limit:
        y = y * np.float32(limit / peak)
        actions.append(f"scaled {20 * np.log10(limit / peak):+.1f} dB to a {PEAK_DBFS:g} dBFS peak")
    return np.asarray(y, dtype=np.float32), actions


def _dnsmos(p: PromptPiece, refs: dict[int, _Reference]) -> None:
    from ..cleaning.dnsmos import dnsmos_scores

    a = refs[p.reference].prep.audio
    seg = a.samples[int(p.start * a.sample_rate) : int(p.end * a.sample_rate)]
    p.dnsmos = dnsmos_scores(seg, a.sample_rate)


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
    refs: dict[int, _Reference] = {}
    from ..cleaning.snr import measure_snr

    for i, (item, prep) in enumerate(zip(items, prepared)):
        if isinstance(prep, InputFate):
            report.add(prep)
            continue
        native_sr = prep.audio.original_sample_rate or prep.audio.sample_rate
        native = load_audio(item, native_sr, sample_rate=sample_rate, index=i)
        est = measure_snr(prep.audio.samples, prep.audio.sample_rate, regions=prep.regions)
        refs[i] = _Reference(i, prep, native, est.noise_power, est.snr_db)
    if not refs:
        raise NoUsableReferenceError(report)
    target, how = _target(emb, prepared, guide, sample_rate)
    candidates: list[PromptPiece] = []
    notes: list[str] = []
    for i, ref in refs.items():
        log.info("prompt: reference %d/%d %s", i + 1, len(items), ref.prep.source)
        pieces, why = _measure_pieces(ref, target, diar, emb.encoder, float(min_similarity))
        candidates += pieces
        ok = [c for c in pieces if c.usable]
        best = max((c.similarity for c in pieces if math.isfinite(c.similarity)), default=math.nan)
        notes.append(
            f"{ref.prep.source}: {len(ok)} of {len(pieces)} pieces usable "
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
        _choose_denoiser(ref, denoise)
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
    starts = np.array([c.start for c in candidates])
    ends = np.array([c.end for c in candidates])
    scores = np.array([c.score for c in candidates])
    if p.contiguous:
        groups = np.array([c.reference for c in candidates])
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
    chosen = [candidates[i] for i in idx]
    audio = _render(chosen, refs, p.sample_rate, p.contiguous)
    audio, actions = _finish(audio, p.sample_rate, level_dbfs)
    if use_dnsmos and not dnsmos:
        for c in chosen:
            _dnsmos(c, refs)
    per_ref: dict[str, np.ndarray] = {}
    if per_reference:
        for i, ref in refs.items():
            mine = [c for c in candidates if c.reference == i and c.usable]
            if mine:
                y = _render(mine, refs, p.sample_rate, contiguous=False)
                per_ref[ref.prep.source] = _finish(y, p.sample_rate, level_dbfs)[0]
                for c in mine:
                    c.kept = c in chosen
    e = (
        emb.encoder.embed_utterance(_levelled(resample(audio, p.sample_rate, 16000), 16000))
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
    if speech < p.min_seconds:
        total = float(sum(c.duration for c in candidates if c.usable))
        dropped = len(candidates) - int(usable.sum())
        shape = "in one contiguous stretch " if p.contiguous else ""
        msg = (
            f"the prompt holds {speech:.1f} s of speech; preset {p.name!r} wants at least "
            f"{p.min_seconds:g} s. The references hold {total:.1f} s of clean target-only "
            f"speech in all ({speech:.1f} s {shape}usable); {dropped} of {len(candidates)} "
            "pieces were dropped (another voice, overlap, too short, or not the target: see "
            "the pieces' reasons). Give longer references of the target speaking alone."
        )
        result.warnings.append(msg)
        log.warning("prompt: %s", msg)
        warnings.warn(msg, PromptTooShortWarning, stacklevel=2)
    return result
