"""``voxref audit DATASET -o audit/``: find the clips to drop from a TTS training set.

Exit codes: 0 the audit finished (flagged clips are its normal output), 1 a voxref error stopped
it, 130 interrupted (run the same command again to resume: embedded shards are reused).
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError

__all__ = ["register", "run", "parse_thresholds"]


def parse_thresholds(items: list[str] | None) -> dict[str, float]:
    """``["noisy=8", "level_outlier=12"]`` -> ``{"noisy": 8.0, "level_outlier": 12.0}``.

    Examples
    --------
    >>> parse_thresholds(["noisy=8"])
    {'noisy': 8.0}
    """
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(f"--threshold {item!r}: write NAME=VALUE, e.g. noisy=8.")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="flag the clips of a TTS training set to drop (wrong speaker, noise, clipping...)",
        description=(
            "Audit a TTS training set: embed every clip (resumable: run the same command again "
            "after an interruption), measure its quality and its distance to its speaker's "
            "centroid, and flag it with reasons (wrong_speaker, second_voice, noisy, clipped, "
            "too_short, silent, narrowband, level_outlier, sample_rate) and a score. Writes "
            "OUT/flags.csv, OUT/report.html (worst clips first, with players and a speaker "
            "map), the metadata "
            "file without the flagged clips (OUT/<its name>, or OUT/keep.txt for a folder of "
            "clips) and OUT/audit.json. DATASET is an LJSpeech-style folder (metadata.csv "
            "id|text|normalized and wavs/), a folder with one sub-folder per speaker, or a "
            "folder of clips of one speaker."
        ),
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset folder")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    p.add_argument(
        "--metadata",
        default=None,
        metavar="FILE",
        help="metadata file (default: DATASET/metadata.csv when present)",
    )
    p.add_argument(
        "--speaker-column",
        default=None,
        metavar="COL",
        help="metadata column holding each clip's speaker: 0-based number (1 for Piper's "
        "id|speaker|text) or header name; default: one speaker",
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="override a flag threshold (repeatable), e.g. noisy=8 level_outlier=12; names: "
        "too_short, wrong_speaker, second_voice_drop, second_voice_overlap, second_voice_spread, "
        "noisy, clipped, "
        "narrowband, level_outlier",
    )
    p.add_argument(
        "--backend",
        choices=("multiprocessing", "ray", "auto"),
        default="multiprocessing",
        help="batch engine backend (default: local processes)",
    )
    p.add_argument("--num-workers", type=int, default=1, metavar="N", help="workers (default 1)")
    p.add_argument(
        "--shard-size",
        type=int,
        default=16,
        metavar="N",
        help="clips embedded, saved and resumed together (default 16)",
    )
    p.add_argument(
        "--encoder",
        default=None,
        help="'ge2e' (bundled, default), or a checkpoint path / hub id",
    )
    p.add_argument("--no-html", action="store_true", help="do not write report.html")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..audit import audit_dataset

    result = audit_dataset(
        args.dataset,
        args.output,
        metadata=args.metadata,
        speaker_column=args.speaker_column,
        thresholds=parse_thresholds(args.threshold),
        backend=args.backend,
        num_workers=args.num_workers,
        shard_size=args.shard_size,
        html=not args.no_html,
        progress=not args.quiet,
        **({"encoder": args.encoder} if args.encoder else {}),
    )
    c = result.counts
    print(f"{c['flagged']} of {c['clips']} clips flagged")
    for reason, n in c["by_reason"].items():
        if n:
            print(f"  {reason}: {n}")
    for f in result.flagged[:10]:
        print(f"  {f.clip_id} ({f.speaker}) score {f.score:.2f}: {'; '.join(f.details)}")
    if len(result.flagged) > 10:
        print(f"  ... {len(result.flagged) - 10} more in {result.output / 'flags.csv'}")
    print(f"kept clips: {result.filtered}")
    if not args.no_html:
        print(f"report: {result.report}")
    return 0
