"""The work one process does: embed a shard of clips, or pool a bucket of speakers.

A :class:`DatasetWorker` holds one :class:`~voxref.pipeline.Embedder` (models load once
per process) and runs *tasks*: plain JSON-able dicts, so the same worker serves a Ray actor and
a local process.

* ``{"kind": "clips", "shard": k, "clips": [...], "out": OUT}`` embeds each clip
  (:meth:`~voxref.pipeline.Embedder.prepare`: load, clean, window embeddings; plus the
  clip's own embedding) and writes ``OUT/clips/shard-k.parquet``. With ``"part": True`` each clip
  is written to its own piece (used when a worker died inside the shard).
* ``{"kind": "speakers", "bucket": b, "speakers": [...], "files": [...], "out": OUT}`` reads the
  bucket's clip rows back, rebuilds each clip's
  :class:`~voxref.pipeline.PreparedReference` from its window embeddings and quality
  report (:func:`prepared_from_row`), and pools each speaker with
  :meth:`~voxref.pipeline.Embedder.combine` -- the very code ``voxref.embed`` runs, so a
  speaker's embedding equals ``voxref.embed(its clips)``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputFate, NoUsableReferenceError, UnreadableAudioError, VoxrefError
from .manifest import Clip
from .storage import (
    bucket_path,
    clip_schema,
    iter_clip_rows,
    part_path,
    shard_path,
    speaker_schema,
    write_parquet,
)

__all__ = [
    "WorkerSpec",
    "DatasetWorker",
    "load_clip",
    "prepared_from_row",
    "quality_to_json",
    "quality_from_json",
]

log = logging.getLogger(__name__)


@dataclass
class WorkerSpec:
    """How a worker builds its embedder (picklable: sent to every process / actor).

    Attributes
    ----------
    embedder_options
        Keyword arguments of :class:`~voxref.pipeline.Embedder`.
    embedder_factory
        A picklable callable returning an Embedder (overrides ``embedder_options``).
    threads
        Torch intra-op threads per worker (1: one worker per core is the efficient layout).
    clip_embeddings
        Also store each clip's own embedding (``voxref.embed([clip])``).
    warmup
        Load the models before the worker's first clip (see :meth:`DatasetWorker.warmup`).
    """

    embedder_options: dict[str, Any] = field(default_factory=dict)
    embedder_factory: Callable[[], Any] | None = None
    threads: int = 1
    clip_embeddings: bool = True
    warmup: bool = True

    def build(self) -> Any:
        if self.embedder_factory is not None:
            return self.embedder_factory()
        from ..pipeline import Embedder

        return Embedder(**self.embedder_options)


# ----------------------------------------------------------------------------- clips
def load_clip(clip: Clip, sample_rate: int) -> Any:
    """What :meth:`Embedder.prepare` is given for ``clip``: its path, or the segment's ``Audio``.

    A segment is read with soundfile between ``start`` and ``end`` at the file's own rate, then
    validated, downmixed and resampled by :func:`voxref.audio.load.load_audio` (so
    ``voxref.embed([(samples, rate)])`` on the same samples gives the same embedding).

    Examples
    --------
    >>> from voxref.sample_data import pyannote_sample
    >>> c = Clip(0, str(pyannote_sample()[0]), "s", 1.0, 3.5)
    >>> a = load_clip(c, 16000)
    >>> a.duration, a.source.endswith("#1.000-3.500")
    (2.5, True)
    """
    if not clip.is_segment:
        return clip.path
    import soundfile as sf

    from ..audio.load import check_audio_path, load_audio

    path = check_audio_path(clip.path)
    try:
        with sf.SoundFile(path) as fh:
            sr = int(fh.samplerate)
            a = int(round((clip.start or 0.0) * sr))
            b = fh.frames if clip.end is None else min(fh.frames, int(round(clip.end * sr)))
            if a >= fh.frames:
                from ..errors import EmptyAudioError

                raise EmptyAudioError(
                    f"segment starts at {clip.start:g} s, after the end of the file "
                    f"({fh.frames / sr:.2f} s); fix the manifest row.",
                    clip.source,
                )
            fh.seek(a)
            samples = fh.read(max(0, b - a), dtype="float32", always_2d=True)
    except VoxrefError:
        raise
    except Exception as exc:  # soundfile / libsndfile errors
        raise UnreadableAudioError(f"cannot read the segment ({exc}).", clip.source) from exc
    return load_audio((samples.T, sr), sample_rate, source=clip.source)


def quality_to_json(report: Any) -> str | None:
    """A :class:`~voxref.cleaning.quality.QualityReport` as JSON, every field at full precision
    (non-finite numbers as ``null``), plus its ``weight_hint``."""
    if report is None:
        return None
    d = dataclasses.asdict(report)
    for k, v in list(d.items()):
        if isinstance(v, float) and not math.isfinite(v):
            d[k] = None
    d["weight_hint"] = report.weight_hint
    return json.dumps(d, allow_nan=False)


def quality_from_json(text: str | None) -> Any:
    """The :class:`~voxref.cleaning.quality.QualityReport` stored by :func:`quality_to_json`."""
    if not text:
        return None
    from ..cleaning.quality import QualityReport

    d = json.loads(text)
    d.pop("weight_hint", None)
    names = {f.name for f in dataclasses.fields(QualityReport)}
    return QualityReport(**{k: v for k, v in d.items() if k in names})


def prepared_from_row(row: dict[str, Any], sample_rate: int) -> Any:
    """Rebuild the :class:`PreparedReference` of an ``"ok"`` clip row (no audio is kept).

    Everything :meth:`Embedder.combine` reads is restored exactly: the window embeddings
    (float32) and their times, the quality report and the speech duration. ``audio`` and
    ``speech`` are empty placeholders.
    """
    from ..audio.signal import Audio
    from ..encoding import WindowEmbeddings
    from ..pipeline import PreparedReference

    n, dim = int(row["num_windows"]), int(row["dimension"])
    windows = WindowEmbeddings(
        np.asarray(row["windows"], dtype=np.float32).reshape(n, dim),
        np.asarray(row["window_starts"], dtype=np.float64),
        np.asarray(row["window_ends"], dtype=np.float64),
    )
    empty = Audio(np.zeros(0, dtype=np.float32), sample_rate, source=row["source"])
    return PreparedReference(
        source=row["source"],
        audio=empty,
        speech=empty,
        windows=windows,
        speech_seconds=float(row["speech_s"]),
        report=quality_from_json(row["quality"]),
        denoiser=row.get("denoiser") or "off",
    )


def fate_from_row(row: dict[str, Any]) -> InputFate:
    """The :class:`~voxref.errors.InputFate` of a clip that was not embedded."""
    return InputFate(row["source"], "rejected", row.get("reason") or "", row.get("error"))


def _base_row(clip: Clip, bucket: int) -> dict[str, Any]:
    return {
        "index": clip.index,
        "clip_id": clip.clip_id,
        "path": clip.path,
        "speaker": clip.speaker,
        "start": clip.start,
        "end": clip.end,
        "bucket": bucket,
        "source": clip.source,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


def failed_clip_row(clip: Clip, bucket: int, status: str, error: str, reason: str) -> dict:
    """A row for a clip that was not embedded (``status`` "rejected" or "failed")."""
    row = _base_row(clip, bucket)
    row.update(status=status, error=error, reason=reason)
    return row


class DatasetWorker:
    """Runs clip-shard and speaker-bucket tasks with one embedder (see the module docstring)."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        if spec.threads and spec.threads > 0:
            try:
                import torch

                torch.set_num_threads(int(spec.threads))
            except ImportError:  # pragma: no cover - torch is a core dependency
                pass
        self.embedder = spec.build()
        self._warm = not spec.warmup

    def warmup(self) -> float:
        """Load the models now (they load lazily on first use), so a worker's start-up cost is
        paid once, before its first clip, and per-clip times measure the clip alone.

        Returns the seconds it took.
        """
        t0 = time.perf_counter()
        emb = self.embedder
        sr = emb.sample_rate
        t = np.arange(2 * sr, dtype=np.float64) / sr
        rng = np.random.default_rng(0)
        # a voiced, vowel-like buzz with noise: runs the cleaning stage (VAD...) and the encoder
        x = 0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
        x = (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
        try:
            emb.prepare((x, sr))
        except VoxrefError:
            pass  # rejected as non-speech: the models it needed are loaded all the same
        emb.encoder.embed_windows(x)
        return time.perf_counter() - t0

    def __call__(self, task: dict[str, Any]) -> dict[str, Any]:
        if task["kind"] == "clips":
            return self.embed_shard(task)
        if task["kind"] == "speakers":
            return self.pool_bucket(task)
        raise ValueError(f"unknown task kind {task['kind']!r}")

    # ------------------------------------------------------------------ clips
    def embed_clip(self, clip: Clip, bucket: int) -> dict[str, Any]:
        """The output row of one clip; never raises for a bad clip (the row says why)."""
        t0, c0 = time.perf_counter(), time.process_time()
        if clip.problem:
            row = failed_clip_row(clip, bucket, "rejected", "ManifestError", clip.problem)
            row["seconds"] = row["cpu_seconds"] = 0.0
            return row
        emb = self.embedder
        row = _base_row(clip, bucket)
        try:
            x = load_clip(clip, emb.sample_rate)
            p = emb.prepare(x)
            w = p.windows
            row.update(
                status="ok",
                source=p.source,
                duration_s=float(p.audio.duration),
                speech_s=float(p.speech_seconds),
                quality=quality_to_json(p.report),
                denoiser=p.denoiser,
                num_windows=len(w),
                dimension=int(w.embeddings.shape[1]),
                windows=np.ascontiguousarray(w.embeddings, dtype=np.float32).ravel(),
                window_starts=np.asarray(w.starts, dtype=np.float64),
                window_ends=np.asarray(w.ends, dtype=np.float64),
            )
            if self.spec.clip_embeddings:
                row["embedding"] = emb.combine([p]).embedding.astype(np.float32)
        except VoxrefError as exc:
            reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
            if isinstance(exc, NoUsableReferenceError):  # from combine([p]): say the inner why
                failed = exc.report.failed
                reason = failed[0].reason if len(failed) == 1 else reason
            row = failed_clip_row(clip, bucket, "rejected", type(exc).__name__, reason)
            row["source"] = getattr(exc, "source", None) or clip.source
        except Exception as exc:  # a bug in voxref or a dependency: record it, keep going
            log.error(
                "%s: unexpected %s\n%s", clip.source, type(exc).__name__, traceback.format_exc()
            )
            row = failed_clip_row(
                clip,
                bucket,
                "failed",
                type(exc).__name__,
                f"internal error ({type(exc).__name__}: {exc}); please report it to voxref",
            )
        row["seconds"] = time.perf_counter() - t0
        row["cpu_seconds"] = time.process_time() - c0
        return row

    def embed_shard(self, task: dict[str, Any]) -> dict[str, Any]:
        """Embed the clips of a shard task and write them (see the module docstring)."""
        if not self._warm:  # before the first clip (a pooling-only worker never loads them)
            self._warm = True
            self.warmup()
        t0 = time.perf_counter()
        clips = [Clip.from_dict(c) for c in task["clips"]]
        buckets = task["buckets"]
        rows = [self.embed_clip(c, buckets[c.speaker]) for c in clips]
        out = task["out"]
        if task.get("part"):
            (clip,) = clips
            write_parquet(part_path(out, task["shard"], clip.index), rows, clip_schema(), "bucket")
        else:
            write_parquet(shard_path(out, task["shard"]), rows, clip_schema(), "bucket")
        return {
            "kind": "clips",
            "shard": task["shard"],
            "part": bool(task.get("part")),
            "first_index": clips[0].index if clips else -1,
            "clips": len(rows),
            "ok": sum(r["status"] == "ok" for r in rows),
            "audio_seconds": float(sum(r.get("duration_s") or 0.0 for r in rows)),
            "seconds": time.perf_counter() - t0,
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        }

    # ------------------------------------------------------------------ speakers
    def pool_speaker(self, speaker: str, rows: list[dict[str, Any]], bucket: int) -> dict:
        """Pool one speaker's clip rows (manifest order) with :meth:`Embedder.combine`."""
        emb = self.embedder
        items = [
            prepared_from_row(r, emb.sample_rate) if r["status"] == "ok" else fate_from_row(r)
            for r in rows
        ]
        out: dict[str, Any] = {
            "speaker": speaker,
            "bucket": bucket,
            "num_clips": len(rows),
            "num_rejected": sum(r["status"] != "ok" for r in rows),
            "speech_s": float(sum(r.get("speech_s") or 0.0 for r in rows)),
        }
        try:
            res = emb.combine(items, speaker=speaker)
        except NoUsableReferenceError as exc:
            reasons = "; ".join(
                f"{os.path.basename(r['source'])}: {r.get('reason') or r.get('error')}"
                for r in rows
            )
            out.update(
                status="failed",
                error=type(exc).__name__,
                reason=f"no usable clip ({reasons})",
                num_used=0,
                num_down_weighted=0,
            )
            return out
        refs = [
            {
                "clip_id": r["clip_id"],
                "source": ref.source,
                "weight": float(ref.weight),
                "status": ref.fate.status,
                "reason": ref.fate.reason,
            }
            for r, ref in zip(rows, res.references)
        ]
        out.update(
            status="ok",
            embedding=res.embedding.astype(np.float32),
            num_used=sum(ref.fate.status in ("used", "down-weighted") for ref in res.references),
            num_down_weighted=sum(ref.fate.status == "down-weighted" for ref in res.references),
            references=json.dumps(refs, ensure_ascii=False),
            encoder=json.dumps(res.encoder, default=str),
            pooling=res.pooling,
        )
        return out

    def pool_bucket(self, task: dict[str, Any]) -> dict[str, Any]:
        """Pool every speaker of a bucket task and write ``OUT/speakers/bucket-b.parquet``."""
        from .storage import require_pyarrow

        t0 = time.perf_counter()
        pa = require_pyarrow()
        import pyarrow.dataset as ds

        bucket = int(task["bucket"])
        dataset = ds.dataset(task["files"], format="parquet", schema=clip_schema())
        table = dataset.to_table(filter=ds.field("bucket") == pa.scalar(bucket, pa.int32()))
        table = table.sort_by("index")
        by_speaker: dict[str, list[dict[str, Any]]] = {s: [] for s in task["speakers"]}
        for row in iter_clip_rows(table):
            by_speaker.setdefault(row["speaker"], []).append(row)
        out_rows = []
        for spk, rows in by_speaker.items():
            if not rows:
                out_rows.append(
                    {
                        "speaker": spk,
                        "bucket": bucket,
                        "status": "failed",
                        "error": "MissingClipRows",
                        "reason": "no clip row of this speaker was found in the clip shards",
                        "num_clips": 0,
                    }
                )
                continue
            out_rows.append(self.pool_speaker(spk, rows, bucket))
        write_parquet(bucket_path(task["out"], bucket), out_rows, speaker_schema())
        return {
            "kind": "speakers",
            "bucket": bucket,
            "speakers": len(out_rows),
            "ok": sum(r["status"] == "ok" for r in out_rows),
            "seconds": time.perf_counter() - t0,
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        }
