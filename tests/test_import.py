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
