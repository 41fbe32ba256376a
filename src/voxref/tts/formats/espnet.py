"""ESPnet x-vectors: Kaldi binary ``.ark`` + ``.scp``, as ESPnet2 TTS recipes read them.

ESPnet2's ``egs2/*/tts1`` recipes train with ``--use_xvector true`` from
``${dumpdir}/xvector/<set>/xvector.scp`` (one vector per utterance id, the keys of the set's
``wav.scp``), passed as ``xvector.scp,spembs,kaldi_ark`` (``egs2/TEMPLATE/tts1/tts.sh``):
``kaldiio.load_scp`` then reads each line ``<key> <ark path>:<byte offset>`` and parses the
binary object at that offset. ``spk_xvector.{ark,scp}`` (one vector per speaker, as Kaldi's
``ivector-mean`` writes it) is what inference scripts load (``kaldiio.load_ark``) to pick a voice:
``tts(text, spembs=xvectors[speaker])``.

The binary layout written here is Kaldi's (and ``kaldiio.save_ark``'s) for a float32 vector:
``<key> `` then ``\\0B`` (binary marker), ``FV `` (float vector token), ``\\x04`` + int32 length
(little-endian), then the float32 values; the scp offset points at the ``\\0B``. A double vector
(``DV ``) and float/double matrices (``FM ``/``DM ``, rows and columns each as ``\\x04`` + int32)
are read too. No dependency: ``kaldiio`` is not needed to write or read these files.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import atomic_write, atomic_write_text
from ...errors import ConfigError

__all__ = ["write_kaldi_vectors", "read_ark_at", "read_kaldi_scp", "export_espnet"]

_TOKENS = {b"FV ": ("<f4", 1), b"DV ": ("<f8", 1), b"FM ": ("<f4", 2), b"DM ": ("<f8", 2)}


def _check_key(key: str) -> str:
    k = str(key)
    if not k or any(c.isspace() for c in k):
        raise ConfigError(f"Kaldi keys cannot be empty or contain spaces: {k!r}.")
    return k


def write_kaldi_vectors(
    ark: str | os.PathLike,
    scp: str | os.PathLike,
    vectors: Mapping[str, Any],
    *,
    scp_path_prefix: str | None = None,
) -> tuple[Path, Path]:
    """Write ``{key: vector}`` as a binary ark of float32 vectors and its scp.

    Parameters
    ----------
    ark, scp
        Output files.
    vectors
        Utterance or speaker id -> 1-D vector. Kaldi tools expect sorted keys: they are
        written in sorted order.
    scp_path_prefix
        How the scp names the ark: default the ark's absolute path; give e.g.
        ``"dump/xvector/tr_no_dev"`` to write ``dump/xvector/tr_no_dev/xvector.ark:OFFSET`` as
        a recipe run from ``egs2/<corpus>/tts1`` expects.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_kaldi_vectors(d / "x.ark", d / "x.scp", {"utt1": np.array([1.0, 2.0])})
    >>> (d / "x.scp").read_text().split(":")[-1]
    '5\\n'
    >>> read_kaldi_scp(d / "x.scp")["utt1"].tolist()
    [1.0, 2.0]
    """
    if not vectors:
        raise ConfigError("no vector to write.")
    ark_p, scp_p = Path(ark), Path(scp)
    ark_p.parent.mkdir(parents=True, exist_ok=True)
    scp_p.parent.mkdir(parents=True, exist_ok=True)
    name = (
        f"{scp_path_prefix.rstrip('/')}/{ark_p.name}" if scp_path_prefix else str(ark_p.resolve())
    )
    lines: list[str] = []

    def write_ark(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            for key in sorted(vectors, key=str):
                k = _check_key(key)
                v = np.asarray(vectors[key], dtype="<f4").reshape(-1)
                if not np.all(np.isfinite(v)):
                    raise ConfigError(f"{k}: the vector holds NaN or infinity.")
                fh.write(k.encode("utf-8") + b" ")
                lines.append(f"{k} {name}:{fh.tell()}\n")
                fh.write(b"\0B" + b"FV " + b"\x04" + struct.pack("<i", v.size) + v.tobytes())

    atomic_write(ark_p, write_ark)
    atomic_write_text(scp_p, "".join(lines))
    return ark_p, scp_p


def read_ark_at(path: str | os.PathLike, offset: int) -> np.ndarray:
    """Parse one binary Kaldi vector or matrix at ``offset`` (what ``kaldiio`` does for an
    ``ark:offset`` scp entry)."""
    with open(path, "rb") as fh:
        fh.seek(int(offset))
        if fh.read(2) != b"\0B":
            raise ConfigError(f"{path}:{offset} is not a binary Kaldi object (no '\\0B').")
        token = fh.read(3)
        if token not in _TOKENS:
            raise ConfigError(f"{path}:{offset}: unsupported Kaldi type {token!r}.")
        dtype, ndim = _TOKENS[token]
        shape = []
        for _ in range(ndim):
            if fh.read(1) != b"\x04":
                raise ConfigError(f"{path}:{offset}: malformed size field.")
            (n,) = struct.unpack("<i", fh.read(4))
            shape.append(n)
        count = int(np.prod(shape))
        data = np.frombuffer(fh.read(count * np.dtype(dtype).itemsize), dtype=dtype)
        if data.size != count:
            raise ConfigError(f"{path}:{offset}: truncated ({data.size} of {count} values).")
    return data.reshape(shape).astype(np.float32 if dtype == "<f4" else np.float64)


def read_kaldi_scp(
    scp: str | os.PathLike, *, relative_to: str | os.PathLike | None = None
) -> dict[str, np.ndarray]:
    """``{key: array}`` from an scp of ``key path:offset`` lines (``kaldiio.load_scp`` logic).

    ``relative_to`` is the folder relative ark paths are resolved from (ESPnet: the recipe
    folder); default the current directory, as kaldiio.
    """
    base = Path(relative_to) if relative_to is not None else None
    out: dict[str, np.ndarray] = {}
    for n, line in enumerate(Path(scp).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, target = line.strip().partition(" ")
        ark, sep, offset = target.rpartition(":")
        if not sep or not offset.isdigit():
            raise ConfigError(f"{scp}:{n}: expected '<key> <ark>:<offset>', got {line!r}.")
        p = Path(ark)
        if base is not None and not p.is_absolute():
            p = base / p
        out[key] = read_ark_at(p, int(offset))
    return out


def export_espnet(
    emb: Any,
    out_dir: str | os.PathLike,
    *,
    vectors: str = "clip",
    scp_path_prefix: str | None = None,
    allow_missing: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> tuple[list[Path], Path]:
    """Write ``xvector.{ark,scp}`` (per utterance id) and ``spk_xvector.{ark,scp}`` (per speaker)
    in ``out_dir`` (ESPnet's ``dump/xvector/<set>``), plus the sidecar ``voxref-export.json``.

    ``vectors="speaker"`` puts each speaker's pooled vector under its utterances' ids.
    """
    from .provenance import ClipRecord, write_export_provenance

    notes = emb.require_complete(
        "espnet",
        "ESPnet's data loader needs a vector for every utterance id of the set.",
        allow_missing,
    )
    d = Path(out_dir)
    chosen = emb.clip_vectors(vectors)
    utt = {c.relpath: c.utt_id for c in emb.clips}
    files = list(
        write_kaldi_vectors(
            d / "xvector.ark",
            d / "xvector.scp",
            {utt[k]: v for k, v in chosen.items()},
            scp_path_prefix=scp_path_prefix,
        )
    )
    files += write_kaldi_vectors(
        d / "spk_xvector.ark", d / "spk_xvector.scp", emb.speakers, scp_path_prefix=scp_path_prefix
    )
    records = [ClipRecord(**{**r.to_dict(), "key": utt[r.key]}) for r in emb.records]
    side = write_export_provenance(
        d,
        emb,
        fmt="espnet",
        settings={**(settings or {}), "vectors": vectors, "scp_path_prefix": scp_path_prefix},
        clips=records,
        files=files,
        notes=notes,
    )
    return files, side
