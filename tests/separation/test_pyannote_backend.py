"""The pyannote.audio backend, wired with a tiny randomly initialised pipeline (no network).

The pipeline's outputs are meaningless (random weights); these tests check loading, the call,
the conversion to voxref's types, and the offline failure modes.
"""

from __future__ import annotations

import os
import time

import pytest

from voxref.errors import MissingCheckpointError
from voxref.separation.pyannote_backend import PyannoteDiarization, PyannoteDiarizer, load_pipeline


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    pytest.importorskip("pyannote.audio")
    import torch

    from voxref.separation.testing import build_tiny_diarization_pipeline

    state = torch.random.get_rng_state()
    folder = build_tiny_diarization_pipeline(tmp_path_factory.mktemp("tiny-pipeline"), seed=0)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    return folder


@pytest.fixture(scope="module")
def clip(sample):
    x, sr, _ = sample
    return x[6 * sr : 12 * sr], sr


def test_files_in_pyannote_format(tiny_pipeline):
    names = {
        p.relative_to(tiny_pipeline).as_posix() for p in tiny_pipeline.rglob("*") if p.is_file()
    }
    assert names == {
        "config.yaml",
        "segmentation/pytorch_model.bin",
        "embedding/pytorch_model.bin",
        "plda/xvec_transform.npz",
        "plda/plda.npz",
    }


def test_diarize_with_pipeline_folder(tiny_pipeline, clip):
    from pyannote.core import Annotation

    import voxref

    x, sr = clip
    det = voxref.diarize(x, sample_rate=sr, pipeline=tiny_pipeline, return_details=True)
    assert isinstance(det, PyannoteDiarization)
    ann = det.annotation
    assert isinstance(ann, Annotation)
    assert ann.get_timeline().extent().end <= 6.0 + 2.5  # pyannote pads the last chunk
    assert det.num_speakers == len(ann.labels())
    if det.speaker_embeddings is not None:
        assert set(det.speaker_embeddings) == set(det.labels)
        assert all(v.shape == (256,) for v in det.speaker_embeddings.values())
    # the same pipeline object is reused (loaded once per process)
    assert load_pipeline(tiny_pipeline) is PyannoteDiarizer(tiny_pipeline).pipeline


def test_extract_target_with_pipeline(tiny_pipeline, clip):
    from voxref.separation.target import extract_target

    x, sr = clip
    res = extract_target(x, [(2.0, 4.0)], sample_rate=sr, pipeline=tiny_pipeline)
    assert res.diarization is None
    assert res.sample_rate == 16000
    others = [s for s, _, lab in res.annotation.itertracks(yield_label=True) if lab != "TARGET"]
    for a, b in res.segments:  # target-only: never inside another speaker's turn
        assert all(b <= o.start or a >= o.end for o in others)
    emb = PyannoteDiarizer(tiny_pipeline).embed(x[: 3 * sr], sr)
    assert emb.shape == (256,)


def test_hub_id_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t = time.perf_counter()
    with pytest.raises(MissingCheckpointError, match="offline"):
        load_pipeline("pyannote/speaker-diarization-community-1")
    assert time.perf_counter() - t < 1.0


def test_bad_local_paths(tmp_path):
    with pytest.raises(MissingCheckpointError, match="config.yaml"):
        load_pipeline(tmp_path)  # a folder without config.yaml
    with pytest.raises(MissingCheckpointError):
        load_pipeline(os.fspath(tmp_path / "missing" / "config.yaml"))


def test_extract_target_with_pipeline_says_presence_is_unchecked_or_checks_it(tiny_pipeline, clip):
    """With a pyannote pipeline (another encoder's scale) the guided voice's presence is not
    checked by default - a LowConfidenceWarning says so - and is checked when a threshold on that
    model's scale is given: a random guide is then another voice."""
    import numpy as np

    from voxref.errors import LowConfidenceWarning, TargetNotFoundError
    from voxref.separation.target import extract_target

    x, sr = clip
    guide = np.random.default_rng(0).standard_normal(256).astype(np.float32)
    with pytest.warns(LowConfidenceWarning, match="does not check that the guided voice"):
        extract_target(x, guide, sample_rate=sr, pipeline=tiny_pipeline)
    with pytest.raises(TargetNotFoundError, match="not found"):
        extract_target(x, guide, sample_rate=sr, pipeline=tiny_pipeline, min_guide_similarity=0.99)


@pytest.mark.parametrize("value", ["sometimes", 1.5, float("nan"), True])
def test_min_guide_similarity_is_checked_before_audio(value, tmp_path):
    from voxref.errors import ConfigError
    from voxref.separation.target import extract_target

    with pytest.raises(ConfigError, match="min_guide_similarity"):
        extract_target(tmp_path / "missing.wav", [(0.0, 1.0)], min_guide_similarity=value)


def test_min_guide_similarity_accepts_numpy_scalars():
    import numpy as np

    from voxref.separation.target import TARGET_FOUND_FROM, _presence_threshold

    assert _presence_threshold(np.float32(0.5), with_pipeline=True) == 0.5
    assert _presence_threshold("auto", with_pipeline=False) == TARGET_FOUND_FROM
    assert _presence_threshold("auto", with_pipeline=True) is None
