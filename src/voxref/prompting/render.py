"""From the chosen pieces to the prompt's audio.

Each piece (or a contiguous stretch of pieces) is cut with margins inside its pauses
(:data:`CUT_MARGIN_S`) and :data:`FADE_S` fades, denoised only where the ``auto`` policy would
(stationary noise below 15 dB SNR: DeepFilterNet3; babble: DeepFilterNet3 limited to 6 dB; never
full DeepFilterNet3 in babble; babble is also recognised by the speaker counter hearing a
background of voices, :data:`BABBLE_FROM_COUNTER`), resampled from the reference's own rate to
the preset's, joined with :data:`JOIN_PAUSE_S` pauses, levelled and limited to a
:data:`PEAK_DBFS` peak.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..audio.level import normalize_level
from ..audio.resample import resample
from .pieces import Reference
from .result import PromptPiece

__all__ = [
    "CUT_MARGIN_S",
    "FADE_S",
    "JOIN_PAUSE_S",
    "PEAK_DBFS",
    "choose_denoiser",
    "cut_stretch",
    "finish",
    "render",
]

#: Seconds of the surrounding pause kept on each side of a cut (at most half the pause).
CUT_MARGIN_S = 0.12
#: Fade length at every cut (s).
FADE_S = 0.01
#: Silence between pieces that are not contiguous in their reference (s).
JOIN_PAUSE_S = 0.3
#: A reference in which the speaker counter hears a background of voices
#: (:attr:`~.pieces.Reference.voice_background`) gets the ``auto`` policy's babble denoiser even
#: when its SNR estimate reads high (babble fills the detector's pauses, so the estimate finds no
#: noise). Checked on tuning voices (group A, espeak-ng, ``python -m benchmarks.prompt.run
#: --voice-group A --sets babble-5dB mixed``): the prompt's DNSMOS OVRL rose on both babble sets
#: and its similarity to the clean voice did not fall; the mixed sets did not change.
BABBLE_FROM_COUNTER = True
#: Peak limit of the finished prompt (dBFS).
PEAK_DBFS = -1.0


def choose_denoiser(ref: Reference, policy: Any) -> None:
    """The denoiser for one reference: ``auto`` decides from its SNR and noise modulation."""
    from ..cleaning.denoise import AutoDenoiser, NoDenoiser, get_denoiser

    if policy == "off":
        ref.denoiser = NoDenoiser()
        return
    if policy == "auto":
        from ..cleaning.noise_profile import noise_modulation

        auto = AutoDenoiser()
        a = ref.prep.audio
        # the modulation only decides below the SNR threshold: measured there only
        noisy = auto.noisy(ref.snr_db)
        mod = noise_modulation(a.samples, a.sample_rate) if noisy else float("nan")
        ref.denoiser = auto.choose(ref.snr_db, mod)
        if BABBLE_FROM_COUNTER and ref.voice_background and ref.denoiser.name == "off":
            # babble fills the detector's pauses, so the SNR estimate sees no noise; the
            # speaker counter hears the background of voices: the babble denoiser
            ref.denoiser = auto.babble
            ref.denoise_note = (
                f"denoised: {ref.denoiser.name} (the speaker counter hears a background of "
                f"voices; reference SNR estimate {ref.snr_db:.1f} dB"
                + (f", noise modulation {mod:.2f})" if noisy else ")")
            )
            return
        if ref.denoiser.name != "off":
            ref.denoise_note = (
                f"denoised: {ref.denoiser.name} (reference SNR {ref.snr_db:.1f} dB, noise "
                f"modulation {mod:.2f})"
            )
        return
    ref.denoiser = get_denoiser(policy)
    ref.denoise_note = f"denoised: {ref.denoiser.name}"


def cut_stretch(
    ref: Reference,
    start: float,
    end: float,
    before: float,
    after: float,
    dips: tuple[bool, bool] = (False, False),
) -> tuple:
    """Native-rate samples of ``[start, end]`` plus margins inside the pauses, denoised, faded.

    ``dips`` says which ends are energy dips inside speech (no pause, no margin) rather than
    pauses."""
    nat = ref.native
    sr = nat.sample_rate
    m0 = min(CUT_MARGIN_S, 0.5 * before)
    m1 = min(CUT_MARGIN_S, 0.5 * after)
    a = max(0, int(round((start - m0) * sr)))
    b = min(len(nat.samples), int(round((end + m1) * sr)))
    where = (
        "inside the pauses"
        if not any(dips)
        else "at energy dips inside speech, not pauses"
        if all(dips)
        else f"at an energy dip inside speech at its {'start' if dips[0] else 'end'}"
    )
    actions = [f"cut {a / sr:.2f}-{b / sr:.2f} s ({where})"]
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


def render(
    chosen: list[PromptPiece], refs: dict[int, Reference], out_sr: int, contiguous: bool
) -> np.ndarray:
    """Cut, denoise, fade and resample the chosen pieces; join them."""
    parts: list[np.ndarray] = []
    if contiguous and chosen:
        first, last = chosen[0], chosen[-1]
        ref = refs[first.reference]
        y, sr, actions = cut_stretch(
            ref,
            first.start,
            last.end,
            first.pause_before,
            last.pause_after,
            (first.dip_before, last.dip_after),
        )
        groups = [(y, sr, actions, chosen)]
    else:
        groups = []
        for p in chosen:
            y, sr, actions = cut_stretch(
                refs[p.reference],
                p.start,
                p.end,
                p.pause_before,
                p.pause_after,
                (p.dip_before, p.dip_after),
            )
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


def finish(y: np.ndarray, sr: int, level_dbfs: float | None) -> tuple[np.ndarray, list[str]]:
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
