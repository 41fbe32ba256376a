"""Which part of a reference holding two voices to keep: a voice split or a separated stream.

The rules the :class:`~voxref.pipeline.Embedder` applies to one prepared reference (anything with
``speech``, ``windows``, ``denoiser`` and an ``extras`` dict, e.g.
:class:`voxref.pipeline.PreparedReference`). Costly results (the voice split, the separated
streams) are computed once and kept in ``prepared.extras``.

* :func:`voice_split` — two voices, each re-embedded where it speaks alone (another talker's turns).
* :func:`lone_target` — the dominant voice of a reference used alone.
* :func:`separated_streams` — the reference split into two talkers by a separator.
* :func:`separated_target` — the separated stream to keep, if any (talkers at once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..encoding import WindowEmbeddings, l2_normalize

__all__ = [
    "voice_split",
    "lone_target",
    "separated_streams",
    "separated_target",
    "babble_denoiser_name",
]


def voice_split(prepared: Any, encoder: Any) -> Any:
    """Two voices of a reference, each re-embedded where it speaks alone (or ``None``).

    :func:`voxref.separation.dominant.split_voices` on the reference's speech (0.8 s windows
    every 0.2 s), computed once and kept in ``prepared.extras["voice_split"]``; ``None`` when
    it holds one voice or its audio was dropped.
    """
    from .dominant import split_voices

    if "voice_split" not in prepared.extras:
        if prepared.speech is None:
            return None
        prepared.extras["voice_split"] = split_voices(
            prepared.speech.samples, prepared.speech.sample_rate, encoder
        )
    return prepared.extras["voice_split"]


def lone_target(prepared: Any, encoder: Any) -> Any:
    """The dominant voice of a reference used alone, without another speaker's turns.

    :func:`voxref.separation.dominant.lone_reference_target` of :func:`voice_split`;
    ``None`` when it holds one voice or no voice dominates.
    """
    from .dominant import lone_reference_target

    return lone_reference_target(voice_split(prepared, encoder))


def separated_streams(
    prepared: Any,
    separator: Any,
    encoder: Any,
    *,
    level_dbfs: float | None,
    window: float | None,
    hop: float | None,
) -> Any:
    """The reference's speech split into two talkers, each as ``(windows, activity)``.

    ``separator`` on the speech, each stream levelled and embedded
    (:func:`voxref.separation.streams.stream_windows`); computed once and kept in
    ``prepared.extras["streams"]``. ``None`` when there is no separator or the audio was
    dropped before it was computed.
    """
    if "streams" not in prepared.extras:
        if prepared.speech is None or separator is None:
            return None
        from .separator import weaker_stream_db
        from .streams import stream_windows

        sp = prepared.speech
        raw = separator.split(sp.samples, sp.sample_rate)
        prepared.extras["weaker_stream_db"] = weaker_stream_db(raw, sp.samples)
        prepared.extras["streams"] = stream_windows(
            raw,
            sp.sample_rate,
            encoder,
            level_dbfs=level_dbfs,
            window=window,
            hop=hop,
        )
    return prepared.extras["streams"]


def separated_target(
    prepared: Any,
    streams: Any,
    target: np.ndarray | None,
    *,
    unseparated: Callable[[], np.ndarray],
    threshold_db: Callable[[], float | None],
    margin: float | None = None,
) -> tuple[WindowEmbeddings, Any] | None:
    """The reference's separated stream closest to ``target``, as ``(windows, activity)``.

    Parameters
    ----------
    prepared
        The prepared reference (its ``denoiser`` and ``extras["weaker_stream_db"]`` are read).
    streams
        Its :func:`separated_streams` (``None``: nothing to keep).
    target
        Unit-norm target embedding; ``None`` (a lone reference, no guide): the stream closest
        to the unseparated reference, i.e. the voice that dominates the mixture; only with a
        gated separator (without a gate nothing says the reference holds two voices, and no
        stream can be closer to the mixture than the mixture itself).
    unseparated
        A callable returning the reference's pooled embedding without separation (its windows
        pooled under the guided target activity, as the pipeline would pool them); called
        only once the gate has let the reference through.
    threshold_db
        A callable returning the one/two-voice gate's threshold: the quieter stream's level
        relative to the reference (dB, :func:`voxref.separation.separator.weaker_stream_db`)
        below which the reference counts as one voice; ``None``: no gate. Called only for a
        reference the babble rule lets through (it may load the separator, whose checkpoint
        holds the default).
    margin
        How much closer (cosine) than the unseparated reference the stream must be to the
        target; ``None``: ``-inf`` behind the gate, ``0`` without one.

    Returns
    -------
    ``None`` when the clean stage found babble-like noise (the ``"auto"`` policy's babble
    denoiser ran), when the gate says the reference holds one voice (its quieter stream below
    the threshold), when no stream is closer to ``target`` than the unseparated reference by
    ``margin`` (:func:`voxref.separation.streams.choose_stream`), or when the audio was dropped.
    """
    from .guide import TargetActivity
    from .streams import choose_stream

    if streams is None:
        return None
    if prepared.denoiser == babble_denoiser_name():
        # the clean stage judged the noise babble (a crowd, not a second talker): separating
        # it cost EER at babble 5 dB (BENCHMARKS.md, "Overlapped references")
        return None
    threshold = threshold_db()
    weaker = prepared.extras.get("weaker_stream_db")
    gated = threshold is not None and weaker is not None
    if gated and weaker < threshold:
        return None  # one voice: separating would only damage it
    if margin is None:
        margin = float("-inf") if gated else 0.0
    unseparated = unseparated()
    lone = target is None
    if lone:
        if not gated:
            return None
        target = l2_normalize(np.asarray(unseparated))
        margin = float("-inf")  # the mixture is the target here: no stream can beat it
    choice = choose_stream(
        [w.embeddings for w, _ in streams],
        np.asarray(unseparated)[None],
        target,
        stream_weights=[a for _, a in streams],
        margin=margin,
    )
    if choice.index is None:
        return None
    windows, z = streams[choice.index]
    act = TargetActivity(
        weights=z,
        overlap=np.zeros_like(z),
        other_speakers=1,
        confidence=float(np.clip(choice.stream_cosine, 0.0, 1.0)),
        overlap_ratio=0.0,
        reason=(
            "separated into two voices"
            + (f" (quieter stream {weaker:.1f} dB)" if gated else "")
            + (
                f"; no guide: the dominant voice's stream is kept (cosine "
                f"{choice.stream_cosine:.2f} to the unseparated reference)"
                if lone
                else f"; the one closest to the target is kept (cosine "
                f"{choice.stream_cosine:.2f} vs {choice.mixture_cosine:.2f} unseparated)"
            )
        ),
        similarity=windows.embeddings @ target if len(windows) else np.zeros(0),
        target=target,
    )
    return windows, act


def babble_denoiser_name() -> str:
    """Name of the denoiser the ``"auto"`` policy gives babble-like noise (``dfn3-lim<N>``)."""
    from ..cleaning.denoise import AUTO_BABBLE_ATTEN_LIM_DB

    return f"dfn3-lim{AUTO_BABBLE_ATTEN_LIM_DB:g}"
