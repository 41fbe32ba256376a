"""The provenance sidecar every dataset export writes, and the bridge warning.

A sidecar says what produced an export, so a training run months later can tell which space its
vectors live in: the voxref version, the encoder (its ``describe()``, its weights file and that
file's sha256), the preprocessing (voxref's levelled / cleaned references, or RTVC's exact
encoder preprocessing), the options of the export, each clip's fate and quality, and the bridge
(with its fit report) when one mapped the vectors to another space.

A bridge whose held-apart cosine does not beat the input-blind baseline (every speaker mapped
to the same mean voice would score as well) is worse than useless for cloning:
:func:`check_bridge` logs a loud warning and the sidecar records it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...atomic import atomic_write_text

__all__ = [
    "SIDECAR_SUFFIX",
    "DIRECTORY_SIDECAR",
    "VOXREF_PREPROCESSING",
    "ClipRecord",
    "encoder_provenance",
    "file_sha256",
    "check_bridge",
    "write_provenance",
    "write_export_provenance",
    "provenance_path",
]

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".voxref.json"
"""``speakers.pth`` -> ``speakers.voxref.json``."""

DIRECTORY_SIDECAR = "voxref-export.json"
"""Name of the sidecar of an export that is a folder (RTVC ``embeds/``)."""

VOXREF_PREPROCESSING = {
    "mode": "voxref",
    "rtvc_preprocessing": False,
    "description": (
        "voxref's own: each clip loaded at 16 kHz, cleaned (VAD, denoising when needed), its "
        "speech levelled to the active speech level given in 'level_dbfs' (speech band), the "
        "target voice's windows pooled. This is NOT Real-Time-Voice-Cloning's encoder "
        "preprocessing (-30 dBFS increase-only volume normalisation + webrtcvad trimming); "
        "use the rtvc exact mode to reproduce that."
    ),
}


@dataclass
class ClipRecord:
    """One exported clip: its key in the export, where it came from, and what happened to it.

    Attributes
    ----------
    key
        The clip's key in the exported file (Coqui ``dataset#rel/path``, Kaldi utterance id,
        RTVC embed file name...).
    source
        The audio file.
    speaker
        Its speaker label.
    status
        ``"used"``, ``"down-weighted"``, ``"rejected"`` or ``"failed"``.
    reason
        Why it was not plainly used (empty otherwise).
    speech_seconds
        Seconds of audio its embedding was computed from.
    quality
        Its quality report as a dict (``None`` in RTVC exact mode, which measures nothing).
    """

    key: str
    source: str
    speaker: str
    status: str = "used"
    reason: str = ""
    speech_seconds: float = 0.0
    quality: dict | None = field(default=None)

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "source": self.source,
            "speaker": self.speaker,
            "status": self.status,
            "reason": self.reason,
            "speech_seconds": round(float(self.speech_seconds), 3),
            "quality": self.quality,
        }


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a folder (its files' relative names and hashes, sorted).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.bin"
    >>> _ = p.write_bytes(b"abc")
    >>> file_sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    p = Path(path)
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            h.update(str(f.relative_to(p)).encode("utf-8") + b"\0")
            h.update(file_sha256(f).encode("ascii") + b"\n")
        return h.hexdigest()
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def encoder_provenance(encoder: Any) -> dict:
    """The encoder's ``describe()`` plus ``weights_file`` and ``weights_sha256``.

    The weights are the encoder's ``weights_path`` (GE2E), or the ``source`` its description
    names (a checkpoint file or model folder). A hub id that is not a local path is recorded
    with ``weights_sha256: None`` and a note.
    """
    if encoder is None:
        return {"name": None, "weights_file": None, "weights_sha256": None}
    info = dict(encoder.describe()) if hasattr(encoder, "describe") else dict(encoder)
    weights = getattr(encoder, "weights_path", None) or info.get("source")
    info["weights_file"] = str(weights) if weights else None
    info["weights_sha256"] = None
    if weights and Path(str(weights)).exists():
        info["weights_sha256"] = file_sha256(weights)
    elif weights:
        info["weights_note"] = "not a local file here; no sha256 recorded"
    return info


def check_bridge(bridge: Any, *, warn: bool = True) -> dict | None:
    """The bridge's description with its fit report; warn loudly when it is not trustworthy.

    Returns ``None`` for no bridge. Warns (``logging.WARNING``) when the bridge has no fit report
    (fitted without :func:`voxref.tts.bridge.fit_and_evaluate`, so nobody measured it on
    held-apart speakers) or when its held-apart cosine is not above the input-blind baseline.
    The returned dict carries ``"warning"`` in both cases; ``warn=False`` only records it.
    """
    if bridge is None:
        return None
    info = dict(bridge.describe())
    report = getattr(bridge, "report", None)
    rep = report.to_dict() if hasattr(report, "to_dict") else report
    info["report"] = rep
    warning = None
    if not rep:
        warning = (
            "this bridge carries no fit report: nobody measured it on speakers it was not "
            "fitted on. Fit it with voxref.tts.bridge.fit_and_evaluate and save it again."
        )
    elif not float(rep["test_cosine"]) > float(rep["baseline_cosine"]):
        warning = (
            f"this bridge's held-apart cosine {float(rep['test_cosine']):.3f} is NOT above the "
            f"input-blind baseline {float(rep['baseline_cosine']):.3f}: it maps every voice to "
            "about the same point, so the exported vectors do not carry the speaker. Fit it on "
            "more paired clips (thousands, hundreds of speakers) or do not use a bridge."
        )
    if warning:
        if warn:
            log.warning("BRIDGE WARNING: %s", warning)
        info["warning"] = warning
    return info


def provenance_path(path: str | os.PathLike) -> Path:
    """Sidecar of an exported file (``x.pth`` -> ``x.voxref.json``) or folder
    (``embeds/`` -> ``embeds/voxref-export.json``)."""
    p = Path(path)
    if p.is_dir():
        return p / DIRECTORY_SIDECAR
    if p.name.endswith(SIDECAR_SUFFIX):
        return p
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def write_provenance(
    path: str | os.PathLike,
    *,
    fmt: str,
    dimension: int,
    encoder: Any,
    preprocessing: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
    clips: Iterable[ClipRecord] = (),
    files: Iterable[str | os.PathLike] = (),
    bridge: Any = None,
    notes: Iterable[str] = (),
) -> Path:
    """Write the sidecar of the export at ``path`` (a file or a folder); returns its path.

    Parameters
    ----------
    path
        The exported file or folder.
    fmt
        Export format name (``coqui``, ``rtvc``, ``espnet``, ``hf``).
    dimension
        Dimension of the exported vectors.
    encoder
        The encoder object (or its ``describe()`` dict).
    preprocessing
        What was done to the audio before the encoder (:data:`VOXREF_PREPROCESSING`, or RTVC's).
    settings
        The export's options.
    clips
        One :class:`ClipRecord` per clip.
    files
        Every file the export wrote.
    bridge
        A bridge applied to the vectors (its report is checked by :func:`check_bridge`).
    notes
        Things the user of the file must know (e.g. Coqui ignoring one-speaker files).
    """
    from ... import __version__

    clips = list(clips)
    info = {
        "voxref_version": __version__,
        "format": fmt,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dimension": int(dimension),
        "encoder": encoder_provenance(encoder),
        "preprocessing": dict(preprocessing),
        "settings": dict(settings or {}),
        "bridge": check_bridge(bridge, warn=False),  # the export warned when it started
        "files": [str(f) for f in files],
        "notes": list(notes),
        "num_clips": len(clips),
        "clips": [c.to_dict() for c in clips],
    }
    out = provenance_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(info, indent=2, default=_jsonable) + "\n")
    return out


def write_export_provenance(
    path: str | os.PathLike,
    emb: Any,
    *,
    fmt: str,
    settings: Mapping[str, Any] | None = None,
    clips: Iterable[ClipRecord] = (),
    files: Iterable[str | os.PathLike] = (),
    notes: Iterable[str] = (),
) -> Path:
    """:func:`write_provenance` for an export of the dataset embeddings ``emb``: the dimension,
    encoder, preprocessing and bridge are those ``emb`` carries."""
    return write_provenance(
        path,
        fmt=fmt,
        dimension=emb.dimension,
        encoder=emb.encoder,
        preprocessing=emb.preprocessing,
        settings=settings,
        clips=clips,
        files=files,
        bridge=emb.bridge,
        notes=notes,
    )


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    return str(x)
