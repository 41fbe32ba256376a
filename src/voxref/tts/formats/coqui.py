"""Coqui TTS ``d_vector_file``: one entry per clip, keyed exactly as Coqui looks clips up.

How Coqui finds a clip's vector (coqui-ai/TTS and its idiap fork):

* ``TTS/tts/datasets/__init__.py::add_extra_keys`` gives every sample
  ``audio_unique_name = f"{dataset_name}#{relpath}"`` with
  ``relpath = os.path.splitext(os.path.relpath(item["audio_file"], item["root_path"]))[0]``:
  the path relative to the dataset's ``path`` without extension (the ``ljspeech`` formatter
  gives ``wavs/LJ001-0001``), prefixed by the config's ``dataset_name`` (``""`` by default);
* training looks ``d_vector_mapping[audio_unique_name]["embedding"]`` up for every sample
  (``TTSDataset``), so a missing key stops training with a ``KeyError``;
* ``TTS/bin/compute_embeddings.py`` writes ``{key: {"name": speaker, "embedding": [floats]}}``
  with ``save_file`` (``.json`` via ``json.dump``, anything else via ``torch.save``); its
  ``--old_file --old_append`` keeps the entries of an existing file;
* at inference ``SpeakerManager.get_mean_embedding(speaker)`` averages a speaker's clips, and
  the model's ``d_vector_dim`` (``BaseTTS._init_d_vector``: 512 when unset) must equal the
  vectors' length.

A file with ONE speaker name is ignored by Coqui's ``Synthesizer.tts`` in coqui-ai/TTS 0.22
(``TTS/utils/synthesizer.py``: "handle Neon models with single speaker" picks the speaker id and
leaves ``speaker_embedding = None``): the model trains on the vectors, but inference through the
``tts`` command / API does not pass them. Pass ``speaker_wav`` or call the model directly; the
sidecar notes it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import atomic_write, atomic_write_text
from ...errors import ConfigError
from ..export import EmbeddingDimensionError

__all__ = [
    "CoquiDimensionError",
    "COQUI_DEFAULT_D_VECTOR_DIM",
    "SINGLE_SPEAKER_NOTE",
    "coqui_key",
    "read_tts_config",
    "check_d_vector_dim",
    "read_d_vector_file",
    "write_d_vector_file",
    "export_coqui",
]

log = logging.getLogger(__name__)

COQUI_DEFAULT_D_VECTOR_DIM = 512
"""``BaseTTS._init_d_vector``: ``config.d_vector_dim if config.get("d_vector_dim") else 512``."""

SINGLE_SPEAKER_NOTE = (
    "this d_vector_file names one speaker: Coqui's Synthesizer.tts (coqui-ai/TTS 0.22, 'handle "
    "Neon models with single speaker') then uses the speaker id and ignores the vectors at "
    "inference; training still reads them per clip. Pass speaker_wav, or call the model with "
    "d_vectors yourself, to use them when synthesising."
)


class CoquiDimensionError(EmbeddingDimensionError):
    """The vectors' length differs from the Coqui model's ``d_vector_dim``."""


def coqui_key(dataset_name: str, relpath: str) -> str:
    """``f"{dataset_name}#{relpath}"`` with ``relpath`` relative to the dataset root, no extension.

    Examples
    --------
    >>> coqui_key("ljspeech", "wavs/LJ001-0001")
    'ljspeech#wavs/LJ001-0001'
    """
    if "." in Path(relpath).name and Path(relpath).suffix.lower() in (".wav", ".flac", ".mp3"):
        raise ConfigError(f"{relpath!r}: Coqui keys drop the extension; pass the path without it.")
    return f"{dataset_name}#{relpath}"


def _get(config: Mapping[str, Any], name: str) -> Any:
    """``get_from_config_or_model_args``: the model_args' value first, then the config's."""
    args = config.get("model_args") or {}
    if isinstance(args, Mapping) and name in args:
        return args[name]
    return config.get(name)


def read_tts_config(path: str | os.PathLike) -> dict:
    """``use_d_vector_file``, ``d_vector_dim`` and ``d_vector_file`` of a Coqui ``config.json``.

    ``d_vector_dim`` is Coqui's default (512) when the config leaves it unset; ``dim_source``
    says which.
    """
    p = Path(path)
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--tts-config {p} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--tts-config {p} is not a JSON Coqui config ({exc}).") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"--tts-config {p} is not a Coqui config (a JSON object).")
    dim = _get(cfg, "d_vector_dim")
    return {
        "config": str(p),
        "use_d_vector_file": bool(_get(cfg, "use_d_vector_file")),
        "d_vector_dim": int(dim) if dim else COQUI_DEFAULT_D_VECTOR_DIM,
        "dim_source": "config" if dim else "Coqui's default (config leaves it unset)",
        "d_vector_file": _get(cfg, "d_vector_file"),
    }


def check_d_vector_dim(dimension: int, tts_config: str | os.PathLike) -> dict:
    """Refuse vectors whose length is not the model's ``d_vector_dim``; returns the config info.

    Raises
    ------
    CoquiDimensionError
        e.g. 256-d GE2E vectors for a 512-d model.
    """
    info = read_tts_config(tts_config)
    if int(dimension) != info["d_vector_dim"]:
        raise CoquiDimensionError(
            f"the model in {info['config']} takes {info['d_vector_dim']}-d d-vectors "
            f"({info['dim_source']}), these are {dimension}-d. Embed with an encoder of that "
            f"size (--encoder), map them with a fitted --bridge, or set d_vector_dim "
            f"{dimension} in the config when training a new model."
        )
    if not info["use_d_vector_file"]:
        log.warning(
            "%s has use_d_vector_file false: the model will not read this d_vector_file; set "
            "use_d_vector_file true (and d_vector_file) in its config",
            info["config"],
        )
    return info


def read_d_vector_file(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The ``{key: {"name", "embedding"}}`` mapping of a ``.json`` or ``.pth`` d_vector_file
    (``.pth`` with ``torch.load(weights_only=True)``: a file holding code is refused)."""
    from ..export import read_coqui_d_vectors

    p = Path(path)
    if p.suffix not in (".json", ".pth"):
        raise ConfigError(f"a Coqui d_vector_file ends in .json or .pth, not {p.suffix!r}.")
    if not p.is_file():
        raise ConfigError(f"{p} does not exist.")
    return read_coqui_d_vectors(p)


