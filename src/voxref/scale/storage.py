"""The output folder of :func:`voxref.scale.embed_dataset`: layout, Parquet schemas, atomic writes.

Layout of ``OUT/``
------------------
=================================  ===========================================================
``dataset.json``                   the run's settings and the manifest fingerprint
``clips/shard-000000.parquet``     one row per clip (:data:`CLIP_SCHEMA`), a shard at a time
``clips/_parts/``                  single-clip pieces of a shard whose worker died (merged
                                   into the shard file, then removed)
``speakers/bucket-000000.parquet`` one row per speaker (:data:`SPEAKER_SCHEMA`)
``ledger.jsonl``                   the state (size, times, SHA-256) of each finished clip
                                   shard's input files: a shard whose inputs changed is
                                   embedded again on the next run
``summary.json``                   counts, throughput, every failed clip and speaker
=================================  ===========================================================

Every file is written by :func:`voxref.atomic.atomic_write` (a temporary name, ``fsync``, rename),
so a file either is complete or is not there: a killed run loses at most the shards in flight, and
the next run computes exactly those.

Reading back: :func:`read_speaker_embeddings` (``{speaker: vector}``), :func:`read_clips`
(a ``pyarrow.Table`` of every clip row; ``pandas`` via ``.to_pandas()``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import MissingDependencyError

__all__ = [
    "require_pyarrow",
    "clip_schema",
    "speaker_schema",
    "write_parquet",
    "shard_path",
    "part_path",
    "bucket_path",
    "read_clips",
    "read_speakers",
    "read_speaker_embeddings",
    "list_arrays",
    "CLIPS_DIR",
    "SPEAKERS_DIR",
    "PARTS_DIR",
]

CLIPS_DIR = "clips"
SPEAKERS_DIR = "speakers"
PARTS_DIR = "_parts"
CONFIG_FILE = "dataset.json"
LEDGER_FILE = "ledger.jsonl"


def require_pyarrow(purpose: str = "voxref embed-dataset") -> Any:
    """``pyarrow`` (with ``pyarrow.parquet`` loaded), or a :class:`MissingDependencyError`."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("pyarrow", "pyarrow", purpose) from exc
    return pyarrow


def clip_schema() -> Any:
    """Schema of a clip row.

    ``status`` is ``"ok"`` (embedded), ``"rejected"`` (the audio is unusable: ``error`` names
    the :mod:`voxref.errors` class, ``reason`` says why) or ``"failed"`` (an internal error, or
    the worker process died on this clip ``max_crashes`` times: ``error="ProcessDied"``).
    ``embedding`` is the clip's own embedding (what ``voxref.embed([clip])`` returns);
    ``windows`` holds the ``num_windows x dimension`` window embeddings row-major (float32),
    with ``window_starts``/``window_ends`` in seconds: what the speaker stage pools.
    ``quality`` is the clip's :class:`~voxref.cleaning.quality.QualityReport` as JSON.
    ``seconds`` / ``cpu_seconds`` are the wall / CPU time the worker spent on the clip, and
    ``worker`` is ``host:pid`` of the process that embedded it.
    """
    pa = require_pyarrow()
    f32 = pa.list_(pa.float32())
    f64 = pa.list_(pa.float64())
    return pa.schema(
        [
            ("index", pa.int64()),
            ("clip_id", pa.string()),
            ("path", pa.string()),
            ("speaker", pa.string()),
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("bucket", pa.int32()),
            ("source", pa.string()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("reason", pa.string()),
            ("duration_s", pa.float64()),
            ("speech_s", pa.float64()),
            ("quality", pa.string()),
            ("denoiser", pa.string()),
            ("embedding", f32),
            ("num_windows", pa.int32()),
            ("dimension", pa.int32()),
            ("windows", f32),
            ("window_starts", f64),
            ("window_ends", f64),
            ("seconds", pa.float64()),
            ("cpu_seconds", pa.float64()),
            ("worker", pa.string()),
        ]
    )


def speaker_schema() -> Any:
    """Schema of a speaker row.

    ``status`` is ``"ok"`` or ``"failed"`` (no usable clip: ``reason`` lists why each failed).
    ``references`` is JSON: one ``{"clip_id", "source", "weight", "status", "reason"}`` per
    clip, in manifest order, weights summing to 1 over the used clips.
    """
    pa = require_pyarrow()
    return pa.schema(
        [
            ("speaker", pa.string()),
            ("bucket", pa.int32()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("reason", pa.string()),
            ("embedding", pa.list_(pa.float32())),
            ("num_clips", pa.int32()),
            ("num_used", pa.int32()),
            ("num_down_weighted", pa.int32()),
            ("num_rejected", pa.int32()),
            ("speech_s", pa.float64()),
            ("references", pa.string()),
            ("encoder", pa.string()),
            ("pooling", pa.string()),
        ]
    )


# ----------------------------------------------------------------------------- paths
def shard_path(out: str | os.PathLike, shard: int) -> Path:
    return Path(out) / CLIPS_DIR / f"shard-{shard:06d}.parquet"


def part_path(out: str | os.PathLike, shard: int, index: int) -> Path:
    return Path(out) / CLIPS_DIR / PARTS_DIR / f"shard-{shard:06d}.clip-{index:09d}.parquet"


def bucket_path(out: str | os.PathLike, bucket: int) -> Path:
    return Path(out) / SPEAKERS_DIR / f"bucket-{bucket:06d}.parquet"


# ----------------------------------------------------------------------------- writing
def write_parquet(
    path: str | os.PathLike, rows: list[dict[str, Any]], schema: Any, group_by: str | None = None
) -> Path:
    """Write ``rows`` (dicts) as one Parquet file, atomically.

    With ``group_by``, rows are sorted by that column and each of its values gets its own row
    group, so readers filtering on it skip the others.
    """
    pa = require_pyarrow()
    pq = pa.parquet
    if group_by is not None:
        rows = sorted(rows, key=lambda r: (r[group_by], r.get("index", 0)))
    table = pa.Table.from_pylist(rows, schema=schema)

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema) as writer:
            if group_by is None or not len(table):
                writer.write_table(table)
                return
            keys = table.column(group_by).to_numpy(zero_copy_only=False)
            cuts = np.flatnonzero(np.diff(keys)) + 1
            for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(keys)]):
                writer.write_table(table.slice(int(a), int(b - a)), row_group_size=int(b - a))

    return atomic_write(path, write)


