"""``voxref diarize FILE [--num-speakers N] [--rttm out.rttm]``: who speaks when."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .options import add_diarizer_arguments, diarizer_options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diarize",
        help="who speaks when in a recording",
        description=(
            "Speaker diarization: offline by default (voxref's encoder, no download); "
            "--pipeline uses a pyannote.audio pipeline instead."
        ),
    )
    p.add_argument("file", help="recording (wav/flac/ogg/mp3)")
    p.add_argument(
        "-n", "--num-speakers", type=int, default=None, help="number of speakers, if known"
    )
    p.add_argument("--min-speakers", type=int, default=1, help="lower bound when estimating")
    p.add_argument("--max-speakers", type=int, default=None, help="upper bound when estimating")
    p.add_argument("--rttm", help="write the result as RTTM to this file")
    p.add_argument(
        "--pipeline",
        help="pyannote.audio pipeline: a local folder with config.yaml, or a hub id (needs --token)",
    )
    p.add_argument("--token", help="Hugging Face token for a hub pipeline")
    p.add_argument("--json", action="store_true", help="print turns as JSON instead of text")
    add_diarizer_arguments(p)
    p.set_defaults(func=run)


def write_rttm(annotation, path: Path, uri: str) -> None:
    """Write ``annotation`` as RTTM (``uri`` names the file in every line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    annotation.uri = uri
    with open(path, "w") as f:
        annotation.write_rttm(f)


def run(args: argparse.Namespace) -> int:
    from ..separation.diarization import diarize
    from .output_paths import check_output, writing

    rttm = None
    if args.rttm:  # judged before the recording is read
        rttm = check_output(args.rttm, suffixes=(".rttm",), inputs=[args.file], option="--rttm")
    ann = diarize(
        args.file,
        num_speakers=args.num_speakers,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
        pipeline=args.pipeline,
        token=args.token,
        **({} if args.pipeline else diarizer_options(args)),
    )
    uri = Path(args.file).stem
    turns = [
        {"start": round(s.start, 3), "end": round(s.end, 3), "speaker": lab}
        for s, _, lab in ann.itertracks(yield_label=True)
    ]
    if rttm is not None:
        with writing(rttm, "--rttm"):
            write_rttm(ann, rttm, uri)
        print(
            f"wrote {args.rttm}: {len(turns)} turns, {len(ann.labels())} speaker(s)",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps({"uri": uri, "speakers": sorted(ann.labels()), "turns": turns}))
    elif not args.rttm:
        for t in turns:
            print(f"{t['start']:9.3f} {t['end']:9.3f}  {t['speaker']}")
    return 0
