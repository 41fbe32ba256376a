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
    import sys

    from tqdm.auto import tqdm

    from ..api import get_embedder, similarity
    from ..errors import AudioError, NoUsableReferenceError

    emb = get_embedder(encoder=args.encoder)
    names, vectors, skipped = [], [], {}
    for f in tqdm(args.files, desc="embedding", disable=len(args.files) < 5):
        try:
            vectors.append(emb.embed([f]))
            names.append(f)
        except (AudioError, NoUsableReferenceError) as exc:  # this file only: skip and report
            why = exc.report.fates[0].reason if isinstance(exc, NoUsableReferenceError) else exc
            skipped[f] = str(getattr(why, "reason", why))
            print(f"voxref: skipped {f}: {skipped[f]}", file=sys.stderr)
    if not vectors:
        print("voxref: error: no file could be embedded", file=sys.stderr)
        return 1
    sim = similarity(vectors)
    if args.json:
        print(json.dumps({"files": names, "similarity": sim.round(4).tolist(), "skipped": skipped}))
    else:
        print(format_matrix(names, sim))
    return 0
