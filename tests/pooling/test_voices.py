"""Grouping references by voice on real speech: degraded copies of the target stay with it,
another voice is set apart whether the references are clean or reverberant.

Speech: the committed espeak-ng / flite fixtures; reverberation (synthetic RIR, DRR 3 dB) and
overlap from :mod:`voxref.augment`, seeded. Each reference is prepared once
(``Embedder.prepare``) and the sets are pooled with ``Embedder.combine``, as ``embed`` does.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import soundfile as sf

from voxref.augment.overlap import add_overlap
from voxref.augment.reverb import reverberate
from voxref.cleaning.reverb import decay_time
from voxref.embedder.pooling.voices import (
    ANOTHER_VOICE,
    DEGRADED_VOICES_BELOW,
    DISTINCT_VOICES_BELOW,
    REVERBERANT_DECAY_S,
    choose_voice,
    degraded_report,
)

SR = 16_000


@pytest.fixture(scope="module")
def embedder():
    from voxref.pipeline import Embedder

    return Embedder()


@pytest.fixture(scope="module")
def prep(embedder, speech_by_speaker):
    """``prep(voice, utterance, kind)``: the prepared reference (cached), kind ``clean``,
    ``reverb-0.6`` (RT60 0.6 s), ``reverb-0.3`` or ``overlap-<voice>`` (SIR 5 dB, 40 %)."""

    def read(voice: str, i: int) -> np.ndarray:
        x, sr = sf.read(speech_by_speaker[voice][i], dtype="float32")
        assert sr == SR
        return x

    @functools.cache
    def get(voice: str, i: int, kind: str = "clean"):
        x = read(voice, i)
        seed = 100 * i + len(kind)
        if kind.startswith("reverb-"):
            x = reverberate(x, SR, rt60=float(kind.split("-")[1]), drr_db=3.0, seed=seed)
        elif kind.startswith("overlap-"):
            other = read(kind.split("-", 1)[1], 3)
            x = add_overlap(x, SR, other, 5.0, 0.4, seed=seed).samples
        return embedder.prepare((x.astype(np.float32), SR))

    return get


def _apart(res) -> list[int]:
    return [i for i, r in enumerate(res.references) if ANOTHER_VOICE in (r.fate.reason or "")]


@pytest.mark.parametrize("voice", ["espeak-us-m3", "flite-slt", "espeak-gb-f2", "flite-awb"])
@pytest.mark.parametrize("rt60", ["0.6", "0.3"])
def test_a_reverberant_copy_of_the_voice_is_not_another_voice(embedder, prep, voice, rt60):
    """Two clean utterances and a reverberant third one of the same voice: one voice, nothing
    set apart (the clean-speech threshold alone set the RT60 0.6 s copy apart). Its weight is
    the quality pooling's business (it down-weights reverberant references), not grouping's."""
    res = embedder.combine([prep(voice, 0), prep(voice, 1), prep(voice, 2, f"reverb-{rt60}")])
    assert _apart(res) == [] and len(res.voice_groups) == 1, (res.voice_groups, res.weights)
    assert res.references[2].weight > 0, res.weights


@pytest.mark.parametrize("voice", ["espeak-us-m3", "flite-slt"])
def test_clean_reference_is_kept_among_degraded_copies(embedder, prep, voice):
    """A clean utterance with a reverberant and an overlapped copy of other utterances of the
    same voice (the mixed bag): the degraded two do not outvote the clean one."""
    other = "flite-awb" if voice != "flite-awb" else "flite-slt"
    res = embedder.combine(
        [prep(voice, 0), prep(voice, 1, "reverb-0.6"), prep(voice, 2, f"overlap-{other}")]
    )
    assert 0 not in _apart(res) and res.references[0].weight > 0.2, (res.voice_groups, res.weights)
    assert not res.blend


@pytest.mark.parametrize(
    ("voice", "odd"),
    [("espeak-gb-f2", "flite-awb"), ("espeak-us-m3", "flite-slt"), ("flite-slt", "espeak-rp-m7")],
)
def test_another_voice_among_reverberant_references_is_set_apart(embedder, prep, voice, odd):
    """Three reverberant utterances of one voice and a reverberant one of another: the odd one
    gets weight below 1/(2N) and the reason, the three keep all the weight."""
    refs = [prep(voice, i, "reverb-0.6") for i in range(3)] + [prep(odd, 0, "reverb-0.6")]
    res = embedder.combine(refs)
    assert _apart(res) == [3], (res.voice_groups, [r.fate.reason for r in res.references])
    assert res.weights[3] < 1 / (2 * len(refs)) and not res.blend, res.weights
    assert abs(float(res.weights[:3].sum()) - 1) < 1e-5, res.weights


@pytest.mark.parametrize(
    ("voice", "odd"), [("espeak-gb-f2", "flite-awb"), ("flite-slt", "espeak-us-m3")]
)
def test_a_clean_other_voice_does_not_outvote_reverberant_references(embedder, prep, voice, odd):
    """Two reverberant utterances of one voice and a clean one of another: the voice of the two
    is kept (majority), the clean other voice is set apart."""
    res = embedder.combine(
        [prep(voice, 0, "reverb-0.6"), prep(voice, 1, "reverb-0.6"), prep(odd, 0)]
    )
    assert _apart(res) == [2] and not res.blend, (res.voice_groups, res.weights)


def test_another_voice_among_clean_references_is_still_set_apart(embedder, prep):
    """The clean-speech case is unchanged: 3 + 1 clean utterances, the odd one set apart."""
    res = embedder.combine([prep("espeak-us-m3", i) for i in range(3)] + [prep("flite-slt", 0)])
    assert _apart(res) == [3] and res.weights[3] < 1 / 8, res.weights


def test_decay_time_ranks_dry_and_reverberant_speech(speech_by_speaker):
    """Every dry fixture utterance is below the reverberant decay time and its RT60 0.6 s copy at
    or above it; an RT60 0.3 s copy is longer than the dry one (it may fall short of the threshold:
    the threshold lies between clean and RT60 0.3 s clips of the tuning voices, not of these)."""
    from voxref.cleaning.quality import QualityReport

    for voice, paths in speech_by_speaker.items():
        x, _ = sf.read(paths[0], dtype="float32")
        times = [decay_time(x, SR)] + [
            decay_time(reverberate(x, SR, rt60=r, drr_db=3.0, seed=1), SR) for r in (0.3, 0.6)
        ]
        assert times[0] < REVERBERANT_DECAY_S <= times[2] and times[0] < times[1], (voice, times)
    assert decay_time(np.zeros(SR, np.float32), SR) is None
    assert not degraded_report(QualityReport("a", 5.0, 4.0, snr_db=40.0, bandwidth_hz=8000.0))
    assert degraded_report(QualityReport("a", 5.0, 4.0, snr_db=40.0, bandwidth_hz=3400.0))


def test_degraded_flags_change_who_votes():
    """Without flags a degraded pair outvotes a sound reference; with them it joins it when its
    centroid's cosine is above the degraded threshold, and a far degraded group stays apart."""
    a, b, c = np.eye(8)[:3]
    want = min(DEGRADED_VOICES_BELOW + 0.05, DISTINCT_VOICES_BELOW - 0.03)
    k = np.sqrt(1 / want**2 - 1)  # the degraded pair's centroid is at cosine `want` to a
    m = np.sqrt((1 + k**2) / 9)  # and the pair at cosine 0.8 to each other
    e = np.stack([a, a + k * b + m * c, a + k * b - m * c])
    assert choose_voice(e).groups == [[1, 2], [0]]
    assert choose_voice(e, degraded=[False, True, True]).groups == [[0, 1, 2]]
    far = np.stack([a, -a + 0.1 * b, -a])
    assert choose_voice(far, degraded=[False, True, True]).groups == [[1, 2], [0]]
    with pytest.raises(ValueError, match="flags"):
        choose_voice(e, degraded=[True])


