"""List the clips of a TTS training set the way its recipe will see them.

Three layouts are understood, all without reading any audio:

=======================  ===========================================================================
layout                   what is read
=======================  ===========================================================================
LJSpeech folder          ``DIR/metadata.csv`` (``id|text|normalized``, no header) with the clips in
                         ``DIR/wavs/<id>.wav``: Coqui's ``ljspeech`` formatter
                         (``TTS/tts/datasets/formatters.py``), speaker ``"ljspeech"`` unless given.
Coqui ``coqui`` format   a ``|``-separated file with a header naming ``audio_file`` (relative to the
                         dataset folder) and optionally ``speaker_name``.
voxref manifest          CSV/TSV with ``path`` and ``speaker`` columns (:mod:`voxref.scale.manifest`),
                         optional ``id``; relative paths from ``root`` (default: the manifest's
                         folder). Segments (``start``/``end``) are refused: recipes key whole files.
Kaldi / ESPnet data dir  ``DIR/wav.scp`` (``<utt> <path>``; pipe commands are refused) and
                         ``DIR/utt2spk``: the utterance ids ESPnet's ``xvector.scp`` must use.
a folder of audio        every ``.wav``/``.flac``/``.ogg``/``.mp3`` below ``DIR``; the speaker is the
                         first sub-folder (one folder per speaker), or ``speaker`` / the folder name.
=======================  ===========================================================================

Each clip carries its path relative to the dataset root without extension (``wavs/LJ001-0001``):
the piece Coqui's ``add_extra_keys`` turns into ``f"{dataset_name}#{relpath}"``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError

__all__ = ["DatasetClip", "list_dataset", "AUDIO_SUFFIXES"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


@dataclass(frozen=True)
class DatasetClip:
    """One clip of a dataset.

    Attributes
    ----------
    path
        The audio file (absolute).
    relpath
        Its path relative to the dataset root, without extension, with ``/`` separators.
    speaker
        Speaker label.
    utt_id
        An utterance id without spaces (Kaldi keys, RTVC file names): the ``id`` column, the
        LJSpeech id, or ``relpath`` with ``/`` replaced by ``_``.
    text
        The transcript when the metadata has one (LJSpeech: the normalised column), else ``""``.
    """

    path: Path
    relpath: str
    speaker: str
    utt_id: str
    text: str = ""


def _rel(path: Path, root: Path) -> str:
    """Coqui's ``os.path.splitext(os.path.relpath(audio_file, root_path))[0]`` with ``/``."""
    rel = os.path.relpath(str(path), str(root))
    return os.path.splitext(rel)[0].replace(os.sep, "/")


def _utt(text: str) -> str:
    out = text.replace("/", "_").replace("\\", "_")
    return "_".join(out.split())


def _ljspeech(root: Path, meta: Path, speaker: str | None) -> list[DatasetClip]:
    clips = []
    with open(meta, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("|")
            cid = cols[0].strip()
            if not cid:
                raise ConfigError(f"{meta}:{n}: empty clip id; LJSpeech lines are id|text|text.")
            path = root / "wavs" / f"{cid}.wav"
            text = (cols[2] if len(cols) > 2 else cols[1] if len(cols) > 1 else "").strip()
            clips.append(
                DatasetClip(path, _rel(path, root), speaker or "ljspeech", _utt(cid), text)
            )
    return clips


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0] if text.strip() else ""
    delim = max(("|", "\t", ","), key=first.count)
    rows = list(csv.DictReader(text.splitlines(), delimiter=delim))
    names = [c.strip() for c in (rows[0].keys() if rows else first.split(delim))]
    return names, [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in rows]


def _table(
    meta: Path, root: Path | None, speaker: str | None, relative_to: Path | None
) -> list[DatasetClip]:
    names, rows = _read_table(meta)
    path_col = "audio_file" if "audio_file" in names else "path" if "path" in names else None
    spk_col = next((c for c in ("speaker_name", "speaker") if c in names), None)
    if path_col is None:
        raise ConfigError(
            f"{meta} has no 'path' or 'audio_file' column (columns: {names}); give a voxref "
            "manifest (path,speaker[,id]), a Coqui metadata file (audio_file|text|speaker_name) "
            "or an LJSpeech folder (metadata.csv + wavs/)."
        )
    if "start" in names or "end" in names:
        if any(r.get("start") or r.get("end") for r in rows):
            raise ConfigError(
                f"{meta} lists segments (start/end); TTS recipes key whole files. Cut the "
                "segments into files first."
            )
    base = root or meta.parent
    key_root = relative_to or base
    clips = []
    for n, r in enumerate(rows, 2):
        if not r.get(path_col):
            raise ConfigError(f"{meta}:{n}: empty {path_col!r}.")
        p = Path(r[path_col])
        p = p if p.is_absolute() else base / p
        spk = speaker or (r.get(spk_col) if spk_col else None)
        if not spk:
            raise ConfigError(
                f"{meta}:{n}: no speaker; add a {spk_col or 'speaker'} column or pass a speaker."
            )
        rel = _rel(p, key_root)
        clips.append(DatasetClip(p, rel, spk, _utt(r.get("id") or rel), r.get("text", "")))
    return clips


