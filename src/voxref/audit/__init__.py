"""Audit a TTS training set: which clips to drop before fine-tuning a voice, and why.

:func:`audit_dataset` (CLI: ``voxref audit DATASET -o audit/``) embeds every clip on the
resumable batch engine (:func:`voxref.scale.embed_dataset`), measures each clip
(:mod:`voxref.audit.measure`), flags it with reasons and a score (:mod:`voxref.audit.flags`) and
writes ``flags.csv``, ``report.html`` and the metadata without the flagged clips.

Importing this package is cheap (no torch import).
"""

from __future__ import annotations

from typing import Any

__all__ = ["audit_dataset", "AuditResult", "read_dataset", "flag_clips", "REASONS"]


def __getattr__(name: str) -> Any:
    if name in ("audit_dataset", "AuditResult"):
        from . import run

        return getattr(run, name)
    if name == "read_dataset":
        from .dataset import read_dataset

        return read_dataset
    if name in ("flag_clips", "REASONS"):
        from . import flags

        return getattr(flags, name)
    raise AttributeError(f"module 'voxref.audit' has no attribute {name!r}")
