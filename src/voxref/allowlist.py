"""Judge a dotted name from an untrusted file by the object it resolves to, never by its spelling.

Model folders name Python objects that a loader will build or call: SpeechBrain's
``hyperparams.yaml`` (``!new:``/``!name:``/``!apply:`` tags, resolved by HyperPyYAML with
:func:`pydoc.locate`), a pyannote pipeline's ``config.yaml`` (``pipeline.name``), a pyannote
checkpoint's architecture. ``pydoc.locate`` walks attributes, so a name that *starts* with an
allowed module can end anywhere: ``torch.nn.parallel.distributed.os.system`` is ``os.system``.
:func:`resolve_allowed` therefore decides on the object, by these rules:

1. the name is plain dotted identifiers, none starting with ``_`` (no dunder or private hops);
2. it is spelled inside an allowed namespace, or is one of the exact names allowed; nothing is
   imported before this holds, so every import the check (or the loader after it) attempts is of
   a module inside a trusted package;
3. it resolves as ``pydoc.locate`` resolves it (import the longest module prefix, then
   attributes), and the module part is a real submodule: an attribute that is a module other than
   the one spelled (``torch.nn.functional.importlib``) is refused;
4. the object is a direct attribute of that module (no walk through a class or an instance),
   a class or a function, *defined* in an allowed namespace (its ``__module__``) and outside the
   denied ones; an exact name must be the object's own canonical name;
5. a class reached through a namespace must subclass one of the allow-list's base classes
   (``torch.nn.Module`` by default): it builds a network or a feature, nothing else;
6. finally ``pydoc.locate(name)`` must return that very object, so a loader that resolves
   names with it (HyperPyYAML) builds what was judged; callers that build the returned object
   themselves skip this rule.

Examples
--------
>>> from voxref.allowlist import AllowList, resolve_allowed
>>> rules = AllowList(namespaces=("torch.nn",))
>>> resolve_allowed("torch.nn.Linear", rules).__name__
'Linear'
>>> resolve_allowed("torch.nn.parallel.distributed.os.system", rules)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
voxref.errors.UnsafeCheckpointError: torch.nn.parallel.distributed.os.system: ...
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import UnsafeCheckpointError

__all__ = ["AllowList", "resolve_allowed", "allow_list_from_entries"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class AllowList:
    """What names from an untrusted file may resolve to.

    Attributes
    ----------
    namespaces
        Module namespaces (``"torch.nn"``): a name spelled inside one may resolve to a class or
        function *defined* inside one (its ``__module__``).
    exact
        Canonical names of single classes or functions allowed as they are
        (``"speechbrain.dataio.encoder.CategoricalEncoder"``).
    denied
        Namespaces refused even inside an allowed one (``"torch.nn.parallel"``).
    base_classes
        Canonical names of base classes; a class reached through :attr:`namespaces` must
        subclass one of them (empty: any class).
    """

    namespaces: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    base_classes: tuple[str, ...] = ("torch.nn.modules.module.Module",)

    def extended(self, entries: Iterable[str]) -> AllowList:
        """This allow-list plus user entries (``"pkg.mod."`` a namespace, else an exact name)."""
        extra = allow_list_from_entries(entries)
        return AllowList(
            namespaces=self.namespaces + extra.namespaces,
            exact=self.exact + extra.exact,
            denied=self.denied,
            base_classes=self.base_classes,
        )


def allow_list_from_entries(
    entries: Iterable[str], *, base_classes: tuple[str, ...] = ("torch.nn.modules.module.Module",)
) -> AllowList:
    """An :class:`AllowList` from entries: ``"pkg.mod."`` (trailing dot) is a namespace,
    anything else an exact canonical name.

    Examples
    --------
    >>> allow_list_from_entries(["torch.nn.", "collections.Counter"]).namespaces
    ('torch.nn',)
    """
    namespaces, exact = [], []
    for entry in entries:
        entry = str(entry).strip()
        if entry.endswith("."):
            namespaces.append(entry.rstrip("."))
        elif entry:
            exact.append(entry)
    return AllowList(namespaces=tuple(namespaces), exact=tuple(exact), base_classes=base_classes)


def _inside(name: str, namespace: str) -> bool:
    return name == namespace or name.startswith(namespace + ".")


def _refuse(name: str, why: str) -> UnsafeCheckpointError:
    exc = UnsafeCheckpointError(
        f"{name}: {why}; voxref builds only networks and features from allowed modules, so "
        "nothing was built. If you have read the file and trust it, allow the exact class or "
        "function by its canonical name (module where it is defined + its name)."
    )
    exc.reason = why  # type: ignore[attr-defined]
    return exc


def _import_prefix(parts: list[str], name: str) -> tuple[Any, int]:
    """Import the longest module prefix of ``parts`` as :func:`pydoc.locate` does."""
    module, n = None, 0
    while n < len(parts):
        dotted = ".".join(parts[: n + 1])
        try:
            nxt = importlib.import_module(dotted)
        except ModuleNotFoundError as exc:
            if exc.name == dotted:
                break
            raise _refuse(name, f"importing {dotted} failed ({exc})") from None
        except Exception as exc:  # an allowed module that fails to import: refuse, say why
            raise _refuse(
                name, f"importing {dotted} failed ({type(exc).__name__}: {exc})"
            ) from None
        if getattr(nxt, "__name__", None) != dotted:
            raise _refuse(name, f"{dotted} is an alias of module {nxt.__name__}")
        module, n = nxt, n + 1
    return module, n


def _canonical(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', None)}"


def _is_subclass_of_any(obj: type, bases: tuple[str, ...]) -> bool:
    return any(_canonical(b) in bases for b in inspect.getmro(obj))


def resolve_allowed(name: str, rules: AllowList, *, same_as_pydoc: bool = True) -> Any:
    """The class or function ``name`` resolves to, when the rules allow it (module docstring).

    Parameters
    ----------
    name
        A dotted name from an untrusted file.
    rules
        What may be built.
    same_as_pydoc
        Also require ``pydoc.locate(name)`` to return the same object (rule 6): needed when the
        name is later resolved by a loader that uses it (HyperPyYAML); callers that build the
        returned object themselves may pass ``False`` (``pydoc.locate`` prefers a package's
        attribute to a submodule of the same name, e.g. pyannote's
        ``pyannote.audio.models.segmentation.PyanNet``).

    Returns
    -------
    object
        The object the name resolves to.

    Raises
    ------
    UnsafeCheckpointError
        Which rule refused it. Nothing outside the allowed packages was imported, and nothing
        was built or called.

    Examples
    --------
    >>> rules = AllowList(exact=("collections.Counter",), base_classes=())
    >>> resolve_allowed("collections.Counter", rules).__name__
    'Counter'
    >>> resolve_allowed("collections.abc", rules)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    voxref.errors.UnsafeCheckpointError: collections.abc: not inside an allowed namespace ...
    """
    import pydoc

    name = str(name)
    if not _NAME.fullmatch(name):
        raise _refuse(name[:120], "not a plain dotted name (private, dunder or odd characters)")
    spelled_in = [ns for ns in rules.namespaces if name.startswith(ns + ".")]
    is_exact = name in rules.exact
    if not spelled_in and not is_exact:
        raise _refuse(name, "not inside an allowed namespace and not an allowed exact name")
    if any(_inside(name, d) for d in rules.denied):
        raise _refuse(name, "inside a denied namespace")
    parts = name.split(".")
    module, n = _import_prefix(parts, name)
    if module is None:
        raise _refuse(name, "no importable module at its start")
    if n == len(parts):
        raise _refuse(name, "is a module, not a class or function")
    if len(parts) - n > 1:
        raise _refuse(
            name,
            f"walks through {'.'.join(parts[: n + 1])}, which is not a module: only a class or "
            "function defined at the top of a module may be named",
        )
    obj = getattr(module, parts[n], None)
    if obj is None:
        raise _refuse(name, f"{module.__name__} has no attribute {parts[n]}")
    if inspect.ismodule(obj):
        raise _refuse(
            name,
            f"passes through module attribute {parts[n]} of {module.__name__} into another "
            f"module ({obj.__name__})",
        )
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)):
        raise _refuse(name, f"is a {type(obj).__name__}, not a class or function")
    defined_in = getattr(obj, "__module__", None) or ""
    qualname = getattr(obj, "__qualname__", "")
    if "." in qualname or "<" in qualname:
        raise _refuse(name, f"is {qualname!r}, not defined at the top of its module")
    if not (is_exact and _canonical(obj) == name):
        # reached through a namespace (or an exact name that is an alias): judge where the
        # object is defined and what it is
        if not spelled_in:
            raise _refuse(name, f"resolves to {_canonical(obj)}, not to the object allowed")
        if not any(_inside(defined_in, ns) for ns in rules.namespaces):
            raise _refuse(
                name, f"resolves to {_canonical(obj)}, defined outside the allowed namespaces"
            )
        if any(_inside(defined_in, d) for d in rules.denied):
            raise _refuse(name, f"resolves to {_canonical(obj)}, inside a denied namespace")
        if inspect.isclass(obj) and rules.base_classes:
            if not _is_subclass_of_any(obj, rules.base_classes):
                raise _refuse(
                    name,
                    "is a class that is not a network or feature module (not a subclass of "
                    f"{' or '.join(rules.base_classes)})",
                )
    if same_as_pydoc and pydoc.locate(name) is not obj:
        raise _refuse(name, "the loader would resolve it to another object")
    return obj
