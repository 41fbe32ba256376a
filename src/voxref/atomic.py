"""Write a file so that it is either complete or not there: the one atomic writer of voxref.

Every file voxref writes for later reading (batch embeddings, Parquet shards, summaries, training
states, TTS exports) goes through :func:`atomic_write`:

1. the content is written to a temporary file in the *same folder* (``.NAME.PID.RANDOM.tmp``,
   so the rename below never crosses a file system);
2. the temporary file is flushed and ``fsync``-ed, so its bytes are on disk before its name is;
3. ``os.replace`` puts it in place of ``path`` (atomic on POSIX and Windows): a reader sees the
   old file or the new one, never a torn one;
4. the folder is ``fsync``-ed, so the rename itself survives a power cut.

On any error the temporary file is removed and ``path`` is untouched. A process killed between
1 and 3 leaves a ``.*.tmp`` file behind; :func:`remove_stale_temporaries` deletes those.

Examples
--------
>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "x.json")
>>> _ = atomic_write_json(p, {"a": 1})
>>> open(p).read(), [f for f in os.listdir(os.path.dirname(p)) if f.endswith(".tmp")]
('{\\n "a": 1\\n}', [])
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_npy",
    "fsync_dir",
    "remove_stale_temporaries",
    "TEMPORARY_GLOB",
]

#: Names of the temporary files :func:`atomic_write` uses (what a killed writer leaves behind).
TEMPORARY_GLOB = ".*.tmp"


def fsync_dir(directory: str | os.PathLike) -> None:
    """``fsync`` a folder so that a rename inside it is durable (a no-op where folders cannot be
    opened, e.g. on Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_path)``, then flush, ``fsync`` and rename the result to ``path``.

    Parameters
    ----------
    path
        Destination; its folder is created if needed.
    write
        Writes the whole content to the path it is given (and closes what it opened).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> _ = atomic_write(p, lambda t: t.write_text("hello"))
    >>> def fails(t):
    ...     t.write_text("half")
    ...     raise OSError("disk full")
    >>> try:
    ...     atomic_write(p, fails)
    ... except OSError:
    ...     pass
    >>> open(p).read(), sorted(os.listdir(os.path.dirname(p)))
    ('hello', ['x.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)
    return path


def _handle_writer(write: Callable[[Any], None]) -> Callable[[Path], None]:
    def run(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            write(fh)

    return run


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, _handle_writer(lambda fh: fh.write(data)))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, indent: int = 1) -> Path:
    """Write ``data`` as JSON (``ensure_ascii=False``) atomically (:func:`atomic_write`)."""
    return atomic_write_text(path, json.dumps(data, indent=indent, ensure_ascii=False))


def atomic_save_npy(path: str | os.PathLike, array: Any) -> Path:
    """Save ``array`` as ``.npy`` (no pickle) atomically, under exactly the name ``path``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "v.npy")
    >>> _ = atomic_save_npy(p, np.ones(3, dtype=np.float32)); np.load(p).tolist()
    [1.0, 1.0, 1.0]
    """
    import numpy as np

    # through a handle: np.save on a name would append ".npy" to other suffixes
    return atomic_write(
        path, _handle_writer(lambda fh: np.save(fh, np.asarray(array), allow_pickle=False))
    )


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete the temporary files killed writers left anywhere under ``folder``; how many."""
    n = 0
    for stale in Path(folder).rglob(TEMPORARY_GLOB):
        with contextlib.suppress(OSError):
            stale.unlink()
            n += 1
    return n
