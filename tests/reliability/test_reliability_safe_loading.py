"""A checkpoint never runs code: malicious pickles and YAML are refused by every entry point.

Two layers:

* a static scan of the code base (AST): every ``torch.load`` passes ``weights_only=True``, no
  ``pickle.load(s)``, ``yaml.load``/``unsafe_load``, ``eval``/``exec``, ``np.load(...,
  allow_pickle=True)``; ``torch.jit.load`` and ``load_hyperpyyaml`` only where a reviewed
  allow-list says (bundled weights, or YAML checked against an allow-list first);
* a dynamic test: a checkpoint holding an object whose ``__reduce__`` would create a marker file
  is handed to every checkpoint entry point that exists; the marker must never appear, and the
  refusal must be a :class:`voxref.errors.VoxrefError`.
"""

from __future__ import annotations

import ast
import importlib
import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from voxref.errors import CheckpointError, VoxrefError

REPO = Path(__file__).resolve().parents[2]
SCANNED = [REPO / "src" / "voxref", REPO / "scripts", REPO / "benchmarks"]

#: Reviewed exceptions: (file relative to the repo, call) -> why it is safe.
ALLOWED = {
    ("src/voxref/cleaning/vad.py", "torch.jit.load"): "loads Silero's TorchScript file bundled in "
    "the silero-vad wheel (silero_model_path), never a user-supplied path",
    ("src/voxref/loading/speechbrain.py", "load_hyperpyyaml"): "YAML is checked by "
    "check_hyperparams first: every target judged by the object it resolves to "
    "(voxref.allowlist.resolve_allowed)",
    ("src/voxref/allowlist.py", "import_module"): "imports only names already inside an allowed "
    "namespace, then judges the object",
    ("src/voxref/allowlist.py", "locate"): "the identity check after the object was judged: "
    "every import it attempts was already made by the check",
    ("src/voxref/__init__.py", "import_module"): "the lazy public names, from a fixed table",
    (
        "src/voxref/cli/main.py",
        "import_module",
    ): "the CLI's sub-command modules, from a fixed table",
    ("benchmarks/quality/cache.py", "import_module"): "hashes the source of the benchmark's own "
    "methods, named in the benchmark code",
}

#: Third-party loaders that execute what a model folder names (pyannote's Pipeline/Model
#: ``from_pretrained`` unpickle with weights_only=False and import named classes; SpeechBrain's
#: ``from_hparams`` runs its YAML): never called by voxref.
EXECUTING_LOADERS = ("from_hparams", "Pipeline.from_pretrained", "Model.from_pretrained")


def _call_name(node: ast.Call) -> str:
    parts = []
    f = node.func
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name):
        parts.append(f.id)
    return ".".join(reversed(parts))


def _kw(node: ast.Call, name: str):
    for k in node.keywords:
        if k.arg == name:
            return k.value
    return None


def _is_true(v) -> bool:
    return isinstance(v, ast.Constant) and v.value is True


def scan(path: Path) -> list[str]:
    """Unsafe loading calls in one Python file, as ``"file:line call (why)"``."""
    rel = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.name
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        last = name.rsplit(".", 1)[-1]
        why = None
        if name.endswith("torch.load"):
            if not _is_true(_kw(node, "weights_only")):
                why = "torch.load without weights_only=True"
        elif name in ("pickle.load", "pickle.loads", "cPickle.load", "dill.load", "joblib.load"):
            why = "unpickling runs code"
        elif name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load"):
            loader = _kw(node, "Loader")
            if not (isinstance(loader, ast.Attribute) and "Safe" in loader.attr):
                why = "yaml.load without SafeLoader"
        elif isinstance(node.func, ast.Name) and name in ("eval", "exec"):
            why = f"{name}() of data"  # the builtins; model.eval() is a method
        elif last == "load" and name.split(".")[0] in ("np", "numpy"):
            if _is_true(_kw(node, "allow_pickle")):
                why = "np.load(allow_pickle=True)"
        elif name.endswith("jit.load") or last in (
            "load_hyperpyyaml",
            "import_module",
            "locate",
            "__import__",
        ):
            key = "torch.jit.load" if name.endswith("jit.load") else last
            if (rel, key) not in ALLOWED:
                why = f"{key} outside the reviewed allow-list"
        elif any(name == x or name.endswith("." + x) for x in EXECUTING_LOADERS):
            why = f"{name} imports or runs what a file names"
        if why:
            found.append(f"{rel}:{node.lineno} {name} ({why})")
    return found


def test_no_unsafe_loading_calls_in_the_code_base() -> None:
    files = [p for root in SCANNED if root.exists() for p in root.rglob("*.py")]
    assert len(files) > 20  # the scan really ran over the package
    problems = [x for p in files for x in scan(p)]
    assert not problems, "unsafe loading:\n" + "\n".join(problems)


