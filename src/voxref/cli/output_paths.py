"""Output paths of the command line, judged before any work is done.

A directory, a path under a file, a folder that cannot be written, an extension nobody can read
back, or an input file given as the output each fail at once with a
:class:`~voxref.errors.ConfigError` naming the fix; a write that fails later (a full disk,
``/dev/full``) is reported as such, not as a traceback.

Examples
--------
>>> check_output("out.npy", suffixes=(".npy", ".json")).name
'out.npy'
>>> check_output("out.txt", suffixes=(".npy", ".json"))
Traceback (most recent call last):
...
voxref.errors.ConfigError: -o out.txt: unknown extension '.txt'; use one of .npy, .json.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..errors import ConfigError

__all__ = ["check_output", "writing", "AUDIO_SUFFIXES"]

#: Audio files the CLI writes (soundfile picks the format from the extension).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    path: str | os.PathLike,
    *,
    suffixes: Sequence[str] | None = None,
    inputs: Iterable[str | os.PathLike] = (),
    option: str = "-o",
) -> Path:
    """``path`` as a :class:`~pathlib.Path` that can be written, or a ConfigError saying why not.

    Parameters
    ----------
    path
        The output file.
    suffixes
        Extensions allowed (lower case, with the dot); ``None``: any.
    inputs
        Files the command reads: the output may not be one of them.
    option
        The option's name in messages.
    """
    p = Path(path)
    where = f"{option} {p}"
    if suffixes is not None and p.suffix.lower() not in suffixes:
        shown = repr(p.suffix) if p.suffix else "(none)"
        raise ConfigError(f"{where}: unknown extension {shown}; use one of {', '.join(suffixes)}.")
    if p.is_dir():
        raise ConfigError(f"{where} is a directory; give a file name inside it.")
    for x in inputs:
        if _same_file(p, Path(x)) or (not p.exists() and p.resolve() == Path(x).resolve()):
            raise ConfigError(
                f"{where} is also an input; writing it would overwrite the input. "
                "Choose another output file."
            )
    for parent in p.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{where}: {parent} is a file, not a folder.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError(f"{where}: cannot write in {parent} (permission denied).")
            break
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"{where}: the file exists and cannot be written (permission denied).")
    return p


@contextlib.contextmanager
def writing(path: str | os.PathLike, option: str = "-o") -> Iterator[Path]:
    """Create the parent folder; an OSError while writing becomes a ConfigError naming the file."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        yield p
    except (OSError, RuntimeError) as exc:  # soundfile's write errors are RuntimeErrors
        why = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(
            f"{option} {p}: could not write it ({why}); check the disk space and the path."
        ) from exc
