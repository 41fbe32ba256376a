"""Fault injection for tests of :mod:`voxref.scale`: embedders whose process dies on a clip.

:class:`CrashingEmbedderFactory` is picklable (it travels to Ray actors and spawned processes)
and builds an :class:`~voxref.Embedder` whose ``prepare`` kills its own process with
``os._exit`` when it meets a chosen clip: once (``marker`` file: the first process to meet the
clip creates it, later ones embed the clip normally) or every time (``marker=None``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CrashingEmbedderFactory"]


@dataclass
class CrashingEmbedderFactory:
    """Build an Embedder that ``os._exit(exit_code)`` s on clips whose source ends with ``crash_on``.

    Parameters
    ----------
    crash_on
        Suffix of the clip sources (paths) to crash on.
    marker
        File created before the first crash; while it exists, no more crashes. ``None``: crash
        every time (a poison clip).
    options
        :class:`~voxref.Embedder` options.
    poison
        Suffix of further clip sources to crash on every time, whatever ``marker`` says.
    """

    crash_on: str
    marker: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 17
    poison: str | None = None

    def __call__(self) -> Any:
        from ..pipeline import Embedder

        factory = self

        class _CrashingEmbedder(Embedder):
            def prepare(self, x: Any, index: int | None = None, sample_rate: int | None = None):
                source = str(x if isinstance(x, str) else getattr(x, "source", ""))
                if factory.poison and source.endswith(factory.poison):
                    os._exit(factory.exit_code)
                if source.endswith(factory.crash_on):
                    if factory.marker is None:
                        os._exit(factory.exit_code)
                    try:
                        fd = os.open(factory.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                    except FileExistsError:
                        pass
                    else:
                        os.close(fd)
                        os._exit(factory.exit_code)
                return super().prepare(x, index=index, sample_rate=sample_rate)

        return _CrashingEmbedder(**self.options)
