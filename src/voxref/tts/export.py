"""Write speaker embeddings in the files TTS / voice-cloning tools read, and read them back.

==============  =================================================================================
format          what the target tool reads
==============  =================================================================================
``npy``         ``np.load(path)``: float32 ``(D,)``, unit norm, ``allow_pickle=False``.
``coqui``       Coqui TTS ``d_vector_file`` (``speakers.json`` or ``.pth``), the structure written
                by ``TTS/bin/compute_embeddings.py`` and read by
                ``TTS/tts/utils/managers.py::EmbeddingManager.load_embeddings_from_file``
                (coqui-ai/TTS): ``{clip_key: {"name": speaker, "embedding": [floats]}}`` with
                ``clip_key = f"{dataset_name}#{clip}"``; ``.json`` via ``json.load``, ``.pth`` via
                ``torch.load(map_location="cpu")`` of the same dict (plain lists: loads with
                ``weights_only=True``). A model asks ``get_mean_embedding(speaker)``, the plain
                mean over the speaker's clips.
``speecht5``    Hugging Face SpeechT5: ``speaker_embeddings`` is a float32 tensor ``(1, 512)``, an
                L2-normalised x-vector of ``speechbrain/spkrec-xvect-voxceleb`` (the
                ``Matthijs/cmu-arctic-xvectors`` recipe: ``F.normalize(encode_batch(wav), dim=2)``,
                then ``torch.tensor(x).unsqueeze(0)``). Saved with ``torch.save``; any other
                dimension is refused unless a :mod:`voxref.tts.bridge` maps it to 512.
``rtvc``        Real-Time-Voice-Cloning / SV2TTS synthesizer: ``np.load(embed_path)`` of a float32
                ``(256,)`` unit-norm GE2E utterance embedding (``synthesizer/preprocess.py`` saves
                ``np.save(embed_fpath, embed, allow_pickle=False)``).
==============  =================================================================================

Every writer can add a JSON sidecar ``<name>.voxref.json`` recording the voxref version, the
encoder (name, dimension, sample rate...), the bridge if one was applied, and each speaker's
references with their pooling weights and fates.

Spaces matter more than shapes: an embedding only means something to a TTS model trained on
the same encoder's space. voxref's bundled GE2E uses Resemblyzer's weights (the SV2TTS
architecture and front end; RTVC's own ``encoder.pt`` can be loaded with
``voxref.embedder.loader.load_pretrained`` for exact RTVC embeddings); SpeechT5 expects
``spkrec-xvect-voxceleb`` x-vectors; a Coqui model expects the encoder its ``d_vector_file``
was computed with. The sidecar records which encoder produced the file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_save_npy, atomic_write, atomic_write_text
from ..errors import ConfigError, VoxrefError

__all__ = [
    "EXPORT_FORMATS",
    "EmbeddingDimensionError",
    "export_embedding",
    "export_npy",
    "load_npy",
    "export_coqui_d_vectors",
    "read_coqui_d_vectors",
    "load_coqui_d_vectors",
    "export_speecht5",
    "load_speecht5",
    "export_rtvc",
    "load_rtvc",
    "write_sidecar",
    "read_sidecar",
    "sidecar_path",
]

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("npy", "coqui", "speecht5", "rtvc")
SPEECHT5_DIM = 512
RTVC_DIM = 256
SIDECAR_SUFFIX = ".voxref.json"


class EmbeddingDimensionError(ConfigError):
    """The embedding's dimension is not what the target format needs (the message says how to
    get one that fits)."""


# =========================================================================== inputs
def _vector(x: Any, what: str = "embedding") -> np.ndarray:
    """A float32 ``(D,)`` copy of an array / tensor / list / EmbeddingResult, checked."""
    x = getattr(x, "embedding", x)
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    v = np.asarray(x, dtype=np.float32)
    if v.ndim == 2 and 1 in v.shape:
        v = v.reshape(-1)
    if v.ndim != 1 or v.size == 0:
        raise ConfigError(f"{what} must be a 1-D vector, got shape {v.shape}.")
    if not np.all(np.isfinite(v)):
        raise ConfigError(f"{what} contains NaN or infinity.")
    return v


def _unit(v: np.ndarray, what: str = "embedding") -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n < 1e-12:
        raise ConfigError(f"{what} is all zeros; it cannot be normalised.")
    return (v / n).astype(np.float32)


def _encoder_info(result: Any, encoder: Any) -> dict | None:
    if encoder is not None:
        return dict(encoder.describe()) if hasattr(encoder, "describe") else dict(encoder)
    info = getattr(result, "encoder", None)
    return dict(info) if isinstance(info, Mapping) else None


def _references(result: Any) -> list[dict]:
    refs = getattr(result, "references", None)
    if not refs:
        return []
    return [
        {
            "source": str(r.source),
            "weight": float(r.weight),
            "status": r.fate.status,
            "reason": r.fate.reason,
            "speech_seconds": round(float(r.speech_seconds), 3),
        }
        for r in refs
    ]


def _apply_bridge(v: np.ndarray, bridge: Any, want: int, fmt: str) -> np.ndarray:
    if bridge is None:
        return v
    if getattr(bridge, "source_dim", None) not in (None, v.shape[0]):
        raise EmbeddingDimensionError(
            f"the bridge maps {bridge.source_dim}-d embeddings, this one is {v.shape[0]}-d."
        )
    out = np.asarray(bridge.transform(v[None]), dtype=np.float32).reshape(-1)
    if out.shape[0] != want:
        raise EmbeddingDimensionError(
            f"{fmt} needs {want}-d embeddings; the bridge outputs {out.shape[0]}-d."
        )
    return out


# =========================================================================== sidecar
def sidecar_path(path: str | os.PathLike) -> Path:
    """``voice.npy`` -> ``voice.voxref.json`` (a ``*.voxref.json`` path is returned as is)."""
    p = Path(path)
    if p.name.endswith(SIDECAR_SUFFIX):
        return p
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def write_sidecar(
    path: str | os.PathLike,
    *,
    fmt: str,
    dimension: int,
    speakers: Mapping[str, Any] | None = None,
    encoder: Mapping[str, Any] | None = None,
    bridge: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write the JSON sidecar describing the exported file at ``path``.

    Parameters
    ----------
    path
        The exported file.
    fmt, dimension
        Its format and embedding dimension.
    speakers
        ``{speaker: EmbeddingResult or vector}``: references, weights and fates are recorded
        when the value is an ``EmbeddingResult``.
    encoder
        The encoder's ``describe()`` dict.
    bridge
        A :class:`voxref.tts.bridge.Bridge` that was applied.
    """
    from .. import __version__

    info: dict[str, Any] = {
        "voxref_version": __version__,
        "format": fmt,
        "file": Path(path).name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dimension": int(dimension),
        "encoder": dict(encoder) if encoder else None,
        "bridge": bridge.describe() if bridge is not None else None,
        "speakers": [
            {
                "speaker": str(name),
                "pooling": getattr(res, "pooling", None),
                "references": _references(res),
            }
            for name, res in (speakers or {}).items()
        ],
    }
    if extra:
        info.update(extra)
    out = sidecar_path(path)
    atomic_write_text(out, json.dumps(info, indent=2) + "\n")
    return out


