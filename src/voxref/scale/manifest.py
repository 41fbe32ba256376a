"""Read a dataset manifest (CSV or Parquet) into :class:`Clip` rows.

A manifest lists the clips of a corpus, one row each:

==========  ========  ===========================================================================
column      needed    meaning
==========  ========  ===========================================================================
``path``    yes       audio file; relative paths are taken from the manifest's folder (or ``root``)
``speaker`` yes       speaker id: the clips of one speaker are pooled into one speaker embedding
``start``   no        segment start in seconds (default: the beginning of the file)
``end``     no        segment end in seconds (default: the end of the file)
``id``      no        clip id kept in the outputs (default: the path, with ``#start-end``)
==========  ========  ===========================================================================

Other columns are ignored. A missing ``path``/``speaker`` column refuses the whole manifest
(:class:`~voxref.errors.ConfigError`); a bad value in one row (empty path, ``end`` before
``start``, text where a number belongs) does not: that clip carries a ``problem`` and is reported
as failed in the output, so one typo in a 300,000-row manifest does not stop the run.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> with open(os.path.join(d, "m.csv"), "w") as fh:
...     _ = fh.write("path,speaker,start,end\\na.wav,s1,,\\nb.wav,s1,0.5,2.0\\nc.wav,s2,3,1\\n")
>>> clips = read_manifest(os.path.join(d, "m.csv"))
>>> [(c.index, os.path.basename(c.path), c.speaker, c.start, c.end) for c in clips]
[(0, 'a.wav', 's1', None, None), (1, 'b.wav', 's1', 0.5, 2.0), (2, 'c.wav', 's2', 3.0, 1.0)]
>>> clips[1].clip_id.endswith("b.wav#0.500-2.000"), clips[2].problem
(True, 'segment end 1 s is not after its start 3 s')
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["Clip", "read_manifest", "clips_from_records", "REQUIRED_COLUMNS"]

#: Columns every manifest must have.
REQUIRED_COLUMNS = ("path", "speaker")
OPTIONAL_COLUMNS = ("start", "end", "id")


@dataclass(frozen=True)
class Clip:
    """One row of a manifest.

    Attributes
    ----------
    index
        Row number in the manifest (0-based, header excluded): the clip's key in every output.
    path
        Audio file (absolute, or as given when no folder could resolve it).
    speaker
        Speaker id.
    start, end
        Segment bounds in seconds (``None``: from the beginning / to the end of the file).
    clip_id
        The ``id`` column, or the path (with ``#start-end`` for a segment).
    problem
        Why the row cannot be embedded (reported as a failed clip), or ``""``.
    """

    index: int
    path: str
    speaker: str
    start: float | None = None
    end: float | None = None
    clip_id: str = ""
    problem: str = ""

    @property
    def is_segment(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def source(self) -> str:
        """Name of the clip in reports: the path, with ``#start-end`` for a segment."""
        if not self.is_segment:
            return self.path
        start = 0.0 if self.start is None else self.start
        end = "end" if self.end is None else f"{self.end:.3f}"
        return f"{self.path}#{start:.3f}-{end}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Clip:
        return cls(**d)


def _number(value: Any, name: str) -> tuple[float | None, str]:
    """``(seconds or None, problem)`` of one optional numeric cell."""
    if value is None:
        return None, ""
    if isinstance(value, float) and math.isnan(value):
        return None, ""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None, ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None, f"{name}={value!r} is not a number of seconds"
    if not math.isfinite(x) or x < 0:
        return None, f"{name}={value!r} must be a finite, non-negative number of seconds"
    return x, ""


def clips_from_records(
    records: list[dict[str, Any]], root: str | os.PathLike | None = None
) -> list[Clip]:
    """Turn manifest rows (dicts with at least ``path`` and ``speaker``) into :class:`Clip` s.

    Parameters
    ----------
    records
        One dict per row.
    root
        Folder that relative paths are relative to (default: the current folder).

    Examples
    --------
    >>> clips_from_records([{"path": "/data/a.wav", "speaker": 7}])[0].speaker
    '7'
    """
    base = Path(root) if root is not None else None
    clips: list[Clip] = []
    for i, rec in enumerate(records):
        problems: list[str] = []
        raw_path = rec.get("path")
        path = "" if raw_path is None else os.fspath(raw_path).strip()
        if not path:
            problems.append("empty path")
        elif base is not None and not os.path.isabs(path):
            path = str(base / path)
        raw_spk = rec.get("speaker")
        speaker = "" if raw_spk is None else str(raw_spk).strip()
        if isinstance(raw_spk, float) and math.isnan(raw_spk):
            speaker = ""
        if not speaker:
            problems.append("empty speaker")
        start, p1 = _number(rec.get("start"), "start")
        end, p2 = _number(rec.get("end"), "end")
        problems += [p for p in (p1, p2) if p]
        if start is not None and end is not None and end <= start:
            problems.append(f"segment end {end:g} s is not after its start {start:g} s")
        clip = Clip(i, path, speaker, start, end, "", "; ".join(problems))
        cid = rec.get("id")
        cid = "" if cid is None or (isinstance(cid, float) and math.isnan(cid)) else str(cid)
        clips.append(Clip(i, path, speaker, start, end, cid.strip() or clip.source, clip.problem))
    return clips


def _read_records(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        from .storage import require_pyarrow

        pq = require_pyarrow("reading a Parquet manifest").parquet
        table = pq.read_table(path)
        columns = list(table.column_names)
        wanted = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in columns]
        return table.select(wanted).to_pylist(), columns
    if suffix in (".csv", ".tsv", ".txt"):
        with open(path, newline="", encoding="utf-8-sig") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            delimiter = "\t" if suffix == ".tsv" or ("\t" in sample and "," not in sample) else ","
            reader = csv.DictReader(fh, delimiter=delimiter)
            rows = list(reader)
            columns = [c.strip() for c in (reader.fieldnames or [])]
        rows = [{(k or "").strip(): v for k, v in r.items()} for r in rows]
        return rows, columns
    raise ConfigError(
        f"{path}: unknown manifest format {suffix!r}; give a .csv, .tsv or .parquet file with "
        "columns path, speaker (and optionally start, end, id)."
    )


def read_manifest(
    manifest: str | os.PathLike, *, root: str | os.PathLike | None = None
) -> list[Clip]:
    """The clips listed in a CSV/TSV/Parquet manifest, in row order.

    Parameters
    ----------
    manifest
        The manifest file.
    root
        Folder that relative paths are relative to (default: the manifest's folder).

    Raises
    ------
    voxref.errors.ConfigError
        The file is missing, of an unknown type, empty, or lacks a required column.
    """
    path = Path(manifest)
    if not path.is_file():
        raise ConfigError(f"manifest {path} not found; pass a CSV or Parquet file.")
    records, columns = _read_records(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ConfigError(
            f"manifest {path} has no column {', '.join(repr(c) for c in missing)} (columns: "
            f"{', '.join(columns) or 'none'}); it needs 'path' and 'speaker', optionally "
            "'start', 'end' (seconds) and 'id'."
        )
    if not records:
        raise ConfigError(f"manifest {path} lists no clip.")
    return clips_from_records(records, root if root is not None else path.parent)
