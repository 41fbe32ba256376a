"""Embed a whole corpus from a manifest: :func:`embed_dataset`.

Two stages, both run by a pool of workers that load the models once (Ray actors or local
processes, :mod:`voxref.scale.backends`):

1. **Clips.** The manifest is cut into shards of consecutive rows (:mod:`voxref.scale.plan`).
   A worker embeds each clip of a shard -- load (the segment, if given), clean, window
   embeddings, the clip's own embedding -- and writes ``OUT/clips/shard-k.parquet``. A clip
   that cannot be embedded becomes a row saying why; nothing is dropped.
2. **Speakers.** Speakers are grouped into buckets; a worker reads a bucket's clip rows back and
   pools each speaker with :meth:`voxref.Embedder.combine` on the rebuilt per-clip references
   (the same code, and so the same embedding, as ``voxref.embed(that speaker's clips)``), writing
   ``OUT/speakers/bucket-b.parquet``.

Re-running the same command skips every shard and bucket whose file exists (files are written
atomically), so a killed run resumes where it stopped; a shard one of whose input files changed
since it was embedded (``OUT/ledger.jsonl`` holds their state, :mod:`voxref.batch_state`) is
embedded again, with the buckets of its speakers. A worker that dies (segfault, OOM,
``os._exit``) is replaced and its shard retried; a shard that killed its worker ``max_crashes``
times is re-run one clip at a time, and a clip that still kills its worker is recorded as
``failed`` with ``error="ProcessDied"`` -- so every clip is embedded or reported exactly once.

Examples
--------
>>> import csv, os, tempfile
>>> from voxref.sample_data import pyannote_sample
>>> d = tempfile.mkdtemp()
>>> wav = str(pyannote_sample()[0])
>>> with open(os.path.join(d, "manifest.csv"), "w", newline="") as fh:
...     w = csv.writer(fh)
...     w.writerows([["path", "speaker", "start", "end"], [wav, "spk1", 7, 13], [wav, "spk1", 20, 26],
...                  ["missing.wav", "spk2", "", ""]])
>>> s = embed_dataset(os.path.join(d, "manifest.csv"), os.path.join(d, "out"),
...                   backend="multiprocessing", num_workers=1, progress=False)
>>> (s.clips_ok, s.clips_rejected, s.speakers_ok, s.speakers_failed)
(2, 1, 1, 1)
>>> from voxref.scale import read_speaker_embeddings
>>> read_speaker_embeddings(os.path.join(d, "out"))["spk1"].shape
(256,)
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .. import __version__
from ..batch_engine import Ledger, RunFolder, RunSummary
from ..batch_state import input_changed, input_state, vector_options
from ..errors import ConfigError
from .backends import TaskOutcome, make_backend
from .manifest import Clip, read_manifest
from .plan import ClipShard, Plan, make_plan
from .storage import (
    CLIPS_DIR,
    CONFIG_FILE,
    LEDGER_FILE,
    PARTS_DIR,
    SPEAKERS_DIR,
    bucket_path,
    clip_schema,
    part_path,
    read_clips,
    read_speakers,
    require_pyarrow,
    shard_path,
    speaker_schema,
    write_parquet,
)
from .worker import WorkerSpec, failed_clip_row

__all__ = ["embed_dataset", "DatasetSummary", "FORMAT"]

log = logging.getLogger(__name__)

FORMAT = "voxref-embed-dataset"
#: 2: ``dataset.json`` records the resolved options that change a vector (``vector_options``)
#: and the encoder's description, not only the options given (``embedder``, kept for reading:
#: ``encoder="ge2e"`` given or left out is one run). A version-1 folder resumes when the
#: options given match.
FORMAT_VERSION = 2
#: Entries of ``dataset.json`` a resumed run must match.
IDENTITY = ("fingerprint", "vector_options", "encoder", "clip_embeddings")


@dataclass(kw_only=True)
class DatasetSummary(RunSummary):
    """What :func:`embed_dataset` did; also written to ``OUT/summary.json``.

    Counts cover the whole output folder (every run into it); the ``*_computed``, ``*_reused``
    and ``*_seconds`` fields cover this call only.
    """

    FORMAT: ClassVar[str] = FORMAT
    VERSION: ClassVar[int] = FORMAT_VERSION

    manifest: str
    output: str
    backend: str
    num_workers: int
    clips: int = 0
    clips_ok: int = 0
    clips_rejected: int = 0
    clips_failed: int = 0
    speakers: int = 0
    speakers_ok: int = 0
    speakers_failed: int = 0
    shards: int = 0
    buckets: int = 0
    shards_computed: int = 0
    shards_reused: int = 0
    buckets_computed: int = 0
    buckets_reused: int = 0
    worker_deaths: int = 0
    shards_changed: int = 0
    clips_computed: int = 0
    audio_seconds_computed: float = 0.0
    clip_stage_seconds: float = 0.0
    speaker_stage_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    failed_clips: list[dict] = field(default_factory=list)
    failed_speakers: list[dict] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return self.clips_rejected + self.clips_failed + self.speakers_failed

    @property
    def clips_per_second(self) -> float:
        """Clips embedded per second of the clip stage in this run."""
        return self.clips_computed / self.clip_stage_seconds if self.clip_stage_seconds else 0.0

    @property
    def audio_hours_per_hour(self) -> float:
        """Hours of audio embedded per hour of wall time in the clip stage in this run."""
        if not self.clip_stage_seconds:
            return 0.0
        return self.audio_seconds_computed / self.clip_stage_seconds

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items()}
        d.update(self.header())
        d["clips_per_second"] = round(self.clips_per_second, 4)
        d["audio_hours_per_hour"] = round(self.audio_hours_per_hour, 3)
        for k in (
            "audio_seconds_computed",
            "clip_stage_seconds",
            "speaker_stage_seconds",
            "elapsed_seconds",
        ):
            d[k] = round(d[k], 3)
        return d


def _upgrade(old: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The ``dataset.json`` of a version-1 folder, as this version records it.

    Version 1 recorded the options as given, not their resolved values: the folder resumes when
    those match (the resolved options and encoder are taken as this run's: version 1 could not
    tell them).
    """
    if old.get("embedder") != config["embedder"]:
        raise ConfigError(
            f"the output folder holds a run made with other embedder options "
            f"({old.get('embedder')!r}, not {config['embedder']!r}); results of different "
            "settings must not mix. Use another output folder (or delete this one)."
        )
    log.warning(
        "continuing a run of format version 1, which did not record the resolved embedder "
        "options; run it again into a new folder if the voxref version changed in between"
    )
    return dict(old, vector_options=config["vector_options"], encoder=config["encoder"])