def write_d_vector_file(
    path: str | os.PathLike,
    entries: Mapping[str, tuple[str, Any]],
    *,
    merge_into: str | os.PathLike | None = None,
) -> tuple[Path, dict[str, int]]:
    """Write ``{key: (speaker, vector)}`` as a Coqui d_vector_file (``.json`` or ``.pth``).

    Parameters
    ----------
    path
        Output file; ``.json`` is written with ``json.dump(indent=4)``, ``.pth`` with
        ``torch.save`` of plain lists (loads with ``weights_only=True``), as Coqui's ``save_file``.
    entries
        Key (:func:`coqui_key`) -> (speaker name, vector).
    merge_into
        An existing d_vector_file whose entries are kept (``path`` may be the same file). A key
        present in both takes the new vector (the old one is counted as replaced).

    Returns
    -------
    (Path, dict)
        The file and counts ``{"written", "kept", "replaced"}``.

    Raises
    ------
    EmbeddingDimensionError
        Vectors of different lengths (also against the merged file).
    """
    p = Path(path)
    if p.suffix not in (".json", ".pth"):
        raise ConfigError(f"a Coqui d_vector_file ends in .json or .pth, not {p.suffix!r}.")
    if not entries:
        raise ConfigError("no clip to write.")
    mapping: dict[str, dict[str, Any]] = {}
    if merge_into is not None:
        mapping = {k: dict(v) for k, v in read_d_vector_file(merge_into).items()}
    old_dims = {len(v["embedding"]) for v in mapping.values()}
    new = {}
    for key, (name, vec) in entries.items():
        v = np.asarray(vec, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(v)):
            raise ConfigError(f"{key}: the vector holds NaN or infinity.")
        new[key] = {"name": str(name), "embedding": [float(x) for x in v]}
    dims = {len(v["embedding"]) for v in new.values()}
    if len(dims) != 1:
        raise EmbeddingDimensionError(f"the vectors have different lengths {sorted(dims)}.")
    if old_dims and old_dims != dims:
        raise EmbeddingDimensionError(
            f"{merge_into} holds {sorted(old_dims)}-d vectors, the new ones are "
            f"{sorted(dims)}-d: one file cannot mix encoders. Export to a new file."
        )
    replaced = sum(k in mapping for k in new)
    counts = {"written": len(new), "kept": len(mapping) - replaced, "replaced": replaced}
    mapping.update(new)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".json":
        atomic_write_text(p, json.dumps(mapping, indent=4))
    else:
        import torch

        atomic_write(p, lambda tmp: torch.save(mapping, tmp))
    return p, counts


def export_coqui(
    emb: Any,
    path: str | os.PathLike,
    *,
    dataset_name: str,
    vectors: str = "clip",
    merge_into: str | os.PathLike | None = None,
    tts_config: str | os.PathLike | None = None,
    allow_missing: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write a dataset's vectors as a Coqui d_vector_file, plus its provenance sidecar.

    Parameters
    ----------
    emb
        :class:`voxref.tts.formats.compute.DatasetEmbeddings`.
    path
        ``speakers.pth`` or ``.json``.
    dataset_name
        The ``dataset_name`` of the Coqui dataset config (keys are ``f"{dataset_name}#{relpath}"``).
    vectors
        ``"clip"`` (each clip's own, as ``compute_embeddings.py``) or ``"speaker"`` (voxref's
        pooled speaker vector under every clip's key: ``get_mean_embedding`` then returns it).
    merge_into
        Existing d_vector_file whose entries are kept.
    tts_config
        The model's ``config.json``: the vectors must have its ``d_vector_dim``.
    allow_missing
        Write even if some clips have no vector (Coqui training will raise ``KeyError`` on them).

    Returns
    -------
    (Path, Path)
        The d_vector_file and its sidecar.
    """
    from .provenance import ClipRecord, write_export_provenance

    cfg = check_d_vector_dim(emb.dimension, tts_config) if tts_config else None
    notes = emb.require_complete(
        "coqui",
        "Coqui training looks every clip's key up and stops with a KeyError on a missing one.",
        allow_missing,
    )
    chosen = emb.clip_vectors(vectors)
    spk = {c.relpath: c.speaker for c in emb.clips}
    entries = {coqui_key(dataset_name, k): (spk[k], v) for k, v in chosen.items()}
    out, counts = write_d_vector_file(path, entries, merge_into=merge_into)
    names = {v["name"] for v in read_d_vector_file(out).values()}
    if len(names) == 1:
        notes.append(SINGLE_SPEAKER_NOTE)
        log.warning("%s", SINGLE_SPEAKER_NOTE)
    records = [
        ClipRecord(**{**r.to_dict(), "key": coqui_key(dataset_name, r.key)}) for r in emb.records
    ]
    side = write_export_provenance(
        out,
        emb,
        fmt="coqui",
        settings={
            **(settings or {}),
            "dataset_name": dataset_name,
            "vectors": vectors,
            "merged_into": str(merge_into) if merge_into else None,
            "entries": counts,
            "tts_config": cfg,
        },
        clips=records,
        files=[out],
        notes=notes,
    )
    return out, side
