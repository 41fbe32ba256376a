"""``voxref inspect``: a self-contained HTML report of what voxref saw in the references.

:func:`voxref.inspect` (defined in :mod:`voxref.inspect.report`) writes the page. The stages:
:mod:`.collect` runs the models and reduces their results to arrays, :mod:`.figures` draws them
with matplotlib, :mod:`.media` embeds PNGs and WAVs as ``data:`` URIs, :mod:`.template` holds the
page, and :mod:`.browser` renders it in headless Chromium (tests, screenshots).

This package module is itself callable, so ``voxref.inspect(files, "report.html")`` works whether
``voxref.inspect`` resolved to the function or (after ``import voxref.inspect.report``) to this
package. Importing it is cheap: matplotlib, scikit-learn and the models load on first use.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["inspect"]


def inspect(*args: Any, **kwargs: Any) -> Any:
    """See :func:`voxref.inspect.report.inspect`."""
    from .report import inspect as _inspect

    return _inspect(*args, **kwargs)


class _CallableModule(types.ModuleType):
    """Makes ``voxref.inspect(...)`` call :func:`voxref.inspect.report.inspect`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return inspect(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
