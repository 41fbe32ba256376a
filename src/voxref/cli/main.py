"""Entry point of the ``voxref`` command: builds the parser from one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from .. import __version__
from ..errors import VoxrefError

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

#: Subcommand modules, in the order ``--help`` lists them. Each exposes ``register(subparsers)``.
COMMAND_MODULES = (
    "embed_cmd",
    "similarity_cmd",
    "check_cmd",
    "clean_cmd",
    "diarize_cmd",
    "extract_cmd",
    "prompt_cmd",
    "inspect_cmd",
    "embed_dir_cmd",
    "embed_dataset_cmd",
    "audit_cmd",
    "export_cmd",
    "train_cmd",
    "demo_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxref",
        description="Robust speaker embeddings from a few messy reference recordings.",
    )
    parser.add_argument("--version", action="version", version=f"voxref {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        qual = f"{__package__}.{name}"
        if importlib.util.find_spec(qual) is None:  # a command still being built
            continue
        importlib.import_module(qual).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code (0 ok, 1 voxref error, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VoxrefError as exc:
        print(f"voxref: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("voxref: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
