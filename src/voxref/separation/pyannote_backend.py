"""Run a user-supplied pyannote.audio diarization pipeline instead of voxref's offline diarizer.

``pyannote.audio`` (seconds to import) is imported only here, only when a pipeline is used. The
pipeline can be a local folder holding ``config.yaml`` (as downloaded from the hub, or built by
:func:`.testing.build_tiny_diarization_pipeline`), a ``config.yaml`` path, a hub id such as
``"pyannote/speaker-diarization-community-1"`` (needs network and a token the first time), or an
already loaded ``pyannote.audio.Pipeline``.

Offline (``HF_HUB_OFFLINE=1``) a hub id that is not a local folder fails at once with
:class:`~voxref.errors.MissingCheckpointError` naming the fix, instead of retrying the network.

Audio is passed to pyannote in memory (``{"waveform": (1, T) tensor, "sample_rate": sr}``), so
pyannote's own decoders (torchcodec) are never needed.

Security: pyannote.audio's own ``Pipeline.from_pretrained`` imports whatever class its
``config.yaml`` names and unpickles the model checkpoints with ``weights_only=False``, so voxref
never calls it on a path or hub id. :func:`load_pipeline` reads ``config.yaml`` as plain data,
builds only a ``pyannote.audio.pipelines`` class judged by :func:`voxref.allowlist.resolve_allowed`,
loads every model with :func:`voxref.loading.pyannote.load_pyannote_model`
(``weights_only=True``), refuses ``preprocessors`` (they name arbitrary classes) and model
references it cannot check (a SpeechBrain hub id as the embedding). An already built ``Pipeline``
object is used as given: you built it.

Examples
--------
>>> from voxref.separation.pyannote_backend import PyannoteDiarizer
>>> PyannoteDiarizer("pyannote/speaker-diarization-community-1")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio.load import AudioInput, load_audio
from ..errors import ConfigError, MissingCheckpointError

if TYPE_CHECKING:  # pragma: no cover
    from pyannote.core import Annotation, Timeline

__all__ = ["PyannoteDiarizer", "PyannoteDiarization", "load_pipeline", "hub_offline"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_PIPELINES: dict[str, Any] = {}


def hub_offline() -> bool:
    """Whether the Hugging Face hub is switched off (``HF_HUB_OFFLINE`` is truthy).

    Examples
    --------
    >>> isinstance(hub_offline(), bool)
    True
    """
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _import_pipeline_class():
    from ..loading.pyannote import pyannote_import

    with pyannote_import("pyannote.audio>=4", "Diarization with a pyannote pipeline"):
        from pyannote.audio import Pipeline
    return Pipeline


def load_pipeline(
    pipeline: str | os.PathLike | Any,
    *,
    token: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Any:
    """Load (once per process) a pyannote diarization pipeline from a folder, file or hub id.

    Raises
    ------
    MissingCheckpointError
        The folder/file does not exist, or a hub id was given while offline, or the hub refused it.
    MissingDependencyError
        pyannote.audio is not installed.
    """
    if not isinstance(pipeline, (str, os.PathLike)):
        if not callable(pipeline):
            raise ConfigError(
                f"pipeline must be a folder, a config.yaml, a hub id or a pyannote Pipeline, "
                f"got {type(pipeline).__name__}."
            )
        return pipeline
    ref = os.fspath(pipeline)
    path = Path(ref).expanduser()
    local = path.exists()
    if not local and (ref.startswith((".", "/", "~")) or ref.endswith((".yaml", ".yml"))):
        raise MissingCheckpointError(
            f"no pyannote pipeline at {path}: give a folder holding config.yaml (and its model "
            "sub-folders) or a config.yaml path."
        )
    if local and path.is_dir() and not (path / "config.yaml").exists():
        raise MissingCheckpointError(
            f"{path} has no config.yaml: it is not a pyannote pipeline folder."
        )
    if not local and hub_offline():
        raise MissingCheckpointError(
            f"pyannote pipeline {ref!r} is not a local folder and the Hugging Face hub is offline "
            "(HF_HUB_OFFLINE=1). Download it once with network access (and a token) and pass the "
            "local folder, or unset HF_HUB_OFFLINE."
        )
    key = str(path.resolve()) if local else ref
    with _LOCK:
        if key in _PIPELINES:
            return _PIPELINES[key]
    _import_pipeline_class()
    if local:
        config_file = path if path.is_file() else path / "config.yaml"
        files = _LocalFiles(config_file.parent)
    else:
        files = _HubFiles(ref, token=token, cache_dir=cache_dir)
        config_file = files.get("config.yaml")
    loaded = build_pipeline(config_file, files, token=token, cache_dir=cache_dir, name=ref)
    with _LOCK:
        return _PIPELINES.setdefault(key, loaded)


# =========================================================================== safe pipeline build
_PIPELINE_RULES_NAMESPACE = "pyannote.audio.pipelines"
_PIPELINE_BASE = "pyannote.audio.core.pipeline.Pipeline"
_CONFIG_KEYS = {"pipeline", "params", "freeze", "dependencies", "version", "device"}
_MODEL_PARAMS = ("segmentation", "embedding", "plda")
_PLDA_FILES = ("xvec_transform.npz", "plda.npz")


class _LocalFiles:
    """Files of a local pipeline folder (relative names are read from the folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def get(self, relative: str) -> Path:
        p = self.root / relative
        if not p.exists():
            raise MissingCheckpointError(f"{p} (named by {self.root}/config.yaml) does not exist.")
        return p

    def model_file(self, subfolder: str) -> Path:
        p = self.get(subfolder)
        return p / "pytorch_model.bin" if p.is_dir() else p

    def plda_folder(self, subfolder: str) -> Path | None:
        p = self.get(subfolder)
        return p if p.is_dir() and all((p / f).is_file() for f in _PLDA_FILES) else None


class _HubFiles:
    """Files of a hub pipeline, each fetched (cache first) with :func:`hub_file`."""

    def __init__(self, repo_id: str, *, token: Any, cache_dir: Any) -> None:
        self.repo_id, self.kwargs = repo_id, {"token": token, "cache_dir": cache_dir}

    def get(self, relative: str) -> Path:
        from ..loading.hub import hub_file

        return hub_file(self.repo_id, relative, **self.kwargs)

    def model_file(self, subfolder: str) -> Path:
        return self.get(f"{subfolder.strip('/')}/pytorch_model.bin")

    def plda_folder(self, subfolder: str) -> Path | None:
        try:
            got = [self.get(f"{subfolder.strip('/')}/{f}") for f in _PLDA_FILES]
        except MissingCheckpointError:
            return None
        return got[0].parent


def _refuse_config(name: str, why: str) -> Exception:
    from ..errors import UnsafeCheckpointError

    return UnsafeCheckpointError(
        f"pyannote pipeline {name}: {why}; voxref did not build it. If you trust the pipeline, "
        "build it yourself (pyannote.audio.Pipeline.from_pretrained) and pass the object."
    )


def build_pipeline(
    config_file: Path, files: Any, *, token: Any = None, cache_dir: Any = None, name: str = ""
) -> Any:
    """Build a pyannote pipeline from its ``config.yaml`` without running anything it names.

    What pyannote's ``Pipeline.from_pretrained`` does, minus its unsafe parts: the pipeline class
    must resolve to a ``pyannote.audio.pipelines`` subclass of pyannote's ``Pipeline``
    (:func:`voxref.allowlist.resolve_allowed`), models (``segmentation``, ``embedding``) are loaded
    by :func:`voxref.loading.pyannote.load_pyannote_model` (``weights_only=True``), a
    PLDA folder must hold its two ``.npz`` files (read without pickle), and ``preprocessors`` are
    refused. No telemetry is sent.

    Raises
    ------
    UnsafeCheckpointError
        The configuration names a class, file or model voxref cannot check.
    MissingCheckpointError
        A file it names is missing.
    """
    import inspect

    import yaml

    from ..allowlist import AllowList, resolve_allowed
    from ..loading.pyannote import load_pyannote_model

    name = name or str(config_file)
    try:
        config = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MissingCheckpointError(f"cannot read {config_file}: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("pipeline"), dict):
        raise MissingCheckpointError(f"{config_file} has no 'pipeline' section.")
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if unknown:
        raise _refuse_config(
            name, f"config.yaml has {', '.join(unknown)} (preprocessors name arbitrary classes)"
        )
    class_name = str(config["pipeline"].get("name", ""))
    if "." not in class_name:
        class_name = f"{_PIPELINE_RULES_NAMESPACE}.{class_name}"
    rules = AllowList(namespaces=(_PIPELINE_RULES_NAMESPACE,), base_classes=(_PIPELINE_BASE,))
    klass = resolve_allowed(class_name, rules, same_as_pydoc=False)
    params = dict(config["pipeline"].get("params") or {})
    accepted = inspect.signature(klass.__init__).parameters
    for key in _MODEL_PARAMS:
        default = accepted[key].default if key in accepted else None
        if key not in params and isinstance(default, dict) and "checkpoint" in default:
            raise _refuse_config(
                name, f"config.yaml gives no {key}, and the default fetches an unchecked model"
            )
    for key in [k for k in params if k in _MODEL_PARAMS]:
        value = params[key]
        if not isinstance(value, str):
            raise _refuse_config(name, f"{key} is {type(value).__name__}, not a model folder")
        if value.startswith("$model/"):
            sub = value[len("$model/") :]
            if "@" in sub:
                raise _refuse_config(name, f"{key} names a revision ({value})")
        elif isinstance(files, _LocalFiles):
            sub = value  # a path, relative to the folder or absolute: loaded as safely
        else:
            raise _refuse_config(
                name,
                f"{key} is {value!r}: a hub pipeline's models must be its own subfolders "
                "($model/<subfolder>); voxref does not load other models by hub id there",
            )
        if key == "plda":
            folder = files.plda_folder(sub)
            if folder is None:
                raise MissingCheckpointError(
                    f"{name}: {value} is not a PLDA folder ({_PLDA_FILES})."
                )
            params[key] = str(folder)
        else:
            params[key] = load_pyannote_model(files.model_file(sub), strict=False)
    if "token" in accepted:
        params.setdefault("token", token)
    if "cache_dir" in accepted:
        params.setdefault("cache_dir", None if cache_dir is None else os.fspath(cache_dir))
    try:
        pipeline = klass(**params)
        if "freeze" in config:
            pipeline.freeze(config["freeze"])
        if "params" in config:
            pipeline.instantiate(config["params"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"pyannote pipeline {name} could not be built: {exc}") from exc
    return pipeline


@dataclass
class PyannoteDiarization:
    """What a pyannote pipeline found.

    Attributes
    ----------
    annotation
        Overlap-aware diarization (several speakers may share a segment).
    exclusive
        One speaker at a time (pyannote's ``exclusive_speaker_diarization``), when provided.
    speaker_embeddings
        ``{label: (D,) unit-norm vector}`` in the pipeline's embedding space, when provided.
    duration
        Seconds of audio processed.
    """

    annotation: Annotation
    exclusive: Annotation | None
    speaker_embeddings: dict[str, np.ndarray] | None
    duration: float

    @property
    def labels(self) -> list[str]:
        return list(self.annotation.labels())

    @property
    def num_speakers(self) -> int:
        return len(self.labels)

    def overlap(self) -> Timeline:
        """Regions where two or more speakers talk at once."""
        return self.annotation.get_overlap()


class PyannoteDiarizer:
    """Adapter around a pyannote.audio speaker-diarization pipeline.

    Parameters
    ----------
    pipeline
        Folder with ``config.yaml``, a ``config.yaml`` path, a hub id, or a loaded Pipeline.
    token
        Hugging Face token (hub ids only).
    cache_dir
        Hub cache folder (hub ids only).
    """

    def __init__(
        self,
        pipeline: str | os.PathLike | Any,
        *,
        token: str | None = None,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.pipeline = load_pipeline(pipeline, token=token, cache_dir=cache_dir)

    @property
    def sample_rate(self) -> int:
        audio = getattr(self.pipeline, "_audio", None)
        return int(getattr(audio, "sample_rate", 16_000) or 16_000)

    def embedding_model(self) -> Any | None:
        """The pipeline's speaker-embedding model (``PretrainedSpeakerEmbedding``), if any.

        Uses a private attribute of pyannote's ``SpeakerDiarization`` (``_embedding``).
        """
        return getattr(self.pipeline, "_embedding", None)

    def embed(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Embedding of mono ``samples`` with the pipeline's embedding model, unit-norm ``(D,)``."""
        import torch

        model = self.embedding_model()
        if model is None:
            raise ConfigError("this pyannote pipeline has no speaker-embedding model.")
        a = load_audio((np.asarray(samples, dtype=np.float32), sample_rate), self.sample_rate)
        wav = torch.from_numpy(np.ascontiguousarray(a.samples))[None, None]
        e = np.asarray(model(wav), dtype=np.float64).reshape(-1)
        return (e / max(np.linalg.norm(e), 1e-12)).astype(np.float32)

    def __call__(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        *,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> PyannoteDiarization:
        """Diarize ``audio`` (path, array + ``sample_rate``, ``(array, sr)`` or Audio)."""
        import torch

        a = load_audio(audio, self.sample_rate, sample_rate=sample_rate)
        file = {
            "waveform": torch.from_numpy(np.ascontiguousarray(a.samples))[None],
            "sample_rate": a.sample_rate,
            "uri": Path(a.source).stem if a.source and not a.source.startswith("<") else "audio",
        }
        kwargs = {
            k: v
            for k, v in (
                ("num_speakers", num_speakers),
                ("min_speakers", min_speakers if min_speakers and min_speakers > 1 else None),
                ("max_speakers", max_speakers),
            )
            if v is not None
        }
        out = self.pipeline(file, **kwargs)
        return _convert(out, a.duration)


def _convert(out: Any, duration: float) -> PyannoteDiarization:
    """pyannote 4 ``DiarizeOutput`` (or a bare Annotation from older/legacy pipelines)."""
    from pyannote.core import Annotation

    if isinstance(out, Annotation):
        return PyannoteDiarization(out, None, None, duration)
    ann = getattr(out, "speaker_diarization", None)
    if not isinstance(ann, Annotation):
        raise ConfigError(
            f"the pyannote pipeline returned {type(out).__name__}, not a diarization; "
            "give a speaker-diarization pipeline."
        )
    exclusive = getattr(out, "exclusive_speaker_diarization", None)
    emb = getattr(out, "speaker_embeddings", None)
    by_label = None
    if emb is not None:
        e = np.asarray(emb, dtype=np.float64)
        labels = list(ann.labels())
        if e.ndim == 2 and len(e) >= len(labels):
            norms = np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
            e = (e / norms).astype(np.float32)
            by_label = {lab: e[i] for i, lab in enumerate(labels)}
    return PyannoteDiarization(ann, exclusive, by_label, duration)
