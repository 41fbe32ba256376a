"""Long recordings: block-wise reading equals whole-file reading, in bounded memory.

* ``iter_blocks`` (read + downmix + polyphase resampling block by block, with filter context)
  gives exactly the samples of ``load_audio`` for every rate, channel count, format and block
  size; resampling blocks independently would not (checked, so the test can fail).
* ``iter_chunks`` covers every sample, with the requested overlap.
* ``embed_long`` computes the same windows as whole-file embedding (``clean=False``) and a
  near-identical embedding with the cleaning stage.
* A 1-hour file: streamed reading and streamed embedding stay within a fixed memory budget while
  whole-file embedding does not (peak RSS measured in subprocesses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxref.audio import load_audio, resample
from voxref.audio.stream import iter_blocks, iter_chunks, stream_info
from voxref.errors import (
    AudioFileNotFoundError,
    EmptyAudioError,
    NonFiniteAudioError,
    SilentAudioError,
    UnreadableAudioError,
)
from voxref.longform import embed_long
from voxref.pipeline import Embedder

from .conftest import assert_unit_vector, tile_to

REPO = Path(__file__).resolve().parents[2]


def _signal(sr: int, seconds: float, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))
    return np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


@pytest.mark.parametrize("sr", [8000, 11025, 16000, 22050, 44100, 48000, 96000, 44101])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_blocks_equal_whole_file_resampling(tmp_path: Path, sr: int, channels: int) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, _signal(sr, 4.3, channels), sr, subtype="FLOAT")
    whole = load_audio(path).samples
    for block_seconds, read_frames in [(0.05, 1000), (1.0, 4096), (30.0, 1 << 18)]:
        blocks = list(
            iter_blocks(path, 16000, block_seconds=block_seconds, read_frames=read_frames)
        )
        got = np.concatenate([b.samples for b in blocks])
        assert [b.start for b in blocks] == list(
            np.cumsum([0] + [b.num_samples for b in blocks])[:-1]
        )
        # bit-identical: every output sample saw the same input, summed in the same order
        np.testing.assert_array_equal(got, whole)


def test_naive_blockwise_resampling_would_differ(tmp_path: Path) -> None:
    """Why the filter context matters: blocks resampled on their own click at every edge."""
    sr = 44100
    x = _signal(sr, 4.0, 1)[:, 0]
    whole = resample(x, sr, 16000)
    naive = np.concatenate([resample(x[i : i + sr], sr, 16000) for i in range(0, len(x), sr)])
    assert np.max(np.abs(naive[: len(whole)] - whole)) > 1e-3  # ~1e-2 at each edge


@pytest.mark.parametrize(
    "fmt,subtype", [("WAV", "PCM_16"), ("WAV", "PCM_U8"), ("FLAC", "PCM_24"), ("OGG", "VORBIS")]
)
def test_blocks_equal_whole_file_for_formats(tmp_path: Path, fmt: str, subtype: str) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, _signal(22050, 3.1, 2), 22050, format=fmt, subtype=subtype)
    whole = load_audio(path).samples
    got = np.concatenate([b.samples for b in iter_blocks(path, 16000, read_frames=3000)])
    np.testing.assert_allclose(got, whole, atol=1e-6)


def test_chunks_cover_every_sample_with_overlap(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, _signal(48000, 7.77, 2), 48000)
    whole = load_audio(path).samples
    chunks = list(
        iter_chunks(path, 16000, chunk_seconds=1.5, overlap_seconds=0.5, block_seconds=0.7)
    )
    step = 16000
    assert [c.start for c in chunks] == [i * step for i in range(len(chunks))]
    assert all(c.num_samples == 24000 for c in chunks[:-1]) and 0 < chunks[-1].num_samples <= 24000
    assert chunks[-1].end == len(whole)
    for c in chunks:
        np.testing.assert_array_equal(c.samples, whole[c.start : c.end])
    # a file shorter than one chunk is one chunk
    short = list(iter_chunks(path, 16000, chunk_seconds=60))
    assert len(short) == 1 and short[0].num_samples == len(whole)


def test_stream_errors_are_typed(tmp_path: Path) -> None:
    x = _signal(16000, 2.0, 1)
    with pytest.raises(AudioFileNotFoundError):
        list(iter_blocks(tmp_path / "missing.wav"))
    (tmp_path / "zero.wav").write_bytes(b"")
    with pytest.raises(EmptyAudioError):
        list(iter_blocks(tmp_path / "zero.wav"))
    sf.write(tmp_path / "h.wav", x, 16000)
    (tmp_path / "header.wav").write_bytes((tmp_path / "h.wav").read_bytes()[:44])
    with pytest.raises(EmptyAudioError):
        list(iter_blocks(tmp_path / "header.wav"))
    sf.write(tmp_path / "z.wav", np.zeros(32000, np.float32), 16000)
    with pytest.raises(SilentAudioError):
        list(iter_blocks(tmp_path / "z.wav"))
    bad = x.copy()
    bad[20000] = np.inf
    sf.write(tmp_path / "inf.wav", bad, 16000, subtype="FLOAT")
    with pytest.raises(NonFiniteAudioError):
        list(iter_blocks(tmp_path / "inf.wav", read_frames=4096))
    sf.write(tmp_path / "f.flac", x, 16000)
    data = (tmp_path / "f.flac").read_bytes()
    (tmp_path / "t.flac").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableAudioError):
        list(iter_blocks(tmp_path / "t.flac", read_frames=1024))
    assert stream_info(tmp_path / "h.wav").duration == pytest.approx(2.0)


@pytest.fixture(scope="module")
def minutes_wav(tmp_path_factory: pytest.TempPathFactory, long_speech: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("long") / "two minutes.wav"
    sf.write(path, tile_to(long_speech, 100.0), 16000, subtype="PCM_16")
    return path


def test_embed_long_equals_whole_file_windows(minutes_wav: Path) -> None:
    emb = Embedder(clean=False)
    whole = emb.embed(minutes_wav, return_details=True)
    long = embed_long(minutes_wav, embedder=emb, chunk_seconds=20.0, return_details=True)
    assert long.num_chunks == 4  # 100 s in 20 s steps; the last chunk takes the remainder
    ww = whole.references[0].windows
    assert len(long.windows) == len(ww)
    np.testing.assert_allclose(long.windows.starts, ww.starts, atol=1e-9)
    np.testing.assert_allclose(long.windows.ends, ww.ends, atol=1e-9)
    np.testing.assert_allclose(long.windows.embeddings, ww.embeddings, atol=1e-5)
    np.testing.assert_allclose(long.embedding, whole.embedding, atol=1e-5)
    assert_unit_vector(long.embedding)


def test_embed_long_with_cleaning_matches_whole_file(minutes_wav: Path) -> None:
    emb = Embedder()
    whole = emb.embed(minutes_wav)
    long = embed_long(minutes_wav, embedder=emb, chunk_seconds=30.0, return_details=True)
    assert_unit_vector(long.embedding)
    assert len(long.report.fates) == long.num_chunks == 3  # 30 + 30 + 40 s
    assert all(f.status in ("used", "down-weighted") for f in long.report.fates)
    cos = float(long.embedding @ whole)
    print(f"embed_long (clean) vs whole file: cosine {cos:.5f}")
    assert cos > 0.99


def test_embed_long_errors(tmp_path: Path) -> None:
    from voxref.errors import NoUsableReferenceError, TooShortAudioError

    with pytest.raises(AudioFileNotFoundError):
        embed_long(tmp_path / "nope.wav")
    sf.write(tmp_path / "z.wav", np.zeros(16000 * 3, np.float32), 16000)
    with pytest.raises(SilentAudioError):
        embed_long(tmp_path / "z.wav")
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "n.wav", (0.1 * rng.standard_normal(16000 * 5)).astype(np.float32), 16000)
    with pytest.raises(NoUsableReferenceError) as info:
        embed_long(tmp_path / "n.wav", chunk_seconds=2.0)
    assert all(f.reason for f in info.value.report.fates)
    sf.write(tmp_path / "s.wav", (0.1 * rng.standard_normal(4000)).astype(np.float32), 16000)
    with pytest.raises(TooShortAudioError):
        embed_long(tmp_path / "s.wav", embedder=Embedder(clean=False))


# ------------------------------------------------------------------------- memory
_PEAK = """
import json, resource, sys, numpy as np
mode, path = sys.argv[1], sys.argv[2]
result = {}
if mode == "stream-read":
    from voxref.audio.stream import iter_blocks
    n = 0
    for b in iter_blocks(path, 8000):
        n += b.num_samples
    result["samples"] = n
