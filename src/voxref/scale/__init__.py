"""Embed whole corpora: a manifest of clips in, per-clip and per-speaker embeddings out.

:func:`embed_dataset` (CLI: ``voxref embed-dataset MANIFEST -o OUT``) runs on a pool of workers
that load the models once -- Ray Data actors (``pip install "voxref[ray]"``; a laptop or a
cluster) or local processes -- writes Parquet shards incrementally, records every failure, and
resumes where a killed run stopped. See ``docs/scaling.md`` for throughput and a capacity plan.

Importing this package is cheap (no ray, pyarrow or torch import).
"""

from __future__ import annotations

from .dataset import DatasetSummary, embed_dataset
from .manifest import Clip, read_manifest
from .storage import read_clips, read_speaker_embeddings, read_speakers

__all__ = [
    "embed_dataset",
    "DatasetSummary",
    "Clip",
    "read_manifest",
    "read_clips",
    "read_speakers",
    "read_speaker_embeddings",
]
