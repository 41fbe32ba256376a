"""Repo-wide pytest set-up (applies to tests/ and to doctests under src/)."""

import os

# Never let a hub lookup hang, never send telemetry, keep the two cores for parallel work.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _hide_speechbrain_lazy_modules_from_hypothesis() -> None:
    """SpeechBrain registers lazy modules in ``sys.modules`` whose ``__getattr__`` raises
    ImportError (e.g. its k2 integration when k2 is not installed). Hypothesis scans every module's
    ``__file__`` for constants and trips over them, failing unrelated property tests once
    SpeechBrain has been imported. Mark those placeholders as already seen."""
    import sys

    try:
        from hypothesis.internal.conjecture import providers
    except Exception:  # hypothesis absent or reorganised: nothing to do
        return
    seen = getattr(providers, "_seen_modules", None)
    if seen is None:
        return
    for module in list(sys.modules.values()):
        if (
            type(module).__name__ in ("LazyModule", "DeprecatedModuleRedirect")
            and id(module) not in seen
        ):
            seen.add(id(module))


def pytest_runtest_setup(item):  # noqa: ARG001
    _hide_speechbrain_lazy_modules_from_hypothesis()


def _reenable_voxref_loggers() -> None:
    """Some third-party imports reconfigure logging in ways that silence already-created
    loggers; voxref's warnings are part of its contract (tests assert them), so switch them back
    on before each test."""
    import logging

    for name, obj in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("voxref") and isinstance(obj, logging.Logger):
            obj.disabled = False
            obj.propagate = True


def pytest_runtest_call(item):  # noqa: ARG001
    _reenable_voxref_loggers()
