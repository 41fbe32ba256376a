"""Embedder options shared by the commands that embed many files (``embed-dir``, ``embed-dataset``)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_embedder_arguments", "embedder_options"]


def add_embedder_arguments(p: argparse.ArgumentParser) -> None:
    """``--encoder``, ``--pooling``, ``--no-clean``."""
    p.add_argument("--encoder", default="ge2e", help="encoder backend (default: ge2e, bundled)")
    p.add_argument("--pooling", default=None, help="pooling (default: the library's)")
    p.add_argument(
        "--no-clean", action="store_true", help="skip the cleaning stage (VAD, denoising)"
    )


def embedder_options(args: argparse.Namespace) -> dict[str, Any]:
    """:class:`voxref.Embedder` keyword options from the arguments above (defaults left out).

    Examples
    --------
    >>> embedder_options(argparse.Namespace(encoder="ge2e", pooling=None, no_clean=True))
    {'encoder': 'ge2e', 'clean': False}
    """
    options: dict[str, Any] = {"encoder": args.encoder}
    if args.pooling:
        options["pooling"] = args.pooling
    if args.no_clean:
        options["clean"] = False
    return options
