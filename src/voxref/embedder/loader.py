"""Load any encoder: :func:`load_pretrained` on a checkpoint path or a hub id.

One loader, backends in one registry (:data:`BACKENDS`): a backend is a name, the file that marks
its model directories (and is looked for on the hub), and two functions that build an encoder
from a local path or a hub id. Adding a backend touches this registry only.

Takes a voxref checkpoint (file or directory, :mod:`voxref.embedder.checkpoint`), a SpeechBrain
model directory (``hyperparams.yaml`` + ``*.ckpt``), a pyannote checkpoint (``.bin``/``.ckpt`` or a
directory with ``pytorch_model.bin``), a Resemblyzer/Real-Time-Voice-Cloning GE2E checkpoint
(``{"model_state": ...}``), or a Hugging Face hub id (:mod:`voxref.loading.hub`: nothing is
downloaded at import, the cache is read first, and offline a missing model fails at once).

Every torch checkpoint goes through :func:`voxref.loading.safe.safe_torch_load`
(``weights_only=True``): a pickle that would construct arbitrary objects is refused with
:class:`~voxref.errors.UnsafeCheckpointError` before anything in it runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..encoding import Encoder
from ..errors import CheckpointError, ConfigError, MissingCheckpointError, UnsafeCheckpointError
from ..loading.hub import hub_file, is_hub_id
from ..loading.safe import safe_torch_load, unsafe_global_in
from .checkpoint import CHECKPOINT_FILE, is_voxref_dict, load_checkpoint

__all__ = ["load_pretrained", "detect_format", "Backend", "BACKENDS", "KNOWN_HUB_MODELS"]

# hub id -> (backend, what it is). Other ids work too (the backend is then guessed).
KNOWN_HUB_MODELS: dict[str, tuple[str, str]] = {
    "speechbrain/spkrec-ecapa-voxceleb": ("speechbrain", "ECAPA-TDNN, 192-d, VoxCeleb1+2"),
    "speechbrain/spkrec-xvect-voxceleb": ("speechbrain", "x-vector, 512-d (SpeechT5's space)"),
    "pyannote/wespeaker-voxceleb-resnet34-LM": ("pyannote", "WeSpeaker ResNet34, 256-d"),
    "pyannote/embedding": ("pyannote", "x-vector SincNet, 512-d (gated: needs a token)"),
}


# =========================================================================== backends
def _voxref_local(path: Path, device: str, allow_yaml_targets: tuple[str, ...]) -> Encoder:
    return load_checkpoint(path).to_encoder(device)


def _voxref_hub(repo_id: str, hub: dict[str, Any], device: str, allow: tuple[str, ...]) -> Encoder:
    return load_checkpoint(hub_file(repo_id, CHECKPOINT_FILE, **hub)).to_encoder(device)


def _speechbrain_local(path: Path, device: str, allow_yaml_targets: tuple[str, ...]) -> Encoder:
    from .speechbrain_backend import SpeechBrainEncoder

    directory = path.parent if path.is_file() else path
    return SpeechBrainEncoder.from_directory(
        directory, device=device, allow_yaml_targets=allow_yaml_targets
    )


def _speechbrain_hub(
    repo_id: str, hub: dict[str, Any], device: str, allow: tuple[str, ...]
) -> Encoder:
    from .speechbrain_backend import SpeechBrainEncoder

    return SpeechBrainEncoder.from_hub(repo_id, device=device, allow_yaml_targets=allow, **hub)


def _pyannote_local(path: Path, device: str, allow_yaml_targets: tuple[str, ...]) -> Encoder:
    from .pyannote_backend import PyannoteEncoder

    return PyannoteEncoder.from_checkpoint(path, device=device)


def _pyannote_hub(
    repo_id: str, hub: dict[str, Any], device: str, allow: tuple[str, ...]
) -> Encoder:
    from .pyannote_backend import PyannoteEncoder

    return PyannoteEncoder.from_hub(repo_id, device=device, **hub)


def _ge2e_local(path: Path, device: str, allow_yaml_targets: tuple[str, ...]) -> Encoder:
    from .ge2e import GE2EEncoder

    file = path / "pretrained.pt" if path.is_dir() else path
    safe_torch_load(file)  # GE2EEncoder loads with weights_only=True too; fail early here
    return GE2EEncoder(weights=file, device=device)


@dataclass(frozen=True)
class Backend:
    """How :func:`load_pretrained` loads one kind of model.

    Attributes
    ----------
    name
        What ``backend=`` calls it.
    marker
        The file whose presence in a directory says "this backend" (looked for on the hub too,
        in registry order, when the repo's owner does not tell); ``None``: never detected so.
    load_local
        ``(path, device, allow_yaml_targets) -> Encoder``.
    load_hub
        ``(repo_id, hub_options, device, allow_yaml_targets) -> Encoder``; ``None``: local only.
    hub_owners
        Hub owners whose repositories are this backend's.
    """

    name: str
    marker: str | None
    load_local: Callable[[Path, str, tuple[str, ...]], Encoder]
    load_hub: Callable[[str, dict[str, Any], str, tuple[str, ...]], Encoder] | None = None
    hub_owners: tuple[str, ...] = ()


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("voxref", CHECKPOINT_FILE, _voxref_local, _voxref_hub),
        Backend(
            "speechbrain",
            "hyperparams.yaml",
            _speechbrain_local,
            _speechbrain_hub,
            ("speechbrain",),
        ),
        Backend(
            "pyannote",
            "pytorch_model.bin",
            _pyannote_local,
            _pyannote_hub,
            ("pyannote", "pyannoteai"),
        ),
        Backend("ge2e", None, _ge2e_local),
    )
}
"""The backends, in the order directories and hub repos are probed."""


# =========================================================================== detection
def detect_format(path: str | os.PathLike) -> str:
    """Which loader a local file or directory needs, without running anything in it.

    Returns one of ``"voxref"``, ``"speechbrain"``, ``"pyannote"``, ``"ge2e"`` (Resemblyzer / RTVC
    ``{"model_state": ...}``).
    """
    p = Path(path)
    if p.is_dir():
        for backend in BACKENDS.values():
            if backend.marker and (p / backend.marker).is_file():
                return backend.name
        raise CheckpointError(
            f"{p} is a directory but holds none of {CHECKPOINT_FILE} (voxref), hyperparams.yaml "
            "(SpeechBrain) or pytorch_model.bin (pyannote); pass the checkpoint file itself."
        )
    if not p.is_file():
        raise MissingCheckpointError(f"no file or directory at {p}.")
    if p.suffix.lower() in (".yaml", ".yml"):
        return "speechbrain"
    try:
        obj = safe_torch_load(p)
    except UnsafeCheckpointError as exc:
        ref = unsafe_global_in(exc) or ""
        if ref.startswith(("pyannote.audio.", "pytorch_lightning.", "lightning.")):
            return "pyannote"  # checked again, against pyannote's allow-list, by its loader
        raise
    if is_voxref_dict(obj):
        return "voxref"
    if isinstance(obj, dict) and "pyannote.audio" in obj:
        return "pyannote"
    if isinstance(obj, dict) and isinstance(obj.get("model_state"), dict):
        return "ge2e"
    if isinstance(obj, dict) and any(str(k).startswith("lstm.weight_ih_l0") for k in obj):
        return "ge2e"
    raise CheckpointError(
        f"{p} is a torch file voxref does not recognise (keys: {list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__}). "
        "voxref loads its own checkpoints (save_checkpoint), SpeechBrain model directories, pyannote "
        "checkpoints and Resemblyzer/RTVC GE2E checkpoints."
    )


def _hub_backend(
    repo_id: str, backend: str | None, hub_kwargs: dict[str, Any]
) -> tuple[str, Path | None]:
    """Which backend a hub repo needs, and its voxref checkpoint file if that is what it is."""
    if backend:
        return backend, None
    if repo_id in KNOWN_HUB_MODELS:
        return KNOWN_HUB_MODELS[repo_id][0], None
    owner = repo_id.split("/", 1)[0].lower()
    for b in BACKENDS.values():
        if owner in b.hub_owners:
            return b.name, None
    tried = []
    for kind, filename in ((b.name, b.marker) for b in BACKENDS.values() if b.load_hub):
        try:
            found = hub_file(repo_id, filename, **hub_kwargs)
        except MissingCheckpointError as exc:
            tried.append(f"{filename}: {str(exc).splitlines()[0]}")
            continue
        return kind, (found if kind == "voxref" else None)
    raise MissingCheckpointError(
        f"cannot tell what {repo_id!r} is; none of its expected files could be found:\n  "
        + "\n  ".join(tried)
        + "\nPass backend='speechbrain' | 'pyannote' | 'voxref', or a local path."
    )


def load_pretrained(
    source: str | os.PathLike | Encoder,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    backend: str | None = None,
    device: str = "cpu",
    allow_yaml_targets: Iterable[str] = (),
) -> Encoder:
    """An :class:`~voxref.encoding.Encoder` from a checkpoint path or a hub id.

    Parameters
    ----------
    source
        A voxref checkpoint (``.pt`` or directory), a SpeechBrain model directory
        (``hyperparams.yaml`` + ``embedding_model.ckpt`` ...), a pyannote checkpoint (``.bin`` /
        ``.ckpt``, or a directory with ``pytorch_model.bin``), a Resemblyzer / Real-Time-Voice-
        Cloning GE2E ``.pt``, or a Hugging Face hub id such as
        ``"speechbrain/spkrec-ecapa-voxceleb"``, ``"speechbrain/spkrec-xvect-voxceleb"``,
        ``"pyannote/wespeaker-voxceleb-resnet34-LM"``, ``"pyannote/embedding"``.
    revision, cache_dir, token, local_files_only
        Hub options (``token`` for gated pyannote models). Nothing is downloaded when
        ``local_files_only`` or ``HF_HUB_OFFLINE=1``: only the cache is read.
    backend
        Force ``"voxref"``, ``"speechbrain"``, ``"pyannote"`` or ``"ge2e"`` instead of detecting.
    device
        Torch device.
    allow_yaml_targets
        Extra module prefixes a SpeechBrain ``hyperparams.yaml`` may construct (see
        :func:`voxref.embedder.speechbrain_backend.check_hyperparams`). Only extend this for
        YAML you have read: HyperPyYAML runs what it names.

    Raises
    ------
    MissingCheckpointError
        Nothing at the path; or a hub id not cached while offline (the message says what to do).
    UnsafeCheckpointError
        A pickle or YAML that would run code (nothing in it has run).
    CheckpointError
        A file voxref cannot interpret.
    MissingDependencyError
        The backend's package (speechbrain / pyannote.audio) is not installed.

    Examples
    --------
    >>> enc = load_pretrained("speechbrain/spkrec-ecapa-voxceleb")  # doctest: +SKIP
    >>> enc.dimension  # doctest: +SKIP
    192
    """
    if isinstance(source, Encoder):
        return source
    text = os.fspath(source)
    path = Path(text).expanduser()
    yaml_allow = tuple(allow_yaml_targets)
    if path.exists():
        if revision is not None:
            raise ConfigError("revision= applies to hub ids only, not to local paths.")
        kind = backend or detect_format(path)
        return _load_local(kind, path, device=device, allow_yaml_targets=yaml_allow)
    if not is_hub_id(text):
        raise MissingCheckpointError(
            f"{text!r} is neither an existing file or directory nor a hub id 'owner/name'."
        )
    hub_kwargs = {
        "revision": revision,
        "cache_dir": cache_dir,
        "token": token,
        "local_files_only": local_files_only,
    }
    kind, found = _hub_backend(text, backend, hub_kwargs)
    if kind == "voxref" and found is not None:
        return load_checkpoint(found).to_encoder(device)
    chosen = BACKENDS.get(kind)
    if chosen is None or chosen.load_hub is None:
        raise ConfigError(f"unknown backend {kind!r}; use voxref, speechbrain or pyannote.")
    return chosen.load_hub(text, hub_kwargs, device, yaml_allow)


def _load_local(
    kind: str, path: Path, *, device: str, allow_yaml_targets: tuple[str, ...]
) -> Encoder:
    chosen = BACKENDS.get(kind)
    if chosen is None:
        raise ConfigError(f"unknown backend {kind!r}; use voxref, speechbrain, pyannote or ge2e.")
    return chosen.load_local(path, device, allow_yaml_targets)
