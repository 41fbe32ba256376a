"""Properties of the quality benchmark's pieces: split, trials, degradations, mixed sets, methods."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.quality.conditions import (
    CORPUS_LEVEL_DBFS,
    InterfererBank,
    corpus_clip,
    degrade,
    extra_conditions,
    get_condition,
    mixed_roles,
    standard_conditions,
)
from benchmarks.quality.split import load_manifest, split_corpus
from benchmarks.quality.trials import enrollment_sets, make_trials

SR = 16_000


@pytest.fixture(scope="module")
def split(tiny_corpus: Path):
    return split_corpus(load_manifest(tiny_corpus), n_enroll=3, n_test=2, n_interferers=3)


@pytest.fixture(scope="module")
def bank(split) -> InterfererBank:
    return InterfererBank(split, SR)


def _audio(clip) -> np.ndarray:
    from voxref.audio.load import load_audio

    return load_audio(clip.path, SR).samples


def test_corpus_clips_are_read_at_one_level_so_level_is_no_speaker_cue(split) -> None:
    from voxref.audio.level import active_level_db

    clips = [cl[0] for cl in split.enroll.values()]
    rendered = [active_level_db(corpus_clip(c.path, SR, None), SR) for c in clips]
    assert np.ptp(rendered) > 1.0  # the synthetic voices come out at different gains
    for c in clips:
        x = corpus_clip(c.path, SR)
        assert active_level_db(x, SR) == pytest.approx(CORPUS_LEVEL_DBFS, abs=0.2)
        # only a gain: the same waveform as rendered
        raw = corpus_clip(c.path, SR, None)
        assert abs(np.corrcoef(x, raw)[0, 1]) > 0.9999


def test_corpus_level_option_reaches_the_quality_config() -> None:
    from benchmarks.run import build_parser, quality_config

    parse = build_parser().parse_args
    assert quality_config(parse([])).corpus_level_dbfs == CORPUS_LEVEL_DBFS
    assert quality_config(parse(["--corpus-level", "off"])).corpus_level_dbfs is None
    assert quality_config(parse(["--corpus-level", "-26"])).to_dict()["corpus_level_dbfs"] == -26.0
    with pytest.raises(SystemExit):
        parse(["--corpus-level", "loud"])


def test_split_keeps_trial_and_interferer_speakers_apart(split) -> None:
    trial, interf = set(split.trial_speakers), set(split.interferers)
    assert not trial & interf
    # the real pyannote speakers (3 clips each) cannot give 3 + 2 clips: they become interferers
    assert {"pyannote-speaker90", "pyannote-speaker91"} <= interf
    assert len(trial) == 4 and len(interf) == 3
    for s in trial:
        enroll = {c.key for c in split.enroll[s]}
        test = {c.key for c in split.test[s]}
        assert len(enroll) == 3 and len(test) == 2 and not enroll & test
        # clips the corpus marked "enroll" are used for enrollment first
        assert [c.split for c in split.enroll[s]][:2] == ["enroll", "enroll"]


def test_trials_are_balanced_and_never_reuse_enrollment_clips(split) -> None:
    enroll_keys = {c.key for c in split.enroll_clips()}
    speaker_of = {c.key: c.speaker for c in split.test_clips()}
    for k in (1, 3):
        sets = enrollment_sets(split, k, max_sets=10)
        assert len(sets) == 4 * (3 if k == 1 else 1)
        t = make_trials(sets, split)
        assert int(t.target.sum()) == int((~t.target).sum()) == len(sets) * 2
        assert not set(t.test_keys) & enroll_keys
        for i, key, tgt in zip(t.set_index, t.test_keys, t.target):
            assert (speaker_of[key] == sets[i].speaker) == bool(tgt)
        # some non-target pairs share a gender (2 f + 2 m trial speakers here)
        assert (t.same_gender & ~t.target).any()
        again = make_trials(sets, split)
        assert list(again.test_keys) == list(t.test_keys)


def test_degradations_are_deterministic_and_clip_specific(split, bank) -> None:
    c0, c1 = split.enroll_clips()[:2]
    x0 = _audio(c0)
    for name in ("white-5dB", "babble-10dB", "reverb-0.6s", "overlap-sir0dB", "telephone"):
        cond = get_condition(name)
        a, _ = degrade(cond, x0, SR, c0, bank)
        b, _ = degrade(cond, x0, SR, c0, bank)
        assert a.dtype == np.float32 and a.shape == x0.shape
        assert a.tobytes() == b.tobytes(), name
        assert not np.allclose(a, x0, atol=1e-3), name
        assert np.max(np.abs(a)) <= 0.99 + 1e-6
    # another clip (same audio) under the same condition gets different noise
    a0, _ = degrade(get_condition("white-5dB"), x0, SR, c0, bank)
    a1, _ = degrade(get_condition("white-5dB"), x0, SR, c1, bank)
    assert not np.allclose(a0 - x0, a1 - x0)


def test_noise_condition_reaches_its_snr(split, bank) -> None:
    from voxref.augment.levels import snr_db

    clip = split.enroll_clips()[0]
    x = _audio(clip)
    for snr in (20.0, 5.0, 0.0):
        y, info = degrade(get_condition(f"pink-{snr:g}dB"), x, SR, clip, bank)
        if (
            "peak_scaled" in info
        ):  # a global gain does not change the SNR: undo it on the clean side
            x_ref = x * (np.max(np.abs(y)) / info["peak_scaled"])
        else:
            x_ref = x
        assert snr_db(x_ref, y - x_ref, SR) == pytest.approx(snr, abs=0.1)


def test_overlap_interferers_differ_within_a_speaker_and_are_never_trial_speakers(
    split, bank
) -> None:
    cond = get_condition("overlap-sir5dB")
    for spk in split.trial_speakers:
        used = []
        for clip in split.enroll[spk]:
            _, info = degrade(cond, _audio(clip), SR, clip, bank)
            assert info["interferer"] in split.interferers
            assert 0.3 - 1e-3 <= info["fraction"] <= 1.0
            used.append(info["interferer"])
        assert len(set(used)) == len(used)


def test_oracle_overlap_conditions_mask_the_same_mixture_toward_the_target(split, bank) -> None:
    """``overlap-sir0dB-oracle-irm`` draws what ``overlap-sir0dB`` draws (same interferer and
    region) and hands over a signal far closer to the clean target; it is not in a full run."""
    from voxref.augment.levels import snr_db

    full = {c.name for c in standard_conditions()}
    assert not full & {c.name for c in extra_conditions()}
    base = get_condition("overlap-sir0dB")
    for clip in split.enroll_clips()[:3]:
        x = _audio(clip)
        mix, info = degrade(base, x, SR, clip, bank)
        for mask in ("irm", "ibm"):
            y, oinfo = degrade(get_condition(f"overlap-sir0dB-oracle-{mask}"), x, SR, clip, bank)
            assert (oinfo["interferer"], oinfo["fraction"]) == (
                info["interferer"],
                info["fraction"],
            )
            assert y.shape == mix.shape
            # residual of the interferer: the oracle mask removes most of it
            assert snr_db(x, y - x, SR) > snr_db(x, mix - x, SR) + 6


def test_conversation_splices_a_whole_turn_of_another_speaker(split, bank) -> None:
    cond = get_condition("conversation")
    clip = split.enroll_clips()[0]
    x = _audio(clip)
    y, info = degrade(cond, x, SR, clip, bank)
    again, _ = degrade(cond, x, SR, clip, bank)
    assert y.tobytes() == again.tobytes()
    assert info["interferer"] in split.interferers and 0.2 <= info["share"] <= 0.45
    # the target's samples are all there, in order, around the inserted turn (no overlap)
    extra = len(y) - len(x)
    assert 0.5 * SR < extra < len(x) * info["share"] / (1 - info["share"]) + 0.5 * SR + 2
    scale = 1.0 if "peak_scaled" not in info else 0.99 / info["peak_scaled"]
    head = next(i for i in range(len(x)) if abs(y[i] - scale * x[i]) > 1e-4)
    np.testing.assert_allclose(y[head + extra :], scale * x[head:], atol=1e-4)
    assert 0.2 * len(x) - 400 <= head <= 0.8 * len(x)


def test_mixed_roles() -> None:
    conds = standard_conditions()
    family = {c.name: c for c in conds}
    r5 = mixed_roles(5, "spk/k5/0", conds)
    fams = sorted(family[n].family for n in r5)
    assert fams.count("clean") == 1 and fams.count("reverb") == 1 and fams.count("overlap") == 1
    noisy = [family[n] for n in r5 if family[n].family in ("noise", "babble")]
    assert len(noisy) == 2 and all(c.params["snr_db"] <= 10 for c in noisy)
    r3 = mixed_roles(3, "spk/k3/0", conds)
    assert [family[n].family for n in r3].count("clean") == 1 and len(set(r3)) == 3
    assert mixed_roles(5, "spk/k5/0", conds) == r5
    with pytest.raises(ValueError, match="reverb"):
        mixed_roles(4, "x", [c for c in conds if c.family != "reverb"])


def test_resemblyzer_method_is_embed_speaker(split) -> None:
    import warnings

    from benchmarks.quality.methods import make_method

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import preprocess_wav

    m = make_method("resemblyzer")
    m.setup()
    clips = split.enroll[split.trial_speakers[0]][:2]
    wavs = [_audio(c) for c in clips]
    ours = m.combine([m.prepare(w, SR, c.key) for w, c in zip(wavs, clips)])
    theirs = m._encoder.embed_speaker([preprocess_wav(w, source_sr=SR) for w in wavs])
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_mfcc_floor_needs_fit_and_separates_speakers(split) -> None:
    from benchmarks.quality.methods import make_method

    m = make_method("mfcc")
    items = {
        c.key: m.prepare(_audio(c), SR, c.key) for c in split.enroll_clips() + split.test_clips()
    }
    with pytest.raises(RuntimeError, match="fit"):
        m.combine([next(iter(items.values()))])
    m.fit(list(items.values()))
    a, b = split.trial_speakers[:2]
    ea = m.combine([items[c.key] for c in split.enroll[a]])
    same = float(ea @ m.combine([items[split.test[a][0].key]]))
    other = float(ea @ m.combine([items[split.test[b][0].key]]))
    assert abs(float(np.linalg.norm(ea)) - 1.0) < 1e-5
    assert same > other


def test_a_retrained_model_file_is_a_new_prepare_group(tmp_path) -> None:
    """The prepared-items cache must not hand a retrained checkpoint the old one's items."""
    from benchmarks.quality.methods import parse_method_spec

    ckpt = tmp_path / "sep.pt"
    ckpt.write_bytes(b"first weights")
    spec = f"voxref[separate={ckpt}]"
    first = parse_method_spec(spec).prepare_group
    assert first == parse_method_spec(spec).prepare_group
    ckpt.write_bytes(b"retrained weights")
    assert parse_method_spec(spec).prepare_group != first
    # the shipped separator (separate=True) is named by its content too
    from unittest import mock

    shipped = tmp_path / "shipped.pt"
    shipped.write_bytes(b"shipped weights")
    with mock.patch("voxref.separation.separator.default_checkpoint", return_value=shipped):
        before = parse_method_spec("voxref[separate=true]").prepare_group
        shipped.write_bytes(b"new shipped weights")
        after = parse_method_spec("voxref[separate=true]").prepare_group
    assert before != after and "shipped#sha1:" in before
