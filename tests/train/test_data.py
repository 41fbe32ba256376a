"""Training data and batches: layouts, held-out split, determinism, augmentation, timbre chunks."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from voxref.augment import NUISANCE_FIELDS
from voxref.augment.levels import snr_db
from voxref.errors import ConfigError
from voxref.train import BatchMaker, SpeakerCorpus

NOISE_NONE = NUISANCE_FIELDS.index("noise_none")


def test_folder_per_speaker_and_manifest_layouts_agree(tmp_path, corpus):
    for u in corpus.utterances:  # DIR/<speaker>/*.wav
        (tmp_path / "dir" / u.speaker).mkdir(parents=True, exist_ok=True)
        (tmp_path / "dir" / u.speaker / (u.path.rsplit("/", 1)[-1])).symlink_to(u.path)
    from_dir = SpeakerCorpus.from_path(tmp_path / "dir")
    assert from_dir.speakers == corpus.speakers
    assert [from_dir.num_utterances(s) for s in from_dir.speakers] == [4] * 6
    np.testing.assert_array_equal(
        from_dir.audio(0), corpus.audio(corpus.indices(corpus.speakers[0])[0])
    )


def test_manifest_split_column_filters_rows(tmp_path, speech_dir):
    rows = list(csv.DictReader((speech_dir / "manifest.csv").open()))
    with (tmp_path / "m.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "speaker", "split"])
        w.writeheader()
        for k, r in enumerate(rows):
            w.writerow(
                {
                    "path": str(speech_dir / r["path"]),
                    "speaker": r["speaker"],
                    "split": "train" if k % 4 else "dev",
                }
            )
    train = SpeakerCorpus.from_path(tmp_path / "m.csv", splits=["train"])
    assert len(train) == 18 and {u.split for u in train.utterances} == {"train"}
    with pytest.raises(ConfigError):
        SpeakerCorpus.from_path(tmp_path / "m.csv", splits=["nope"])
    with pytest.raises(ConfigError):
        SpeakerCorpus.from_path(tmp_path / "missing")


def test_held_out_speakers_are_disjoint_and_seeded(corpus):
    rest, held = corpus.split_speakers(2, seed=3)
    assert len(held.speakers) == 2 and not set(rest.speakers) & set(held.speakers)
    assert set(rest.speakers) | set(held.speakers) == set(corpus.speakers)
    assert corpus.split_speakers(2, seed=3)[1].speakers == held.speakers
    assert len({tuple(corpus.split_speakers(2, seed=s)[1].speakers) for s in range(6)}) > 1


def test_batches_are_a_function_of_seed_and_step(corpus, tiny_config):
    maker = BatchMaker(corpus, tiny_config(timbre_weight=1.0))
    a, b, c = maker.make(5), maker.make(5), maker.make(6)
    assert np.array_equal(a.waves.numpy(), b.waves.numpy())
    assert np.array_equal(a.timbre_noisy.numpy(), b.timbre_noisy.numpy())
    assert not np.array_equal(a.waves.numpy(), c.waves.numpy())
    other_seed = BatchMaker(corpus, tiny_config(timbre_weight=1.0, seed=1)).make(5)
    assert not np.array_equal(a.waves.numpy(), other_seed.waves.numpy())
    # turning the timbre loss on does not change the speaker-loss part of the batch
    plain = BatchMaker(corpus, tiny_config()).make(5)
    assert np.array_equal(a.waves.numpy(), plain.waves.numpy()) and plain.timbre_noisy is None


def test_ge2e_batch_is_n_speakers_by_m_utterances(corpus, tiny_config):
    cfg = tiny_config(speakers_per_batch=4, utterances_per_speaker=3)
    batch = BatchMaker(corpus, cfg).make(0)
    assert tuple(batch.waves.shape) == (12, int(0.8 * 16000))
    grid = batch.labels.numpy().reshape(4, 3)
    assert (grid == grid[:, :1]).all() and len(set(grid[:, 0])) == 4
    assert batch.nuisance.shape == (12, len(NUISANCE_FIELDS))


def test_augmentation_adds_noise_at_the_configured_snr(corpus, tiny_config):
    cfg = tiny_config(
        augment={
            "noise_prob": 1.0,
            "noise_snr": [5.0, 5.0],
            "babble_prob": 0.0,
            "reverb_prob": 0.0,
            "telephone_prob": 0.0,
            "gain_prob": 0.0,
        },
    )
    clean = BatchMaker(corpus, tiny_config(augment={"enabled": False})).make(2)
    noisy = BatchMaker(corpus, cfg).make(2)
    assert (noisy.nuisance[:, NOISE_NONE] == 0).all() and (clean.nuisance[:, NOISE_NONE] == 1).all()
    # same crops (crop offsets are drawn before the augmentation seeds), 5 dB of added noise
    for x, y in zip(clean.waves.numpy(), noisy.waves.numpy()):
        assert abs(snr_db(x, y - x, 16000) - 5.0) < 0.5


def test_timbre_chunks_cut_one_utterance(corpus, tiny_config):
    cfg = tiny_config(
        timbre_weight=1.0,
        timbre_chunks=3,
        timbre_noise="shared",
        augment={"noise_prob": 1.0, "reverb_prob": 0.0, "telephone_prob": 0.0, "gain_prob": 0.0},
    )
    batch = BatchMaker(corpus, cfg).make(1)
    u, k, t = batch.timbre_noisy.shape
    assert (u, k, t) == (3, 3, int(0.8 * 16000)) and batch.timbre_clean.shape == (u, k, t)
    clean = batch.timbre_clean.numpy()
    # each row's clean chunks are pieces of one fixture recording
    for row in clean:
        assert any(
            all(np.isin(ch[ch != 0][:50], corpus.audio(i)).all() for ch in row)
            for i in range(len(corpus))
        )
    noise = batch.timbre_noisy.numpy() - clean
    assert (np.abs(noise).mean(axis=-1) > 1e-4).all()


def test_too_few_speakers_for_a_batch_is_a_config_error(corpus, tiny_config):
    with pytest.raises(ConfigError, match="speakers_per_batch"):
        BatchMaker(corpus.subset(corpus.speakers[:2]), tiny_config())


def test_reads_audio_at_other_rates(tmp_path):
    x = (0.1 * np.sin(np.arange(8000 * 2) / 5)).astype(np.float32)
    for s in ("a", "b"):
        (tmp_path / s).mkdir()
        sf.write(tmp_path / s / "u.wav", x, 8000)
    c = SpeakerCorpus.from_path(tmp_path)
    assert len(c.audio(0)) == 32000  # resampled to 16 kHz
