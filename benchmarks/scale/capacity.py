"""Capacity plan: wall time and core-hours to embed a corpus, from a measured per-clip cost.

Examples
--------
>>> plan = capacity_plan(audio_hours=585, rtf_per_worker=0.05, mean_clip_seconds=5.6,
...                      nodes=(1, 4), cores_per_node=16, efficiency=0.9)
>>> plan["core_hours"], [row["wall_hours"] for row in plan["rows"]]
(29.25, [2.03, 0.51])
"""

from __future__ import annotations

from typing import Any

__all__ = ["capacity_plan", "CORPORA"]

#: Corpora of the capacity plan: total audio hours and mean clip length (seconds).
CORPORA = {
    # LibriTTS-R: 585 h, 2,456 speakers, 375,086 utterances -> 5.6 s per clip on average
    "LibriTTS-R (585 h)": {"audio_hours": 585.0, "mean_clip_seconds": 5.6},
    # Emilia: ~101k h of in-the-wild speech, segments of 3-30 s (~10 s assumed)
    "Emilia (100k h)": {"audio_hours": 100_000.0, "mean_clip_seconds": 10.0},
}


def capacity_plan(
    audio_hours: float,
    rtf_per_worker: float,
    mean_clip_seconds: float,
    *,
    nodes: tuple[int, ...] = (1, 4, 16, 64),
    cores_per_node: int = 16,
    efficiency: float = 1.0,
    startup_seconds: float = 0.0,
) -> dict[str, Any]:
    """Core-hours and wall time to embed ``audio_hours`` on ``nodes`` x ``cores_per_node`` workers.

    Parameters
    ----------
    audio_hours
        Audio to embed.
    rtf_per_worker
        Measured compute seconds per audio second of one single-threaded worker.
    mean_clip_seconds
        Mean clip duration (for the clip count).
    nodes, cores_per_node
        Cluster sizes to tabulate; one worker per core.
    efficiency
        Parallel efficiency measured locally (throughput with k workers / (k x one worker)).
    startup_seconds
        Per-worker start-up (imports + model load), added once to the wall time.
    """
    core_hours = audio_hours * rtf_per_worker
    clips = audio_hours * 3600.0 / mean_clip_seconds
    rows = []
    for n in nodes:
        workers = n * cores_per_node
        wall = core_hours / (workers * efficiency) + startup_seconds / 3600.0
        rows.append(
            {
                "nodes": n,
                "workers": workers,
                "wall_hours": round(wall, 2),
                "clips_per_second": round(clips / (wall * 3600.0), 1),
            }
        )
    return {
        "audio_hours": audio_hours,
        "clips": int(round(clips)),
        "core_hours": round(core_hours, 2),
        "cores_per_node": cores_per_node,
        "efficiency": efficiency,
        "rows": rows,
    }
