"""``voxref embed FILES... -o speaker.npy``: one speaker embedding from several references."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["register", "run", "write_embedding"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed",
        help="embed one speaker from reference recordings",
        description="Pool the references (all of one voice) into one L2-normalised speaker embedding.",
    )
    p.add_argument(
        "files", nargs="+", help="reference recordings of one speaker (wav/flac/ogg/mp3)"
    )
    p.add_argument(
        "-o", "--output", help="output file: .npy or .json (default: print JSON to stdout)"
    )
    p.add_argument("--encoder", default="ge2e", help="encoder backend (default: ge2e, bundled)")
    p.add_argument(
        "--pooling", default=None, help="pooling over references (default: the library's)"
    )
    p.set_defaults(func=run)


def write_embedding(path: Path, result) -> None:
    """Write ``result`` (an EmbeddingResult) as .npy (vector) or .json (vector + details)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, result.embedding)
    elif path.suffix == ".json":
        path.write_text(json.dumps(result.to_dict(), indent=1))
    else:
        from ..errors import ConfigError

        raise ConfigError(f"unknown output format {path.suffix!r}; use .npy or .json.")


def run(args: argparse.Namespace) -> int:
    from ..api import get_embedder

    options = {"encoder": args.encoder}
    if args.pooling:
        options["pooling"] = args.pooling
    emb = get_embedder(**options)
    result = emb.embed(args.files, return_details=True)
    for fate in result.report.fates:
        if fate.status in ("rejected", "failed"):
            print(f"voxref: {fate.status}: {fate.source}: {fate.reason}", file=sys.stderr)
    if args.output:
        write_embedding(Path(args.output), result)
        print(
            f"wrote {args.output}: {result.embedding.shape[0]}-d embedding from "
            f"{len(result.report.used)}/{len(result.report.fates)} references",
            file=sys.stderr,
        )
    else:
        print(json.dumps(result.to_dict()))
    return 0