def test_scanner_catches_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import torch, pickle, yaml, numpy as np\n"
        "torch.load('a')\n"
        "torch.load('a', weights_only=False)\n"
        "pickle.loads(b'')\n"
        "yaml.load('a')\n"
        "eval('1')\n"
        "np.load('a', allow_pickle=True)\n"
        "torch.jit.load('x')\n"
        "torch.load('a', weights_only=True)\n"  # fine
        "model.eval()\n"  # fine: a method, not the builtin
        "Net().eval()\n"  # fine
        "yaml.load('a', Loader=yaml.SafeLoader)\n"  # fine
        "Pipeline.from_pretrained('x')\n"
        "pyannote.audio.Model.from_pretrained('x')\n"
        "EncoderClassifier.from_hparams('x')\n"
        "importlib.import_module('x')\n"
        "pydoc.locate('x')\n"
        "Embedder.from_pretrained('x')\n"  # fine: voxref's own safe loader
    )
    assert len(scan(bad)) == 12, scan(bad)


# ------------------------------------------------------------------------- malicious files
class _Evil:
    """Unpickling this creates ``marker`` (what an attacker's payload would do, harmlessly)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _malicious_files(tmp: Path, marker: Path) -> dict[str, Path]:
    """Several ways to smuggle the payload: zip (torch.save) and legacy pickle formats."""
    evil = _Evil(marker)
    out = {}
    p = tmp / "state.pt"
    torch.save({"model_state": {"lstm.weight_ih_l0": evil}}, p)  # resemblyzer layout
    out["torch-zip-nested"] = p
    p = tmp / "top.pt"
    torch.save(evil, p)
    out["torch-zip-top-level"] = p
    p = tmp / "legacy.pt"
    with open(p, "wb") as fh:
        pickle.dump({"state_dict": evil}, fh, protocol=2)
    out["raw-pickle"] = p
    p = tmp / "voxref.pt"
    torch.save(
        {
            "format": "voxref-encoder",
            "version": 1,
            "architecture": "ge2e-lstm",
            "config": {},
            "state_dict": {"w": torch.zeros(1)},
            "metadata": {"x": evil},
        },
        p,
    )
    out["voxref-format-metadata"] = p
    return out


def _use(encoder):
    """Run an encoder once: backends load their weights lazily, on first use."""
    if hasattr(encoder, "encoder"):  # an Embedder
        encoder = encoder.encoder
    x = 0.1 * np.random.default_rng(0).standard_normal(3 * 16000).astype(np.float32)
    return encoder.embed_windows(x)


def _ge2e(p: Path):
    from voxref.embedder.ge2e import GE2EEncoder

    return _use(GE2EEncoder(weights=p))


def _attr(module: str, name: str) -> Callable:
    def get():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            pytest.fail(f"{module} cannot be imported ({exc}): a loading entry point is gone")
        obj = mod
        for part in name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                pytest.fail(f"{module}.{name} is gone: point this entry at its new home")
        return obj

    return get


def _loader(module: str, name: str, *, use: bool = False, **kwargs) -> Callable[[Path], object]:
    """``path -> module.name(path, **kwargs)`` (then run the encoder once when ``use``)."""

    def load(path: Path) -> object:
        obj = _attr(module, name)()(path, **kwargs)
        return _use(obj) if use else obj

    return load


CKPT = "voxref.embedder.checkpoint"
LOADER = "voxref.embedder.loader"
#: entry point id -> function(path) that loads a checkpoint file (and uses it, when lazy)
ENTRY_POINTS: dict[str, Callable[[Path], object]] = {
    "GE2EEncoder(weights=)": _ge2e,
    "loading.safe_torch_load": _loader("voxref.loading.safe", "safe_torch_load"),
    "checkpoint.load_checkpoint": _loader(CKPT, "load_checkpoint"),
    "loader.load_pretrained": _loader(LOADER, "load_pretrained", use=True),
    "load_pretrained(backend=ge2e)": _loader(LOADER, "load_pretrained", use=True, backend="ge2e"),
    "load_pretrained(backend=pyannote)": _loader(
        LOADER, "load_pretrained", use=True, backend="pyannote"
    ),
    "load_pretrained(backend=voxref)": _loader(
        LOADER, "load_pretrained", use=True, backend="voxref"
    ),
    "Embedder.from_pretrained": _loader("voxref.pipeline", "Embedder.from_pretrained", use=True),
    "PyannoteEncoder.from_checkpoint": _loader(
        "voxref.embedder.pyannote_backend", "PyannoteEncoder.from_checkpoint", use=True
    ),
    "AttentivePooling.load": _loader("voxref.embedder.pooling.head", "AttentivePooling.load"),
    "tts.bridge.load_bridge": _loader("voxref.tts.bridge", "load_bridge"),
}

#: Entry points known to leak raw exception types: entry -> (input kinds affected, why).
#: The tests xfail only when exactly these kinds misbehave; anything new fails. None left.
RAW_ERROR_KNOWN: dict[str, tuple[set[str], str]] = {}


def _xfail_if_known(entry: str, bad: dict[str, str]) -> None:
    kinds, why = RAW_ERROR_KNOWN.get(entry, (set(), ""))
    if bad and set(bad) <= kinds:
        pytest.xfail(why + "\n" + "\n".join(f"{k}: {v}" for k, v in bad.items()))


@pytest.fixture
def payloads(tmp_path: Path) -> tuple[dict[str, Path], Path]:
    marker = tmp_path / "PWNED"
    return _malicious_files(tmp_path, marker), marker


def test_payload_really_runs_code_without_weights_only(payloads) -> None:
    """Guard: the payload is live (so the tests below could fail)."""
    files, marker = payloads
    torch.load(files["torch-zip-nested"], weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_malicious_checkpoint_never_runs(entry: str, payloads) -> None:
    files, marker = payloads
    for kind, path in files.items():
        with pytest.raises(BaseException) as info:  # noqa: PT011  (type checked below)
            ENTRY_POINTS[entry](path)
        if info.type is pytest.skip.Exception:
            raise info.value
        assert not marker.exists(), f"{entry} ran code from a {kind} checkpoint"


def _problems(entry: str, files: dict[str, Path]) -> dict[str, str]:
    """Input kind -> what went wrong, for every file the entry point did not refuse properly."""
    bad: dict[str, str] = {}
    for kind, path in files.items():
        try:
            ENTRY_POINTS[entry](path)
        except VoxrefError as exc:
            if not isinstance(exc, CheckpointError):
                bad[kind] = f"{type(exc).__name__} is not a CheckpointError: {exc}"
        except pytest.skip.Exception:
            raise
        except BaseException as exc:  # noqa: BLE001
            bad[kind] = f"raw {type(exc).__name__}: {str(exc)[:150]!r}"
        else:
            bad[kind] = "accepted"
    return bad


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_malicious_checkpoint_refused_with_a_voxref_error(entry: str, payloads) -> None:
    files, marker = payloads
    bad = _problems(entry, files)
    assert not marker.exists()
    _xfail_if_known(entry, bad)
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())


def _garbage_files(tmp: Path) -> dict[str, Path]:
    out = {}
    good = io.BytesIO()
    torch.save({"model_state": {"w": torch.zeros(3)}}, good)
    data = good.getvalue()
    for name, blob in {
        "truncated": data[: len(data) // 2],
        # seeds 17 and 21 made torch's unpickler raise IndexError
        **{f"random-{i}": np.random.default_rng(i).bytes(3000) for i in (0, 1, 17, 21)},
        "text": b"not a checkpoint\n" * 20,
        "empty": b"",
    }.items():
        p = tmp / f"{name}.pt"
        p.write_bytes(blob)
        out[name] = p
    p = tmp / "zip-without-pickle.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/version", "3\n")
    out["zip-without-pickle"] = p
    p = tmp / "wrong-content.pt"
    torch.save({"model_state": {"lstm.weight_ih_l0": torch.zeros(2, 2)}}, p)  # wrong shapes
    out["wrong-shapes"] = p
    p = tmp / "tensor.pt"
    torch.save(torch.zeros(3), p)  # a valid torch file holding no state dict
    out["not-a-dict"] = p
    out["missing"] = tmp / "nope.pt"
    out["directory"] = tmp
    return out


@pytest.mark.parametrize(
    "entry",
    [
        "GE2EEncoder(weights=)",
        "loading.safe_torch_load",
        "checkpoint.load_checkpoint",
        "loader.load_pretrained",
    ],
)
def test_broken_checkpoint_files_give_checkpoint_errors(entry: str, tmp_path: Path) -> None:
    files = _garbage_files(tmp_path)
    if entry == "loading.safe_torch_load":
        del files["wrong-shapes"], files["not-a-dict"]  # valid torch files: loading them is right
    bad = _problems(entry, files)
    _xfail_if_known(entry, bad)
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())


def test_speechbrain_directory_with_malicious_weights_or_yaml(tmp_path: Path) -> None:
    testing = _attr("voxref.embedder.testing", "make_speechbrain_ecapa_dir")()
    load = _attr("voxref.embedder.speechbrain_backend", "SpeechBrainEncoder.from_directory")()
    marker = tmp_path / "PWNED"
    # 1. weights replaced by a pickle payload
    d = testing(tmp_path / "sb1")
    ckpt = next(iter(sorted(d.glob("*.ckpt"))))
    torch.save({"x": _Evil(marker)}, ckpt)
    with pytest.raises(VoxrefError):
        load(d)
    assert not marker.exists()
    # 2. YAML that would construct an arbitrary callable (HyperPyYAML runs !new / !apply tags)
    d = testing(tmp_path / "sb2")
    hp = d / "hyperparams.yaml"
    hp.write_text(hp.read_text() + f"\npwn: !apply:builtins.open ['{marker}', 'w']\n")
    with pytest.raises(VoxrefError):
        load(d)
    assert not marker.exists()
