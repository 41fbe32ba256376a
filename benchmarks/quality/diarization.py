"""Diarization error rate of ``voxref.diarize`` on pyannote's bundled 2-speaker sample.

Runs only when ``voxref.separation.diarization.diarize`` exists; otherwise the result says it
was skipped and why. DER is computed with ``pyannote.metrics`` (no collar, overlap scored), for
the speaker count given (2) and estimated, with the default diarizer and, side by side in the
same run, without its frame-level overlap detector (the earlier diarizer) and without
scaling the recording to one level first (the earlier diarizer), on the file as
recorded and 26 dB quieter.

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

__all__ = ["SETTINGS", "QUIET_GAIN_DB", "diarization_benchmark"]

#: Diarizer settings compared side by side: name -> options for ``voxref.diarize``.
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "no overlap detector": {"overlap_detector": None},
    "no levelling": {"level_dbfs": None},
}
#: Gain (dB) of the quieter copy of the sample, run with the settings of :data:`QUIET_SETTINGS`.
QUIET_GAIN_DB = -26.0
QUIET_SETTINGS = ("default", "no levelling")

log = logging.getLogger(__name__)


def diarization_benchmark(collar: float = 0.0) -> dict[str, Any]:
    """DER (and its components) of ``voxref.diarize`` on ``sample.wav`` vs ``sample.rttm``."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    from voxref.sample_data import pyannote_sample, read_rttm
    from voxref.separation.diarization import diarize

    wav, rttm = pyannote_sample()
    reference = Annotation(uri="sample")
    for i, turn in enumerate(read_rttm(rttm)):
        reference[Segment(turn.start, turn.end), i] = turn.speaker
    import soundfile as sf

    samples, rate = sf.read(wav, dtype="float32")
    quiet = samples * 10 ** (QUIET_GAIN_DB / 20)
    runs = [(name, options, 0.0) for name, options in SETTINGS.items()]
    runs += [(name, SETTINGS[name], QUIET_GAIN_DB) for name in QUIET_SETTINGS]
    results = []
    for (setting, options, gain_db), num_speakers in (
        (item, k) for item in runs for k in (2, None)
    ):
        start = time.perf_counter()
        audio = (str(wav),) if gain_db == 0 else (quiet, rate)
        try:
            hypothesis = diarize(*audio, num_speakers=num_speakers, **options)
        except Exception as exc:  # noqa: BLE001 - report, don't crash the whole benchmark
            log.warning("diarize(num_speakers=%s, %s) failed: %s", num_speakers, setting, exc)
            results.append(
                {
                    "setting": setting,
                    "gain_db": gain_db,
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
                "gain_db": gain_db,
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
