"""Embed every clip of a dataset for an export: voxref's way, or RTVC's exact way.

``mode="voxref"`` (default): each speaker's clips go through :class:`voxref.Embedder` in chunks;
each clip's own embedding is its reference embedding (cleaned, levelled, the target voice's
windows pooled) and the speaker's embedding is voxref's pooled one (chunks combined by their
number of used clips). ``mode="rtvc"``: every clip through :func:`~voxref.tts.formats.rtvc.
rtvc_preprocess` and :func:`~voxref.tts.formats.rtvc.rtvc_embed_utterance`, the speaker's
embedding the normalised plain mean of its clips (Resemblyzer's ``embed_speaker``).

A clip that cannot be embedded (silent, too short, unreadable) keeps its reason in
:attr:`DatasetEmbeddings.records`; the writers decide what a missing clip means for their
format.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ConfigError, NoUsableReferenceError, VoxrefError
from .dataset import DatasetClip
from .provenance import VOXREF_PREPROCESSING, ClipRecord

__all__ = [
    "MODES",
    "VECTOR_CHOICES",
    "DatasetEmbeddings",
    "IncompleteExportError",
    "embed_dataset_clips",
    "rtvc_encoder",
]

log = logging.getLogger(__name__)

MODES = ("voxref", "rtvc")
VECTOR_CHOICES = ("clip", "speaker")


class IncompleteExportError(VoxrefError):
    """Some clips could not be embedded and the target format needs every clip."""


@dataclass
class DatasetEmbeddings:
    """Per-clip and per-speaker vectors of a dataset, and how they were made.

    Attributes
    ----------
    clips
        The dataset's clips, in order.
    vectors
        ``relpath -> vector`` for each clip that was embedded.
    records
        One :class:`ClipRecord` per clip (``key`` is the ``relpath`` until a writer re-keys it).
    speakers
        ``speaker -> vector``.
    encoder
        The encoder used.
    preprocessing
        The preprocessing description for the sidecar.
    bridge
        The bridge applied to every vector, if any.
    """

    clips: list[DatasetClip]
    vectors: dict[str, np.ndarray]
    records: list[ClipRecord]
    speakers: dict[str, np.ndarray]
    encoder: Any
    preprocessing: dict
    bridge: Any = None

    @property
    def dimension(self) -> int:
        return int(next(iter(self.vectors.values())).shape[0])

    @property
    def missing(self) -> list[ClipRecord]:
        """Records of the clips that have no vector."""
        return [r for r in self.records if r.key not in self.vectors]

    def clip_vectors(self, vectors: str = "clip") -> dict[str, np.ndarray]:
        """``relpath -> vector``: each clip's own (``"clip"``), or its speaker's pooled vector
        (``"speaker"``, for every clip that was embedded)."""
        if vectors not in VECTOR_CHOICES:
            raise ConfigError(f"vectors must be one of {VECTOR_CHOICES}, got {vectors!r}.")
        if vectors == "clip":
            return dict(self.vectors)
        spk = {c.relpath: c.speaker for c in self.clips}
        return {k: self.speakers[spk[k]] for k in self.vectors if spk[k] in self.speakers}

    def require_complete(self, fmt: str, consequence: str, allow_missing: bool) -> list[str]:
        """Refuse (or, with ``allow_missing``, warn about) clips without a vector.

        Returns the notes to record in the sidecar.

        Raises
        ------
        IncompleteExportError
            Some clips have no vector and ``allow_missing`` is false.
        """
        missing = self.missing
        if not missing:
            return []
        listing = "; ".join(f"{r.source}: {r.reason or r.status}" for r in missing[:5])
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        if not allow_missing:
            raise IncompleteExportError(
                f"{len(missing)} of {len(self.records)} clips could not be embedded: {listing}"
                f"{more}. {consequence} Remove them from the metadata (voxref audit writes a "
                "filtered copy), or pass --allow-missing to write the others."
            )
        log.warning("%s export without %d clips: %s%s", fmt, len(missing), listing, more)
        return [f"{len(missing)} clips have no vector (see clips[].status); {consequence}"]


def rtvc_encoder(spec: Any = "ge2e") -> Any:
    """The GE2E encoder RTVC's exact mode runs: ``"ge2e"`` (Resemblyzer's weights), a path to
    RTVC's ``encoder.pt`` / a Resemblyzer-format checkpoint, or a GE2E encoder object."""
    from ...embedder.ge2e import GE2EEncoder

    if isinstance(spec, GE2EEncoder):
        return spec
    if spec in (None, "ge2e"):
        return GE2EEncoder()
    from ...embedder.loader import load_pretrained

    enc = load_pretrained(spec)
    if not isinstance(enc, GE2EEncoder):
        raise ConfigError(
            f"RTVC's exact mode runs a GE2E encoder; {spec} is a {enc.name} encoder. Use "
            "'ge2e' or RTVC's encoder.pt, or the default voxref mode for other encoders."
        )
    return enc


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def _input(clip: DatasetClip) -> Any:
    """A path, or ``(samples, 16000)`` for RTVC's ``audio-*.npy`` arrays (16 kHz floats)."""
    if clip.path.suffix == ".npy":
        return np.load(clip.path, allow_pickle=False).astype(np.float32), 16000
    return str(clip.path)


