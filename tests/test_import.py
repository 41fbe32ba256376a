"""``import voxref`` is light: no torch, speechbrain, pyannote, sklearn; no env or RNG changes."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_import_pulls_no_heavy_stack():
    out = json.loads(
        _run(
            "import sys, os, json; before = dict(os.environ); import voxref; "
            "print(json.dumps({'mods': sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'speechbrain', 'pyannote', 'sklearn', 'scipy', 'librosa', 'noisereduce', 'onnxruntime', "
            "'resemblyzer', 'lightning', 'matplotlib')), 'env_changed': dict(os.environ) != before}))"
        )
    )
    assert out["mods"] == [] and out["env_changed"] is False


def test_public_names_resolve_lazily():
    out = _run("import voxref, sys; voxref.Embedder; voxref.embed; print('torch' in sys.modules)")
    assert out.strip() == "False"


def test_import_does_not_touch_global_rng():
    out = _run(
        "import random, numpy as np; random.seed(1); np.random.seed(1); import voxref; "
        "print(random.random(), np.random.random())"
    )
    ref = _run(
        "import random, numpy as np; random.seed(1); np.random.seed(1); "
        "print(random.random(), np.random.random())"
    )
    assert out == ref


def test_all_lists_exactly_the_lazy_names():
    import voxref

    assert set(voxref.__all__) == {"__version__", "errors", *voxref._LAZY}


def test_public_functions_stay_functions_after_their_packages_are_imported():
    """``voxref.clean`` / ``voxref.inspect`` are functions; their packages are ``voxref.cleaning``
    / ``voxref.inspection``, so importing those (as ``embed`` does) cannot replace them."""
    out = _run(
        "import voxref, voxref.cleaning.pipeline, voxref.inspection.report, json; "
        "print(json.dumps([voxref.clean is voxref.cleaning.pipeline.clean, "
        "voxref.inspect is voxref.inspection.report.inspect, callable(voxref.clean)]))"
    )
    assert json.loads(out) == [True, True, True]


def test_embed_then_clean_in_one_process(pyannote_sample):
    """The order that used to break: ``embed`` imports the cleaning package, then ``clean``."""
    wav = pyannote_sample[0]
    out = _run(
        "import sys, json, voxref; "
        f"e = voxref.embed([{str(wav)!r}]); "
        f"r = voxref.clean({str(wav)!r}); "
        "print(json.dumps([float((e * e).sum()), r.report.verdict, r.speech.duration]))"
    )
    norm, verdict, seconds = json.loads(out.strip().splitlines()[-1])
    assert abs(norm - 1.0) < 1e-4
    assert verdict != "reject" and seconds > 5.0
