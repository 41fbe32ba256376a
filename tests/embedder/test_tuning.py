"""``Embedder(advanced=EmbedderTuning(...))`` and ``Embedder(guiding=...)``: the knobs for
experiments sit in one validated object that results record; the old spellings raise."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from voxref.batch_state import vector_options
from voxref.errors import ConfigError
from voxref.pipeline import Embedder, get_embedder
from voxref.tuning import TUNING_FIELDS, EmbedderTuning


@pytest.fixture(scope="module")
def refs(speech_by_speaker: dict[str, list[Path]]) -> list[str]:
    return [str(p) for p in next(iter(speech_by_speaker.values()))[:2]]


@pytest.mark.parametrize("name", TUNING_FIELDS)
def test_old_keywords_raise_naming_the_advanced_object(name):
    with pytest.raises(ConfigError, match=rf"advanced=EmbedderTuning\({name}=\.\.\.\)"):
        Embedder(**{name: 1.0})
    with pytest.raises(ConfigError, match=rf"EmbedderTuning\({name}=\.\.\.\)"):
        get_embedder(**{name: 1.0})


def test_guide_flag_is_spelled_guiding():
    for flag in (True, False):
        with pytest.raises(ConfigError, match=rf"Embedder\(guiding={flag}\)"):
            Embedder(guide=flag)
    assert Embedder(guiding=False).guiding is False
    with pytest.raises(ConfigError, match="guide=vector"):
        Embedder(guiding=np.ones(256, np.float32))
    with pytest.raises(TypeError, match="unexpected keyword argument 'windows'"):
        Embedder(windows=1.6)


def test_tuning_is_validated_frozen_and_picklable():
    t = EmbedderTuning(window=2, hop=0.8, separate_threshold_db=-15)
    assert (t.window, t.hop, t.separate_threshold_db) == (2.0, 0.8, -15.0)
    assert isinstance(t.window, float)
    assert t.changed() == {"window": 2.0, "hop": 0.8, "separate_threshold_db": -15.0}
    assert EmbedderTuning().changed() == {}
    assert pickle.loads(pickle.dumps(t)) == t
    with pytest.raises(AttributeError):
        t.hop = 1.0  # type: ignore[misc]
    for bad, says in (
        ({"hop": 0}, "hop must be a positive"),
        ({"window": float("nan")}, "window must be a positive"),
        ({"window_temperature": -1.0}, "window_temperature must be > 0"),
        ({"window_temperature": float("nan")}, "window_temperature must be a number > 0"),
        ({"separate_margin": "0.1"}, "separate_margin must be a cosine margin"),
        ({"separate_threshold_db": True}, "separate_threshold_db must be a level in dB"),
    ):
        with pytest.raises(ConfigError, match=says):
            EmbedderTuning(**bad)
    assert EmbedderTuning(window_temperature=float("inf")).window_temperature == float("inf")
    assert Embedder(advanced={"hop": 0.8}).advanced == EmbedderTuning(hop=0.8)
    with pytest.raises(ConfigError, match="unknown advanced option"):
        Embedder(advanced={"hops": 0.8})


def test_advanced_options_act_and_are_recorded(refs):
    """A longer hop (GE2E's is 0.4 s) embeds fewer windows and moves the vector a little; results
    and the batch identity say which options were changed; the defaults give the same vector as
    no object at all."""
    base = Embedder().embed(refs, return_details=True)
    same = Embedder(advanced=EmbedderTuning()).embed(refs, return_details=True)
    np.testing.assert_array_equal(base.embedding, same.embedding)
    assert base.advanced == {} and base.to_dict()["advanced"] == {}
    sparse = Embedder(advanced=EmbedderTuning(hop=1.2)).embed(refs, return_details=True)
    n_base = sum(len(r.windows.embeddings) for r in base.references)
    n_sparse = sum(len(r.windows.embeddings) for r in sparse.references)
    assert n_sparse < n_base, (n_sparse, n_base)
    cos = float(base.embedding @ sparse.embedding)
    assert 0.95 < cos < 1 - 1e-6, cos  # same voice, other windows
    assert sparse.advanced == {"hop": 1.2} and sparse.to_dict()["advanced"] == {"hop": 1.2}
    # the default window attention is the masked mean; a finite temperature weighs windows
    sharp = Embedder(advanced=EmbedderTuning(window_temperature=0.05)).embed(refs)
    assert float(sharp @ base.embedding) < 1 - 1e-6
    # the run identity of a batch keeps its earlier option names (old folders still resume)
    ident = vector_options(Embedder(guiding=False, advanced=EmbedderTuning(hop=0.4)))
    assert ident["guide"] == "False" and ident["hop"] == "0.4" and ident["window"] == "None"
    assert set(TUNING_FIELDS) <= set(ident) and "advanced" not in ident
