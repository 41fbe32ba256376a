"""``voxref prompt a.wav b.wav -o prompt.wav [--preset f5] [--seconds 10] [--per-reference]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register", "run", "check_output_path", "WRITABLE_EXTENSIONS"]

#: Extensions the prompt can be written as (soundfile formats, lossless).
WRITABLE_EXTENSIONS = (".wav", ".flac")


def register(sub: argparse._SubParsersAction) -> None:
    from ..prompting.presets import PRESETS

    p = sub.add_parser(
        "prompt",
        help="the best clean, target-only reference prompt for an audio-conditioned TTS model",
        description=(
            "Cut the target voice's cleanest stretches out of messy references (other voices, "
            "noise), only inside pauses, and write them as one prompt with a JSON sidecar "
            "saying where every piece came from and why others were dropped."
        ),
    )
    p.add_argument("references", nargs="+", help="reference recordings of the target voice")
    p.add_argument("-o", "--output", required=True, help="prompt file to write (.wav or .flac)")
    p.add_argument(
        "--preset", default="generic", choices=list(PRESETS), help="target model (default generic)"
    )
    p.add_argument("--seconds", type=float, default=None, help="length to aim at (s)")
    guide = p.add_argument_group("guide (optional; default: the voice the references share)")
    guide.add_argument("--guide", action="append", default=[], help="clean clip of the target")
    guide.add_argument("--embedding", help="target embedding (.npy, voxref embed)")
    guide.add_argument(
        "--segments", help="target segments on the first reference: 'START-END,START-END' (s)"
    )
    p.add_argument(
        "--per-reference",
        action="store_true",
        help="also write each reference's target-only speech as <output>.<n>.<name>.wav",
    )
    p.add_argument("--denoise", default="auto", help="denoise policy: auto (default), off, ...")
    p.add_argument(
        "--no-dnsmos", action="store_true", help="skip DNSMOS scores even if speechmos is installed"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=run)


def check_output_path(output: str, references: list[str], *, force: bool = False) -> Path:
    """The output path, or a :class:`~voxref.errors.ConfigError` saying what is wrong with it."""
    from ..errors import ConfigError

    out = Path(output)
    if out.is_dir() or output.endswith(("/", "\\")):
        raise ConfigError(
            f"{output} is a directory; give a file name such as {out / 'prompt.wav'}."
        )
    if out.suffix.lower() not in WRITABLE_EXTENSIONS:
        raise ConfigError(
            f"cannot write a prompt as {out.suffix or 'a file without extension'!r} ({output}); "
            f"use one of {', '.join(WRITABLE_EXTENSIONS)}."
        )
    resolved = out.resolve()
    for ref in references:
        if Path(ref).resolve() == resolved:
            raise ConfigError(
                f"{output} is one of the references; writing the prompt there would overwrite "
                "it. Choose another output name."
            )
    if out.exists() and not force:
        raise ConfigError(f"{output} exists; pass --force to overwrite it.")
    return out


def run(args: argparse.Namespace) -> int:
    import warnings

    import numpy as np

    from ..errors import ConfigError
    from ..prompting import prompt
    from ..prompting.result import PromptTooShortWarning
    from .extract_cmd import parse_segments

    out = check_output_path(args.output, list(args.references), force=args.force)
    kinds = [bool(args.guide), bool(args.embedding), bool(args.segments)]
    if sum(kinds) > 1:
        raise ConfigError("give at most one guide: --guide FILE, --embedding X.npy or --segments.")
    guide = None
    if args.guide:
        guide = list(args.guide)
    elif args.embedding:
        guide = np.load(args.embedding).astype(np.float32).reshape(-1)
    elif args.segments:
        guide = parse_segments(args.segments)
    print(
        f"voxref prompt: {len(args.references)} reference(s), preset {args.preset}",
        file=sys.stderr,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PromptTooShortWarning)  # printed below instead
        res = prompt(
            list(args.references),
            preset=args.preset,
            seconds=args.seconds,
            guide=guide,
            denoise=args.denoise,
            dnsmos=False if args.no_dnsmos else None,
            per_reference=args.per_reference,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    res.write(out)
    import soundfile as sf

    if args.per_reference:
        for k, (source, audio) in enumerate(res.per_reference.items()):
            name = Path(source).stem if source and not source.startswith("<") else f"ref{k}"
            path = out.with_name(f"{out.stem}.{k}.{name}{out.suffix}")
            sf.write(str(path), audio, res.sample_rate)
            print(f"wrote {path}", file=sys.stderr)
    for w in res.warnings:
        print(f"voxref: warning: {w}", file=sys.stderr)
    for f in res.report.failed:
        print(f"voxref: skipped {f.source}: {f.reason}", file=sys.stderr)
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)
    print(res.summary())
    return 0
