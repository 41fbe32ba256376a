"""Flag rules of ``voxref.audit.flags`` on hand-made measurements (no audio)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voxref.audit.flags import flag_clips
from voxref.audit.measure import ClipMeasures
from voxref.errors import ConfigError


def _clip(cid: str, speaker: str = "s", **kw) -> ClipMeasures:
    base = dict(
        speech_s=3.0,
        snr_db=30.0,
        cosine=0.94,
        clipping_ratio=0.0,
        level_dbfs=-24.0,
        bandwidth_hz=8000.0,
        window_cosines=[0.9, 0.91, 0.92],
    )
    base.update(kw)
    return ClipMeasures(cid, speaker, f"{cid}.wav", "ok", **base)


def _speaker() -> list[ClipMeasures]:
    return [_clip(f"c{i}", cosine=0.93 + 0.005 * i) for i in range(6)]


def test_distance_is_judged_against_the_speakers_own_median() -> None:
    # one speaker's clips sit near 0.95, another's near 0.70 (a voice the encoder groups loosely)
    tight = _speaker()
    loose = [_clip(f"l{i}", speaker="t", cosine=0.70 + 0.005 * i) for i in range(6)]
    flags = flag_clips([*tight, *loose, _clip("odd", cosine=0.6)])
    assert [f.clip_id for f in flags if f.flagged] == ["odd"]
    assert flags[-1].reasons == ["wrong_speaker"]


def test_a_channel_fault_is_not_mistaken_for_another_voice() -> None:
    noisy = _clip("n", snr_db=-2.0, cosine=0.72)  # 0.22 below the median: noise explains it
    other = _clip("o", cosine=0.72)  # the same drop on a clean clip: another voice
    flags = {f.clip_id: f for f in flag_clips([*_speaker(), noisy, other])}
    assert flags["n"].reasons == ["noisy"]
    assert flags["o"].reasons == ["wrong_speaker"]


def test_second_voice_from_a_partial_drop_or_a_drifting_window_profile() -> None:
    mixed = _clip("m", cosine=0.80)  # pulled part-way to another voice
    drift = _clip("d", window_cosines=[0.92, 0.80, 0.70])  # another voice takes over
    clips = [*_speaker(), mixed, drift]
    flags = {f.clip_id: f for f in flag_clips(clips, thresholds={"second_voice_drop": 0.1})}
    assert flags["m"].reasons == ["second_voice"] and flags["d"].reasons == ["second_voice"]
    # the default drop threshold (chosen on the tuning voices) lies above the wrong-speaker one:
    # a partial drop alone flags nothing; the window profile still does
    flags = {f.clip_id: f for f in flag_clips(clips)}
    assert flags["m"].reasons == [] and flags["d"].reasons == ["second_voice"]


def test_thresholds_can_be_moved_and_unknown_ones_are_refused() -> None:
    clips = [*_speaker(), _clip("q", snr_db=9.0)]
    assert flag_clips(clips)[-1].reasons == ["noisy"]
    assert flag_clips(clips, thresholds={"noisy": 8.0})[-1].reasons == []
    with pytest.raises(ConfigError, match="unknown threshold"):
        flag_clips(clips, thresholds={"snr": 8.0})


def test_rejected_clips_keep_the_cleaning_stages_reason() -> None:
    rows = [
        ClipMeasures("a", "s", "a.wav", "rejected", "EmptyAudioError", "no speech detected"),
        ClipMeasures(
            "b", "s", "b.wav", "rejected", "TooShortAudioError", "0.36 s of usable speech"
        ),
        ClipMeasures("c", "s", "c.wav", "rejected", "LowQualityError", "heavily clipped: 11%"),
        ClipMeasures("d", "s", "d.wav", "rejected", "UnreadableAudioError", "not an audio file"),
    ]
    assert [f.reasons for f in flag_clips(rows)] == [
        ["silent"],
        ["too_short"],
        ["clipped"],
        ["unreadable"],
    ]
    assert all(f.score == 1.0 for f in flag_clips(rows))


def test_a_clip_at_another_sample_rate_than_the_set_is_flagged() -> None:
    clips = [_clip(f"c{i}", original_sample_rate=22050) for i in range(5)]
    clips.append(_clip("x", original_sample_rate=44100))
    flags = flag_clips(clips)
    assert [f.clip_id for f in flags if f.flagged] == ["x"]
    assert flags[-1].reasons == ["sample_rate"] and "22050" in flags[-1].details[0]
    # no rate most clips share: nothing to judge against
    mixed = [_clip(f"m{i}", original_sample_rate=(22050, 44100)[i % 2]) for i in range(4)]
    assert not any(f.flagged for f in flag_clips(mixed))


def test_importing_voxref_audit_is_cheap() -> None:
    code = "import sys, voxref.audit, voxref.audit.run; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
