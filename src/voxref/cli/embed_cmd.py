"""``voxref embed FILES... -o speaker.npy``: one speaker embedding from several references."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .options import add_embedder_arguments, embedder_options

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
    p.add_argument(
        "--format",
        choices=("npy", "json", "coqui", "speecht5", "rtvc"),
        default=None,
        help="npy (default for .npy), json (vector + details), coqui (d_vector_file .json/.pth), "
        "speecht5 ((1, 512) tensor .pt), rtvc (SV2TTS 256-d .npy); all but json also write a "
        "<name>.voxref.json sidecar",
    )
    p.add_argument("--speaker", default=None, help="speaker name written into coqui files")
    p.add_argument(
        "--bridge", default=None, help="a fitted bridge (.pt) mapping into the TTS encoder's space"
    )
    add_embedder_arguments(p)
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

    if args.output:  # judged before any audio is read
        from .output_paths import check_output

        check_output(
            args.output,
            suffixes=None if args.format else (".npy", ".json"),
            inputs=args.files,
        )
    result = get_embedder(**embedder_options(args)).embed(args.files, return_details=True)
    for fate in result.report.fates:
        if fate.status in ("rejected", "failed"):
            print(f"voxref: {fate.status}: {fate.source}: {fate.reason}", file=sys.stderr)
    fmt = args.format or ("json" if args.output and args.output.endswith(".json") else "npy")
    if args.output and fmt != "json":
        from ..tts.bridge import load_bridge
        from ..tts.export import export_embedding

        bridge = load_bridge(args.bridge) if args.bridge else None
        export_embedding(result, args.output, fmt, speaker=args.speaker, bridge=bridge)
        print(f"wrote {args.output} ({fmt})", file=sys.stderr)
    elif args.output:
        from .output_paths import writing

        with writing(args.output) as path:
            write_embedding(path, result)
        print(
            f"wrote {args.output}: {result.embedding.shape[0]}-d embedding from "
            f"{len(result.report.used)}/{len(result.report.fates)} references",
            file=sys.stderr,
        )
    else:
        print(json.dumps(result.to_dict()))
    return 0
