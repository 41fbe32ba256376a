"""``voxref extract RECORDING --ref a.wav [--ref b.wav] -o target.wav [--rttm out.rttm]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .options import add_diarizer_arguments

__all__ = ["register", "run", "parse_segments"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="cut the target speaker's speech out of a multi-speaker recording",
        description=(
            "Find the speaker that matches the guide (reference recordings, an embedding .npy, "
            "or explicit segments) and write the parts where only that speaker talks."
        ),
    )
    p.add_argument("recording", help="multi-speaker recording")
    guide = p.add_argument_group("guide (one kind)")
    guide.add_argument(
        "--ref", action="append", default=[], help="reference recording of the target (repeatable)"
    )
    guide.add_argument("--embedding", help="target embedding (.npy, same encoder)")
    guide.add_argument(
        "--segments", help="target segments on the recording: 'START-END,START-END' (seconds)"
    )
    p.add_argument("-o", "--output", help="write the target-only audio here (.wav/.flac)")
    p.add_argument("--rttm", help="write the diarization (target labelled TARGET) as RTTM")
    p.add_argument("-n", "--num-speakers", type=int, default=None, help="speakers in the recording")
    p.add_argument(
        "--pipeline", help="pyannote.audio pipeline (folder or hub id) instead of voxref's diarizer"
    )
    p.add_argument("--token", help="Hugging Face token for a hub pipeline")
    p.add_argument("--embedding-out", help="also write the target embedding (.npy)")
    p.add_argument(
        "--min-guide-similarity",
        type=float,
        default=None,
        help="cosine to the guide from which a speaker is the target (default: 0.8 with voxref's "
        "diarizer, below it the target is reported as not found; not checked with --pipeline "
        "unless given, on that model's scale); -1 takes the closest speaker anyway",
    )
    add_diarizer_arguments(p)
    p.set_defaults(func=run)


def parse_segments(text: str) -> list[tuple[float, float]]:
    """``"1.5-3,10-12.25"`` -> ``[(1.5, 3.0), (10.0, 12.25)]``.

    Examples
    --------
    >>> parse_segments("1.5-3, 10-12.25")
    [(1.5, 3.0), (10.0, 12.25)]
    """
    from ..errors import ConfigError

    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            a, b = (float(v) for v in part.split("-", 1))
        except ValueError as exc:
            raise ConfigError(
                f"bad segment {part!r}: write START-END in seconds, e.g. 1.5-3."
            ) from exc
        if b <= a:
            raise ConfigError(f"segment {part!r} ends before it starts.")
        out.append((a, b))
    if not out:
        raise ConfigError("--segments is empty.")
    return out


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import ConfigError
    from ..separation.diarization import Diarizer
    from ..separation.target import extract_target
    from .options import diarizer_options
    from .output_paths import AUDIO_SUFFIXES, check_output, writing

    inputs = [args.recording, *args.ref]
    for option, path, suffixes in (
        ("-o", args.output, AUDIO_SUFFIXES),
        ("--rttm", args.rttm, (".rttm",)),
        ("--embedding-out", args.embedding_out, (".npy",)),
    ):
        if path:  # judged before any audio is read
            check_output(path, suffixes=suffixes, inputs=inputs, option=option)
    kinds = [bool(args.ref), bool(args.embedding), bool(args.segments)]
    if sum(kinds) != 1:
        raise ConfigError(
            "give exactly one guide: --ref FILE (repeatable), --embedding X.npy or --segments."
        )
    if args.ref:
        guide = list(args.ref)
    elif args.embedding:
        guide = np.load(args.embedding).astype(np.float32).reshape(-1)
    else:
        guide = parse_segments(args.segments)
    res = extract_target(
        args.recording,
        guide,
        num_speakers=args.num_speakers,
        **(
            {}
            if args.min_guide_similarity is None
            else {"min_guide_similarity": args.min_guide_similarity}
        ),
        pipeline=args.pipeline,
        token=args.token,
        diarizer=None if args.pipeline else Diarizer(**diarizer_options(args)),
    )
    if args.output:
        import soundfile as sf

        out = Path(args.output)
        with writing(out):
            sf.write(out, res.audio, res.sample_rate)
        print(f"wrote {out}: {res.duration:.1f} s of target speech", file=sys.stderr)
    if args.rttm:
        from .diarize_cmd import write_rttm

        with writing(args.rttm, "--rttm"):
            write_rttm(res.annotation, Path(args.rttm), Path(args.recording).stem)
        print(f"wrote {args.rttm}", file=sys.stderr)
    if args.embedding_out:
        with writing(args.embedding_out, "--embedding-out"):
            np.save(args.embedding_out, res.embedding)
    print(json.dumps(res.to_dict()))
    return 0
