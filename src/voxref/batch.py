"""Embed a whole folder of recordings, losing nothing: incremental, atomic, resumable.

:func:`embed_dir` walks a folder and embeds every audio file (``per="file"``) or every speaker
sub-folder (``per="speaker-folder"``: all files under ``DIR/<speaker>/`` are that speaker's
references). It is the folder front end of the batch engine (:mod:`voxref.batch_engine`, shared
with :func:`voxref.scale.embed_dataset`), built to be killed at any moment and started again:

* each embedding is written to ``OUT/embeddings/<item>.npy`` by :mod:`voxref.atomic` (temporary
  file, ``fsync``, ``os.replace``): a file either is complete or is not there;
* every outcome is appended to ``OUT/ledger.jsonl`` (one JSON object per line, flushed and
  ``fsync``-ed per item): ``{"event": "start", ...}`` before an item, ``{"event": "done",
  "status": "ok" | "failed" | "skipped", "reason": ...}`` after it;
* a restart (``resume=True``, the default) reads the ledger and skips every finished item, adopts
  an embedding written just before a kill whose ledger line never made it, ignores a torn last
  line, and retries an item that was in flight. An item that was in flight when the process died
  ``max_crashes`` times (a decoder that segfaults, memory exhaustion) is recorded as failed
  instead of killing every restart;
* files that do not match ``pattern`` are listed in the summary, not silently dropped;
* ``OUT/summary.json`` (written atomically at the end) counts everything and lists each failure
  with its reason. ``OUT/batch.json`` records the options; resuming with a different encoder,
  mode or any option that changes a vector is refused, so one folder never mixes embedding
  spaces;
* an input changed since it was embedded is embedded again (:mod:`voxref.batch_state` says how
  a change is told, cheaply, from a touch or a move).

Files longer than ``long_seconds`` are embedded with :func:`voxref.longform.embed_long` (bounded
memory) in ``per="file"`` mode.

Examples
--------
>>> import numpy as np, soundfile as sf, tempfile, os
>>> from voxref.sample_data import pyannote_sample
>>> src = tempfile.mkdtemp(); out = os.path.join(tempfile.mkdtemp(), "out")
>>> x, sr = sf.read(pyannote_sample()[0], dtype="float32")
>>> sf.write(os.path.join(src, "a.wav"), x[7 * sr : 13 * sr], sr)
>>> _ = open(os.path.join(src, "notes.txt"), "w").write("not audio")
>>> open(os.path.join(src, "b.wav"), "wb").close()          # 0 bytes
>>> s = embed_dir(src, out, progress=False)
>>> s.ok, s.failed, s.ignored
(1, 1, ['notes.txt'])
>>> s.failures[0]["item"], s.failures[0]["error"]
('b.wav', 'EmptyAudioError')
>>> np.load(os.path.join(out, "embeddings", "a.wav.npy")).shape
(256,)
>>> embed_dir(src, out, progress=False).computed        # resumed: nothing left to do
0
"""

from __future__ import annotations

import logging
import os
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .atomic import atomic_save_npy
from .batch_engine import SUMMARY_FILE, Ledger, RunFolder, RunSummary
from .batch_items import AUDIO_PATTERNS, EMBED_DIR, PER_MODES, BatchItem, discover
from .batch_state import input_changed, input_state, vector_options
from .errors import ConfigError, NoUsableReferenceError, VoxrefError

__all__ = [
    "AUDIO_PATTERNS",
    "BatchItem",
    "BatchSummary",
    "Ledger",
    "embed_dir",
    "discover",
    "PER_MODES",
    "LEDGER_FILE",
    "SUMMARY_FILE",
]

log = logging.getLogger(__name__)

LEDGER_FILE = "ledger.jsonl"
CONFIG_FILE = "batch.json"
FORMAT = "voxref-embed-dir"
#: 2: input states record the status-change time (``ctime_ns``). A version-1 folder resumes:
#: its records lack that time, so each of its inputs is compared by content once.
FORMAT_VERSION = 2
#: Entries of ``batch.json`` a resumed batch must match.
IDENTITY = ("per", "embedder", "encoder")