def _kaldi_dir(src: Path, root: Path | None, speaker: str | None) -> list[DatasetClip]:
    utt2spk = {}
    u2s = src / "utt2spk"
    if u2s.is_file():
        for line in u2s.read_text(encoding="utf-8").splitlines():
            if line.strip():
                utt, _, spk = line.strip().partition(" ")
                utt2spk[utt] = spk.strip()
    base = root or Path.cwd()
    clips = []
    for n, line in enumerate((src / "wav.scp").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        utt, _, target = line.strip().partition(" ")
        target = target.strip()
        if not target or target.endswith("|") or " " in target:
            raise ConfigError(
                f"{src / 'wav.scp'}:{n}: {target!r} is a command or empty; voxref reads plain "
                "audio paths only. Write the audio to files first (e.g. with Kaldi's wav-copy)."
            )
        p = Path(target)
        p = p if p.is_absolute() else base / p
        spk = speaker or utt2spk.get(utt)
        if not spk:
            raise ConfigError(f"{utt} has no speaker in {u2s}; add it or pass a speaker.")
        clips.append(DatasetClip(p, _rel(p, base), spk, utt))
    return clips


def _folder(root: Path, speaker: str | None) -> list[DatasetClip]:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    clips = []
    for p in files:
        rel = _rel(p, root)
        parts = rel.split("/")
        spk = speaker or (parts[0] if len(parts) > 1 else root.resolve().name)
        clips.append(DatasetClip(p, rel, spk, _utt(rel)))
    return clips


def list_dataset(
    source: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    speaker: str | None = None,
) -> list[DatasetClip]:
    """The clips of a dataset folder or manifest (no audio is read; see the module docstring).

    Parameters
    ----------
    source
        An LJSpeech-style folder, a folder of audio files, or a metadata / manifest file.
    root
        The dataset root the recipe is given (Coqui's ``path``): relative audio paths are read
        from it and clip keys are relative to it. Default: the folder, or the manifest's folder
        (a Kaldi data dir: the current directory, where recipes run).
    speaker
        One speaker name for every clip (default: from the metadata, ``"ljspeech"`` for an
        LJSpeech folder as Coqui's formatter, or the sub-folder).

    Raises
    ------
    ConfigError
        The source does not exist, lists no clip, repeats a clip, or names files that are missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "wavs").mkdir(); _ = (d / "wavs" / "LJ001-0001.wav").write_bytes(b"RIFF")
    >>> _ = (d / "metadata.csv").write_text("LJ001-0001|Printing.|Printing.\\n")
    >>> [(c.relpath, c.speaker, c.utt_id) for c in list_dataset(d)]
    [('wavs/LJ001-0001', 'ljspeech', 'LJ001-0001')]
    """
    src = Path(source)
    if not src.exists():
        raise ConfigError(f"{src} does not exist; give a dataset folder or a metadata file.")
    base = Path(root) if root is not None else None
    if base is not None and not base.is_dir():
        raise ConfigError(f"--root {base} is not a folder.")
    if src.is_dir():
        meta = src / "metadata.csv"
        if (src / "wav.scp").is_file():
            clips = _kaldi_dir(src, base, speaker)
        elif meta.is_file():
            names, _ = _read_table(meta)
            if any(c in names for c in ("audio_file", "path")):
                clips = _table(meta, base or src, speaker, base or src)
            else:
                clips = _ljspeech(base or src, meta, speaker)
        else:
            clips = _folder(src, speaker)
    else:
        clips = _table(src, base, speaker, base)
    if not clips:
        raise ConfigError(f"{src} lists no audio clip.")
    seen: dict[str, Path] = {}
    for c in clips:
        if c.relpath in seen:
            raise ConfigError(f"{c.path} is listed twice; each clip must appear once.")
        seen[c.relpath] = c.path
    missing = [c.path for c in clips if not c.path.is_file()]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise ConfigError(
            f"{len(missing)} listed clips do not exist, e.g. {', '.join(map(str, missing[:3]))}"
            f"{more}; check --root (relative paths are read from it)."
        )
    return clips
