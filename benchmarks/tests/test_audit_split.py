"""The audit benchmark follows the voice split: thresholds chosen on group A, reported on B."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from benchmarks.audit import sweep
from benchmarks.audit.run import CANDIDATES, MEASURES_FILE, split_speakers, split_voices
from benchmarks.corpus.synth import check_not_reserved
from benchmarks.corpus.voice_split import ReportingVoiceError, family_group
from voxref.audit.measure import ClipMeasures


def test_tuning_split_has_no_group_b_voice_and_reporting_split_is_group_b() -> None:
    tuning, reporting = split_speakers("tuning"), split_speakers("reporting")
    assert tuning and reporting
    assert {family_group(s) for s in tuning} == {"A"}
    assert {family_group(s) for s in reporting} == {"B"}
    assert not set(tuning) & set(reporting)
    assert set(tuning) | set(reporting) == {c[0] for c in CANDIDATES}
    for split in ("tuning", "reporting"):  # the voices that are synthesised: none reserved
        for v in split_voices(split):
            check_not_reserved(v.engine, v.voice)
            assert family_group(v.name) == ("A" if split == "tuning" else "B")


def _record(speaker: str, planted_snr: list[float]) -> dict:
    clips = []
    for i, snr in enumerate([25.0 + 0.5 * i for i in range(10)] + planted_snr):
        m = ClipMeasures(
            f"{speaker}-{i:04d}",
            speaker,
            f"{i}.wav",
            "ok",
            speech_s=3.0,
            snr_db=snr,
            cosine=0.94 + 0.001 * (i % 3),
            clipping_ratio=0.0,
            level_dbfs=-24.0,
            bandwidth_hz=8000.0,
            window_cosines=[0.9, 0.91, 0.92],
        )
        d = asdict(m)
        d.pop("embedding")
        clips.append({**d, "planted": "noisy" if i >= 10 else ""})
    return {"split": "tuning", "clip_measures": clips}


def test_sweep_keeps_a_value_inside_the_best_range_and_moves_one_outside() -> None:
    values = sweep.current_values()
    # planted clips far below the current threshold: it is inside the best range, kept
    kept = sweep.sweep_threshold(_record("espeak-us-m3", [-3.0, -2.0]), "noisy", values)
    assert kept["chosen"] == values["noisy"]
    assert kept["at_chosen"]["recall"] == 1.0 and kept["at_chosen"]["on_clean"] == 0
    # planted clips at 11-12 dB: the current threshold misses them; the rule takes the median
    # of the values that find both without flagging a clean clip (13..25 dB on the grid)
    moved = sweep.sweep_threshold(_record("espeak-us-m3", [12.0, 11.5]), "noisy", values)
    assert moved["best_range"] == [13.0, 25.0]
    assert moved["chosen"] == 19.0
    assert moved["at_chosen"]["recall"] == 1.0 and moved["at_chosen"]["on_clean"] == 0


def test_sweep_refuses_measurements_of_a_reporting_voice(tmp_path) -> None:
    stored = {
        "run": {"date_utc": "x"},
        "splits": {"tuning": _record("flite-slt", [-3.0, -2.0])},
    }
    (tmp_path / MEASURES_FILE).write_text(json.dumps(stored))
    with pytest.raises(ReportingVoiceError, match="flite-slt"):
        sweep.main(["--results", str(tmp_path)])
    assert not (tmp_path / "audit_sweep.json").exists()
