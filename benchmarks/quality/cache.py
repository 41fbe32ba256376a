"""On-disk cache of per-clip prepared items, so ablations of the cheap ``combine`` step rerun fast.

The quality benchmark spends nearly all its time in :meth:`~.methods.Method.prepare` (cleaning,
denoising and encoding every degraded clip). Variants that differ only in how prepared clips are
combined (pooling, guiding, quality weights) can reuse those items. With ``--cache DIR`` the
harness stores, per (method prepare group, condition), a pickle mapping clip key -> prepared item,
and computes only what is missing.

Items are valid only for the code that made them: the cache folder's name is a fingerprint of
the source files that per-clip work depends on (:data:`FINGERPRINT_PATHS`: audio loading, the
cleaning stage, the encoder, the degradations, the method registry; and the source of
``Embedder.prepare`` and its helpers, :data:`FINGERPRINT_CALLABLES`), of the corpus manifest and of
the run's seed and split. Change any of them and a new folder is used. Combine-only code
(pooling, guiding) is deliberately *not* in the fingerprint. The cache is a development tool for
ablations; published runs (``BENCHMARKS.md``) are made without it.

Items are pickled, and read back with :class:`RestrictedUnpickler`: only classes of ``voxref``
and ``benchmarks``, numpy arrays/dtypes/scalars and a few builtins can be rebuilt, so a file
planted in the cache folder cannot run code.

Examples
--------
>>> import tempfile
>>> cache = PreparedCache(Path(tempfile.mkdtemp()), "abc")
>>> cache.load("voxref:{}", "clean")
{}
>>> cache.save("voxref:{}", "clean", {"clip-1": [1.0]})
>>> cache.load("voxref:{}", "clean")
{'clip-1': [1.0]}
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "PreparedCache",
    "RestrictedUnpickler",
    "code_fingerprint",
    "FINGERPRINT_PATHS",
    "FINGERPRINT_CALLABLES",
]

REPO_ROOT = Path(__file__).resolve().parents[2]

FINGERPRINT_PATHS = (
    "src/voxref/audio",
    "src/voxref/cleaning",
    "src/voxref/augment",
    "src/voxref/encoding.py",
    "src/voxref/embedder/ge2e.py",
    "src/voxref/embedder/checkpoint.py",
    "src/voxref/embedder/loader.py",
    "src/voxref/loading/safe.py",
    "src/voxref/embedder/registry.py",
    "src/voxref/separation/separator.py",
    "src/voxref/separation/streams.py",
    "benchmarks/quality/conditions.py",
    "benchmarks/quality/methods.py",
    "benchmarks/quality/split.py",
)
"""Files (or folders of ``.py`` files) whose content decides per-clip prepared items."""

FINGERPRINT_CALLABLES = (
    "voxref.pipeline:Embedder.__init__",
    "voxref.pipeline:Embedder.load",
    "voxref.pipeline:Embedder.prepare",
    "voxref.pipeline:Embedder.separated_streams",
    "voxref.separation.keep:separated_streams",
    "voxref.pipeline:PreparedReference",
)
"""Functions whose source decides per-clip items, in files that also hold combine-only code."""


def _source_of(spec: str) -> str:
    import importlib
    import inspect

    module, _, qualname = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return inspect.getsource(obj)


def _files(paths: Iterable[str], root: Path) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        full = root / p
        out.extend(sorted(full.rglob("*.py")) if full.is_dir() else [full])
    return out


def code_fingerprint(
    extra: Iterable[str] = (),
    root: Path = REPO_ROOT,
    callables: Iterable[str] = FINGERPRINT_CALLABLES,
) -> str:
    """Hex digest of :data:`FINGERPRINT_PATHS`' contents, the source of ``callables`` and ``extra``.

    Examples
    --------
    >>> code_fingerprint(["a"]) == code_fingerprint(["a"]) != code_fingerprint(["b"])
    True
    """
    h = hashlib.sha256()
    for f in _files(FINGERPRINT_PATHS, root):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes() if f.is_file() else b"<missing>")
    for spec in callables:
        h.update(spec.encode() + b"\0" + _source_of(spec).encode())
    for s in extra:
        h.update(b"\0" + str(s).encode())
    return h.hexdigest()[:16]


_NUMPY_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_BUILTINS_ALLOWED = {"set", "frozenset", "slice", "complex", "range"}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds only voxref/benchmarks classes, numpy arrays and plain builtins.

    Examples
    --------
    >>> import io, os
    >>> payload = pickle.dumps(os.getcwd)  # a function of another module: refused
    >>> RestrictedUnpickler(io.BytesIO(payload)).load()
    Traceback (most recent call last):
    ...
    pickle.UnpicklingError: refusing to load posix.getcwd from the cache
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_ALLOWED or (module == "builtins" and name in _BUILTINS_ALLOWED):
            return super().find_class(module, name)
        if module.split(".")[0] in ("voxref", "benchmarks"):
            obj = super().find_class(module, name)
            if isinstance(obj, type):
                return obj
        if module.startswith(("numpy", "collections")) and name in (
            "dtype",
            "ndarray",
            "OrderedDict",
        ):
            return super().find_class(module, name)
        if module.startswith("numpy.dtypes") and name.endswith("DType"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the cache")


def _slug(text: str) -> str:
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40] + "-" + digest


class PreparedCache:
    """Prepared items of one fingerprint under ``root / fingerprint``.

    Parameters
    ----------
    root
        Cache folder (e.g. ``benchmarks/work/prepare-cache``).
    fingerprint
        :func:`code_fingerprint` of the run.
    """

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.folder = Path(root) / fingerprint

    def _path(self, group: str, condition: str) -> Path:
        return self.folder / f"{_slug(group)}__{_slug(condition)}.pkl"

    def load(self, group: str, condition: str) -> dict[str, Any]:
        """Stored items of ``group`` under ``condition`` (empty when none)."""
        path = self._path(group, condition)
        if not path.is_file():
            return {}
        with path.open("rb") as f:
            return RestrictedUnpickler(f).load()

    def save(self, group: str, condition: str, items: dict[str, Any]) -> None:
        """Store ``items`` (merged with what is there) atomically."""
        merged = {**self.load(group, condition), **items}
        path = self._path(group, condition)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(merged, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
