"""Which voice or separated stream of a reference the :class:`~voxref.pipeline.Embedder` keeps.

:class:`VoiceKeeping` holds the Embedder's methods that apply the rules of
:mod:`voxref.separation.keep` with its encoder, separator, level and windows; :func:`separator_spec`
reads the ``separate=`` option.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..encoding import WindowEmbeddings
from ..errors import MissingCheckpointError
from .results import PreparedReference

__all__ = ["VoiceKeeping", "separator_spec", "one_voice_by_windows", "ONE_VOICE_COSINE"]

ONE_VOICE_COSINE = 0.863
"""Centroid cosine of the two Ward clusters of a reference's encoder windows (1.6 s every 0.4 s)
at or above which it holds one voice. Chosen on the tuning voices (espeak-ng, group A; long
references of 6 corpus clips, clean, white noise 5 dB, reverberation 0.6 s, or another speaker
taking 20/35/45 % in turns): midway between the highest cosine of a reference the short-window
search splits into two voices and the lowest of a clean, noisy or reverberant one. Both, and
what it skips on the reporting voices: BENCHMARKS.md, "Speed" (``benchmarks/speed/voice_gate.py``)."""

ONE_VOICE_MIN_WINDOWS = 40
"""Fewest encoder windows (about 17 s of speech) for :data:`ONE_VOICE_COSINE` to apply; the
references it was measured on had 43 or more."""


class VoiceKeeping:
    """The voice split, separator and stream choice of an :class:`~voxref.pipeline.Embedder`.

    A mixin: it uses the Embedder's ``encoder``, ``separate``, ``device``, ``level_dbfs``,
    ``advanced`` and its lock.
    """

    def voice_split(self, prepared: PreparedReference) -> Any:
        """Two voices of a reference, each re-embedded where it speaks alone (or ``None``).

        :func:`voxref.separation.keep.voice_split` with this embedder's encoder.
        """
        from ..separation.keep import voice_split

        return voice_split(prepared, self.encoder)

    @property
    def separator(self) -> Any:
        """The two-talker separator (loaded on first use; ``None`` when ``separate`` is off)."""
        if self.separate is None:
            return None
        with self._lock:
            if self._separator is None:
                if isinstance(self.separate, Path):
                    from ..separation.separator import TwoSpeakerSeparator

                    self._separator = TwoSpeakerSeparator.load(self.separate)
                else:
                    from ..separation.speechbrain_separator import SpeechBrainSeparator

                    self._separator = SpeechBrainSeparator.load(self.separate, device=self.device)
        return self._separator

    def separated_streams(self, prepared: PreparedReference) -> Any:
        """The reference's speech split into two talkers, each as ``(windows, activity)``.

        :func:`voxref.separation.keep.separated_streams` with :attr:`separator`, this
        embedder's encoder, level and windows. ``None`` when ``separate`` is off or the audio
        was dropped before it was computed.
        """
        from ..separation.keep import separated_streams

        if "streams" in prepared.extras:
            return prepared.extras["streams"]  # without loading the separator
        if prepared.speech is None or self.separator is None:
            return None
        return separated_streams(
            prepared,
            self.separator,
            self.encoder,
            level_dbfs=self.level_dbfs,
            window=self.advanced.window,
            hop=self.advanced.hop,
        )

    def separated_target(
        self, prepared: PreparedReference, target: np.ndarray | None, activity: Any = None
    ) -> tuple[WindowEmbeddings, Any] | None:
        """The reference's separated stream closest to ``target``, as ``(windows, activity)``.

        :func:`voxref.separation.keep.separated_target` of :meth:`separated_streams`, with this
        embedder's ``advanced.separate_threshold_db`` and ``advanced.separate_margin``; the
        unseparated reference is its windows pooled under ``activity`` (the guided target
        activity), as :meth:`~voxref.pipeline.Embedder.combine` would pool them. ``target=None``: a lone reference without a guide.
        """
        from ..embedder.pooling import guided_window_pool
        from ..separation.keep import separated_target

        def unseparated() -> np.ndarray:
            if activity is not None:
                pooled, _ = guided_window_pool(prepared.windows, activity.weights, activity.overlap)
            else:
                pooled, _ = guided_window_pool(prepared.windows)
            return pooled

        def threshold_db() -> float | None:
            if self.advanced.separate_threshold_db is not None:
                return self.advanced.separate_threshold_db
            return getattr(self.separator, "separation_threshold_db", None)

        return separated_target(
            prepared,
            self.separated_streams(prepared),
            target,
            unseparated=unseparated,
            threshold_db=threshold_db,
            margin=self.advanced.separate_margin,
        )

    def lone_target(self, prepared: PreparedReference) -> Any:
        """The dominant voice of a reference used alone, without another speaker's turns.

        :func:`voxref.separation.keep.lone_target` with this embedder's encoder; ``None`` when
        it holds one voice or no voice dominates. A long reference whose encoder windows
        already show one voice (:func:`one_voice_by_windows`) is not searched with short
        windows (the search would find one voice too).
        """
        from ..separation.keep import lone_target

        if "voice_split" not in prepared.extras and one_voice_by_windows(prepared.windows):
            return None
        return lone_target(prepared, self.encoder)


def one_voice_by_windows(windows: WindowEmbeddings) -> bool:
    """Do a long reference's encoder windows alone show that it holds one voice?

    The cosine between the centroids of the two Ward clusters of its window embeddings is at
    least :data:`ONE_VOICE_COSINE`, and it has at least :data:`ONE_VOICE_MIN_WINDOWS` windows
    (the lengths the threshold was measured on). Free: the windows are already there, where
    the short-window search of :func:`voxref.separation.dominant.split_voices` is a large share
    of a long reference's call. Measured with ``benchmarks/speed/voice_gate.py``.
    """
    if len(windows) < ONE_VOICE_MIN_WINDOWS:
        return False
    from ..separation.clustering import cluster_centroids, ward_clusters

    e = np.asarray(windows.embeddings, dtype=np.float64)
    labels, _ = ward_clusters(e, num_speakers=2)
    c = cluster_centroids(e, labels)
    return bool(c[0] @ c[1] >= ONE_VOICE_COSINE)


def separator_spec(separate: bool | str | os.PathLike) -> str | Path | None:
    """``None`` (off), a voxref separator checkpoint ``Path``, or a SpeechBrain directory / hub
    id ``str``; a missing voxref checkpoint fails here, not at the first reference."""
    if separate is False or separate is None:
        return None
    from ..loading.modules import means_shipped
    from ..separation.speechbrain_separator import is_speechbrain_separator

    if means_shipped(separate):
        from ..separation.separator import default_checkpoint

        separate = default_checkpoint()
    elif is_speechbrain_separator(separate):
        return str(separate)
    path = Path(separate)
    if not path.is_file():
        raise MissingCheckpointError(
            f"no separator checkpoint at {path}; pass separate=False, a SpeechBrain separation "
            "model (directory or hub id), or train one with scripts/train_separator.py."
        )
    return path
