"""The narrowband level-target methods of the quality benchmark, on espeak-ng speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmarks.quality.narrowband import NarrowbandLevelMethod, is_narrowband


@pytest.fixture(scope="module")
def clip(speech_by_speaker: dict[str, list[Path]]) -> tuple[np.ndarray, np.ndarray]:
    """(wideband espeak-ng clip, the same through the benchmark's telephone channel), 16 kHz."""
    from voxref.augment.bandlimit import telephone

    x, sr = sf.read(speech_by_speaker["espeak-us-m3"][0], dtype="float32")
    assert sr == 16000
    return x, telephone(x, sr, codec="mulaw", band=(300.0, 3400.0)).astype(np.float32)


def test_telephone_speech_is_narrowband_and_wideband_speech_is_not(clip) -> None:
    wide, tel = clip
    assert not is_narrowband(wide, 16000)
    assert is_narrowband(tel, 16000)


def test_only_narrowband_clips_get_the_other_target(clip) -> None:
    wide, tel = clip
    default = NarrowbandLevelMethod("voxref-nb-22", -22.0)  # = the default target
    other = NarrowbandLevelMethod("voxref-nb-16", -16.0)
    default.setup()
    other.setup()
    # wideband: prepared exactly as the defaults
    np.testing.assert_array_equal(
        default.prepare(wide, 16000, "w").windows.embeddings,
        other.prepare(wide, 16000, "w").windows.embeddings,
    )
    # narrowband: 6 dB louder into the encoder, so other window embeddings
    a = default.prepare(tel, 16000, "t").windows.embeddings
    b = other.prepare(tel, 16000, "t").windows.embeddings
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) > 1e-3