# =========================================================================== summary
@dataclass(kw_only=True)
class BatchSummary(RunSummary):
    """What :func:`embed_dir` did, also written to ``OUT/summary.json``.

    Attributes
    ----------
    total
        Items (files or speaker folders) found.
    ok, failed, skipped
        Items with each final status (over every run into this output folder).
    computed
        Items embedded (or attempted) by this call.
    reused
        Items finished by an earlier run and not recomputed.
    recovered
        Embeddings written by a killed run whose ledger line was missing, adopted as is.
    failures
        ``[{"item", "reason", "error"}]`` for every failed or skipped item.
    ignored
        Files that matched no pattern.
    complete, elapsed_seconds
        As in :class:`~voxref.batch_engine.RunSummary`.
    """

    FORMAT: ClassVar[str] = FORMAT
    VERSION: ClassVar[int] = FORMAT_VERSION

    input_dir: str
    output_dir: str
    per: str
    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    computed: int = 0
    reused: int = 0
    recovered: int = 0
    failures: list[dict] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    encoder: dict = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return self.total - self.ok

    def to_dict(self) -> dict:
        return {
            **self.header(),
            "input_dir": self.input_dir,
            "output_dir": self.output_dir,
            "per": self.per,
            "complete": self.complete,
            "total": self.total,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "this_run": {
                "computed": self.computed,
                "reused": self.reused,
                "recovered": self.recovered,
                "elapsed_seconds": round(self.elapsed_seconds, 3),
            },
            "encoder": self.encoder,
            "failures": self.failures,
            "ignored": self.ignored,
        }


# =========================================================================== the batch
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _valid_embedding(path: Path) -> bool:
    try:
        v = np.load(path, allow_pickle=False)
    except Exception:  # torn or foreign file
        return False
    return (
        v.ndim == 1
        and v.size > 0
        and bool(np.all(np.isfinite(v)))
        and abs(float(np.linalg.norm(v)) - 1.0) < 1e-3
    )


def _reason_of(exc: BaseException) -> tuple[str, str]:
    """``(reason, error type name)`` of a failed item; a lone rejected input speaks for itself."""
    if isinstance(exc, NoUsableReferenceError):
        failed = exc.report.failed
        if len(failed) == 1:
            return failed[0].reason, failed[0].error or type(exc).__name__
        reason = "; ".join(f"{Path(f.source).name}: {f.reason}" for f in failed)
        return reason or str(exc), type(exc).__name__
    return getattr(exc, "reason", None) or str(exc).splitlines()[0], type(exc).__name__


def _upgrade(old: dict, config: dict) -> dict:  # noqa: ARG001
    """The ``batch.json`` of a version-1 folder, as this version records it (nothing to change:
    its ledger lacks status-change times, so its inputs are compared by content once)."""
    return old