def read_sidecar(path: str | os.PathLike) -> dict:
    """The sidecar of an exported file (or the sidecar itself) as a dict."""
    p = sidecar_path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VoxrefError(f"no sidecar {p}; export with sidecar=True to record one.") from None


# =========================================================================== npy
def export_npy(
    embedding: Any,
    path: str | os.PathLike,
    *,
    encoder: Any = None,
    speaker: str | None = None,
    sidecar: bool = True,
) -> Path:
    """Save a unit-norm float32 ``(D,)`` ``.npy`` (``allow_pickle=False``).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> p = export_npy(np.array([3.0, 4.0]), tempfile.mkdtemp() + "/v.npy", sidecar=False)
    >>> load_npy(p).tolist()
    [0.6000000238418579, 0.800000011920929]
    """
    v = _unit(_vector(embedding))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_npy(p, v)
    if sidecar:
        write_sidecar(
            p,
            fmt="npy",
            dimension=v.shape[0],
            speakers={speaker or p.stem: embedding},
            encoder=_encoder_info(embedding, encoder),
        )
    return p


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """Read a ``(D,)`` float32 embedding written by :func:`export_npy` (or any ``.npy``)."""
    try:
        v = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a numpy .npy embedding: {exc}") from None
    return _vector(v, str(path))


