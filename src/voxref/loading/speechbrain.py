"""A SpeechBrain model directory (an encoder's or a separator's), loaded safely.

Loads a SpeechBrain inference model directory, laid out as on the hub
(``speechbrain/spkrec-ecapa-voxceleb``, ``speechbrain/spkrec-xvect-voxceleb``):
``hyperparams.yaml`` + ``embedding_model.ckpt`` (+ ``mean_var_norm_emb.ckpt``,
``classifier.ckpt``, ``label_encoder.txt``).

Safety
------
SpeechBrain's ``hyperparams.yaml`` is *executable*: HyperPyYAML's ``!new:``, ``!name:``,
``!apply:`` tags construct or call any importable Python object, and ``!include:`` /
``!applyref:`` / ``!!python/...`` tags are worse. voxref therefore

* loads only a directory the caller explicitly passed (or a hub id explicitly asked for), never
  one it discovered by itself;
* parses the YAML *without constructing anything* (``yaml.compose``) and refuses it
  (:class:`~voxref.errors.UnsafeCheckpointError`) unless every tag is plain data, a HyperPyYAML
  reference (``!ref``, ``!copy``, ``!tuple``) or a ``!new:``/``!name:``/``!apply:`` of a target in
  :data:`DEFAULT_ALLOWED_YAML_TARGETS` (SpeechBrain's feature, model, normalisation and encoder
  modules, ``torch.nn``) — extend it with ``allow_yaml_targets`` only for YAML you have read;
* loads every weight file with ``torch.load(weights_only=True)`` first, and reads weights only
  from the directory given (the YAML's own ``pretrained_path``/``paths`` are replaced), so an
  offline copy of a hub model never reaches for the network.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..allowlist import AllowList, allow_list_from_entries, resolve_allowed
from ..errors import (
    CheckpointError,
    MissingCheckpointError,
    UnsafeCheckpointError,
    optional_dependency,
)
from .hub import hub_file
from .safe import safe_torch_load

__all__ = [
    "load_speechbrain_directory",
    "speechbrain_hub_directory",
    "DEFAULT_ALLOWED_YAML_TARGETS",
    "DENIED_YAML_NAMESPACES",
    "HPARAMS_FILE",
    "yaml_allow_list",
    "check_hyperparams",
    "pretrainer_files",
    "import_speechbrain",
]

log = logging.getLogger(__name__)

HPARAMS_FILE = "hyperparams.yaml"

# Targets a hyperparams.yaml may construct (``!new:``), reference (``!name:``) or call
# (``!apply:``). An entry ending in "." is a namespace, others are exact canonical names. A
# target is judged by the object it resolves to (:func:`voxref.allowlist.resolve_allowed`):
# defined in one of these namespaces, a torch.nn.Module subclass or a function, reached without
# passing through another module; spelling a name inside a namespace is not enough.
DEFAULT_ALLOWED_YAML_TARGETS: tuple[str, ...] = (
    "speechbrain.lobes.features.",
    "speechbrain.lobes.models.ECAPA_TDNN.",
    "speechbrain.lobes.models.Xvector.",
    "speechbrain.lobes.models.ResNet.",
    "speechbrain.lobes.models.dual_path.",
    "speechbrain.processing.features.",
    "speechbrain.nnet.",
    "speechbrain.dataio.encoder.CategoricalEncoder",
    "speechbrain.utils.parameter_transfer.Pretrainer",
    "torch.nn.",
)
# Inside the namespaces above, yet nothing a model folder needs to build.
DENIED_YAML_NAMESPACES: tuple[str, ...] = (
    "torch.nn.parallel",
    "torch.nn.attention",
    "torch.nn.backends",
    "speechbrain.nnet.schedulers",
)
_OBJECT_TAGS = ("!new:", "!name:", "!apply:")
_DATA_TAGS = {"!ref", "!copy", "!tuple", "!PLACEHOLDER"}
_STD_TAGS = {
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "timestamp")
}
_TUPLE = re.compile(r"^\(.*\)$", re.S)


def import_speechbrain():
    with optional_dependency(
        "speechbrain", "speechbrain>=1.0,<2", "The SpeechBrain encoder backend"
    ):
        import speechbrain.inference.speaker as speaker  # noqa: F401
    return speaker


# =========================================================================== YAML safety
def yaml_allow_list(allow_yaml_targets: Iterable[str] = ()) -> AllowList:
    """The :class:`~voxref.allowlist.AllowList` a hyperparams.yaml is judged by: the defaults
    plus ``allow_yaml_targets`` (``"pkg.mod."`` a namespace, else an exact canonical name)."""
    base = allow_list_from_entries(DEFAULT_ALLOWED_YAML_TARGETS)
    rules = AllowList(namespaces=base.namespaces, exact=base.exact, denied=DENIED_YAML_NAMESPACES)
    return rules.extended(allow_yaml_targets)


def check_hyperparams(
    text: str, *, allow_yaml_targets: Iterable[str] = (), source: str = HPARAMS_FILE
) -> list[str]:
    """Refuse a HyperPyYAML file that would construct anything outside the allow-list.

    The YAML is composed into nodes (no object is built) and every tag is inspected.

    Parameters
    ----------
    text
        The YAML text.
    allow_yaml_targets
        Extra allowed targets (``"my_pkg.models."`` prefix or ``"my_pkg.models.Net"`` exact),
        on top of :data:`DEFAULT_ALLOWED_YAML_TARGETS`.
    source
        Name used in messages.

    Returns
    -------
    list of str
        The Python targets the file constructs or references (all allowed).

    Raises
    ------
    UnsafeCheckpointError
        Lists every refused tag.

    Examples
    --------
    >>> check_hyperparams("fb: !new:speechbrain.lobes.features.Fbank\\n  n_mels: 80\\n")
    ['speechbrain.lobes.features.Fbank']
    >>> check_hyperparams("x: !new:os.system ['touch PWNED']")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    voxref.errors.UnsafeCheckpointError: hyperparams.yaml would run code ...: !new:os.system (...
    """
    import yaml

    rules = yaml_allow_list(allow_yaml_targets)
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise CheckpointError(f"{source} is not valid YAML: {exc}") from None
    targets: list[str] = []
    refused: list[str] = []
    seen: set[int] = set()

    def visit(node: Any) -> None:
        if node is None or id(node) in seen:
            return
        seen.add(id(node))
        tag = node.tag or ""
        if tag.startswith(_OBJECT_TAGS):
            target = tag.split(":", 1)[1]
            try:
                resolve_allowed(target, rules)
            except UnsafeCheckpointError as exc:
                refused.append(f"{tag} ({getattr(exc, 'reason', exc)})")
            else:
                targets.append(target)
        elif tag not in _DATA_TAGS and tag not in _STD_TAGS:
            refused.append(tag)
        if isinstance(node, yaml.ScalarNode):
            value = str(node.value)
            if "!" in value:
                refused.append(f"a value containing '!' ({value[:60]!r})")
            elif tag in ("!ref", "!copy") and "**" in value:
                refused.append(f"an exponent in a reference ({value[:60]!r})")
            elif _TUPLE.match(value) and "!" in value:
                refused.append(f"a tuple with a tag ({value[:60]!r})")
        elif isinstance(node, yaml.SequenceNode):
            for child in node.value:
                visit(child)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                visit(k)
                visit(v)

    for doc in docs:
        visit(doc)
    if refused:
        listed = ", ".join(dict.fromkeys(refused))
        raise UnsafeCheckpointError(
            f"{source} would run code outside voxref's allow-list, so it was not loaded: "
            f"{listed}. SpeechBrain YAML constructs whatever it names; if you have read this "
            "file and trust it, pass allow_yaml_targets=['pkg.module.'] (a namespace) or the "
            "exact canonical name of each class or function it builds."
        )
    return targets


def pretrainer_files(text: str) -> dict[str, str]:
    """``{loadable: filename}`` the YAML's ``pretrainer`` loads (SpeechBrain's naming rules).

    Examples
    --------
    >>> pretrainer_files('''
    ... pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    ...   loadables: {embedding_model: 1, label_encoder: 2}
    ...   paths:
    ...     label_encoder: !ref <pretrained_path>/label_encoder.txt
    ... ''')
    {'embedding_model': 'embedding_model.ckpt', 'label_encoder': 'label_encoder.txt'}
    """
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)

    def get(node: Any, key: str) -> Any:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if getattr(k, "value", None) == key:
                    return v
        return None

    pre = get(root, "pretrainer")
    loadables = get(pre, "loadables")
    if not isinstance(loadables, yaml.MappingNode):
        raise CheckpointError(
            f"{HPARAMS_FILE} has no pretrainer.loadables: it is not a SpeechBrain inference "
            "model (EncoderClassifier) directory."
        )
    paths = get(pre, "paths")
    out = {}
    for k, _ in loadables.value:
        p = get(paths, k.value)
        out[k.value] = (
            str(p.value).rstrip("/").rsplit("/", 1)[-1]
            if isinstance(p, yaml.ScalarNode)
            else f"{k.value}.ckpt"
        )
    return out


def load_speechbrain_directory(
    directory: str | os.PathLike,
    *,
    hparams_file: str = HPARAMS_FILE,
    allow_yaml_targets: Iterable[str] = (),
    modules_needed: tuple[str, ...] = (),
    what: str = "a SpeechBrain inference model",
) -> tuple[Any, Mapping[str, Any]]:
    """``(hparams, modules)`` of a local SpeechBrain model directory, weights loaded, checked.

    The YAML is checked against the allow-list before anything is built
    (:func:`check_hyperparams`), every weight file its pretrainer names must be in the directory
    and load with ``torch.load(weights_only=True)``, and weights are read only from there.

    Raises
    ------
    UnsafeCheckpointError
        The YAML names a target outside the allow-list, or a weight file holds a pickle that
        would run code.
    MissingCheckpointError
        No YAML, or a file the YAML's pretrainer needs is not in the directory.
    CheckpointError
        The YAML cannot be built, lacks ``pretrainer`` or one of ``modules_needed``, or the
        weights do not fit.
    """
    d = Path(directory)
    hp = d / hparams_file
    if not hp.is_file():
        raise MissingCheckpointError(f"{d} has no {hparams_file}: not a SpeechBrain model.")
    text = hp.read_text(encoding="utf-8")
    check_hyperparams(text, allow_yaml_targets=allow_yaml_targets, source=str(hp))
    files = {k: d / f for k, f in pretrainer_files(text).items()}
    missing = [str(p.name) for p in files.values() if not p.is_file()]
    if missing:
        raise MissingCheckpointError(
            f"{d} is missing {', '.join(missing)} named by its {hparams_file}."
        )
    for p in files.values():
        if p.suffix.lower() in (".ckpt", ".pt", ".pth", ".bin"):
            safe_torch_load(p)
    import_speechbrain()
    import yaml
    from hyperpyyaml import load_hyperpyyaml

    top = yaml.compose(text, Loader=yaml.SafeLoader)
    keys = {k.value for k, _ in getattr(top, "value", [])}
    overrides = {"pretrained_path": str(d)} if "pretrained_path" in keys else {}
    try:
        hparams = load_hyperpyyaml(text, overrides)
    except Exception as exc:  # HyperPyYAML raises many types
        raise CheckpointError(f"{hp} could not be built: {type(exc).__name__}: {exc}") from exc
    pre = hparams.get("pretrainer")
    modules = hparams.get("modules")
    if (
        pre is None
        or not isinstance(modules, Mapping)
        or any(m not in modules for m in modules_needed)
    ):
        need = ", ".join(f"modules.{m}" for m in modules_needed) or "modules"
        raise CheckpointError(f"{hp} needs 'pretrainer' and {need} ({what}).")
    pre.paths = {k: str(p) for k, p in files.items()}  # only the files we checked
    pre.set_collect_in(None)
    try:
        pre.collect_files(default_source=str(d))
        pre.load_collected()
    except Exception as exc:
        raise CheckpointError(
            f"loading the weights of {d} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return hparams, modules


def speechbrain_hub_directory(
    repo_id: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    allow_yaml_targets: Iterable[str] = (),
) -> Path:
    """The snapshot directory of a SpeechBrain hub model (cache first; downloads only when
    allowed), its YAML checked before any weight file is fetched."""
    kw = {
        "revision": revision,
        "cache_dir": cache_dir,
        "token": token,
        "local_files_only": local_files_only,
    }
    hp = hub_file(repo_id, HPARAMS_FILE, **kw)
    text = hp.read_text(encoding="utf-8")
    check_hyperparams(text, allow_yaml_targets=allow_yaml_targets, source=f"{repo_id}/{hp.name}")
    for filename in pretrainer_files(text).values():
        got = hub_file(repo_id, filename, **kw)
        if got.parent != hp.parent:
            raise CheckpointError(f"{repo_id}: {filename} is not in the same snapshot.")
    return hp.parent
