"""List the imports of ``src/voxref`` that run against the one-way data flow, and import circles.

voxref's packages stand on layers, lowest first::

    foundation  _version, errors, seeding, encoding (the Encoder interface), allowlist, sample_data, loading,
                option_checks, encoder_names (names -> encoders, resolver installed by the package root),
                atomic (the one atomic file writer)
    audio       audio
    clean       clean, augment
    separation  separation
    embedder    embedder (encoders and pooling), losses
    pipeline    pipeline (the Embedder: load -> clean -> separate -> encode -> pool)
    outputs     api, batch (batch_engine, batch_items, batch_state), longform, cli, inspect, tts, scale, train, the package itself

A module may import from its own layer and the layers below it. An import of a higher layer is an
*upward import*; a set of modules that import each other round (in any layer) is a *circle*.
Imports inside functions and under ``TYPE_CHECKING`` count as well: they are the same dependency,
only deferred. The imports are read with :mod:`ast`; nothing of voxref is run.

Usage::

    python scripts/check_layers.py            # list upward imports and circles; exit 1 if any
    python scripts/check_layers.py --json     # the same as JSON

``tests/test_layers.py`` keeps a shrink-only list of the problems known today and fails on any new
one.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "voxref"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "_version",
            "errors",
            "seeding",
            "encoding",
            "allowlist",
            "sample_data",
            "loading",
            "option_checks",
            "encoder_names",
            "atomic",
        ),
    ),
    ("audio", ("audio",)),
    ("clean", ("clean", "cleaning", "augment")),
    ("separation", ("separation",)),
    ("embedder", ("embedder", "losses")),
    ("pipeline", ("pipeline", "best_effort", "tuning")),
    (
        "outputs",
        (
            "",
            "__main__",
            "api",
            "batch",
            "batch_engine",
            "batch_items",
            "batch_state",
            "longform",
            "cli",
            "inspect",
            "inspection",
            "tts",
            "scale",
            "train",
            "audit",
            "prompting",
        ),
    ),
)
_RANK = {part: rank for rank, (_, parts) in enumerate(LAYERS) for part in parts}
_LAYER_NAME = {rank: name for rank, (name, _) in enumerate(LAYERS)}


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` at ``line`` (dotted module names)."""

    importer: str
    imported: str
    line: int


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    out: dict[str, Path] = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Edge]:
    """The package-internal imports of one module, resolved to existing modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    edges: list[Edge] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.module, node.level)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                targets.append(sub if sub in modules else base)
        for target in targets:
            # the longest existing module the name starts with
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.split(".")[0] == PACKAGE:
                edges.append(Edge(name, target, node.lineno))
    return edges


def layer_of(module: str) -> int:
    """The rank of a module's layer (0 = lowest)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top not in _RANK:
        raise KeyError(f"{module}: its package {top!r} has no layer; add it to LAYERS")
    return _RANK[top]


def upward_imports(edges: list[Edge]) -> list[Edge]:
    """The imports of a module from a higher layer than its own."""
    return [e for e in edges if layer_of(e.imported) > layer_of(e.importer)]


def circles(edges: list[Edge]) -> list[list[str]]:
    """Sets of two or more modules that import each other round (Tarjan's SCC), sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.imported)
        graph.setdefault(e.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def scan(src: Path = SRC) -> tuple[list[Edge], list[list[str]]]:
    """Upward imports and circles of the package below ``src``."""
    modules = module_files(src)
    edges = [e for name, path in modules.items() for e in imports_of(name, path, modules)]
    return upward_imports(edges), circles(edges)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    upward, loops = scan()
    pairs = sorted({(e.importer, e.imported) for e in upward})
    if args.json:
        print(json.dumps({"upward": [list(p) for p in pairs], "circles": loops}, indent=1))
    else:
        print(f"upward imports: {len(pairs)} (module pairs), circles: {len(loops)}")
        for e in sorted(set(upward), key=lambda e: (e.importer, e.line, e.imported)):
            a, b = _LAYER_NAME[layer_of(e.importer)], _LAYER_NAME[layer_of(e.imported)]
            print(f"  up  {e.importer}:{e.line} ({a}) -> {e.imported} ({b})")
        for loop in loops:
            print(f"  circle  {' <-> '.join(loop)}")
    return 1 if pairs or loops else 0


if __name__ == "__main__":
    sys.exit(main())
