"""One diarization per recording: a diarizer that keeps its results by the audio's content.

:func:`voxref.prompt` diarizes every reference; a report that shows the prompt
(``voxref inspect --prompt``) draws the same references' speaker turns. Both go through one
:class:`RememberingDiarizer`, so each recording is diarized once. Results are keyed by the
samples' bytes, their rate and the call's options (never by object identity), so a different
recording, rate or speaker count is diarized afresh.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["RememberingDiarizer"]


def _samples_and_rate(audio: Any, sample_rate: int | None) -> tuple[np.ndarray, int] | None:
    """``(samples, rate)`` of an in-memory input (``Audio`` or ``(array, rate)``), else ``None``."""
    if hasattr(audio, "samples") and hasattr(audio, "sample_rate"):
        return np.asarray(audio.samples), int(audio.sample_rate)
    if (
        isinstance(audio, tuple)
        and len(audio) == 2
        and isinstance(audio[0], np.ndarray)
        and isinstance(audio[1], (int, np.integer))
    ):
        return audio[0], int(audio[1])
    if isinstance(audio, np.ndarray) and sample_rate is not None:
        return audio, int(sample_rate)
    return None


class RememberingDiarizer:
    """A diarizer (``voxref.separation.diarization.Diarizer`` by default) that remembers.

    Parameters
    ----------
    diarizer
        The diarizer to call (anything called as ``diarizer(audio, sample_rate, **options)``
        returning a ``DiarizationResult``). Its other attributes (``encoder``, ``level``...) are
        reachable through this object.
    max_items
        How many results to keep (the oldest go first); ``None``: all.

    Examples
    --------
    >>> calls = []
    >>> class Stub:
    ...     def __call__(self, audio, sample_rate=None, **kw):
    ...         calls.append(1)
    ...         return "turns"
    >>> d = RememberingDiarizer(Stub())
    >>> x = np.zeros(16000, np.float32)
    >>> d((x, 16000)), d((x.copy(), 16000)), d((x, 8000)), len(calls)
    ('turns', 'turns', 'turns', 2)
    """

    def __init__(self, diarizer: Any = None, *, max_items: int | None = None) -> None:
        if diarizer is None:
            from ..separation.diarization import Diarizer

            diarizer = Diarizer()
        self.diarizer = diarizer
        self.max_items = max_items
        self._results: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("diarizer", "max_items"):
            raise AttributeError(name)
        return getattr(self.diarizer, name)

    def __call__(self, audio: Any, sample_rate: int | None = None, **options: Any) -> Any:
        """The diarizer's result for ``audio``, computed once per recording and options."""
        found = _samples_and_rate(audio, sample_rate)
        if found is None:  # a path: nothing to key on without reading it; no reuse
            return self.diarizer(audio, sample_rate, **options)
        x, sr = found
        digest = hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()
        key = (sr, str(x.dtype), digest, tuple(sorted(options.items())))
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        res = self.diarizer(audio, sample_rate, **options)
        with self._lock:
            self._results[key] = res
            while self.max_items is not None and len(self._results) > self.max_items:
                self._results.popitem(last=False)
        return res

    def annotation(self, audio: Any, sample_rate: int | None = None) -> Any:
        """Speaker turns (``pyannote.core.Annotation``) of ``audio``, as :func:`voxref.diarize`
        gives them with default options."""
        return self(audio, sample_rate).annotation
