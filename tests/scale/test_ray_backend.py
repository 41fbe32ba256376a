"""``embed_dataset`` on a local Ray cluster (loopback): same embeddings as ``voxref.embed``,
an actor killed mid-shard loses no clip, a clip that always kills its actor is reported once
(and no other clip with it), a re-run skips finished shards."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from voxref.scale import embed_dataset, read_clips, read_speaker_embeddings
from voxref.scale.testing import CrashingEmbedderFactory

from .conftest import write_manifest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def ray_run(ray_cluster, tmp_path_factory, scale_rows):
    """2 actors; the actor embedding the 2nd clip ``os._exit`` s the first time it meets it, and
    every time it meets ``poison.wav`` (4th row, in the 2nd shard)."""
    d = tmp_path_factory.mktemp("ray")
    poison = d / "poison.wav"
    shutil.copy(scale_rows[2]["path"], poison)
    rows = list(scale_rows)
    rows.insert(3, {"path": str(poison), "speaker": scale_rows[2]["speaker"]})
    manifest = write_manifest(d / "manifest.csv", rows)
    marker = d / "crashed-once"
    kwargs = dict(
        backend="ray",
        num_workers=2,
        shard_size=3,
        speakers_per_bucket=100,
        max_crashes=2,
        progress=False,
        embedder_factory=CrashingEmbedderFactory(
            scale_rows[1]["path"], str(marker), poison="poison.wav"
        ),
    )
    summary = embed_dataset(manifest, d / "out", **kwargs)
    return {
        "manifest": manifest,
        "out": d / "out",
        "marker": marker,
        "summary": summary,
        "kwargs": kwargs,
        "rows": rows,
    }


def test_killed_actor_loses_no_clip(ray_run):
    assert ray_run["marker"].exists(), "the actor never crashed: the test tested nothing"
    table = read_clips(ray_run["out"], columns=["index", "status", "error"])
    assert sorted(table.column("index").to_pylist()) == list(range(len(ray_run["rows"])))
    rows = {r["index"]: r for r in table.to_pylist()}
    assert rows.pop(len(ray_run["rows"]) - 1)["status"] == "rejected"  # the missing file
    poison = rows.pop(3)
    assert (poison["status"], poison["error"]) == ("failed", "ProcessDied")
    # every other clip is embedded: the one that killed its actor once, and the poison's
    # shard-mates (a task queued on a dying actor must not be charged with its death)
    assert {r["status"] for r in rows.values()} == {"ok"}
    assert ray_run["summary"].backend == "ray"


def test_ray_embeddings_equal_voxref_embed(ray_run, reference_embeddings):
    got = read_speaker_embeddings(ray_run["out"])
    assert set(got) == set(reference_embeddings)
    for spk, ref in reference_embeddings.items():
        np.testing.assert_allclose(got[spk], ref, atol=1e-6, err_msg=spk)


def test_ray_rerun_skips_finished_shards(ray_run):
    again = embed_dataset(ray_run["manifest"], ray_run["out"], **ray_run["kwargs"])
    assert (again.shards_computed, again.buckets_computed, again.clips_computed) == (0, 0, 0)
    assert again.clips_ok == ray_run["summary"].clips_ok
