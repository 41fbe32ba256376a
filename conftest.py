"""Repo-wide pytest set-up (applies to tests/ and to doctests under src/)."""

import os

# Never let a hub lookup hang, never send telemetry, keep the two cores for parallel work.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