def _embed_voxref(clips, embedder, chunk_size, progress):
    from tqdm.auto import tqdm

    vectors, records, speakers = {}, {}, {}
    by_spk: dict[str, list[DatasetClip]] = {}
    for c in clips:
        by_spk.setdefault(c.speaker, []).append(c)
    bar = tqdm(total=len(clips), desc="clips", unit="clip", disable=not progress)
    for spk, spk_clips in by_spk.items():
        acc, used_total = None, 0
        for chunk in _chunks(spk_clips, chunk_size):
            try:
                res = embedder.embed_details([_input(c) for c in chunk], speaker=spk)
            except NoUsableReferenceError as exc:
                for c, fate in zip(chunk, exc.report.fates):
                    records[c.relpath] = ClipRecord(
                        c.relpath, str(c.path), spk, fate.status, fate.reason
                    )
                bar.update(len(chunk))
                continue
            used = 0
            for c, ref in zip(chunk, res.references):
                q = ref.quality.to_dict() if hasattr(ref.quality, "to_dict") else None
                records[c.relpath] = ClipRecord(
                    c.relpath,
                    str(c.path),
                    spk,
                    ref.fate.status,
                    ref.fate.reason,
                    float(ref.speech_seconds),
                    q,
                )
                if ref.embedding is not None:
                    vectors[c.relpath] = np.asarray(ref.embedding, dtype=np.float32)
                    used += 1
            v = np.asarray(res.embedding, dtype=np.float64) * used
            acc = v if acc is None else acc + v
            used_total += used
            bar.update(len(chunk))
        if acc is not None and used_total:
            speakers[spk] = _unit(acc)
    bar.close()
    return vectors, [records[c.relpath] for c in clips], speakers


def _embed_rtvc(clips, encoder, progress):
    from tqdm.auto import tqdm

    from .rtvc import rtvc_embed_utterance, rtvc_load

    vectors, records, sums = {}, [], {}
    for c in tqdm(clips, desc="clips", unit="clip", disable=not progress):
        try:
            wav = rtvc_load(c.path)
            v = rtvc_embed_utterance(encoder, wav)
        except VoxrefError as exc:
            reason = getattr(exc, "reason", str(exc))
            log.warning("%s not embedded: %s", c.path, reason)
            records.append(ClipRecord(c.relpath, str(c.path), c.speaker, "failed", reason))
            continue
        vectors[c.relpath] = v
        sums[c.speaker] = sums.get(c.speaker, 0) + v.astype(np.float64)
        records.append(ClipRecord(c.relpath, str(c.path), c.speaker, "used", "", len(wav) / 16000))
    return vectors, records, {k: _unit(v) for k, v in sums.items()}


def embed_dataset_clips(
    clips: Sequence[DatasetClip],
    *,
    mode: str = "voxref",
    embedder: Any = None,
    encoder: Any = None,
    bridge: Any = None,
    chunk_size: int = 32,
    progress: bool = False,
) -> DatasetEmbeddings:
    """Embed every clip (and pool every speaker) of a dataset.

    Parameters
    ----------
    clips
        From :func:`voxref.tts.formats.dataset.list_dataset`.
    mode
        ``"voxref"`` or ``"rtvc"`` (RTVC's exact encoder preprocessing; GE2E only, no bridge).
    embedder
        A :class:`voxref.Embedder` (``voxref`` mode; default ``Embedder()``).
    encoder
        ``rtvc`` mode: ``"ge2e"`` (default) or RTVC's ``encoder.pt``. In ``voxref`` mode the
        encoder is the embedder's.
    bridge
        A fitted :class:`voxref.tts.bridge.Bridge` applied to every vector (``voxref`` mode).
    chunk_size
        Clips per :meth:`Embedder.embed_details` call (bounds memory on big speakers).

    Raises
    ------
    ConfigError
        Unknown mode, a bridge with ``rtvc`` mode, or no clip embedded at all.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; use one of {MODES}.")
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}.")
    clips = list(clips)
    if bridge is not None and mode != "rtvc":
        from .provenance import check_bridge

        check_bridge(bridge)  # warns before any audio is read
    if mode == "rtvc" and embedder is not None:
        raise ConfigError("embedder= is for the voxref mode; the rtvc mode takes encoder=.")
    if mode == "voxref" and encoder is not None:
        raise ConfigError("encoder= is for the rtvc mode; give embedder=Embedder(encoder=...).")
    if mode == "rtvc":
        if bridge is not None:
            raise ConfigError(
                "a bridge maps vectors out of GE2E's space; RTVC's exact mode exists to stay in "
                "it. Drop --bridge or use the voxref mode."
            )
        enc = rtvc_encoder(encoder)
        vectors, records, speakers = _embed_rtvc(clips, enc, progress)
        from .rtvc import RTVC_PREPROCESSING

        prep = dict(RTVC_PREPROCESSING)
    else:
        if embedder is None:
            from ...pipeline import Embedder

            embedder = Embedder()
        enc = embedder.encoder
        vectors, records, speakers = _embed_voxref(clips, embedder, chunk_size, progress)
        prep = {
            **VOXREF_PREPROCESSING,
            "level_dbfs": embedder.level_dbfs,
            "clean": embedder.clean,
            "guiding": embedder.guiding,
            "advanced": embedder.advanced.changed(),
            "pooling": str(embedder.pooling),
            "separate": str(embedder.separate) if embedder.separate else None,
        }
    if not vectors:
        reasons = sorted({r.reason for r in records if r.reason})[:3]
        raise ConfigError(
            f"none of the {len(clips)} clips could be embedded ({'; '.join(reasons)}); check "
            "that the files hold speech."
        )
    if bridge is not None:
        vectors = {k: np.asarray(bridge.transform(v), np.float32) for k, v in vectors.items()}
        speakers = {k: np.asarray(bridge.transform(v), np.float32) for k, v in speakers.items()}
    return DatasetEmbeddings(clips, vectors, records, speakers, enc, prep, bridge)
