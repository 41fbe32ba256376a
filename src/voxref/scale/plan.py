"""How a manifest is cut into units of work: clip shards and speaker buckets.

* **Clip shards**: consecutive manifest rows, ``shard_size`` at a time. Shard ``k`` is written to
  ``OUT/clips/shard-<k>.parquet`` in one piece, so a shard file that exists is finished.
* **Speaker buckets**: the sorted speaker ids, ``speakers_per_bucket`` at a time. Bucket ``b`` is
  pooled into ``OUT/speakers/bucket-<b>.parquet``. Every clip row carries its speaker's bucket,
  and clip shards are written sorted by bucket (one Parquet row group per bucket), so pooling a
  bucket reads only the row groups that hold it.

The plan depends only on the manifest and the two sizes; its :attr:`Plan.fingerprint` is stored
with the outputs, so a run is never resumed on a different manifest.

Examples
--------
>>> from voxref.scale.manifest import clips_from_records
>>> clips = clips_from_records([{"path": f"/d/{i}.wav", "speaker": s}
...                             for i, s in enumerate("bbaacb")])
>>> p = make_plan(clips, shard_size=4, speakers_per_bucket=2)
>>> [[c.index for c in s.clips] for s in p.shards], p.buckets
([[0, 1, 2, 3], [4, 5]], [['a', 'b'], ['c']])
>>> p.bucket_of["c"], len(p.fingerprint)
(1, 64)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from ..errors import ConfigError
from .manifest import Clip

__all__ = ["Plan", "ClipShard", "make_plan"]


@dataclass(frozen=True)
class ClipShard:
    """Consecutive manifest rows embedded and written together."""

    shard: int
    clips: tuple[Clip, ...]


@dataclass
class Plan:
    """Clip shards, speaker buckets and the fingerprint of both.

    Attributes
    ----------
    shards
        Clip shards in manifest order.
    buckets
        ``buckets[b]`` is the sorted list of speakers pooled in bucket ``b``.
    bucket_of
        Speaker -> bucket.
    fingerprint
        SHA-256 over the clips and the sizes.
    """

    shards: list[ClipShard]
    buckets: list[list[str]]
    bucket_of: dict[str, int]
    shard_size: int
    speakers_per_bucket: int
    fingerprint: str = ""
    num_clips: int = 0
    speaker_clips: dict[str, int] = field(default_factory=dict)


def make_plan(clips: list[Clip], *, shard_size: int = 64, speakers_per_bucket: int = 64) -> Plan:
    """Cut ``clips`` into shards and their speakers into buckets (deterministic)."""
    if shard_size < 1 or speakers_per_bucket < 1:
        raise ConfigError("shard_size and speakers_per_bucket must be at least 1.")
    if not clips:
        raise ConfigError("no clip to embed.")
    speakers = sorted({c.speaker for c in clips})
    buckets = [
        speakers[i : i + speakers_per_bucket] for i in range(0, len(speakers), speakers_per_bucket)
    ]
    bucket_of = {s: b for b, group in enumerate(buckets) for s in group}
    shards = [
        ClipShard(k, tuple(clips[i : i + shard_size]))
        for k, i in enumerate(range(0, len(clips), shard_size))
    ]
    h = hashlib.sha256()
    h.update(json.dumps({"shard_size": shard_size, "per_bucket": speakers_per_bucket}).encode())
    for c in clips:
        h.update(json.dumps([c.path, c.speaker, c.start, c.end, c.clip_id]).encode("utf-8"))
    counts: dict[str, int] = {}
    for c in clips:
        counts[c.speaker] = counts.get(c.speaker, 0) + 1
    return Plan(
        shards=shards,
        buckets=buckets,
        bucket_of=bucket_of,
        shard_size=shard_size,
        speakers_per_bucket=speakers_per_bucket,
        fingerprint=h.hexdigest(),
        num_clips=len(clips),
        speaker_clips=counts,
    )