def embed_dir(
    directory: str | os.PathLike,
    output: str | os.PathLike,
    *,
    pattern: str | Sequence[str] = AUDIO_PATTERNS,
    per: str = "file",
    resume: bool = True,
    retry_failed: bool = False,
    max_crashes: int = 2,
    long_seconds: float | None = 600.0,
    embedder: Any = None,
    progress: bool = True,
    **options: Any,
) -> BatchSummary:
    """Embed every audio file (or speaker folder) under ``directory`` into ``output``.

    Parameters
    ----------
    directory
        Folder of recordings (searched recursively; links to folders are not followed).
    output
        Output folder: ``embeddings/*.npy``, ``ledger.jsonl``, ``summary.json``, ``batch.json``.
        It may sit inside ``directory`` (it is not searched).
    pattern
        File-name glob(s), case-insensitive; default :data:`AUDIO_PATTERNS`.
    per
        ``"file"``: one embedding per file, saved as ``embeddings/<relative path>.npy``.
        ``"speaker-folder"``: one per sub-folder of ``directory`` (every matching file below it
        is a reference of that speaker), saved as ``embeddings/<speaker>.npy``.
    resume
        Continue a batch found in ``output`` (default). ``False`` refuses a non-empty batch
        folder rather than mixing runs.
    retry_failed
        On resume, try failed items again (finished ones are never recomputed).
    max_crashes
        An item that was being processed when the process died this many times is recorded as
        failed instead of being tried again.
    long_seconds
        In ``per="file"`` mode, files longer than this are embedded chunk by chunk in bounded
        memory (:func:`voxref.longform.embed_long`); ``None`` turns that off.
    embedder
        An :class:`~voxref.pipeline.Embedder`; default: built from ``**options``.
    progress
        Show a tqdm progress bar.
    **options
        :class:`~voxref.pipeline.Embedder` options (``encoder``, ``pooling``, ...).

    Returns
    -------
    BatchSummary

    Raises
    ------
    voxref.errors.ConfigError
        Bad options, ``directory`` missing, ``output`` written by different settings or by
        another running process.
    """
    t0 = time.monotonic()
    root = Path(directory)
    out = Path(output)
    if max_crashes < 1:
        raise ConfigError(f"max_crashes={max_crashes}; give 1 or more.")
    if embedder is None:
        from .api import get_embedder

        embedder = get_embedder(**options)
    elif options:
        raise ConfigError("pass Embedder options either in embedder=... or as keywords, not both.")
    items, ignored = discover(root, pattern=pattern, per=per, exclude=out)
    long_seconds = long_seconds if per == "file" else None
    encoder = embedder.encoder.describe()
    summary = BatchSummary(
        input_dir=str(root),
        output_dir=str(out),
        per=per,
        total=len(items),
        ignored=ignored,
        encoder=encoder,
    )
    config = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "input_dir": str(root.resolve()),
        "per": per,
        "patterns": [pattern] if isinstance(pattern, str) else list(pattern),
        "embedder": vector_options(embedder, long_seconds=long_seconds),
        "encoder": encoder,
    }
    folder = RunFolder(
        out,
        command="embed-dir",
        config_file=CONFIG_FILE,
        config=config,
        keys=IDENTITY,
        upgrade=_upgrade,
        describe=lambda key: "embedder setting" if key == "embedder" else key,
        fresh=not resume,
    )
    with folder:
        (out / EMBED_DIR).mkdir(exist_ok=True)
        ledger = Ledger(out / LEDGER_FILE)
        done, crashes = ledger.outcomes()
        run_id = uuid.uuid4().hex[:12]
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), disable=not progress, unit="item", desc="embed-dir")
        try:
            for item in items:
                _run_item(
                    item,
                    out,
                    ledger,
                    embedder,
                    done,
                    crashes,
                    run_id,
                    summary,
                    retry_failed=retry_failed,
                    max_crashes=max_crashes,
                    long_seconds=long_seconds,
                )
                bar.update(1)
            summary.complete = True
        finally:
            bar.close()
            ledger.close()
            _count(summary, {it.key: done.get(it.key) for it in items})
            summary.elapsed_seconds = time.monotonic() - t0
            folder.write_summary(summary)
    log.info(
        "embed-dir %s: %d ok, %d failed, %d skipped (%d computed now, %d reused)",
        root,
        summary.ok,
        summary.failed,
        summary.skipped,
        summary.computed,
        summary.reused,
    )
    return summary


def _count(summary: BatchSummary, final: dict[str, dict | None]) -> None:
    """Final statuses of every item into ``summary``."""
    statuses = [r["status"] for r in final.values() if r]
    summary.ok = statuses.count("ok")
    summary.failed = statuses.count("failed")
    summary.skipped = statuses.count("skipped")
    summary.failures = [
        {"item": k, "status": r["status"], "reason": r.get("reason", ""), "error": r.get("error")}
        for k, r in final.items()
        if r and r["status"] != "ok"
    ]