def _identity_embedder(spec: WorkerSpec) -> Any:
    """The workers' embedder, built in the driver only to record what changes a vector (on the
    CPU: the driver of a GPU cluster may have none; the device does not change a vector)."""
    if spec.embedder_factory is not None:
        return spec.embedder_factory()
    from ..pipeline import Embedder

    return Embedder(**{**spec.embedder_options, "device": "cpu"})


def _describe(key: str) -> str:
    names = {"fingerprint": "manifest (or shard sizes)", "vector_options": "embedder setting"}
    return names.get(key, key)


def _embedder_config(spec: WorkerSpec) -> dict[str, Any]:
    if spec.embedder_factory is not None:
        f = spec.embedder_factory
        return {"factory": f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', repr(f))}"}
    return {k: repr(v) for k, v in sorted(spec.embedder_options.items())}


def _shard_task(shard: ClipShard, plan: Plan, out: Path, clips: list[Clip] | None = None) -> dict:
    clips = list(shard.clips) if clips is None else clips
    return {
        "kind": "clips",
        "shard": shard.shard,
        "clips": [c.to_dict() for c in clips],
        "buckets": {c.speaker: plan.bucket_of[c.speaker] for c in clips},
        "out": str(out),
        "part": False,
    }


def _part_tasks(shard: ClipShard, plan: Plan, out: Path) -> list[dict]:
    tasks = []
    for c in shard.clips:
        if part_path(out, shard.shard, c.index).exists():
            continue
        t = _shard_task(shard, plan, out, [c])
        t["part"] = True
        tasks.append(t)
    return tasks


def _merge_parts(shard: ClipShard, out: Path) -> None:
    """Join a shard's single-clip pieces into its shard file and delete them."""
    pa = require_pyarrow()
    tables = [pa.parquet.read_table(part_path(out, shard.shard, c.index)) for c in shard.clips]
    rows = pa.concat_tables(tables).to_pylist()
    write_parquet(shard_path(out, shard.shard), rows, clip_schema(), "bucket")
    for c in shard.clips:
        with contextlib.suppress(FileNotFoundError):
            part_path(out, shard.shard, c.index).unlink()


def _shard_key(shard: ClipShard) -> str:
    return f"shard-{shard.shard:06d}"


def _shard_inputs(shard: ClipShard) -> list[str]:
    return sorted({c.path for c in shard.clips if c.path})


def _record_shard(ledger: Ledger, shard: ClipShard) -> None:
    """Note in the ledger the state of a finished shard's input files."""
    ledger.append(
        {
            "item": _shard_key(shard),
            "event": "done",
            "status": "ok",
            "sources": input_state(_shard_inputs(shard)),
        }
    )


def _drop_changed_shards(out: Path, plan: Plan, ledger: Ledger) -> int:
    """Delete every finished shard one of whose input files changed since it was embedded (and
    the buckets that pooled its speakers), so that they are computed again; how many.

    A shard file without a ledger line (written by a run stopped just after it, or by format
    version 1) is taken as it is and its inputs' state recorded now.
    """
    done, _ = ledger.outcomes()
    dropped = 0
    for shard in plan.shards:
        path = shard_path(out, shard.shard)
        if not path.exists():
            continue
        rec = done.get(_shard_key(shard))
        if rec is None:
            _record_shard(ledger, shard)
            continue
        why = input_changed(rec.get("sources"), _shard_inputs(shard))
        if why:
            log.warning("clip shard %d: %s; embedding its clips again", shard.shard, why)
            path.unlink()
            for b in {plan.bucket_of[c.speaker] for c in shard.clips}:
                bucket_path(out, b).unlink(missing_ok=True)
            dropped += 1
    return dropped


def _run_clip_stage(
    backend: Any, plan: Plan, out: Path, summary: DatasetSummary, bar: Any, ledger: Ledger
) -> None:
    pending = [s for s in plan.shards if not shard_path(out, s.shard).exists()]
    summary.shards_reused = len(plan.shards) - len(pending)
    bar.update(summary.shards_reused)
    parts_dir = out / CLIPS_DIR / PARTS_DIR
    # a shard with pieces on disk was being run clip by clip when a previous run stopped
    split = [
        s for s in pending if parts_dir.exists() and any(parts_dir.glob(f"shard-{s.shard:06d}.*"))
    ]
    whole = [s for s in pending if s not in split]
    by_id = {s.shard: s for s in plan.shards}

    def account(outcome: TaskOutcome) -> None:
        if outcome.result is not None:
            summary.clips_computed += outcome.result["clips"]
            summary.audio_seconds_computed += outcome.result["audio_seconds"]
        summary.worker_deaths += max(0, outcome.attempts - 1) + (1 if outcome.died else 0)

    for outcome in backend.run([_shard_task(s, plan, out) for s in whole]):
        account(outcome)
        shard = by_id[outcome.task["shard"]]
        if outcome.died:
            if len(shard.clips) > 1:
                log.warning(
                    "shard %d: %s; running its clips one at a time", shard.shard, outcome.error
                )
                split.append(shard)
                continue
            _record_died(shard, shard.clips[0], plan, out, outcome.error)
        else:
            summary.shards_computed += 1
        _record_shard(ledger, shard)
        bar.update(1)
    tasks = [t for s in split for t in _part_tasks(s, plan, out)]
    for outcome in backend.run(tasks):
        account(outcome)
        if outcome.died:
            shard = by_id[outcome.task["shard"]]
            clip = Clip.from_dict(outcome.task["clips"][0])
            _record_died(shard, clip, plan, out, outcome.error, part=True)
    for shard in split:
        _merge_parts(shard, out)
        _record_shard(ledger, shard)
        summary.shards_computed += 1
        bar.update(1)


def _record_died(
    shard: ClipShard, clip: Clip, plan: Plan, out: Path, error: str, part: bool = False
) -> None:
    log.error("clip %s: the worker died on it; recorded as failed", clip.source)
    row = failed_clip_row(
        clip,
        plan.bucket_of[clip.speaker],
        "failed",
        "ProcessDied",
        f"{error}. The clip crashes the decoder or exhausts memory; check or convert the file.",
    )
    path = part_path(out, shard.shard, clip.index) if part else shard_path(out, shard.shard)
    write_parquet(path, [row], clip_schema(), "bucket")


def _run_speaker_stage(
    backend: Any, plan: Plan, out: Path, summary: DatasetSummary, bar: Any
) -> None:
    files = [str(shard_path(out, s.shard)) for s in plan.shards]
    pending = [b for b in range(len(plan.buckets)) if not bucket_path(out, b).exists()]
    summary.buckets_reused = len(plan.buckets) - len(pending)
    tasks = [
        {
            "kind": "speakers",
            "bucket": b,
            "speakers": plan.buckets[b],
            "files": files,
            "out": str(out),
        }
        for b in pending
    ]
    for outcome in backend.run(tasks):
        b = outcome.task["bucket"]
        if outcome.died:
            summary.worker_deaths += 1
            rows = [
                {
                    "speaker": spk,
                    "bucket": b,
                    "status": "failed",
                    "error": "ProcessDied",
                    "reason": f"pooling this speaker's bucket failed: {outcome.error}",
                    "num_clips": plan.speaker_clips.get(spk, 0),
                }
                for spk in plan.buckets[b]
            ]
            write_parquet(bucket_path(out, b), rows, speaker_schema())
        summary.buckets_computed += 1
        bar.update(1)


def _count(out: Path, plan: Plan, summary: DatasetSummary) -> None:
    clips = read_clips(out, columns=["index", "source", "speaker", "status", "error", "reason"])
    statuses = clips.column("status").to_pylist()
    summary.clips_ok = statuses.count("ok")
    summary.clips_rejected = statuses.count("rejected")
    summary.clips_failed = statuses.count("failed")
    summary.failed_clips = [
        {k: r[k] for k in ("index", "source", "speaker", "status", "error", "reason")}
        for r in clips.to_pylist()
        if r["status"] != "ok"
    ]
    speakers = read_speakers(out, columns=["speaker", "status", "error", "reason"])
    st = speakers.column("status").to_pylist()
    summary.speakers_ok = st.count("ok")
    summary.speakers_failed = st.count("failed")
    summary.failed_speakers = [r for r in speakers.to_pylist() if r["status"] != "ok"]
    if len(statuses) != plan.num_clips:
        log.error("%d clip rows for %d manifest rows", len(statuses), plan.num_clips)


def embed_dataset(
    manifest: str | os.PathLike,
    output: str | os.PathLike,
    *,
    backend: str = "auto",
    num_workers: int = 2,
    ray_address: str | None = None,
    shard_size: int = 64,
    speakers_per_bucket: int = 64,
    max_crashes: int = 2,
    resume: bool = True,
    clip_embeddings: bool = True,
    threads_per_worker: int = 1,
    root: str | os.PathLike | None = None,
    embedder_factory: Callable[[], Any] | None = None,
    progress: bool = True,
    **options: Any,
) -> DatasetSummary:
    """Embed every clip of a manifest and every speaker, into Parquet shards under ``output``.

    Parameters
    ----------
    manifest
        CSV/TSV/Parquet file with columns ``path``, ``speaker`` and optionally ``start``,
        ``end`` (seconds), ``id`` (:mod:`voxref.scale.manifest`).
    output
        Output folder (:mod:`voxref.scale.storage` describes its layout). Running again into
        the same folder resumes: finished shards and buckets are not recomputed.
    backend
        ``"ray"`` (Ray Data actor pool; needs ``pip install "voxref[ray]"``), ``"multiprocessing"``
        (local processes, no extra dependency) or ``"auto"`` (Ray if a cluster address is given
        or ray is installed).
    num_workers
        Workers (processes or actors), each holding its own models and using
        ``threads_per_worker`` torch threads.
    ray_address
        Join this Ray cluster (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``); default: a
        private local Ray on loopback. Every node must reach the audio and ``output`` at the
        same paths.
    shard_size
        Clips per clip shard (the unit of work, of resumption and of retry).
    speakers_per_bucket
        Speakers per speaker bucket of the pooling stage.
    max_crashes
        A shard (then a clip) on which a worker died this many times is given up: its clips are
        run one at a time, and a clip that still kills its worker is recorded as failed.
    resume
        Continue a run found in ``output`` (default). ``False`` refuses a folder that already
        holds one rather than mixing runs.
    clip_embeddings
        Also store each clip's own embedding.
    root
        Folder that relative manifest paths are relative to (default: the manifest's folder).
    embedder_factory
        Picklable callable returning the :class:`~voxref.Embedder` each worker uses (instead of
        ``**options``).
    progress
        Show a progress bar over shards and buckets.
    **options
        :class:`~voxref.Embedder` options (``encoder``, ``pooling``, ``clean``, ...).

    Returns
    -------
    DatasetSummary

    Raises
    ------
    voxref.errors.ConfigError
        Bad manifest or options, or ``output`` made from a different manifest or settings, or
        written by another running process.
    voxref.errors.MissingDependencyError
        ``backend="ray"`` without ray installed, or pyarrow missing.
    """
    t0 = time.monotonic()
    if options and embedder_factory is not None:
        raise ConfigError("pass Embedder options or embedder_factory, not both.")
    if max_crashes < 1:
        raise ConfigError(f"max_crashes={max_crashes}; give 1 or more.")
    require_pyarrow()
    clips = read_manifest(manifest, root=root)
    plan = make_plan(clips, shard_size=shard_size, speakers_per_bucket=speakers_per_bucket)
    out = Path(output)
    for sub in (CLIPS_DIR, SPEAKERS_DIR):
        (out / sub).mkdir(parents=True, exist_ok=True)
    spec = WorkerSpec(
        embedder_options=dict(options),
        embedder_factory=embedder_factory,
        threads=threads_per_worker,
        clip_embeddings=clip_embeddings,
    )
    runner = make_backend(
        backend, spec, num_workers=num_workers, max_crashes=max_crashes, ray_address=ray_address
    )
    summary = DatasetSummary(
        manifest=str(manifest),
        output=str(out),
        backend=runner.name,
        num_workers=num_workers,
        clips=plan.num_clips,
        speakers=len(plan.bucket_of),
        shards=len(plan.shards),
        buckets=len(plan.buckets),
    )
    embedder = _identity_embedder(spec)
    config = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "manifest": str(Path(manifest).resolve()),
        "fingerprint": plan.fingerprint,
        "clips": plan.num_clips,
        "speakers": len(plan.bucket_of),
        "shard_size": shard_size,
        "speakers_per_bucket": speakers_per_bucket,
        "embedder": _embedder_config(spec),
        "vector_options": vector_options(embedder),
        "encoder": embedder.encoder.describe(),
        "clip_embeddings": clip_embeddings,
        "voxref_version": __version__,
    }
    from tqdm.auto import tqdm

    folder = RunFolder(
        out,
        command="embed-dataset",
        config_file=CONFIG_FILE,
        config=config,
        keys=IDENTITY,
        upgrade=_upgrade,
        describe=_describe,
        fresh=not resume,
    )
    with folder:
        ledger = Ledger(out / LEDGER_FILE)
        summary.shards_changed = _drop_changed_shards(out, plan, ledger)
        todo_shards = [s for s in plan.shards if not shard_path(out, s.shard).exists()]
        todo_buckets = [b for b in range(len(plan.buckets)) if not bucket_path(out, b).exists()]
        bar = tqdm(
            total=len(plan.shards) + len(plan.buckets),
            disable=not progress,
            unit="shard",
            desc="embed-dataset",
        )
        try:
            if todo_shards or todo_buckets:
                with runner:
                    t1 = time.monotonic()
                    _run_clip_stage(runner, plan, out, summary, bar, ledger)
                    summary.clip_stage_seconds = time.monotonic() - t1 if todo_shards else 0.0
                    t2 = time.monotonic()
                    _run_speaker_stage(runner, plan, out, summary, bar)
                    summary.speaker_stage_seconds = time.monotonic() - t2
            else:
                summary.shards_reused, summary.buckets_reused = len(plan.shards), len(plan.buckets)
                bar.update(len(plan.shards) + len(plan.buckets))
            summary.complete = True
        finally:
            bar.close()
            ledger.close()
            _count(out, plan, summary)
            summary.elapsed_seconds = time.monotonic() - t0
            folder.write_summary(summary)
    log.info(
        "embed-dataset %s: %d/%d clips ok, %d/%d speakers ok (%d shards computed, %d reused)",
        manifest,
        summary.clips_ok,
        summary.clips,
        summary.speakers_ok,
        summary.speakers,
        summary.shards_computed,
        summary.shards_reused,
    )
    return summary
