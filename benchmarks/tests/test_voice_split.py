"""Reserved voices never reach the corpus; reporting voices never reach tuning or training."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from benchmarks.corpus.build import CorpusConfig, plan_speakers, select_voices
from benchmarks.corpus.synth import (
    FESTIVAL_VOICES,
    ReservedVoiceError,
    Voice,
    check_not_reserved,
    synthesize,
    voice_by_id,
    voices,
)
from benchmarks.corpus.voice_split import (
    GROUPS,
    ROTATIONS,
    ReportingVoiceError,
    family_group,
    family_of,
    require_tuning,
    split_voices,
    tuning_catalogue,
    tuning_speakers,
)

RESERVED = [
    ("flite", "rms"),
    ("flite", "kal16"),
    ("flite", "awb_time"),
    ("festival", "kal_diphone"),
    ("festival", "ked_diphone"),
    ("festival", "cmu_us_slt_arctic_hts"),
    ("festival", "en1_mbrola"),
    ("festival", "hindi_NSK_diphone"),
    ("espeak-ng", "mb-en1"),
    ("mbrola", "en1"),
    ("rhvoice", "slt"),
    ("pico", "en-US"),
]


@pytest.mark.parametrize(("engine", "name"), RESERVED)
def test_a_reserved_voice_cannot_be_built_or_synthesised(engine: str, name: str) -> None:
    with pytest.raises(ReservedVoiceError, match="reserved"):
        Voice("x", engine, {"voice": name}, "m")
    with pytest.raises(ReservedVoiceError, match="reserved"):
        check_not_reserved(engine, name)


def test_synthesize_refuses_a_reserved_voice_even_past_the_constructor() -> None:
    voice = voice_by_id("flite-awb")
    object.__setattr__(voice, "params", {"voice": "rms"})  # a copy that skipped the check
    try:
        with pytest.raises(ReservedVoiceError):
            synthesize(voice, "Hello there.", seed=0)
    finally:
        object.__setattr__(voice, "params", {"voice": "awb"})


def test_catalogue_has_no_reserved_voice_and_every_voice_has_a_family() -> None:
    for voice in voices():
        check_not_reserved(voice.engine, str(voice.params["voice"]))
        assert family_group(voice.id) in GROUPS
    engines = {v.engine for v in voices()}
    assert engines == {"espeak-ng", "flite", "festival"}
    assert {str(v.params["voice"]) for v in voices() if v.engine == "festival"} == set(
        FESTIVAL_VOICES
    )


@pytest.mark.parametrize("rotation", sorted(ROTATIONS))
def test_rotation_sides_are_disjoint_and_reporting_voices_never_tune(rotation: str) -> None:
    ids = [v.id for v in voices()] + ["pyannote-SPEAKER_00", "pyannote-SPEAKER_01"]
    split = split_voices(ids, rotation)
    assert split.tuning and split.reporting
    assert not set(split.tuning) & set(split.reporting)
    assert set(split.tuning) | set(split.reporting) == set(ids)
    require_tuning(split.tuning, rotation)
    with pytest.raises(ReportingVoiceError):
        require_tuning([*split.tuning[:2], split.reporting[0]], rotation)
    with pytest.raises(ReportingVoiceError):  # an id of no family is no tuning voice either
        require_tuning(["rhvoice-slt"], rotation)
    assert tuning_speakers(ids, rotation) == list(split.tuning)
    assert {v.id for v in tuning_catalogue(rotation)} <= set(split.tuning)
    # the other rotation swaps the sides
    (other,) = set(ROTATIONS) - {rotation}
    swapped = split_voices(ids, other)
    assert set(swapped.tuning) == set(split.reporting)


def test_families_follow_the_engines() -> None:
    assert family_of("espeak-us-m3") == "espeak-ng"
    assert family_of("flite-kal-deep") == "flite"
    assert family_of("festival-fi-mv") == "festival-intl"
    assert family_of("pyannote-SPEAKER_01") == "pyannote-sample"
    with pytest.raises(KeyError):
        family_of("mbrola-en1")


def test_corpus_selection_draws_both_groups_and_speaks_each_voice_s_language() -> None:
    chosen = select_voices(12, seed=0)
    groups = [family_group(v.id) for v in chosen]
    assert groups.count("A") == groups.count("B") == 6
    for voice, plan in plan_speakers(CorpusConfig.preset(quick=True)):
        sentences = {t for _, candidates in plan for t in candidates}
        if voice.language == "ru":
            assert all(any("а" <= ch <= "я" for ch in t) for t in sentences)
        if voice.language == "en":
            assert all(t.isascii() for t in sentences)


@pytest.mark.skipif(shutil.which("text2wave") is None, reason="festival is not installed")
def test_festival_voices_speak_and_differ_in_pitch() -> None:
    import librosa

    f0 = {}
    for vid, text in (
        ("festival-it-pc", "Buongiorno, come stai oggi?"),
        ("festival-it-lp", "Buongiorno, come stai oggi?"),
    ):
        y, sr = synthesize(voice_by_id(vid), text, seed=1)
        assert 1.0 < len(y) / sr < 5.0  # spoken, not spelled out byte by byte
        track, voiced, _ = librosa.pyin(y, fmin=60, fmax=400, sr=sr)
        assert np.mean(voiced) > 0.3
        f0[vid] = float(np.nanmedian(track))
    assert f0["festival-it-pc"] < 140 < f0["festival-it-lp"]


def test_quality_runs_on_one_voice_group_keep_trials_and_interferers_in_it() -> None:
    from pathlib import Path

    from benchmarks.quality.harness import QualityConfig, group_clips
    from benchmarks.quality.split import Clip

    ids = ["espeak-us-m3", "espeak-gb-f2", "flite-slt", "festival-it-pc", "pyannote-SPEAKER_00"]
    clips = [
        Clip(f"{s}_{u}", Path(f"{s}/{u}.wav"), s, "f", u, "test", 3.0) for s in ids for u in (0, 1)
    ]
    assert {c.speaker for c in group_clips(clips, "A")} == {"espeak-us-m3", "espeak-gb-f2"}
    assert {c.speaker for c in group_clips(clips, "B")} == set(ids[2:])
    assert group_clips(clips, None) == clips
    with pytest.raises(ValueError, match="voice group"):
        group_clips(clips, "C")
    assert QualityConfig.preset(True, "x", voice_group="B").to_dict()["voice_group"] == "B"