elif mode == "whole-read":
    import voxref
    result["samples"] = voxref.load_audio(path, 8000).num_samples
elif mode == "whole-embed":
    import voxref
    v = voxref.Embedder(clean=False, advanced=voxref.EmbedderTuning(hop=1.6)).embed(path)
    result["norm"] = float(np.linalg.norm(v)); np.save(sys.argv[3], v)
elif mode == "stream-embed":
    from voxref.longform import embed_long
    from voxref.tuning import EmbedderTuning
    v = embed_long(path, clean=False, advanced=EmbedderTuning(hop=1.6))
    result["norm"] = float(np.linalg.norm(v)); np.save(sys.argv[3], v)
# VmHWM: peak RSS of this process image. ru_maxrss would report the parent's (pytest's) peak
# when that is larger: Linux keeps the pre-exec high-water mark in the signal struct.
try:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    result["peak_rss_mb"] = int(hwm.split()[1]) / 1024
except (OSError, IndexError):
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def peak_rss(mode: str, path: Path, *extra: str) -> dict:
    """Run one mode in a fresh interpreter; its result and peak resident memory (MB)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, mode, str(path), *extra],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_one_hour_file_is_read_in_bounded_memory(hour_wav: Path) -> None:
    stream = peak_rss("stream-read", hour_wav)
    whole = peak_rss("whole-read", hour_wav)
    assert stream["samples"] == whole["samples"] == 3600 * 8000
    print(
        f"1 h 16 kHz -> 8 kHz: peak RSS streamed {stream['peak_rss_mb']:.0f} MB, "
        f"whole file {whole['peak_rss_mb']:.0f} MB"
    )
    assert stream["peak_rss_mb"] < 250
    assert whole["peak_rss_mb"] > stream["peak_rss_mb"] + 300  # the file alone is 230 MB as float32


@pytest.mark.slow
def test_one_hour_file_embeds_whole_and_streamed(hour_wav: Path, tmp_path: Path) -> None:
    """Embedder.embed on 1 hour works; embed_long (what voxref.embed does with such a file)
    gives the same vector in a fraction of the memory.

    Without cleaning and with hop = window (1.6 s; 2250 windows) to keep CI time bounded; the
    default options were measured by hand (see the report in the reliability notes).
    """
    whole = peak_rss("whole-embed", hour_wav, str(tmp_path / "w.npy"))
    stream = peak_rss("stream-embed", hour_wav, str(tmp_path / "s.npy"))
    w, s = np.load(tmp_path / "w.npy"), np.load(tmp_path / "s.npy")
    assert_unit_vector(w) is not None and assert_unit_vector(s) is not None
    np.testing.assert_allclose(s, w, atol=1e-4)
    print(
        f"1 h embed: peak RSS whole file {whole['peak_rss_mb']:.0f} MB, "
        f"streamed {stream['peak_rss_mb']:.0f} MB"
    )
    assert stream["peak_rss_mb"] < 0.5 * whole["peak_rss_mb"]
    assert stream["peak_rss_mb"] < 800
