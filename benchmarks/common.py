"""Pieces every benchmark script shares: the repository's folders and the results writer.

This module sits below :mod:`benchmarks.run`, :mod:`benchmarks.report` and the benchmark
families (``quality/``, ``speed/``, ...), so each of them can write results without importing the
scoreboard command that calls them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO_ROOT / "benchmarks" / "work" / "corpus"
DEFAULT_RESULTS = REPO_ROOT / "benchmarks" / "results"


def _finite(x: Any) -> Any:
    """``x`` with every NaN / infinity replaced by ``None`` (strict JSON)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented strict JSON (NaN -> null), via an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_finite(data), indent=1, allow_nan=False, default=str) + "\n")
    tmp.replace(path)
