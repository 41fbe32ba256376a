"""``voxref similarity FILES...``: cosine similarity matrix between recordings."""

from __future__ import annotations

import argparse
import json
import os

__all__ = ["register", "run", "format_matrix"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("similarity", help="cosine similarity matrix between recordings")
    p.add_argument("files", nargs="+", help="recordings (each embedded on its own)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--encoder", default="ge2e")
    p.set_defaults(func=run)


def format_matrix(names: list[str], matrix) -> str:
    """A plain-text table of a square matrix with row/column labels."""
    short = [os.path.basename(n)[:20] for n in names]
    width = max(8, *(len(s) for s in short))
    head = " " * width + " " + " ".join(f"{s:>{width}}" for s in short)
    rows = [
        f"{s:>{width}} " + " ".join(f"{v:>{width}.3f}" for v in row)
        for s, row in zip(short, matrix)
    ]
    return "\n".join([head, *rows])


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..api import get_embedder, similarity

    emb = get_embedder(encoder=args.encoder)
    vectors = [
        emb.embed([f]) for f in tqdm(args.files, desc="embedding", disable=len(args.files) < 5)
    ]
    sim = similarity(vectors)
    if args.json:
        print(json.dumps({"files": args.files, "similarity": sim.round(4).tolist()}))
    else:
        print(format_matrix(args.files, sim))
    return 0
