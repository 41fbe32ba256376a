"""Audit a TTS training set end to end: :func:`audit_dataset`.

1. :func:`voxref.audit.dataset.read_dataset` lists the clips and their speakers.
2. The clips are embedded by :func:`voxref.scale.embed_dataset` into ``OUT/embeddings/`` (the
   resumable batch engine: Parquet shards written atomically; a killed audit run again with the
   same command skips every finished shard and computes only the rest) with
   :class:`voxref.audit.measure.AuditEmbedder`. Each speaker's clips are pooled into its
   centroid by the engine's speaker stage (:meth:`voxref.Embedder.combine`), speaker by speaker.
3. :func:`voxref.audit.measure.clip_measures` and :func:`voxref.audit.flags.flag_clips` judge
   every clip; the outputs are written:

=========================  ==================================================================
``OUT/flags.csv``          one row per clip: id, speaker, flagged, score, reasons, details and
                           every measurement
``OUT/report.html``        outliers first, a player per flagged clip, the speaker map
``OUT/<metadata name>``    the metadata file without the flagged clips (same lines, same
                           order); ``OUT/keep.txt`` (kept clips' paths) for a folder layout
``OUT/audit.json``         counts per reason, thresholds, the batch summary
``OUT/embeddings/``        the batch engine's output (clip and speaker embeddings)
=========================  ==================================================================
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import ConfigError
from .dataset import Dataset, read_dataset, write_filtered
from .flags import DEFAULT_THRESHOLDS, REASONS, ClipFlags, flag_clips, summary_counts
from .measure import AuditEmbedderFactory, clip_measures, speaker_centroids

__all__ = ["audit_dataset", "AuditResult", "FLAGS_FILE", "REPORT_FILE", "EMBED_SUBDIR"]

log = logging.getLogger(__name__)

FLAGS_FILE = "flags.csv"
REPORT_FILE = "report.html"
SUMMARY_FILE = "audit.json"
EMBED_SUBDIR = "embeddings"
MANIFEST_FILE = "manifest.csv"
KEEP_FILE = "keep.txt"


@dataclass
class AuditResult:
    """What :func:`audit_dataset` found and wrote.

    Attributes
    ----------
    flags
        One :class:`~voxref.audit.flags.ClipFlags` per clip, in dataset order.
    output
        The output folder.
    filtered
        Path of the filtered metadata (or ``keep.txt``).
    report
        Path of ``report.html``.
    batch
        The batch engine's :class:`~voxref.scale.DatasetSummary` of this run (``shards_reused``
        / ``shards_computed`` say what a resumed run did not redo).
    """

    flags: list[ClipFlags]
    output: Path
    filtered: Path
    report: Path
    batch: Any = None
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def flagged(self) -> list[ClipFlags]:
        """Flagged clips, highest score first."""
        return sorted((f for f in self.flags if f.flagged), key=lambda f: -f.score)

    @property
    def kept(self) -> list[str]:
        """Ids of the clips kept."""
        return [f.clip_id for f in self.flags if not f.flagged]


def _write_manifest(ds: Dataset, path: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "speaker", "id"])
    for c in ds.clips:
        w.writerow([c.path, c.speaker, c.clip_id])
    text = buf.getvalue()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_flags_csv(flags: list[ClipFlags], path: Path) -> None:
    """``flags.csv``: one row per clip (dataset order)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = [
        "duration_s",
        "speech_s",
        "snr_db",
        "clipping_ratio",
        "level_dbfs",
        "bandwidth_hz",
        "overlap_ratio",
        "cosine",
        "window_spread",
    ]
    w.writerow(["id", "speaker", "flagged", "score", "reasons", "details", "status", *cols, "path"])
    for f in flags:
        m = f.measures
        w.writerow(
            [
                f.clip_id,
                f.speaker,
                int(f.flagged),
                f"{f.score:.3f}",
                ";".join(f.reasons),
                " | ".join(f.details),
                m.status if m else "",
                *[_fmt(getattr(m, c, None)) for c in cols],
                m.path if m else "",
            ]
        )
    atomic_write_text(path, buf.getvalue())


