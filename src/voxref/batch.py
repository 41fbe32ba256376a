"""Embed a whole folder of recordings, losing nothing: incremental, atomic, resumable.

:func:`embed_dir` walks a folder and embeds every audio file (``per="file"``) or every speaker
sub-folder (``per="speaker-folder"``: all files under ``DIR/<speaker>/`` are that speaker's
references). It is built to be killed at any moment and started again:

* each embedding is written to ``OUT/embeddings/<item>.npy`` through a temporary file, ``fsync``
  and ``os.replace``: a file either is complete or is not there;
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
  with its reason. ``OUT/batch.json`` records the options; resuming with a different encoder or
  mode is refused, so one folder never mixes embedding spaces.

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

import contextlib
import fnmatch
import json
import logging
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .batch_state import input_changed, input_state, terminate_as_interrupt, vector_options
from .errors import ConfigError, NoUsableReferenceError, VoxrefError

__all__ = [
    "AUDIO_PATTERNS",
    "BatchItem",
    "BatchSummary",
    "Ledger",
    "embed_dir",
    "discover",
    "atomic_save_npy",
    "atomic_write",
    "atomic_write_text",
    "exclusive_output",
]

log = logging.getLogger(__name__)

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
LEDGER_FILE = "ledger.jsonl"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "batch.json"
EMBED_DIR = "embeddings"
LOCK_FILE = ".lock"
FORMAT = "voxref-embed-dir"
FORMAT_VERSION = 1


# =========================================================================== atomic files
def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_path)``, ``fsync`` the file and rename it to ``path`` (never torn).

    ``path`` is either absent or complete, whatever happens: the temporary file lives in the same
    folder and is removed on failure.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> _ = atomic_write(p, lambda t: t.write_text("hello"))
    >>> open(p).read(), [f for f in os.listdir(os.path.dirname(p)) if f.endswith(".tmp")]
    ('hello', [])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` so that ``path`` is either absent or complete (never torn).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "v.npy")
    >>> atomic_save_npy(p, np.ones(3, dtype=np.float32)); np.load(p).tolist()
    [1.0, 1.0, 1.0]
    """

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a handle: np.save would add ".npy" to a name
            np.save(fh, np.asarray(array), allow_pickle=False)

    atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# =========================================================================== ledger
class Ledger:
    """Append-only JSON-lines record of a batch; every line is flushed and ``fsync``-ed.

    Reading tolerates a torn last line (the process was killed mid-write): it is skipped with a
    warning, and the next append starts on a fresh line.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fh = None

    def read(self) -> list[dict]:
        """Every complete, valid record, in order."""
        if not self.path.exists():
            return []
        records = []
        with open(self.path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                line = raw.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    log.warning("%s line %d is torn or corrupt; ignoring it", self.path, n)
                    continue
                if isinstance(rec, dict) and "item" in rec and "event" in rec:
                    records.append(rec)
        return records

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                torn = fh.read(1) != b"\n"
        self._fh = open(self.path, "a", encoding="utf-8")
        if torn:  # a line cut by a kill: end it, so the next record starts clean
            self._fh.write("\n")

    def append(self, record: dict) -> None:
        if self._fh is None:
            self.open()
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# =========================================================================== discovery
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


# =========================================================================== summary
@dataclass
class BatchSummary:
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
    """

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
    elapsed_seconds: float = 0.0
    encoder: dict = field(default_factory=dict)
    complete: bool = False

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
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


@contextlib.contextmanager
def exclusive_output(out: Path, command: str = "embed-dir") -> Iterator[None]:
    """Hold ``OUT/.lock`` so two processes never write one output folder.

    Shared by ``voxref embed-dir`` and ``voxref embed-dataset``; ``command`` names the writer in
    the error raised when the folder is already taken.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; run one batch per folder
        yield
        return
    fh = open(out / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise ConfigError(
                f"another voxref {command} is writing to {out}; wait for it or use another folder."
            ) from exc
        yield
    finally:
        fh.close()


def _check_config(out: Path, config: dict, resume: bool, has_ledger: bool) -> None:
    path = out / CONFIG_FILE
    if has_ledger and not resume:
        raise ConfigError(
            f"{out} already holds a batch; pass resume=True (CLI: leave out --no-resume) to "
            "continue it, or choose an empty output folder."
        )
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if isinstance(old, dict):
            for key in ("per", "embedder", "encoder"):
                if old.get(key) != config.get(key):
                    raise ConfigError(
                        f"{out} holds a batch made with {key}={old.get(key)!r}, not "
                        f"{config.get(key)!r}; embeddings from different settings must not mix. "
                        "Use another output folder."
                    )
    atomic_write_text(path, json.dumps(config, indent=1, ensure_ascii=False))


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
    if embedder is None:
        from .api import get_embedder

        embedder = get_embedder(**options)
    elif options:
        raise ConfigError("pass Embedder options either in embedder=... or as keywords, not both.")
    items, ignored = discover(root, pattern=pattern, per=per, exclude=out)
    out.mkdir(parents=True, exist_ok=True)
    (out / EMBED_DIR).mkdir(exist_ok=True)
    summary = BatchSummary(str(root), str(out), per, total=len(items), ignored=ignored)
    with exclusive_output(out), terminate_as_interrupt():
        ledger = Ledger(out / LEDGER_FILE)
        records = ledger.read()
        encoder = embedder.encoder.describe()
        summary.encoder = encoder
        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "input_dir": str(root.resolve()),
            "per": per,
            "patterns": [pattern] if isinstance(pattern, str) else list(pattern),
            "embedder": vector_options(
                embedder, long_seconds=long_seconds if per == "file" else None
            ),
            "encoder": encoder,
        }
        _check_config(out, config, resume, has_ledger=bool(records))
        for stale in (out / EMBED_DIR).rglob(".*.tmp"):  # a kill mid-write leaves these
            with contextlib.suppress(OSError):
                stale.unlink()
        done: dict[str, dict] = {}
        crashes: dict[str, int] = {}
        for rec in records:
            if rec["event"] == "done":
                done[rec["item"]] = rec
                crashes.pop(rec["item"], None)
            elif rec["event"] == "start":
                crashes[rec["item"]] = crashes.get(rec["item"], 0) + 1
            elif rec["event"] == "interrupted":  # Ctrl-C / SIGTERM: not the item's fault
                crashes[rec["item"]] = max(0, crashes.get(rec["item"], 0) - 1)
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
                    long_seconds=long_seconds if per == "file" else None,
                )
                bar.update(1)
            summary.complete = True
        finally:
            bar.close()
            ledger.close()
            final = {it.key: done.get(it.key) for it in items}
            summary.ok = sum(1 for r in final.values() if r and r["status"] == "ok")
            summary.failed = sum(1 for r in final.values() if r and r["status"] == "failed")
            summary.skipped = sum(1 for r in final.values() if r and r["status"] == "skipped")
            summary.failures = [
                {
                    "item": k,
                    "status": r["status"],
                    "reason": r.get("reason", ""),
                    "error": r.get("error"),
                }
                for k, r in final.items()
                if r and r["status"] != "ok"
            ]
            summary.elapsed_seconds = time.monotonic() - t0
            atomic_write_text(
                out / SUMMARY_FILE, json.dumps(summary.to_dict(), indent=1, ensure_ascii=False)
            )
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
