"""Where is the second speaker: a reference that ends with another voice shows low target activity
on that stretch of its own timeline, and its target-only audio leaves that voice out."""

from __future__ import annotations

import numpy as np
import soundfile as sf


def test_second_voice_is_located_on_the_recording_timeline(tmp_path, speech_by_speaker, embedder):
    from voxref.inspection.collect import collect

    speakers = list(speech_by_speaker)
    target, other = speech_by_speaker[speakers[0]], speech_by_speaker[speakers[4]]
    a, sr = sf.read(target[2], dtype="float32")
    b, _ = sf.read(other[0], dtype="float32")
    gap = np.zeros(int(0.6 * sr), np.float32)  # a pause, so the VAD splits the two voices
    mixed = tmp_path / "target-then-other.wav"
    sf.write(mixed, np.concatenate([a, gap, b]), sr)
    files = [str(target[0]), str(target[1]), str(mixed)]

    data = collect(files, embedder, diarize=False)
    view = data.references[2]
    assert view.activity is not None, (
        "no target activity from the embedder nor the separation stage"
    )
    t, z = view.activity_mask()
    a_end, b_start = len(a) / sr, (len(a) + len(gap)) / sr
    in_a = (t > 0.2) & (t < a_end - 0.2) & np.isfinite(z)
    in_b = (t > b_start + 0.8) & (t < view.duration - 0.2) & np.isfinite(z)
    assert in_a.sum() > 50 and in_b.sum() > 50
    assert np.mean(z[in_a]) > 0.7, "target stretch should be active"
    assert np.mean(z[in_b]) < 0.3, "the other voice should be inactive"
    # the clean references stay (nearly) all target
    for clean in data.references[:2]:
        assert np.mean(clean.activity) > 0.8
    # target-only audio: roughly the target's share of the cleaned speech, not the other voice
    kept = len(view.target_audio()) / sr
    assert kept < 0.8 * len(view.speech) / sr
    assert kept > 0.5 * a_end
