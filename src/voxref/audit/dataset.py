"""Read a TTS training set: its clips, their speakers, and the metadata lines that list them.

Three layouts are understood:

* **metadata file** (LJSpeech ``metadata.csv``: ``id|text|normalized``, no header; also Piper's
  ``id|speaker|text`` and any ``|``, tab or comma separated list whose first column names the
  clip). The clip is ``DATASET/wavs/<id>.wav``, else ``DATASET/<id>.wav``, else ``DATASET/<id>``
  (an id may hold a relative path, with or without extension). One speaker, unless
  ``speaker_column`` says which column holds it (a 0-based index, or a header name when the
  file has a header row whose first cell is ``id``, ``path``, ``file``, ``audio`` or ``wav``).
  ``DATASET/metadata.csv`` is used when present and no metadata file is named.
* **one folder per speaker** (``DATASET/<speaker>/**/*.wav``, no audio directly in DATASET).
* **a folder of clips** of one speaker (``DATASET/**/*.wav``).

Every clip keeps the metadata line it came from, so the audit can write the same file back
without the flagged clips (:func:`write_filtered`).

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp(); os.makedirs(os.path.join(d, "wavs"))
>>> for i in ("a1", "a2"):
...     open(os.path.join(d, "wavs", i + ".wav"), "wb").close()
>>> _ = open(os.path.join(d, "metadata.csv"), "w").write("a1|Hi.|hi.\\na2|Yes.|yes.\\n")
>>> ds = read_dataset(d)
>>> ds.layout, [(c.clip_id, c.speaker, os.path.basename(c.path)) for c in ds.clips]
('metadata', [('a1', 'speaker', 'a1.wav'), ('a2', 'speaker', 'a2.wav')])
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..batch import AUDIO_PATTERNS, discover
from ..errors import ConfigError

__all__ = ["DatasetClip", "Dataset", "read_dataset", "write_filtered", "DEFAULT_SPEAKER"]

#: Speaker name given to the clips of a one-speaker set.
DEFAULT_SPEAKER = "speaker"
#: First header cells that mark a metadata file's first line as a header.
HEADER_NAMES = ("id", "path", "file", "file_name", "filename", "audio", "wav", "audio_file")
_EXTENSIONS = tuple(p[1:] for p in AUDIO_PATTERNS)  # ".wav", ".flac", ...


@dataclass(frozen=True)
class DatasetClip:
    """One clip of the set.

    Attributes
    ----------
    clip_id
        Its id (the metadata's first column, or the path relative to the dataset folder).
    path
        Audio file (absolute); may not exist (then the audit reports it as unreadable).
    speaker
        Its speaker.
    line
        The metadata line it came from (without the line break), ``""`` in folder layouts.
    """

    clip_id: str
    path: str
    speaker: str
    line: str = ""


@dataclass
class Dataset:
    """The clips of a set and how it was laid out (:func:`read_dataset`)."""

    root: Path
    layout: str  # "metadata", "speaker-folders" or "folder"
    clips: list[DatasetClip] = field(default_factory=list)
    metadata: Path | None = None
    header: str | None = None
    delimiter: str = "|"

    @property
    def speakers(self) -> list[str]:
        """Speaker names, in order of first appearance."""
        return list(dict.fromkeys(c.speaker for c in self.clips))


def _sniff_delimiter(first: str) -> str:
    for d in ("|", "\t", ","):
        if d in first:
            return d
    return "|"


def _resolve_audio(root: Path, metadata_dir: Path, cid: str) -> Path:
    """The audio file a metadata id names (the first candidate that exists, else the first)."""
    candidates = []
    for base in dict.fromkeys((root, metadata_dir)):
        for sub in ("wavs", ""):
            folder = base / sub if sub else base
            if cid.lower().endswith(_EXTENSIONS):
                candidates.append(folder / cid)
            else:
                candidates += [folder / f"{cid}{ext}" for ext in (".wav", ".flac")]
                candidates.append(folder / cid)
    for c in candidates:
        if c.is_file():
            return c.resolve()
    return candidates[0].resolve() if candidates else (root / cid).resolve()


def _speaker_index(header: list[str] | None, speaker_column: str | int | None) -> int | None:
    if speaker_column is None:
        return None
    if isinstance(speaker_column, int) or str(speaker_column).lstrip("-").isdigit():
        idx = int(speaker_column)
        if idx < 0:
            raise ConfigError(f"speaker column {idx} is negative; count columns from 0.")
        return idx
    if header is None:
        raise ConfigError(
            f"speaker column {speaker_column!r} is a name, but the metadata file has no header "
            "row; give the column's 0-based number instead (e.g. 1 for Piper's id|speaker|text)."
        )
    if speaker_column not in header:
        raise ConfigError(f"the metadata header has no column {speaker_column!r}; it has {header}.")
    return header.index(str(speaker_column))


def _read_metadata(
    root: Path, metadata: Path, speaker_column: str | int | None, speaker: str
) -> Dataset:
    try:
        text = metadata.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the metadata file {metadata} ({exc}).") from exc
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ConfigError(f"the metadata file {metadata} lists no clip.")
    delimiter = _sniff_delimiter(next(line for line in lines if line.strip()))
    ds = Dataset(root, "metadata", metadata=metadata, delimiter=delimiter)
    header: list[str] | None = None
    first = True
    idx: int | None = None
    for line in lines:
        if not line.strip():
            continue
        cells = next(csv.reader(io.StringIO(line), delimiter=delimiter, quoting=csv.QUOTE_NONE))
        if first:
            first = False
            if cells and cells[0].strip().lower() in HEADER_NAMES:
                header, ds.header = [c.strip() for c in cells], line
                idx = _speaker_index(header, speaker_column)
                continue
            idx = _speaker_index(None, speaker_column)
        cid = cells[0].strip()
        if not cid:
            continue
        spk = speaker
        if idx is not None:
            if idx >= len(cells) or not cells[idx].strip():
                raise ConfigError(
                    f"{metadata}: the line of clip {cid!r} has no speaker in column {idx} "
                    f"({len(cells)} columns); check --speaker-column."
                )
            spk = cells[idx].strip()
        path = _resolve_audio(root, metadata.parent, cid)
        ds.clips.append(DatasetClip(cid, str(path), spk, line))
    if not ds.clips:
        raise ConfigError(f"the metadata file {metadata} lists no clip.")
    ids = [c.clip_id for c in ds.clips]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ConfigError(f"{metadata} lists clip ids more than once: {dup}; fix the file.")
    return ds


def read_dataset(
    directory: str | os.PathLike,
    *,
    metadata: str | os.PathLike | None = None,
    speaker_column: str | int | None = None,
    speaker: str = DEFAULT_SPEAKER,
    exclude: str | os.PathLike | None = None,
) -> Dataset:
    """The clips of the TTS set in ``directory`` (see the module docstring for the layouts).

    Parameters
    ----------
    directory
        The dataset folder.
    metadata
        Metadata file (absolute, or relative to ``directory``); default ``metadata.csv`` when
        it exists, else a folder layout.
    speaker_column
        Column of the metadata holding each clip's speaker (0-based index or header name).
    speaker
        Speaker name of a one-speaker set.
    exclude
        A folder not to search for audio (the audit's output, when it sits inside the set).

    Raises
    ------
    voxref.errors.ConfigError
        No such folder, an unreadable or empty metadata file, a bad speaker column, or no audio.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder; pass the dataset folder (holding wavs/).")
    if metadata is not None:
        meta = Path(metadata)
        if not meta.is_absolute() and not meta.exists():
            meta = root / meta
        if not meta.is_file():
            raise ConfigError(f"no metadata file {metadata}; give its path (e.g. metadata.csv).")
        return _read_metadata(root, meta, speaker_column, speaker)
    if (root / "metadata.csv").is_file():
        return _read_metadata(root, root / "metadata.csv", speaker_column, speaker)
    if speaker_column is not None:
        raise ConfigError(
            "--speaker-column needs a metadata file; none was given and there is no "
            f"{root / 'metadata.csv'}."
        )
    items, _ = discover(root, exclude=exclude)
    if not items:
        raise ConfigError(f"{root} holds no audio file ({', '.join(AUDIO_PATTERNS[:3])}, ...).")
    top_level = [it for it in items if "/" not in it.key]
    if top_level:
        clips = [DatasetClip(it.key, str(it.inputs[0].resolve()), speaker) for it in items]
        return Dataset(root, "folder", clips)
    clips = [
        DatasetClip(it.key, str(it.inputs[0].resolve()), it.key.split("/", 1)[0]) for it in items
    ]
    return Dataset(root, "speaker-folders", clips)


def write_filtered(dataset: Dataset, keep: set[str], path: str | os.PathLike) -> Path:
    """Write ``dataset``'s metadata with only the clips in ``keep`` (same lines, same header).

    In folder layouts (no metadata file) a list of the kept clips' paths relative to the dataset
    folder is written instead, one per line.
    """
    from ..atomic import atomic_write_text

    if dataset.metadata is not None:
        lines = ([dataset.header] if dataset.header is not None else []) + [
            c.line for c in dataset.clips if c.clip_id in keep
        ]
    else:
        lines = [c.clip_id for c in dataset.clips if c.clip_id in keep]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return Path(path)