def test_degraded_references_do_not_outvote_the_best_rated_one():
    """A clean reference (rated best), a sound reference just below the sound-voice threshold
    from it (an overlapped copy that reads as sound) and a degraded one that joins the latter: by
    count the clean one would be set apart; with the ratings the result is a blend. A second
    sound reference in the larger group, or no best-rated reference in the smaller one, keeps the
    majority."""
    a, b, c = np.eye(8)[:3]
    cos = DISTINCT_VOICES_BELOW - 0.02
    near = cos * a + np.sqrt(1 - cos**2) * b  # sound, below the threshold from a
    e = np.stack([a, near, near + 0.2 * c])
    flags = [False, False, True]
    assert choose_voice(e, degraded=flags).how == "majority"
    v = choose_voice(e, degraded=flags, rated_best=[True, False, True])
    assert v.groups == [[1, 2], [0]] and v.how == "blend" and v.kept_members == [0, 1, 2]
    assert choose_voice(e, degraded=flags, rated_best=[False, False, True]).how == "majority"
    e4 = np.vstack([e, near - 0.2 * c])
    v4 = choose_voice(e4, degraded=flags + [False], rated_best=[True, False, True, False])
    assert v4.how == "majority" and v4.kept_members == [1, 2, 3]
    with pytest.raises(ValueError, match="flags"):
        choose_voice(e, degraded=flags, rated_best=[True])
