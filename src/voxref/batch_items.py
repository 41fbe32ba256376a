"""What a folder holds for :func:`voxref.embed_dir`: its batch items, and the files it leaves out.

:func:`discover` walks a folder (links to folders are not followed, the output folder is left
out) and makes one :class:`BatchItem` per matching file (``per="file"``) or per speaker
sub-folder (``per="speaker-folder"``); files matching no pattern are returned so that they are
listed, not silently dropped.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> for name in ("a.wav", "B.FLAC", "notes.txt"):
...     _ = open(os.path.join(d, name), "wb").write(b"")
>>> items, ignored = discover(d)
>>> [(it.key, it.output) for it in items], ignored
([('B.FLAC', 'embeddings/B.FLAC.npy'), ('a.wav', 'embeddings/a.wav.npy')], ['notes.txt'])
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

__all__ = ["AUDIO_PATTERNS", "PER_MODES", "EMBED_DIR", "BatchItem", "discover"]

#: File-name patterns embedded by default (case-insensitive).
AUDIO_PATTERNS = (
    "*.wav",
    "*.flac",
    "*.ogg",
    "*.oga",
    "*.opus",
    "*.mp3",
    "*.aif",
    "*.aiff",
    "*.au",
    "*.w64",
    "*.caf",
)
PER_MODES = ("file", "speaker-folder")
#: Sub-folder of the output folder that holds the embeddings.
EMBED_DIR = "embeddings"


@dataclass(frozen=True)
class BatchItem:
    """One unit of work: a file (``per="file"``) or a speaker folder.

    Attributes
    ----------
    key
        Its name in the ledger and summary: the file's path relative to the input folder, or the
        speaker folder's name.
    inputs
        The audio files it is embedded from.
    output
        Path of its ``.npy``, relative to the output folder.
    skip_reason
        Set when the item is reported without being embedded (e.g. a file outside any speaker
        folder).
    """

    key: str
    inputs: tuple[Path, ...]
    output: str
    skip_reason: str = ""


def _matches(name: str, patterns: Sequence[str]) -> bool:
    low = name.lower()
    return any(fnmatch.fnmatchcase(low, p.lower()) for p in patterns)


def _walk_files(root: Path, exclude: Path | None, skipped: list[Path]) -> Iterator[Path]:
    """Every file under ``root``, sorted; links to folders are not followed but noted in ``skipped``."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            if exclude is not None and (here / d).resolve() == exclude:
                continue
            if (here / d).is_symlink():
                skipped.append(here / d)
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            yield here / f


def discover(
    directory: str | os.PathLike,
    *,
    pattern: str | Sequence[str] = AUDIO_PATTERNS,
    per: str = "file",
    exclude: str | os.PathLike | None = None,
) -> tuple[list[BatchItem], list[str]]:
    """The batch items of ``directory`` and the files that matched no pattern.

    Returns
    -------
    items, ignored
        Items sorted by key; ``ignored`` holds the relative paths of files not matching
        ``pattern`` (listed in the summary so nothing disappears silently).
    """
    if per not in PER_MODES:
        raise ConfigError(f"per={per!r}; use one of {PER_MODES}.")
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder; pass the folder that holds the recordings.")
    patterns = (pattern,) if isinstance(pattern, str) else tuple(pattern)
    if not patterns:
        raise ConfigError("pattern is empty; give at least one file-name pattern such as '*.wav'.")
    ex = Path(exclude).resolve() if exclude is not None else None
    matched: list[Path] = []
    ignored: list[str] = []
    linked: list[Path] = []
    for f in _walk_files(root, ex, linked):
        if _matches(f.name, patterns):
            matched.append(f)
        else:
            ignored.append(f.relative_to(root).as_posix())
    ignored += [
        f"{d.relative_to(root).as_posix()}/ (link to a folder: not followed)" for d in linked
    ]
    items: list[BatchItem] = []
    if per == "file":
        for f in matched:
            rel = f.relative_to(root).as_posix()
            items.append(BatchItem(rel, (f,), f"{EMBED_DIR}/{rel}.npy"))
        return items, ignored
    speakers: dict[str, list[Path]] = {}
    for f in matched:
        parts = f.relative_to(root).parts
        if len(parts) == 1:
            items.append(
                BatchItem(
                    parts[0],
                    (f,),
                    "",
                    "not inside a speaker folder; put each speaker's files in DIR/<speaker>/",
                )
            )
        else:
            speakers.setdefault(parts[0], []).append(f)
    for d in sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and (ex is None or p.resolve() != ex)
    ):
        if d.name not in speakers:
            items.append(
                BatchItem(d.name + "/", (), "", "speaker folder holds no file matching the pattern")
            )
    for spk, files in speakers.items():
        items.append(BatchItem(spk + "/", tuple(files), f"{EMBED_DIR}/{spk}.npy"))
    items.sort(key=lambda it: it.key)
    return items, ignored
