"""Sound sources for the additive transforms: load noise/speech given as arrays, files or folders,
and cut or loop them to the length needed.

Arrays are taken to be at the sample rate of the call that uses them; pass ``(array, rate)``
to have one resampled. Files are read with :func:`voxref.audio.load_audio` (downmixed and
resampled to the call's rate) on first use and cached per rate. A folder stands for the audio
files below it (sorted, so choices are reproducible).

Examples
--------
>>> import numpy as np
>>> bank = SourceBank([np.arange(5, dtype=np.float32)])
>>> fit_length(bank.get(0, 16000), 7, np.random.default_rng(0)).shape
(7,)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioFileNotFoundError, ConfigError, EmptyAudioError

__all__ = [
    "AUDIO_EXTENSIONS",
    "SourceLike",
    "SourceBank",
    "fit_length",
    "fit_length_active",
    "list_audio_files",
]

log = logging.getLogger(__name__)

#: File endings a folder source is searched for.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")

#: One source: an array (at the call's rate), an ``(array, rate)`` pair, a file or a folder.
SourceLike = np.ndarray | tuple | str | os.PathLike


def list_audio_files(folder: str | os.PathLike) -> list[Path]:
    """Audio files below ``folder`` (recursive), sorted.

    Examples
    --------
    >>> import tempfile
    >>> list_audio_files(tempfile.mkdtemp())
    []
    """
    root = Path(folder)
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
    )


def fit_length(source: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Random crop (longer source) or loop from a random offset (shorter source) to ``num_samples``.

    Examples
    --------
    >>> x = np.arange(3, dtype=np.float32)
    >>> fit_length(x, 7, np.random.default_rng(0)).tolist() in (
    ...     [0, 1, 2, 0, 1, 2, 0], [1, 2, 0, 1, 2, 0, 1], [2, 0, 1, 2, 0, 1, 2])
    True
    """
    x = np.asarray(source).reshape(-1)
    if x.size == 0:
        raise EmptyAudioError("a noise/speech source has no samples.")
    if num_samples <= 0:
        return x[:0].copy()
    if x.size >= num_samples:
        start = int(rng.integers(0, x.size - num_samples + 1))
        return x[start : start + num_samples].copy()
    start = int(rng.integers(0, x.size))
    reps = -(-(num_samples + start) // x.size)
    return np.tile(x, reps)[start : start + num_samples].copy()


def fit_length_active(
    source: np.ndarray, num_samples: int, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Like :func:`fit_length`, but a crop always contains an active sample of ``source``.

    A sample is drawn uniformly among the source's active samples
    (:func:`~voxref.augment.levels.active_sample_mask`) and the crop is placed at a random
    position around it, so a short cut never lands entirely in a pause.

    Examples
    --------
    >>> x = np.zeros(1000, dtype=np.float32)
    >>> x[900:920] = 1.0
    >>> all(fit_length_active(x, 50, 1000, np.random.default_rng(s)).any() for s in range(20))
    True
    """
    from .levels import active_sample_mask

    x = np.asarray(source).reshape(-1)
    if x.size <= num_samples:
        return fit_length(x, num_samples, rng)
    active = np.flatnonzero(active_sample_mask(x, sample_rate))
    if active.size == 0:
        return fit_length(x, num_samples, rng)
    c = int(active[int(rng.integers(active.size))])
    start = min(max(0, c - int(rng.integers(0, num_samples))), x.size - num_samples)
    return x[start : start + num_samples].copy()


class SourceBank:
    """An indexed collection of sources (arrays, files, folders expanded to their files).

    Parameters
    ----------
    sources
        A source or a sequence of them (see the module docstring).

    Examples
    --------
    >>> bank = SourceBank([np.zeros(3, dtype=np.float32), np.ones(4, dtype=np.float32)])
    >>> len(bank), bank.describe(1)
    (2, '<array 1>')
    """

    def __init__(self, sources: SourceLike | Sequence[SourceLike]) -> None:
        items = self._as_list(sources)
        self._entries: list[Any] = []
        for i, s in enumerate(items):
            if isinstance(s, (str, os.PathLike)):
                p = Path(s)
                if p.is_dir():
                    files = list_audio_files(p)
                    if not files:
                        raise AudioFileNotFoundError(
                            f"folder has no audio files ({', '.join(AUDIO_EXTENSIONS)}).", str(p)
                        )
                    self._entries.extend(files)
                elif p.exists():
                    self._entries.append(p)
                else:
                    raise AudioFileNotFoundError("no such file or folder; check the path.", str(p))
            elif isinstance(s, tuple) and len(s) == 2 and np.isscalar(s[1]):
                self._entries.append((np.asarray(s[0]), int(s[1]), f"<array {i}>"))
            else:
                arr = np.asarray(s)
                if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.floating):
                    raise ConfigError(
                        f"source {i} has shape {arr.shape} / dtype {arr.dtype}; give 1-D float arrays, "
                        "(array, sample_rate) pairs, files or folders."
                    )
                self._entries.append((arr, None, f"<array {i}>"))
        if not self._entries:
            raise ConfigError("no sources given.")
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    @staticmethod
    def _as_list(sources: Any) -> list[Any]:
        if isinstance(sources, (str, os.PathLike, np.ndarray)):
            return [sources]
        if isinstance(sources, tuple) and len(sources) == 2 and np.isscalar(sources[1]):
            return [sources]
        return list(sources)

    def __len__(self) -> int:
        return len(self._entries)

    def describe(self, index: int) -> str:
        """File path or ``"<array i>"`` of entry ``index``."""
        e = self._entries[index]
        return str(e) if isinstance(e, Path) else e[2]

    def get(self, index: int, sample_rate: int) -> np.ndarray:
        """Samples of entry ``index`` at ``sample_rate`` (float32, 1-D; cached)."""
        key = (index, int(sample_rate))
        if key not in self._cache:
            from ..audio.load import load_audio

            e = self._entries[index]
            if isinstance(e, Path):
                x = load_audio(e, target_sample_rate=sample_rate).samples
            elif e[1] is not None:
                x = load_audio((e[0], e[1]), target_sample_rate=sample_rate, source=e[2]).samples
            else:
                x = np.asarray(e[0], dtype=np.float32)
            self._cache[key] = x
        return self._cache[key]

    def pick(self, rng: np.random.Generator) -> int:
        """A uniformly drawn entry index."""
        return int(rng.integers(len(self._entries)))
