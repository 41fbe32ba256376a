"""The resumable batch engine shared by :func:`voxref.embed_dir` and :func:`voxref.scale.embed_dataset`.

Both front ends write into an output folder that a run may be killed in at any moment and that
the same command, run again, continues. What keeps that right lives here, once:

* :class:`RunFolder` -- the output folder of one batch: created, held by one process at a time
  (``OUT/.lock``), SIGTERM turned into an interrupt for the duration (a terminated run unwinds
  and records what it was doing, like Ctrl-C), the run's identity checked against the one it
  was started with (:func:`check_identity`: every option that changes a vector; a batch folder
  written by an earlier format is resumed or refused with what to do), temporary files of a
  killed writer removed, and the summary written atomically at the end, also when the run
  stops early;
* :class:`Ledger` -- the append-only, ``fsync``-ed record of per-item outcomes;
* :class:`RunSummary` -- the fields and the ``summary.json`` writing both summaries share;
* every file goes through :mod:`voxref.atomic` (complete or absent, never torn).

The front ends add what differs: what an item is (a file or speaker folder in
:mod:`voxref.batch`, a shard of manifest rows in :mod:`voxref.scale.dataset`), how it is
embedded and what is written for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .atomic import atomic_write_json, remove_stale_temporaries
from .batch_state import terminate_as_interrupt
from .errors import ConfigError

__all__ = [
    "RunFolder",
    "RunSummary",
    "Ledger",
    "check_identity",
    "exclusive_output",
    "LOCK_FILE",
    "SUMMARY_FILE",
]

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"
SUMMARY_FILE = "summary.json"


# =========================================================================== ledger
class Ledger:
    """Append-only JSON-lines record of a batch; every line is flushed and ``fsync``-ed.

    Reading tolerates a torn last line (the process was killed mid-write): it is skipped with a
    warning, and the next append starts on a fresh line.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "ledger.jsonl")
    >>> led = Ledger(p); led.append({"item": "a.wav", "event": "start"}); led.close()
    >>> _ = open(p, "a").write('{"item": "b.wav", "ev')          # a kill mid-line
    >>> [r["item"] for r in Ledger(p).read()]
    ['a.wav']
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fh: Any = None

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

    def outcomes(self) -> tuple[dict[str, dict], dict[str, int]]:
        """``(done, crashes)``: the last ``"done"`` record of each item, and for each item not
        done since, how many runs died while it was in flight (a ``"start"`` with no ``"done"``
        after it; an ``"interrupted"`` record, Ctrl-C or SIGTERM, takes one back)."""
        done: dict[str, dict] = {}
        crashes: dict[str, int] = {}
        for rec in self.read():
            item = rec["item"]
            if rec["event"] == "done":
                done[item] = rec
                crashes.pop(item, None)
            elif rec["event"] == "start":
                crashes[item] = crashes.get(item, 0) + 1
            elif rec["event"] == "interrupted":  # not the item's fault
                crashes[item] = max(0, crashes.get(item, 0) - 1)
        return done, crashes

    def open(self) -> None:
        """Open for appending; a torn last line is ended first."""
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
        """Write one record and make it durable before returning."""
        if self._fh is None:
            self.open()
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# =========================================================================== summary
@dataclass(kw_only=True)
class RunSummary:
    """What every batch reports: whether it finished, how long it took, how much it did.

    Subclasses (:class:`voxref.batch.BatchSummary`, :class:`voxref.scale.DatasetSummary`) add
    their counts and define :meth:`to_dict`, the layout of ``OUT/summary.json`` users read.

    Attributes
    ----------
    complete
        The run went through every item (``False``: interrupted; run it again to resume).
    elapsed_seconds
        Wall time of this call.
    """

    FORMAT: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    complete: bool = False
    elapsed_seconds: float = 0.0

    @property
    def problems(self) -> int:
        """Items that ended failed, rejected or skipped (the CLI exits 3 when there are any)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The content of ``summary.json``."""
        raise NotImplementedError

    def header(self) -> dict[str, Any]:
        return {"format": self.FORMAT, "version": self.VERSION}


