"""Diarization error rate of ``voxref.diarize`` on pyannote's bundled 2-speaker sample.

Runs only when ``voxref.separation.diarization.diarize`` exists; otherwise the result says it
was skipped and why. DER is computed with ``pyannote.metrics`` (no collar, overlap scored), for
the speaker count given (2) and estimated, with the default diarizer and, side by side in the
same run, without its frame-level overlap detector (the diarizer of sessions 6-10).

Examples
--------
>>> r = diarization_benchmark()  # doctest: +SKIP
>>> sorted(r)  # doctest: +SKIP
['results', 'sample', 'status']
"""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["SETTINGS", "diarization_benchmark"]

#: Diarizer settings compared side by side: name -> options for ``voxref.diarize``.
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "no overlap detector": {"overlap_detector": None},
}

log = logging.getLogger(__name__)


def diarization_benchmark(collar: float = 0.0) -> dict[str, Any]:
    """DER (and its components) of ``voxref.diarize`` on ``sample.wav`` vs ``sample.rttm``."""
    try:
        from voxref.separation.diarization import diarize
    except ImportError as exc:
        msg = f"voxref.separation.diarization is not available yet ({exc})"
        log.info("diarization benchmark skipped: %s", msg)
        return {"status": "skipped", "reason": msg}
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    from voxref.sample_data import pyannote_sample, read_rttm

    wav, rttm = pyannote_sample()
    reference = Annotation(uri="sample")
    for i, turn in enumerate(read_rttm(rttm)):
        reference[Segment(turn.start, turn.end), i] = turn.speaker
    results = []
    for (setting, options), num_speakers in (
        (item, k) for item in SETTINGS.items() for k in (2, None)
    ):
        start = time.perf_counter()
        try:
            hypothesis = diarize(str(wav), num_speakers=num_speakers, **options)
        except Exception as exc:  # noqa: BLE001 - report, don't crash the whole benchmark
            log.warning("diarize(num_speakers=%s, %s) failed: %s", num_speakers, setting, exc)
            results.append(
                {
                    "setting": setting,
                    "num_speakers": num_speakers,
                    "status": "error",
                    "error": repr(exc),
                }
            )
            continue
        elapsed = time.perf_counter() - start
        metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
        detail = metric(reference, hypothesis, detailed=True)
        total = float(detail["total"])
        results.append(
            {
                "setting": setting,
                "num_speakers": num_speakers,
                "status": "ok",
                "der": float(detail["diarization error rate"]),
                "missed": float(detail["missed detection"]) / total,
                "false_alarm": float(detail["false alarm"]) / total,
                "confusion": float(detail["confusion"]) / total,
                "speakers_found": len(hypothesis.labels()),
                "seconds": round(elapsed, 3),
            }
        )
    return {
        "status": "ok",
        "sample": {"wav": wav.name, "rttm": rttm.name, "collar": collar, "skip_overlap": False},
        "results": results,
    }
