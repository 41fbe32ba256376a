"""Best-effort references: embed rejected references when no reference passed the checks.

``Embedder(strict=False)`` (the default) calls :func:`best_effort_references` when every
reference of a speaker was rejected. A reference rejected for too little speech (down to
:data:`BEST_EFFORT_MIN_SECONDS`) or too much noise is then embedded anyway: the speech the VAD
found, or the whole clip when it found less than that, looped up to the encoder's shortest input.
Its fate says ``"best effort, low confidence"`` and why it was rejected; the Embedder warns with
:class:`voxref.errors.LowConfidenceWarning`. Input that is unreadable, empty, silent, non-finite
or heavily clipped, and audio without any speech found, is never embedded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from .audio.level import level_audio
from .errors import InputFate, VoxrefError

__all__ = ["BEST_EFFORT_MIN_SECONDS", "best_effort_references"]

log = logging.getLogger(__name__)

BEST_EFFORT_MIN_SECONDS = 0.4
"""Shortest audio (s) a best-effort embedding is computed from (see ``Embedder(strict=...)``)."""

_NO_BEST_EFFORT = frozenset(
    {
        "AudioFileNotFoundError",
        "UnreadableAudioError",
        "EmptyAudioError",
        "SilentAudioError",
        "NoSpeechError",
        "NonFiniteAudioError",
        "OutOfRangeAudioError",
        "AudioShapeError",
        "ConfigError",
    }
)
"""Errors no best effort can get round: nothing to embed (no speech found at all), or input the
caller must fix."""


def best_effort_references(
    embedder: Any,
    items: Sequence[Any],
    prepared: Sequence[Any],
    sample_rate: int | None,
) -> list[Any]:
    """``prepared`` with each rejected reference that allows it embedded anyway.

    Parameters
    ----------
    embedder
        The :class:`~voxref.pipeline.Embedder` whose stages are used.
    items
        The inputs, in the order of ``prepared``.
    prepared
        What :meth:`~voxref.pipeline.Embedder.prepare_all` made of them: a
        :class:`~voxref.pipeline.PreparedReference` or an :class:`~voxref.errors.InputFate` each.
    sample_rate
        Sample rate of array inputs.

    Returns
    -------
    list
        Prepared references (``extras["best_effort"]`` holds the rejection) where a best effort
        was possible, the original fates elsewhere.
    """
    out: list[Any] = []
    for i, (x, fate) in enumerate(zip(items, prepared)):
        if not isinstance(fate, InputFate) or fate.error in _NO_BEST_EFFORT:
            out.append(fate)
            continue
        try:
            ref = _prepare(embedder, x, i, sample_rate, fate.reason)
        except VoxrefError as exc:
            log.debug("%s: no best effort either: %s", fate.source, exc)
            ref = None
        out.append(fate if ref is None else ref)
    return out


def _prepare(
    embedder: Any,
    x: Any,
    index: int,
    sample_rate: int | None,
    reason: str,
) -> Any:
    """``Embedder.prepare`` without the rejections: the speech found, else the whole clip
    (:meth:`~voxref.pipeline.Embedder.encode_speech` raises on non-finite embeddings)."""
    audio = embedder.load(x, index=index, sample_rate=sample_rate)
    speech, regions, report, denoiser = audio, None, None, "off"
    if embedder.clean:
        from .cleaning.pipeline import clean
        from .cleaning.quality import REJECT_CLIPPING_RATIO

        cleaned = clean(audio, **embedder._clean_options)
        r = cleaned.report
        if r.fatal or r.speech_s <= 0 or r.clipping_ratio > REJECT_CLIPPING_RATIO:
            return None  # best effort covers too little speech and too much noise only
        report, denoiser = cleaned.report, cleaned.denoiser
        if cleaned.speech.duration >= BEST_EFFORT_MIN_SECONDS:
            speech, regions = cleaned.speech, cleaned.regions
    if speech.duration < BEST_EFFORT_MIN_SECONDS:
        return None
    speech = level_audio(speech, embedder.level_dbfs)
    samples = speech.samples
    need = embedder.encoder.min_num_samples
    if samples.size < need:
        # shorter than the encoder's half window: loop the clip (more of the same voice, not
        # silence) up to it
        samples = np.resize(samples, need)
        reason = f"{reason} (looped to {need / speech.sample_rate:.2f} s)"
    return embedder.encode_speech(
        audio,
        speech,
        samples,
        regions=regions,
        report=report,
        denoiser=denoiser,
        extras={"best_effort": reason},
    )
