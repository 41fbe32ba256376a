"""What a resumable batch (:mod:`voxref.batch_engine`) must remember to stay right on resume.

* **Run identity**: every option that changes a vector (:func:`vector_options`). A batch folder
  made with one set is never continued with another.
* **Input state**: each input's size, modification time, status-change time (``ctime``) and
  SHA-256 when it was embedded (:func:`input_state`). On resume (:func:`input_changed`) an
  input of another size is changed; one whose modification *and* status-change times are both
  as recorded is unchanged, read no further; any other is hashed, and changed if its content
  differs. The status-change time is what catches a file rewritten with the same size and its
  old modification time put back (``os.utime`` can set the latter, never the former: the
  kernel sets it to the present on every write or ``utime``). So a resume costs one ``stat``
  per input, and a hash only for inputs that were touched, rewritten, copied or moved to
  another file system -- a batch folder moved or copied together with its inputs has them
  hashed on resume, and is not redone. (On Windows ``st_ctime`` is the creation time, which a
  rewrite in place keeps: there a rewrite that keeps size and modification time goes
  unnoticed.)
* **Interrupts**: Ctrl-C and SIGTERM stop the run cleanly (:func:`terminate_as_interrupt`) and
  are written to the ledger, so they are not counted as the process dying on an item.

Examples
--------
>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
>>> _ = open(p, "wb").write(b"RIFF....")
>>> state = input_state([p])
>>> input_changed(state, [p]) is None
True
>>> _ = open(p, "wb").write(b"RIFF!!!!")
>>> input_changed(state, [p]).startswith("a.wav changed since it was embedded")
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import signal
import stat
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "VECTOR_OPTIONS",
    "vector_options",
    "input_state",
    "input_changed",
    "BatchInterrupted",
    "terminate_as_interrupt",
]

#: Embedder attributes that change the vector an input gets (the run's identity), with the
#: fields of its ``advanced`` options (:class:`voxref.tuning.EmbedderTuning`).
VECTOR_OPTIONS = (
    "pooling",
    "min_seconds",
    "clean",
    "_clean_options",
    "guiding",
    "level_dbfs",
    "separate",
)

# recorded under the name an earlier version gave the option, so that a batch folder made then
# still resumes (its ``batch.json`` compares these names)
_RECORDED_AS = {"guiding": "guide"}


def vector_options(embedder: Any, **more: Any) -> dict[str, str]:
    """``{option: repr(value)}`` of every option of ``embedder`` that changes a vector, plus
    ``more`` (batch options that do, e.g. ``long_seconds``)."""
    out = {
        _RECORDED_AS.get(k, k.strip("_")): repr(getattr(embedder, k))
        for k in VECTOR_OPTIONS
        if hasattr(embedder, k)
    }
    advanced = getattr(embedder, "advanced", None)
    if advanced is not None:
        out.update({f.name: repr(getattr(advanced, f.name)) for f in dataclasses.fields(advanced)})
    out.update({k: repr(v) for k, v in more.items()})
    return out


def _sha256(path: Path) -> str | None:
    if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hash_or_none(path: Path) -> str | None:
    try:
        return _sha256(path)
    except OSError:
        return None


def input_state(paths: Sequence[str | os.PathLike]) -> list[dict]:
    """Size, modification and status-change times (ns) and SHA-256 of each input file (``None``
    where unreadable)."""
    out = []
    for p in paths:
        rec: dict[str, Any] = {
            "path": str(p),
            "size": None,
            "mtime_ns": None,
            "ctime_ns": None,
            "sha256": None,
        }
        with contextlib.suppress(OSError):
            st = os.stat(p)
            rec["size"], rec["mtime_ns"], rec["ctime_ns"] = (
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
            )
            rec["sha256"] = _sha256(Path(p))
        out.append(rec)
    return out


def input_changed(state: Sequence[dict] | None, paths: Sequence[str | os.PathLike]) -> str | None:
    """Why the inputs differ from ``state`` (recorded by :func:`input_state`), or ``None``.

    ``state=None`` (a record from before states were kept) is taken as unchanged. A record
    without ``ctime_ns`` (written by an earlier version) is compared by content.
    """
    if state is None:
        return None
    now = sorted(str(p) for p in paths)
    if len(now) != len(state):
        return "its input files changed (added or removed) since it was embedded"
    # paired in path order, so a batch folder moved or copied with its inputs is still matched
    for p, old in zip(now, sorted(state, key=lambda s: s["path"])):
        name = os.path.basename(p)
        try:
            st = os.stat(p)
        except OSError:
            st = None
        if st is None or old["size"] is None:  # unreadable now or then
            if (st is None) != (old["size"] is None):
                return f"{name} {'can no longer' if st is None else 'can now'} be read"
            continue
        if st.st_size != old["size"]:
            return (
                f"{name} changed since it was embedded (size {old['size']} -> {st.st_size} bytes)"
            )
        untouched = st.st_mtime_ns == old["mtime_ns"] and st.st_ctime_ns == old.get("ctime_ns")
        if not untouched and _hash_or_none(Path(p)) != old["sha256"]:
            return f"{name} changed since it was embedded (modified, content differs)"
    return None


class BatchInterrupted(KeyboardInterrupt):
    """A batch was stopped by SIGTERM (Ctrl-C raises :class:`KeyboardInterrupt` itself)."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`BatchInterrupted` (main thread only), so a
    terminated run unwinds and records the interrupt like Ctrl-C instead of dying mid-item."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:  # noqa: ARG001
        raise BatchInterrupted("terminated (SIGTERM)")

    old = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