# =========================================================================== the folder
@contextlib.contextmanager
def exclusive_output(out: Path, command: str = "embed-dir") -> Iterator[None]:
    """Hold ``OUT/.lock`` so two processes never write one output folder.

    ``command`` names the writer in the error raised when the folder is already taken.
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


def _differences(old: Any, new: Any) -> list[str]:
    """Names of the entries of two recorded option dicts that differ (or ``[]``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return [] if old == new else ["value"]


def check_identity(
    path: Path,
    config: dict[str, Any],
    keys: Sequence[str],
    *,
    command: str,
    upgrade: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
    describe: Callable[[str], str] = lambda key: key,
    fresh: bool = False,
) -> None:
    """Refuse to continue a batch made with other settings; then (re)write its record.

    Parameters
    ----------
    path
        The run's record (``batch.json`` / ``dataset.json``).
    config
        This run's record: ``format``, ``version`` and the identity ``keys`` among others.
    keys
        Entries that must be equal for a run to continue the folder (everything that changes
        a vector, and what the items are).
    command
        The CLI command, for messages.
    upgrade
        ``upgrade(old, config)`` turns the record ``old`` of an earlier ``version`` into the
        current layout (raising a
        :class:`~voxref.errors.ConfigError` that says what to do when it cannot); without it an
        earlier version is refused.
    describe
        Readable name of a key in the message.
    fresh
        Refuse any batch already in the folder (``resume=False``).

    Raises
    ------
    voxref.errors.ConfigError
        A batch already there with ``fresh``, another format, a newer or unreadable version, or different settings.
    """
    old: Any = None
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            old = None
            log.warning("%s is unreadable; it is written again from this run's settings", path)
    if fresh and path.exists():
        raise ConfigError(
            f"{path.parent} already holds a batch; pass resume=True (CLI: leave out --no-resume) "
            "to continue it, or choose an empty output folder."
        )
    if isinstance(old, dict):
        out = path.parent
        fmt, version = old.get("format", config["format"]), old.get("version", 1)
        if fmt != config["format"]:
            raise ConfigError(
                f"{out} holds a {fmt} output, not a voxref {command} batch; use another folder."
            )
        if not isinstance(version, int) or version > config["version"]:
            raise ConfigError(
                f"{out} was written by a newer voxref (format version {version!r}; this one "
                f"reads up to {config['version']}); continue it with that version, or use "
                "another output folder."
            )
        if version < config["version"]:
            if upgrade is None:
                raise ConfigError(
                    f"{out} holds a batch of an earlier format (version {version}) that this "
                    f"voxref cannot continue; move it aside and run voxref {command} into a new "
                    "output folder."
                )
            old = upgrade(old, config)
            log.info("%s: continuing a batch of format version %d", out, version)
        for key in keys:
            if old.get(key) != config.get(key):
                what = ", ".join(_differences(old.get(key), config.get(key)))
                raise ConfigError(
                    f"{out} holds a batch made with a different {describe(key)} ({what}): "
                    f"{old.get(key)!r}, not {config.get(key)!r}; results of different settings "
                    "must not mix. Use another output folder (or delete this one)."
                )
    atomic_write_json(path, config)


@dataclass
class RunFolder:
    """The output folder of one batch run, held for the duration of a ``with`` block.

    Entering creates the folder, takes its lock, makes SIGTERM an interrupt, checks the run's
    identity (:func:`check_identity`) and removes the temporary files a killed run left.
    :meth:`write_summary` writes ``OUT/summary.json`` atomically.

    Attributes
    ----------
    out
        The output folder.
    command
        The CLI command (``"embed-dir"``, ``"embed-dataset"``), for messages.
    config_file
        Name of the run's record inside ``out``.
    config, keys, upgrade, describe, fresh
        See :func:`check_identity`.
    """

    out: Path
    command: str
    config_file: str
    config: dict[str, Any]
    keys: Sequence[str]
    upgrade: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
    describe: Callable[[str], str] = field(default=lambda key: key)
    fresh: bool = False
    _stack: contextlib.ExitStack | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> RunFolder:
        self.out = Path(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            stack.enter_context(exclusive_output(self.out, self.command))
            stack.enter_context(terminate_as_interrupt())
            check_identity(
                self.out / self.config_file,
                self.config,
                self.keys,
                command=self.command,
                upgrade=self.upgrade,
                describe=self.describe,
                fresh=self.fresh,
            )
            n = remove_stale_temporaries(self.out)
            if n:
                log.info("%s: removed %d temporary file(s) of a killed run", self.out, n)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def write_summary(self, summary: RunSummary) -> Path:
        """Write ``OUT/summary.json`` atomically."""
        return atomic_write_json(self.out / SUMMARY_FILE, summary.to_dict())