def audit_dataset(
    dataset: str | os.PathLike,
    output: str | os.PathLike,
    *,
    metadata: str | os.PathLike | None = None,
    speaker_column: str | int | None = None,
    thresholds: Mapping[str, float] | None = None,
    backend: str = "multiprocessing",
    num_workers: int = 1,
    shard_size: int = 16,
    html: bool = True,
    progress: bool = True,
    **options: Any,
) -> AuditResult:
    """Audit the TTS training set in ``dataset``; write the verdicts to ``output``.

    Parameters
    ----------
    dataset
        The set's folder (:mod:`voxref.audit.dataset` describes the layouts it reads).
    output
        Output folder (created). Running again into it resumes: embedded shards are reused.
    metadata
        Metadata file (default: ``DATASET/metadata.csv`` when present).
    speaker_column
        Metadata column of each clip's speaker (0-based index or header name); default: one
        speaker (or one per sub-folder when the set has no metadata and holds only folders).
    thresholds
        Overrides of :data:`voxref.audit.flags.DEFAULT_THRESHOLDS`.
    backend, num_workers, shard_size
        The batch engine's (:func:`voxref.scale.embed_dataset`): ``shard_size`` clips are
        embedded, saved and resumed together.
    html
        Write ``report.html``.
    progress
        Show a progress bar.
    **options
        :class:`voxref.Embedder` options (``encoder``, ``vad``, ...).

    Returns
    -------
    AuditResult

    Raises
    ------
    voxref.errors.ConfigError
        Unreadable dataset or metadata, bad options, or an output folder holding an audit of
        another set or made with other settings.
    """
    from ..scale import embed_dataset, read_clips, read_speakers

    if thresholds:
        unknown = set(thresholds) - set(DEFAULT_THRESHOLDS)
        if unknown:
            raise ConfigError(
                f"unknown thresholds {sorted(unknown)}; use {sorted(DEFAULT_THRESHOLDS)}."
            )
    if options.get("encoder") == "ge2e":  # the default, spelled out or not: one configuration
        del options["encoder"]
    out = Path(output)
    ds = read_dataset(dataset, metadata=metadata, speaker_column=speaker_column, exclude=out)
    work = out / EMBED_SUBDIR
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / MANIFEST_FILE
    _write_manifest(ds, manifest)
    log.info(
        "auditing %d clips of %d speaker(s) in %s (%s layout)",
        len(ds.clips),
        len(ds.speakers),
        ds.root,
        ds.layout,
    )
    batch = embed_dataset(
        manifest,
        work / "run",
        backend=backend,
        num_workers=num_workers,
        shard_size=shard_size,
        embedder_factory=AuditEmbedderFactory(options),
        progress=progress,
    )
    run = work / "run"
    clips = read_clips(run).to_pylist()
    speakers = read_speakers(run).to_pylist()
    measures = clip_measures(sorted(clips, key=lambda r: r["index"]), speakers)
    flags = flag_clips(measures, thresholds=thresholds)
    write_flags_csv(flags, out / FLAGS_FILE)
    keep = {f.clip_id for f in flags if not f.flagged}
    name = ds.metadata.name if ds.metadata is not None else KEEP_FILE
    if ds.metadata is not None and ds.metadata.resolve() == (out / name).resolve():
        raise ConfigError(f"{out} holds the dataset's own {name}; choose another output folder.")
    filtered = write_filtered(ds, keep, out / name)
    counts = summary_counts(flags)
    counts["speakers"] = {
        spk: {
            "clips": sum(f.speaker == spk for f in flags),
            "flagged": sum(f.speaker == spk and f.flagged for f in flags),
        }
        for spk in ds.speakers
    }
    report = out / REPORT_FILE
    if html:
        from .html import write_report

        write_report(ds, flags, report, speaker_centroids(speakers))
    summary = {
        "format": "voxref-audit",
        "version": 1,
        "dataset": str(ds.root.resolve()),
        "layout": ds.layout,
        "metadata": str(ds.metadata) if ds.metadata else None,
        "filtered": str(filtered),
        "reasons": list(REASONS),
        "thresholds": {**DEFAULT_THRESHOLDS, **(thresholds or {})},
        **counts,
        "batch": batch.to_dict(),
    }
    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=1, ensure_ascii=False))
    log.info("audit: %d of %d clips flagged", counts["flagged"], counts["clips"])
    return AuditResult(flags, out, filtered, report, batch, counts)
