#!/usr/bin/env python
"""Fuzz voxref's audio loader for a while: any bytes must give audio or a voxref error.

Usage::

    .venv/bin/python scripts/fuzz_loader.py --seconds 300            # atheris when installed
    .venv/bin/python scripts/fuzz_loader.py --seconds 60 --engine hypothesis

Each input is written to a file whose suffix the first byte picks (.wav .flac .mp3 .ogg .aiff
none), then read with ``voxref.load_audio`` and with the streamed reader
``voxref.audio.stream.iter_blocks``. The contract: float32 mono finite samples, or a
``VoxrefError``; and both readers agree (sample for sample for PCM containers; a corrupt
mp3/ogg stream decodes differently with the read size, so there only both must be valid). Anything else is a crash: the input is saved to
``--out`` (``python-<signature>-<sha1>.bin``) and fuzzing goes on, so one run reports every
distinct crash. A native crash (segfault in a decoder) kills the worker: libFuzzer saves the
input (``crash-*``), the worker is restarted and the crash counted.

The atheris engine is coverage-guided over voxref's and soundfile's Python code and starts from
a seed corpus of valid files in every format; the hypothesis engine draws random bytes and
mutations of valid files. At the end a JSON summary is printed (executions, crashes, time).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

SUFFIXES = [".wav", ".flac", ".mp3", ".ogg", ".aiff", ""]
STATS_FILE = "stats.json"


# =========================================================================== the target
class Target:
    """Runs one input through both readers and records contract violations."""

    def __init__(self, out: Path) -> None:
        import numpy as np

        from voxref.audio import load_audio
        from voxref.audio.stream import iter_blocks
        from voxref.errors import VoxrefError

        self.np, self.load_audio, self.iter_blocks, self.VoxrefError = (
            np,
            load_audio,
            iter_blocks,
            VoxrefError,
        )
        self.out = out
        self.dir = Path(tempfile.mkdtemp(prefix="voxref-fuzz-"))
        self.execs = 0
        self.ok = 0
        self.errors = 0
        self.crashes: dict[str, str] = {}  # signature -> saved file
        self.t0 = time.monotonic()
        self._last_flush = 0.0

    def _load(self, path: Path):
        try:
            return "ok", self.load_audio(path)
        except self.VoxrefError as exc:
            return "error", exc

    def _stream(self, path: Path):
        try:
            return "ok", self.np.concatenate(
                [b.samples for b in self.iter_blocks(path, 16000, read_frames=1000)]
            )
        except self.VoxrefError as exc:
            return "error", exc

    @staticmethod
    def _lossy(path: Path) -> bool:
        import soundfile as sf

        return sf.info(str(path)).format in ("MP3", "OGG")

    def __call__(self, data: bytes) -> None:
        self.execs += 1
        suffix = SUFFIXES[data[0] % len(SUFFIXES)] if data else ".wav"
        path = self.dir / f"input{suffix}"
        path.write_bytes(data[1:])
        try:
            kind, res = self._load(path)
            if kind == "ok":
                x = res.samples
                assert x.dtype == self.np.float32 and x.ndim == 1 and x.size > 0, "bad samples"
                assert bool(self.np.all(self.np.isfinite(x))), "non-finite samples"
                kind2, y = self._stream(path)
                if kind2 == "ok" and not self._lossy(path):
                    # PCM containers decode the same whatever the read size; a corrupt mp3/ogg
                    # stream does not (libmpg123's error concealment depends on read sizes)
                    assert y.shape == x.shape, f"stream length {y.shape} != {x.shape}"
                    assert float(self.np.max(self.np.abs(y - x))) < 1e-5, "stream != whole"
                self.ok += 1
            else:
                self.errors += 1
                self._stream(path)  # must not raise anything but a VoxrefError either
        except Exception as exc:  # noqa: BLE001  (a contract violation: record it)
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
            sig = f"{type(exc).__name__}@{where}"
            if sig not in self.crashes:
                name = f"python-{sig.replace('@', '-').replace(':', '-')}-"
                name += hashlib.sha1(data).hexdigest()[:12] + ".bin"
                (self.out / name).write_bytes(data)
                self.crashes[sig] = name
                print(f"CRASH {sig}: {exc!r} -> {self.out / name}", file=sys.stderr, flush=True)
        now = time.monotonic()
        if now - self._last_flush > 2.0:
            self.flush()

    def flush(self) -> None:
        stats = {
            "execs": self.execs,
            "ok": self.ok,
            "voxref_errors": self.errors,
            "python_crashes": self.crashes,
            "seconds": round(time.monotonic() - self.t0, 1),
        }
        tmp = self.out / (STATS_FILE + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stats))
        os.replace(tmp, self.out / f"stats-{os.getpid()}.json")
        self._last_flush = time.monotonic()


def seed_corpus(directory: Path) -> list[bytes]:
    """Valid small files in every format the loader claims (each prefixed by its suffix byte)."""
    import numpy as np
    import soundfile as sf

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = (0.3 * np.sin(np.arange(4000) * 0.07) + 0.01 * rng.standard_normal(4000)).astype(np.float32)
    blobs = []
    for suffix, fmt, subtype, sr, ch in [
        (".wav", "WAV", "PCM_16", 16000, 1),
        (".wav", "WAV", "PCM_U8", 8000, 2),
        (".wav", "WAV", "FLOAT", 22050, 1),
        (".wav", "WAV", "PCM_24", 44100, 6),
        (".flac", "FLAC", "PCM_16", 16000, 1),
        (".mp3", "MP3", "MPEG_LAYER_III", 16000, 1),
        (".ogg", "OGG", "VORBIS", 16000, 2),
        (".aiff", "AIFF", "PCM_16", 48000, 1),
    ]:
        buf = io.BytesIO()
        data = np.stack([x] * ch, axis=1) if ch > 1 else x
        sf.write(buf, data, sr, format=fmt, subtype=subtype)
        blob = bytes([SUFFIXES.index(suffix)]) + buf.getvalue()
        (directory / f"seed-{fmt}-{subtype}-{ch}ch{suffix}.bin").write_bytes(blob)
        blobs.append(blob)
    return blobs


# =========================================================================== engines
def run_atheris_worker(seconds: float, out: Path, corpus: Path) -> None:
    import atheris

    with atheris.instrument_imports():
        import soundfile  # noqa: F401

        import voxref.audio.load  # noqa: F401
        import voxref.audio.stream  # noqa: F401
    target = Target(out)
    import atexit

    atexit.register(target.flush)

    def one(data: bytes) -> None:
        target(data)

    argv = [
        sys.argv[0],
        f"-max_total_time={max(1, int(seconds))}",
        "-max_len=65536",
        "-rss_limit_mb=4096",
        f"-artifact_prefix={out}/",
        "-print_final_stats=1",
        str(corpus),
    ]
    atheris.Setup(argv, one)
    try:
        atheris.Fuzz()
    finally:
        target.flush()


def run_hypothesis(seconds: float, out: Path) -> dict:
    import random

    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    target = Target(out)
    seeds = seed_corpus(out / "corpus")
    deadline_at = time.monotonic() + seconds

    def mutate(rnd: random.Random, blob: bytes, n: int) -> bytes:
        b = bytearray(blob)
        for _ in range(n):
            op = rnd.randrange(4)
            if op == 0 and len(b) > 1:
                i = rnd.randrange(1, min(len(b), 200))
                b[i] = rnd.randrange(256)
            elif op == 1:
                b = b[: rnd.randrange(1, len(b) + 1)]
            elif op == 2 and len(b) > 8:
                i = rnd.randrange(1, len(b) - 4)
                b[i : i + 4] = rnd.randbytes(4)
            else:
                b += rnd.randbytes(rnd.randrange(64))
        return bytes(b)

    inputs = st.one_of(
        st.binary(min_size=1, max_size=8192),
        st.builds(
            mutate,
            st.randoms(use_true_random=False),
            st.sampled_from(seeds),
            st.integers(1, 6),
        ),
    )

    class _TimeUp(Exception):
        pass

    round_ = 0
    while time.monotonic() < deadline_at:

        @seed(round_)
        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(inputs)
        def fuzz(data: bytes) -> None:
            if time.monotonic() >= deadline_at:
                return
            target(data)

        fuzz()
        round_ += 1
    target.flush()
    return {"execs": target.execs, "python_crashes": target.crashes}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    p.add_argument(
        "--engine",
        choices=("auto", "atheris", "hypothesis"),
        default="auto",
        help="atheris (coverage-guided) when installed, else hypothesis",
    )
    p.add_argument("--out", default="fuzz-out", help="folder for crashes, corpus and stats")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    if args.worker:
        run_atheris_worker(args.seconds, out, out / "corpus")
        return 0
    t0 = time.monotonic()
    native_crashes = 0
    if engine == "hypothesis":
        res = run_hypothesis(args.seconds, out)
        execs, crashes = res["execs"], res["python_crashes"]
    else:
        seed_corpus(out / "corpus")
        for old in out.glob("stats-*.json"):
            old.unlink()
        while (left := args.seconds - (time.monotonic() - t0)) > 1:
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", "--seconds", str(left), "--out", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            tail = proc.stderr[-3000:]
            if proc.returncode != 0:
                native_crashes += 1
                print(f"worker died (exit {proc.returncode}); restarting\n{tail}", file=sys.stderr)
        execs, crashes = 0, {}
        for f in out.glob("stats-*.json"):
            s = json.loads(f.read_text())
            execs += s["execs"]
            crashes.update(s["python_crashes"])
    summary = {
        "engine": engine,
        "seconds": round(time.monotonic() - t0, 1),
        "executions": execs,
        "python_crashes": len(crashes),
        "native_crashes": native_crashes,
        "crash_files": crashes,
        "out": str(out),
    }
    print(json.dumps(summary, indent=1))
    return 1 if crashes or native_crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