# ----------------------------------------------------------------------------- reading
def list_arrays(column: Any, dtype: Any = np.float32) -> list[np.ndarray | None]:
    """The values of a Parquet/Arrow list column as numpy arrays (``None`` for nulls), exactly.

    Examples
    --------
    >>> import pyarrow as pa
    >>> col = pa.chunked_array([pa.array([[1.0, 2.0], None, []], pa.list_(pa.float32()))])
    >>> [None if a is None else a.tolist() for a in list_arrays(col)]
    [[1.0, 2.0], None, []]
    """
    pa = require_pyarrow()
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return []
    offsets = arr.offsets.to_numpy()
    values = arr.values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    return [
        values[offsets[i] : offsets[i + 1]].copy() if valid[i] else None for i in range(len(arr))
    ]


def _dataset_files(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.glob("*.parquet"))


def read_clips(
    out: str | os.PathLike, columns: list[str] | None = None, bucket: int | None = None
) -> Any:
    """Every clip row of ``OUT/clips/`` as a ``pyarrow.Table`` sorted by manifest index.

    ``columns`` selects columns (default: all); ``bucket`` keeps one speaker bucket (reading
    only the row groups that hold it).
    """
    pa = require_pyarrow()
    import pyarrow.dataset as ds

    files = _dataset_files(Path(out) / CLIPS_DIR)
    if not files:
        table = clip_schema().empty_table()
        return table if columns is None else table.select(columns)
    dataset = ds.dataset(files, format="parquet", schema=clip_schema())
    filt = None if bucket is None else (ds.field("bucket") == pa.scalar(bucket, pa.int32()))
    table = dataset.to_table(columns=columns, filter=filt)
    if "index" in table.column_names:
        table = table.sort_by("index")
    return table


def read_speakers(out: str | os.PathLike, columns: list[str] | None = None) -> Any:
    """Every speaker row of ``OUT/speakers/`` as a ``pyarrow.Table`` sorted by speaker."""
    require_pyarrow()
    import pyarrow.dataset as ds

    files = _dataset_files(Path(out) / SPEAKERS_DIR)
    if not files:
        table = speaker_schema().empty_table()
        return table if columns is None else table.select(columns)
    table = ds.dataset(files, format="parquet", schema=speaker_schema()).to_table(columns=columns)
    return table.sort_by("speaker")


def read_speaker_embeddings(out: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{speaker: unit-norm float32 embedding}`` of every speaker that was embedded.

    Failed speakers are left out: see ``OUT/summary.json`` or :func:`read_speakers`.
    """
    table = read_speakers(out, columns=["speaker", "status", "embedding"])
    embeddings = list_arrays(table.column("embedding"))
    return {
        spk: emb
        for spk, status, emb in zip(
            table.column("speaker").to_pylist(), table.column("status").to_pylist(), embeddings
        )
        if status == "ok" and emb is not None
    }


def iter_clip_rows(table: Any) -> Iterator[dict[str, Any]]:
    """Rows of a clip table as dicts, with list columns as numpy arrays (no float round trip)."""
    arrays = {name: list_arrays(table.column(name)) for name in ("embedding", "windows")}
    arrays["window_starts"] = list_arrays(table.column("window_starts"), np.float64)
    arrays["window_ends"] = list_arrays(table.column("window_ends"), np.float64)
    scalars = table.drop_columns(list(arrays)).to_pylist()
    for i, row in enumerate(scalars):
        for name, values in arrays.items():
            row[name] = values[i]
        yield row