def _run_item(
    item: BatchItem,
    out: Path,
    ledger: Ledger,
    embedder: Any,
    done: dict[str, dict],
    crashes: dict[str, int],
    run_id: str,
    summary: BatchSummary,
    *,
    retry_failed: bool,
    max_crashes: int,
    long_seconds: float | None,
) -> None:
    prev = done.get(item.key)
    target = out / item.output if item.output else None
    changed = None if prev is None else input_changed(prev.get("sources"), item.inputs)
    if changed:
        log.warning("%s: %s; embedding it again", item.key, changed)
    if prev is not None and not changed:
        if prev["status"] == "ok" and target is not None and target.exists():
            summary.reused += 1
            return
        if prev["status"] in ("failed", "skipped") and not (retry_failed and item.inputs):
            summary.reused += 1
            return
        if prev["status"] == "ok":
            log.warning("%s: its embedding %s was deleted; computing it again", item.key, target)
    elif not changed and target is not None and target.exists() and _valid_embedding(target):
        # written by a run killed between os.replace and the ledger line: adopt it
        rec = _done_record(item, run_id, "ok", recovered=True)
        ledger.append(rec)
        done[item.key] = rec
        summary.recovered += 1
        return
    if item.skip_reason:
        rec = _done_record(item, run_id, "skipped", reason=item.skip_reason)
        ledger.append(rec)
        done[item.key] = rec
        return
    if crashes.get(item.key, 0) >= max_crashes and prev is None:
        rec = _done_record(
            item,
            run_id,
            "failed",
            reason=(
                f"the process died {crashes[item.key]} times while embedding this input (out of "
                "memory, or a crash inside a decoder); skipped. Check or convert the file."
            ),
            error="ProcessDied",
        )
        ledger.append(rec)
        done[item.key] = rec
        return
    ledger.append({"item": item.key, "event": "start", "run": run_id, "time": _now()})
    summary.computed += 1
    t = time.monotonic()
    try:
        embedding, fates = _embed_item(item, embedder, long_seconds)
        atomic_save_npy(target, embedding)
        rec = _done_record(item, run_id, "ok", fates=fates, seconds=time.monotonic() - t)
    except VoxrefError as exc:
        reason, error = _reason_of(exc)
        rec = _done_record(
            item,
            run_id,
            "failed",
            reason=reason,
            error=error,
            seconds=time.monotonic() - t,
        )
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the run stops, the item is not to blame
        ledger.append({"item": item.key, "event": "interrupted", "run": run_id, "time": _now()})
        raise
    except Exception as exc:  # a bug in voxref or a dependency: record it, keep going
        log.error("%s: unexpected %s\n%s", item.key, type(exc).__name__, traceback.format_exc())
        rec = _done_record(
            item,
            run_id,
            "failed",
            reason=f"internal error ({type(exc).__name__}: {exc}); please report it to voxref",
            error=type(exc).__name__,
            seconds=time.monotonic() - t,
        )
    ledger.append(rec)
    done[item.key] = rec


def _done_record(
    item: BatchItem,
    run_id: str,
    status: str,
    *,
    reason: str = "",
    error: str | None = None,
    fates: list[dict] | None = None,
    seconds: float | None = None,
    recovered: bool = False,
) -> dict:
    rec: dict[str, Any] = {
        "item": item.key,
        "event": "done",
        "status": status,
        "run": run_id,
        "time": _now(),
        "inputs": len(item.inputs),
    }
    if status == "ok":
        rec["output"] = item.output
    if status in ("ok", "failed") and item.inputs:
        rec["sources"] = input_state(item.inputs)  # an input changed later is embedded again
    if reason:
        rec["reason"] = reason
    if error:
        rec["error"] = error
    if fates:
        rec["fates"] = fates
    if seconds is not None:
        rec["seconds"] = round(seconds, 3)
    if recovered:
        rec["recovered"] = True
    return rec


def _embed_item(
    item: BatchItem, embedder: Any, long_seconds: float | None
) -> tuple[np.ndarray, list[dict]]:
    inputs = [str(p) for p in item.inputs]
    if long_seconds is not None and len(inputs) == 1:
        from .audio.stream import stream_info

        try:
            duration = stream_info(inputs[0]).duration
        except VoxrefError:
            duration = 0.0  # let the normal path report what is wrong with it
        if duration > long_seconds:
            from .longform import embed_long

            res = embed_long(inputs[0], embedder=embedder, return_details=True)
            return res.embedding, [f.to_dict() for f in res.report.fates if f.status != "used"]
    speaker = item.key.rstrip("/") if item.key.endswith("/") else None
    res = embedder.embed_details(inputs, speaker=speaker)
    fates = [f.to_dict() for f in res.report.fates if f.status != "used"]
    return res.embedding, fates
