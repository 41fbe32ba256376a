"""``voxref embed-dir DIR -o OUT``: embed a folder of recordings, resumably, losing nothing.

Exit codes: those of every batch command (:mod:`voxref.cli.batch_options`).
"""

from __future__ import annotations

import argparse
import sys

from .batch_options import EXIT_SOME_FAILED, add_batch_arguments, batch_exit_status
from .options import add_embedder_arguments, embedder_options

__all__ = ["register", "run", "EXIT_SOME_FAILED"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed-dir",
        help="embed every recording (or speaker folder) of a folder; resumable",
        description=(
            "Embed every audio file under DIR (or every speaker sub-folder with --per "
            "speaker-folder) into OUT/embeddings/*.npy. Progress is saved after every item in "
            "OUT/ledger.jsonl: if the run is killed, run the same command again and it continues "
            "where it stopped without recomputing anything. Every failure is recorded with its "
            "reason; OUT/summary.json counts everything. Exit status: 0 all embedded, 3 some "
            "items failed (see the summary), 1 error."
        ),
    )
    p.add_argument("directory", metavar="DIR", help="folder of recordings (searched recursively)")
    add_batch_arguments(p, item="item")
    p.add_argument(
        "--per",
        choices=("file", "speaker-folder"),
        default="file",
        help="one embedding per file (default), or per speaker sub-folder of DIR",
    )
    p.add_argument(
        "--pattern",
        action="append",
        metavar="GLOB",
        help="file-name pattern to embed, case-insensitive (repeatable; default: common audio "
        "extensions: wav flac ogg opus mp3 aiff au w64 caf)",
    )
    p.add_argument("--retry-failed", action="store_true", help="on resume, try failed items again")
    add_embedder_arguments(p)
    p.add_argument(
        "--long-seconds",
        type=float,
        default=600.0,
        help="files longer than this are streamed in bounded memory (default 600)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..api import get_embedder
    from ..batch import AUDIO_PATTERNS, SUMMARY_FILE, embed_dir

    options = embedder_options(args)
    summary = embed_dir(
        args.directory,
        args.output,
        pattern=tuple(args.pattern) if args.pattern else AUDIO_PATTERNS,
        per=args.per,
        resume=not args.no_resume,
        retry_failed=args.retry_failed,
        max_crashes=args.max_crashes,
        long_seconds=args.long_seconds if args.long_seconds > 0 else None,
        embedder=get_embedder(**options),
        progress=not args.quiet,
    )
    for f in summary.failures:
        print(f"voxref: {f['status']}: {f['item']}: {f['reason']}", file=sys.stderr)
    if summary.ignored:
        print(
            f"voxref: {len(summary.ignored)} file(s) matched no pattern and were not embedded "
            f"(listed in {SUMMARY_FILE}), e.g. {summary.ignored[0]}",
            file=sys.stderr,
        )
    print(
        f"{summary.ok} embedded, {summary.failed} failed, {summary.skipped} skipped of "
        f"{summary.total} ({summary.computed} computed now, {summary.reused} already done, "
        f"{summary.recovered} recovered); summary: {args.output}/{SUMMARY_FILE}",
        file=sys.stderr,
    )
    return batch_exit_status(summary)
