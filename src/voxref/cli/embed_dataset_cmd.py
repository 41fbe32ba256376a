"""``voxref embed-dataset MANIFEST -o OUT``: embed a whole corpus (Ray or local processes).

Exit codes: those of every batch command (:mod:`voxref.cli.batch_options`).
"""

from __future__ import annotations

import argparse
import sys

from .batch_options import EXIT_SOME_FAILED, add_batch_arguments, batch_exit_status
from .options import add_embedder_arguments, embedder_options

__all__ = ["register", "run", "EXIT_SOME_FAILED"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed-dataset",
        help="embed every clip and speaker of a corpus manifest (Ray or local processes)",
        description=(
            "Embed every clip listed in MANIFEST (CSV/TSV/Parquet with columns path, speaker and "
            "optionally start, end, id) and pool each speaker's clips into one embedding. "
            "Results go to OUT/clips/*.parquet (one row per clip: embedding, window embeddings, "
            "quality report, error) and OUT/speakers/*.parquet (one row per speaker), written "
            "shard by shard: run the same command again after a crash and finished shards are "
            "skipped. Every failed clip is recorded with its reason; OUT/summary.json counts "
            "everything. Exit status: 0 all embedded, 3 some clips/speakers failed, 1 error."
        ),
    )
    p.add_argument("manifest", metavar="MANIFEST", help="CSV/TSV/Parquet manifest")
    add_batch_arguments(p, item="clip")
    p.add_argument(
        "--backend",
        choices=("auto", "ray", "multiprocessing"),
        default="auto",
        help="ray (needs pip install 'voxref[ray]'), multiprocessing (no extra dependency), or "
        "auto (default: ray if --ray-address is given or ray is installed)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="join this Ray cluster ('auto', 'ray://head:10001', 'head:6379'); default: a "
        "private local Ray on loopback",
    )
    p.add_argument(
        "--num-workers",
        type=int,
        default=2,
        metavar="N",
        help="workers (processes or Ray actors), each loading the models once (default 2)",
    )
    p.add_argument(
        "--threads-per-worker", type=int, default=1, help="torch threads per worker (default 1)"
    )
    p.add_argument("--shard-size", type=int, default=64, help="clips per output shard (default 64)")
    p.add_argument(
        "--speakers-per-bucket",
        type=int,
        default=64,
        help="speakers pooled per speaker shard (default 64)",
    )
    p.add_argument(
        "--root",
        default=None,
        help="folder that relative manifest paths are relative to (default: the manifest's)",
    )
    p.add_argument(
        "--no-clip-embeddings",
        action="store_true",
        help="do not store each clip's own embedding (window embeddings are always kept)",
    )
    add_embedder_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..batch_engine import SUMMARY_FILE
    from ..scale.dataset import embed_dataset

    options = embedder_options(args)
    summary = embed_dataset(
        args.manifest,
        args.output,
        backend=args.backend,
        num_workers=args.num_workers,
        ray_address=args.ray_address,
        shard_size=args.shard_size,
        speakers_per_bucket=args.speakers_per_bucket,
        max_crashes=args.max_crashes,
        resume=not args.no_resume,
        clip_embeddings=not args.no_clip_embeddings,
        threads_per_worker=args.threads_per_worker,
        root=args.root,
        progress=not args.quiet,
        **options,
    )
    print(
        f"{summary.clips_ok}/{summary.clips} clips embedded "
        f"({summary.clips_rejected} rejected, {summary.clips_failed} failed), "
        f"{summary.speakers_ok}/{summary.speakers} speakers; "
        f"{summary.shards_computed} shards computed, {summary.shards_reused} reused "
        f"[{summary.backend}, {summary.num_workers} workers]"
    )
    if summary.clips_computed:
        print(
            f"throughput: {summary.clips_per_second:.2f} clips/s, "
            f"{summary.audio_hours_per_hour:.1f} audio-hours/hour"
        )
    for f in summary.failed_clips[:10]:
        print(f"  clip {f['source']}: {f['status']} ({f['error']}): {f['reason']}", file=sys.stderr)
    if len(summary.failed_clips) > 10:
        print(f"  ... {len(summary.failed_clips) - 10} more", file=sys.stderr)
    for f in summary.failed_speakers[:10]:
        print(f"  speaker {f['speaker']}: {f['reason']}", file=sys.stderr)
    print(f"summary: {args.output}/{SUMMARY_FILE}")
    return batch_exit_status(summary)
