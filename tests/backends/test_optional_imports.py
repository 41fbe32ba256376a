"""Guarded imports of optional dependencies (voxref.errors.optional_dependency, pyannote)."""

from __future__ import annotations

import warnings

import pytest

from voxref.errors import MissingDependencyError
from voxref.loading.pyannote import pyannote_import


def test_a_missing_module_names_what_to_install() -> None:
    with pytest.raises(
        MissingDependencyError, match=r"Diarization.*pip install pyannote\.audio>=4"
    ):
        with pyannote_import("pyannote.audio>=4", "Diarization with a pyannote pipeline"):
            import pyannote.audio.no_such_module  # noqa: F401


def test_only_the_torchcodec_warning_is_silenced() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pyannote_import("pyannote.audio>=4", "test"):
            warnings.warn("torchcodec is not installed correctly", UserWarning, stacklevel=1)
            warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else"]


def test_a_missing_dependency_error_inside_passes_unchanged() -> None:
    from voxref.errors import optional_dependency

    inner = MissingDependencyError("speechbrain", "speechbrain>=1.0,<2", "The inner loader")
    with pytest.raises(MissingDependencyError) as caught:
        with optional_dependency("outer", "outer>=1", "The outer feature"):
            raise inner
    assert caught.value is inner
