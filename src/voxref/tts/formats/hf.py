"""Hugging Face ``datasets``: a Parquet table with a ``speaker_embeddings`` column.

The SpeechT5 text-to-speech fine-tuning recipe (transformers docs, "Text to speech" task guide)
adds ``example["speaker_embeddings"]`` (a 512-float list: an L2-normalised
``speechbrain/spkrec-xvect-voxceleb`` x-vector) to every row, and its data collator stacks them:
``torch.tensor([f["speaker_embeddings"] for f in features])`` -> ``(batch, 512)``.

:func:`write_speaker_embeddings_parquet` writes one row per clip with ``audio`` (the file path,
ready for ``cast_column("audio", Audio(sampling_rate=16000))``), ``text``, ``speaker_id``,
``utt_id`` and ``speaker_embeddings`` (``list<float32>``); ``load_dataset("parquet",
data_files=...)`` reads it as is. Writing needs ``pyarrow`` (a voxref dependency), not
``datasets``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, MissingDependencyError
from ..export import EmbeddingDimensionError

__all__ = [
    "SPEECHT5_DIM",
    "COLUMN",
    "write_speaker_embeddings_parquet",
    "read_parquet_rows",
    "export_hf",
]

SPEECHT5_DIM = 512
COLUMN = "speaker_embeddings"


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError(
            "pyarrow", "pyarrow", "the Hugging Face datasets (Parquet) export"
        ) from None
    return pa, pq


def write_speaker_embeddings_parquet(
    path: str | os.PathLike,
    rows: Sequence[dict[str, Any]],
    *,
    speecht5: bool = True,
) -> Path:
    """Write rows ``{"audio", "text", "speaker_id", "utt_id", "speaker_embeddings"}`` to Parquet.

    Parameters
    ----------
    path
        Output ``.parquet`` file.
    rows
        One dict per clip; ``speaker_embeddings`` is a 1-D vector.
    speecht5
        Refuse vectors that are not 512-d (SpeechT5's speaker-embedding size). ``False`` writes
        any size (for another model's recipe).

    Raises
    ------
    EmbeddingDimensionError
        ``speecht5`` and the vectors are not 512-d, or the rows mix sizes.
    MissingDependencyError
        pyarrow is not installed.
    """
    p = Path(path)
    if p.suffix != ".parquet":
        raise ConfigError(f"the Hugging Face export writes a .parquet file, not {p.name!r}.")
    if not rows:
        raise ConfigError("no clip to write.")
    vecs = [np.asarray(r[COLUMN], dtype=np.float32).reshape(-1) for r in rows]
    dims = sorted({v.size for v in vecs})
    if len(dims) != 1:
        raise EmbeddingDimensionError(f"the vectors have different lengths {dims}.")
    if speecht5 and dims[0] != SPEECHT5_DIM:
        raise EmbeddingDimensionError(
            f"SpeechT5 takes 512-d x-vectors (speechbrain/spkrec-xvect-voxceleb); these are "
            f"{dims[0]}-d. Embed with --encoder speechbrain/spkrec-xvect-voxceleb, map them "
            "with a fitted --bridge, or pass --any-dim for a model that takes this size."
        )
    pa, pq = _pyarrow()
    table = pa.table(
        {
            "audio": pa.array([str(r["audio"]) for r in rows], pa.string()),
            "text": pa.array([str(r.get("text", "")) for r in rows], pa.string()),
            "speaker_id": pa.array([str(r["speaker_id"]) for r in rows], pa.string()),
            "utt_id": pa.array([str(r["utt_id"]) for r in rows], pa.string()),
            COLUMN: pa.array([v.tolist() for v in vecs], pa.list_(pa.float32())),
        }
    )
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, p)
    return p


def read_parquet_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a Parquet file as dicts (``pyarrow.parquet.read_table(...).to_pylist()``)."""
    _, pq = _pyarrow()
    return pq.read_table(Path(path)).to_pylist()


def export_hf(
    emb: Any,
    path: str | os.PathLike,
    *,
    vectors: str = "clip",
    speecht5: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write a dataset's vectors as a Parquet table (one row per embedded clip) + sidecar.

    Clips without a vector are left out of the table (a Hugging Face dataset is whatever rows it
    has) and listed in the sidecar.
    """
    from .provenance import write_export_provenance

    notes = emb.require_complete("hf", "those rows are left out of the table.", allow_missing=True)
    chosen = emb.clip_vectors(vectors)
    rows = [
        {
            "audio": str(c.path),
            "text": c.text,
            "speaker_id": c.speaker,
            "utt_id": c.utt_id,
            COLUMN: chosen[c.relpath],
        }
        for c in emb.clips
        if c.relpath in chosen
    ]
    out = write_speaker_embeddings_parquet(path, rows, speecht5=speecht5)
    side = write_export_provenance(
        out,
        emb,
        fmt="hf",
        settings={**(settings or {}), "vectors": vectors, "speecht5": speecht5},
        clips=emb.records,
        files=[out],
        notes=notes,
    )
    return out, side