# =========================================================================== coqui
def export_coqui_d_vectors(
    path: str | os.PathLike,
    speakers: Mapping[str, Any],
    *,
    dataset_name: str = "voxref",
    per_reference: bool = False,
    encoder: Any = None,
    sidecar: bool = True,
) -> Path:
    """Write a Coqui TTS ``d_vector_file`` (``.json`` or ``.pth``).

    Parameters
    ----------
    path
        ``speakers.json`` or ``speakers.pth``.
    speakers
        ``{speaker_name: embedding or EmbeddingResult}``.
    dataset_name
        Prefix of the clip keys (``f"{dataset_name}#{clip}"``, as ``compute_embeddings.py``).
    per_reference
        Default ``False``: one entry per speaker holding voxref's pooled embedding (key
        ``f"{dataset_name}#{speaker}"``), so Coqui's ``get_mean_embedding(speaker)`` returns
        exactly it. ``True``: one entry per used reference of an ``EmbeddingResult`` (its own
        embedding); Coqui then averages them with equal weights, not voxref's.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> p = export_coqui_d_vectors(tempfile.mkdtemp() + "/speakers.json",
    ...                            {"alice": np.array([1.0, 0.0])}, sidecar=False)
    >>> import json; json.load(open(p))
    {'voxref#alice': {'name': 'alice', 'embedding': [1.0, 0.0]}}
    """
    p = Path(path)
    if p.suffix not in (".json", ".pth"):
        raise ConfigError(f"a Coqui d_vector_file ends in .json or .pth, not {p.suffix!r}.")
    if not speakers:
        raise ConfigError("no speaker to export.")
    mapping: dict[str, dict[str, Any]] = {}
    dims = set()

    def add(key: str, name: str, vec: np.ndarray) -> None:
        base, i = key, 1
        while key in mapping:
            i += 1
            key = f"{base}_{i}"
        dims.add(vec.shape[0])
        mapping[key] = {"name": name, "embedding": [float(x) for x in vec]}

    for name, res in speakers.items():
        refs = getattr(res, "references", None) if per_reference else None
        if refs:
            for r in refs:
                if r.embedding is None:
                    continue
                clip = Path(str(r.source)).stem if "<" not in str(r.source) else "ref"
                add(f"{dataset_name}#{name}/{clip}", str(name), _unit(_vector(r.embedding)))
        else:
            add(f"{dataset_name}#{name}", str(name), _unit(_vector(res, f"speaker {name!r}")))
    if len(dims) != 1:
        raise EmbeddingDimensionError(f"speakers have different dimensions {sorted(dims)}.")
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".json":
        atomic_write_text(p, json.dumps(mapping, indent=4))
    else:
        import torch

        atomic_write(p, lambda tmp: torch.save(mapping, tmp))
    if sidecar:
        first = next(iter(speakers.values()))
        write_sidecar(
            p,
            fmt="coqui",
            dimension=dims.pop(),
            speakers=speakers,
            encoder=_encoder_info(first, encoder),
            extra={"dataset_name": dataset_name, "per_reference": per_reference},
        )
    return p


