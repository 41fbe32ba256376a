"""Options and exit status shared by the batch commands ``embed-dir`` and ``embed-dataset``
(both run :mod:`voxref.batch_engine`).

Exit status of a batch command: 0 every item embedded, :data:`EXIT_SOME_FAILED` (3) finished but
some items failed, were rejected or skipped (each is listed with its reason in
``OUT/summary.json``), 1 a voxref error stopped the run, 130 interrupted (run the same command
again to resume).
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["EXIT_SOME_FAILED", "add_batch_arguments", "batch_exit_status"]

#: Exit status when a batch finished but at least one item failed, was rejected or skipped.
EXIT_SOME_FAILED = 3


def _at_least_one(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number of 1 or more; got {text!r}")
    return n


def add_batch_arguments(p: argparse.ArgumentParser, *, item: str) -> None:
    """``-o/--output``, ``--no-resume``, ``--max-crashes``, ``-q/--quiet``; ``item`` names the
    unit of work in the help ("item", "clip")."""
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder; running the same command into it again continues the batch",
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="refuse to continue a batch already in OUT (default: continue it)",
    )
    p.add_argument(
        "--max-crashes",
        type=_at_least_one,
        default=2,
        metavar="N",
        help=f"an {item} the process died on N times is recorded as failed instead of being "
        "tried again (default 2)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def batch_exit_status(summary: Any) -> int:
    """0 when every item of a :class:`~voxref.batch_engine.RunSummary` succeeded, else
    :data:`EXIT_SOME_FAILED`."""
    return EXIT_SOME_FAILED if summary.problems else 0
