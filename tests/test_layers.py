"""Imports run one way: no module imports a higher layer, no modules import each other round.

The layers and the reading of imports are in ``scripts/check_layers.py``. The lists below are the
problems known today; they may only get shorter. A new upward import or circle fails here: import
the lower thing instead, or move the code to the layer where it belongs. When a known problem is
fixed, the test fails too, until its line is deleted here (so the list cannot hide a regression).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_layers.py"

# (importer, imported): imports of a higher layer that are known and still to be removed
KNOWN_UPWARD: frozenset[tuple[str, str]] = frozenset()

# circles known today, each as the set of its modules; a circle found must lie inside one of them
KNOWN_CIRCLES: tuple[frozenset[str], ...] = ()


@pytest.fixture(scope="module")
def layers():
    spec = importlib.util.spec_from_file_location("check_layers", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def scanned(layers):
    return layers.scan()


def test_no_new_upward_import(scanned):
    upward, _ = scanned
    found = {(e.importer, e.imported) for e in upward}
    new = sorted(found - KNOWN_UPWARD)
    assert not new, f"new imports of a higher layer (importer, imported): {new}"


def test_known_upward_imports_only_shrink(scanned):
    upward, _ = scanned
    found = {(e.importer, e.imported) for e in upward}
    gone = sorted(KNOWN_UPWARD - found)
    assert not gone, f"fixed, delete from KNOWN_UPWARD in {__file__}: {gone}"


def test_no_new_circle(scanned):
    _, loops = scanned
    for loop in loops:
        assert any(set(loop) <= known for known in KNOWN_CIRCLES), f"new import circle: {loop}"
    assert len(loops) <= len(KNOWN_CIRCLES)


def test_known_circles_only_shrink(scanned):
    _, loops = scanned
    for known in KNOWN_CIRCLES:
        matches = [set(loop) for loop in loops if set(loop) <= known]
        assert matches, f"circle fixed, delete it from KNOWN_CIRCLES: {sorted(known)}"
        assert set().union(*matches) == known, (
            f"circle shrank to {sorted(set().union(*matches))}: write it so in KNOWN_CIRCLES"
        )


def test_checker_sees_an_upward_import_and_a_circle(layers, tmp_path):
    pkg = tmp_path / "voxref"
    (pkg / "audio").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "api.py").write_text("from .audio import a\n")
    (pkg / "audio" / "__init__.py").write_text("")
    (pkg / "audio" / "a.py").write_text("def f():\n    from ..api import g\n")
    (pkg / "audio" / "b.py").write_text("from . import a\nfrom .. import errors\n")
    upward, loops = layers.scan(tmp_path)
    assert {(e.importer, e.imported) for e in upward} == {("voxref.audio.a", "voxref.api")}
    assert loops == [["voxref.api", "voxref.audio.a"]]