def read_coqui_d_vectors(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The raw ``{clip_key: {"name", "embedding"}}`` mapping of a Coqui ``d_vector_file``."""
    p = Path(path)
    if p.suffix == ".json":
        data = json.loads(p.read_text(encoding="utf-8"))
    elif p.suffix == ".pth":
        from ..loading.safe import safe_torch_load

        data = safe_torch_load(p)
    else:
        raise ConfigError(f"a Coqui d_vector_file ends in .json or .pth, not {p.suffix!r}.")
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and "name" in v and "embedding" in v for v in data.values()
    ):
        raise ConfigError(f"{p} is not a Coqui d_vector_file ({{clip: {{name, embedding}}}}).")
    return data


def load_coqui_d_vectors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{speaker: embedding}`` as a Coqui model sees it: the mean over the speaker's clips
    (``EmbeddingManager.get_mean_embedding``), not re-normalised."""
    by_name: dict[str, list[np.ndarray]] = {}
    for entry in read_coqui_d_vectors(path).values():
        by_name.setdefault(str(entry["name"]), []).append(
            np.asarray(entry["embedding"], dtype=np.float32)
        )
    return {k: np.stack(v).mean(axis=0) for k, v in by_name.items()}


# =========================================================================== speecht5
def export_speecht5(
    embedding: Any,
    path: str | os.PathLike,
    *,
    bridge: Any = None,
    encoder: Any = None,
    speaker: str | None = None,
    sidecar: bool = True,
) -> Path:
    """Save a SpeechT5 ``speaker_embeddings`` tensor: float32 ``(1, 512)``, unit norm.

    Use it as ``model.generate_speech(inputs, torch.load(path), vocoder=...)``.

    Raises
    ------
    EmbeddingDimensionError
        The embedding is not 512-d and no ``bridge`` maps it to 512.
    """
    import torch

    v = _vector(embedding)
    if bridge is None and v.shape[0] != SPEECHT5_DIM:
        info = _encoder_info(embedding, encoder) or {}
        raise EmbeddingDimensionError(
            f"SpeechT5 takes 512-d x-vectors (speechbrain/spkrec-xvect-voxceleb); this embedding "
            f"is {v.shape[0]}-d{' from ' + str(info.get('name')) if info.get('name') else ''}. "
            "Embed with voxref.Embedder.from_pretrained('speechbrain/spkrec-xvect-voxceleb'), or "
            "pass bridge= (voxref.tts.bridge) fitted from your encoder to that space."
        )
    v = _unit(_apply_bridge(v, bridge, SPEECHT5_DIM, "SpeechT5"))
    info = _encoder_info(embedding, encoder)
    name = str((info or {}).get("name", "")).lower()
    if bridge is None and info and not any(s in name for s in ("xvect", "xvector")):
        log.warning(
            "exporting a %s embedding for SpeechT5, which was trained on spkrec-xvect-voxceleb "
            "x-vectors: the shape fits but the voice may not.",
            info.get("name"),
        )
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tensor = torch.from_numpy(v).reshape(1, SPEECHT5_DIM).clone()
    atomic_write(p, lambda tmp: torch.save(tensor, tmp))
    if sidecar:
        write_sidecar(
            p,
            fmt="speecht5",
            dimension=SPEECHT5_DIM,
            speakers={speaker or p.stem: embedding},
            encoder=info,
            bridge=bridge,
        )
    return p


def load_speecht5(path: str | os.PathLike):
    """The ``(1, 512)`` float32 tensor of a SpeechT5 speaker-embedding file (weights-only load)."""
    import torch

    from ..loading.safe import safe_torch_load

    t = safe_torch_load(path)
    if not torch.is_tensor(t) or tuple(t.shape) != (1, SPEECHT5_DIM):
        raise EmbeddingDimensionError(
            f"{path} does not hold a (1, 512) tensor (got {getattr(t, 'shape', type(t))})."
        )
    return t.float()


# =========================================================================== rtvc
def export_rtvc(
    embedding: Any,
    path: str | os.PathLike,
    *,
    encoder: Any = None,
    speaker: str | None = None,
    sidecar: bool = True,
) -> Path:
    """Save an SV2TTS / Real-Time-Voice-Cloning synthesizer embedding: float32 ``(256,)``.

    Raises
    ------
    EmbeddingDimensionError
        Not 256-d (RTVC's GE2E space).
    """
    v = _vector(embedding)
    if v.shape[0] != RTVC_DIM:
        raise EmbeddingDimensionError(
            f"RTVC's synthesizer takes 256-d GE2E embeddings; this one is {v.shape[0]}-d. "
            "Use voxref's default encoder (GE2E) or load RTVC's encoder.pt with "
            "voxref.Embedder.from_pretrained(path)."
        )
    info = _encoder_info(embedding, encoder)
    if info and "ge2e" not in str(info.get("name", "")).lower():
        log.warning("exporting a %s embedding in RTVC's GE2E format.", info.get("name"))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_npy(p, _unit(v))
    if sidecar:
        write_sidecar(
            p, fmt="rtvc", dimension=RTVC_DIM, speakers={speaker or p.stem: embedding}, encoder=info
        )
    return p


def load_rtvc(path: str | os.PathLike) -> np.ndarray:
    """Read an RTVC embedding the way its synthesizer does (``np.load``), checked to be (256,)."""
    return _rtvc_shape_checked(load_npy(path), path)


def _rtvc_shape_checked(v: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """``v`` (read from ``path``) if it has the ``(256,)`` shape RTVC's synthesizer loads."""
    if v.shape != (RTVC_DIM,):
        raise EmbeddingDimensionError(f"{path} holds a {v.shape} array, not RTVC's (256,).")
    return v


# =========================================================================== one entry point
def export_embedding(
    result: Any,
    path: str | os.PathLike,
    format: str = "npy",
    *,
    speaker: str | None = None,
    encoder: Any = None,
    bridge: Any = None,
    sidecar: bool = True,
    dataset_name: str = "voxref",
) -> list[Path]:
    """Export one speaker's embedding (a vector or an ``EmbeddingResult``) in ``format``.

    Parameters
    ----------
    result
        ``voxref.embed(...)`` output, or ``Embedder.embed(..., return_details=True)`` (then the
        sidecar lists the references and weights), or a ``{speaker: result}`` mapping for
        ``format="coqui"``.
    path
        Output file (``.npy``, ``speakers.json``/``.pth``, ``.pt``).
    format
        One of :data:`EXPORT_FORMATS`.
    speaker
        Speaker name (default: the file stem).
    encoder
        The encoder (or its ``describe()`` dict) when ``result`` is a bare vector.
    bridge
        A fitted :class:`voxref.tts.bridge.Bridge` applied before writing (``speecht5``/``npy``/
        ``rtvc``).
    sidecar
        Write ``<stem>.voxref.json`` beside the file.

    Returns
    -------
    list of Path
        The files written (export, then sidecar).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> out = export_embedding(np.ones(256), tempfile.mkdtemp() + "/me.npy", "rtvc")
    >>> [p.name for p in out]
    ['me.npy', 'me.voxref.json']
    """
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {format!r}; use one of {EXPORT_FORMATS}.")
    p = Path(path)
    if format == "coqui":
        speakers = result if isinstance(result, Mapping) else {speaker or p.stem: result}
        out = export_coqui_d_vectors(
            p, speakers, dataset_name=dataset_name, encoder=encoder, sidecar=sidecar
        )
    elif format == "speecht5":
        out = export_speecht5(
            result, p, bridge=bridge, encoder=encoder, speaker=speaker, sidecar=sidecar
        )
    else:
        vec = _vector(result)
        if bridge is not None:
            want = getattr(bridge, "target_dim", None) or vec.shape[0]
            vec = _apply_bridge(vec, bridge, RTVC_DIM if format == "rtvc" else want, format)
        writer = export_rtvc if format == "rtvc" else export_npy
        out = writer(vec, p, encoder=_encoder_info(result, encoder), speaker=speaker, sidecar=False)
        if sidecar:
            write_sidecar(
                out,
                fmt=format,
                dimension=vec.shape[0],
                speakers={speaker or p.stem: result},
                encoder=_encoder_info(result, encoder),
                bridge=bridge,
            )
    return [out, sidecar_path(out)] if sidecar else [out]
