"""Training data: utterances grouped by speaker, from a folder or a manifest, loaded once.

Two layouts are read:

* a folder with one sub-folder per speaker, ``DIR/<speaker>/*.wav`` (also ``.flac``, ``.ogg``,
  ``.mp3``; nested folders below a speaker folder count for that speaker);
* a manifest, CSV or JSON, with one row per utterance: ``path`` (relative to the manifest's
  folder, or absolute), ``speaker`` and optionally ``split``. A folder holding ``manifest.csv``
  or ``manifest.json`` (as written by ``python -m benchmarks.corpus.build``) is read through it.

Audio is decoded with :func:`voxref.load_audio` (mono, 16 kHz by default) the first time it is
needed and kept in memory: training corpora for fine-tuning are small, and reading every crop
from disk would dominate a CPU step.

Examples
--------
>>> import numpy as np
>>> corpus = SpeakerCorpus.from_arrays(
...     {"a": [np.zeros(16000, "float32")] * 2, "b": [np.ones(8000, "float32")]}, 16000)
>>> corpus.speakers, len(corpus), corpus.num_utterances("a")
(['a', 'b'], 3, 2)
>>> train, held_out = corpus.split_speakers(1, seed=0)
>>> sorted(train.speakers + held_out.speakers)
['a', 'b']
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError

__all__ = ["Utterance", "SpeakerCorpus", "AUDIO_SUFFIXES"]

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
_MANIFESTS = ("manifest.csv", "manifest.json")


@dataclass(frozen=True)
class Utterance:
    """One training utterance: where it is, who speaks, which split it belongs to."""

    path: str
    speaker: str
    split: str = ""


class SpeakerCorpus:
    """Utterances grouped by speaker, with their audio cached in memory once loaded.

    Parameters
    ----------
    utterances
        The utterances (at least one per speaker).
    sample_rate
        Rate the audio is loaded at.
    audio
        Already-decoded audio by utterance path (used by :meth:`from_arrays`).
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        sample_rate: int = 16_000,
        audio: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        if not utterances:
            raise ConfigError("the training data holds no utterances.")
        self.utterances = list(utterances)
        self.sample_rate = int(sample_rate)
        self._audio: dict[str, np.ndarray] = dict(audio or {})
        by_speaker: dict[str, list[int]] = {}
        for i, u in enumerate(self.utterances):
            by_speaker.setdefault(u.speaker, []).append(i)
        self.speakers = sorted(by_speaker)
        self._by_speaker = {s: by_speaker[s] for s in self.speakers}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike,
        sample_rate: int = 16_000,
        splits: Sequence[str] = (),
    ) -> SpeakerCorpus:
        """A folder (per-speaker sub-folders, or holding a manifest) or a manifest file."""
        p = Path(path).expanduser()
        if p.is_dir():
            for name in _MANIFESTS:
                if (p / name).is_file():
                    return cls.from_manifest(p / name, sample_rate, splits)
            if splits:
                raise ConfigError(
                    f"splits={list(splits)} needs a manifest with a 'split' column; {p} is a "
                    "folder of per-speaker sub-folders."
                )
            return cls.from_folder(p, sample_rate)
        if p.is_file():
            return cls.from_manifest(p, sample_rate, splits)
        raise ConfigError(f"training data {p} does not exist (give a folder or a manifest).")

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, sample_rate: int = 16_000) -> SpeakerCorpus:
        """``folder/<speaker>/**/*.wav`` (and other audio suffixes)."""
        root = Path(folder)
        utts = []
        for speaker_dir in sorted(d for d in root.iterdir() if d.is_dir()):
            files = sorted(f for f in speaker_dir.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES)
            utts += [Utterance(str(f), speaker_dir.name) for f in files]
        if not utts:
            raise ConfigError(
                f"{root} holds no audio in per-speaker sub-folders (expected "
                f"{root}/<speaker>/*.wav) and no manifest.csv / manifest.json."
            )
        return cls(utts, sample_rate)

    @classmethod
    def from_manifest(
        cls, manifest: str | os.PathLike, sample_rate: int = 16_000, splits: Sequence[str] = ()
    ) -> SpeakerCorpus:
        """A CSV (header with ``path``, ``speaker``[, ``split``]) or a JSON manifest.

        A JSON manifest is a list of rows or an object with an ``"utterances"`` list.
        """
        p = Path(manifest)
        if p.suffix.lower() == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
            rows = data.get("utterances", []) if isinstance(data, dict) else data
        else:
            with p.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        if not rows or not all(isinstance(r, dict) for r in rows):
            raise ConfigError(f"{p} holds no utterance rows.")
        missing = {"path", "speaker"} - set(rows[0])
        if missing:
            raise ConfigError(f"{p} lacks column(s) {sorted(missing)}; needs path and speaker.")
        wanted = set(splits)
        utts = []
        for r in rows:
            split = str(r.get("split") or "")
            if wanted and split not in wanted:
                continue
            path = Path(str(r["path"]))
            path = path if path.is_absolute() else p.parent / path
            utts.append(Utterance(str(path), str(r["speaker"]), split))
        if not utts:
            raise ConfigError(f"{p}: no rows with split in {sorted(wanted)}.")
        return cls(utts, sample_rate)

    @classmethod
    def from_arrays(
        cls, speakers: Mapping[str, Sequence[np.ndarray]], sample_rate: int
    ) -> SpeakerCorpus:
        """In-memory audio: speaker -> list of mono float32 arrays at ``sample_rate``."""
        utts, audio = [], {}
        for s, arrays in speakers.items():
            for k, x in enumerate(arrays):
                key = f"<{s}:{k}>"
                utts.append(Utterance(key, str(s)))
                audio[key] = np.ascontiguousarray(x, dtype=np.float32)
        return cls(utts, sample_rate, audio)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.utterances)

    def num_utterances(self, speaker: str) -> int:
        """How many utterances ``speaker`` has."""
        return len(self._by_speaker[speaker])

    def indices(self, speaker: str) -> list[int]:
        """Utterance indices of ``speaker``."""
        return list(self._by_speaker[speaker])

    def labels(self) -> np.ndarray:
        """Speaker index (into :attr:`speakers`) of every utterance."""
        lookup = {s: i for i, s in enumerate(self.speakers)}
        return np.array([lookup[u.speaker] for u in self.utterances], dtype=np.int64)

    def audio(self, index: int) -> np.ndarray:
        """Mono float32 samples of utterance ``index`` at :attr:`sample_rate` (cached)."""
        u = self.utterances[index]
        x = self._audio.get(u.path)
        if x is None:
            from ..audio.load import load_audio

            x = load_audio(u.path, self.sample_rate).samples
            self._audio[u.path] = x
        return x

    def preload(self) -> SpeakerCorpus:
        """Decode every utterance now (before DataLoader workers fork); returns ``self``."""
        for i in range(len(self)):
            self.audio(i)
        return self

    def seconds(self) -> float:
        """Total duration of the (loaded) audio in seconds."""
        return sum(len(self.audio(i)) for i in range(len(self))) / self.sample_rate

    # ------------------------------------------------------------------ subsets
    def subset(self, speakers: Sequence[str]) -> SpeakerCorpus:
        """The utterances of ``speakers`` only (sharing the audio cache)."""
        keep = set(speakers)
        unknown = keep - set(self.speakers)
        if unknown:
            raise ConfigError(f"unknown speaker(s) {sorted(unknown)}.")
        utts = [u for u in self.utterances if u.speaker in keep]
        sub = SpeakerCorpus(utts, self.sample_rate)
        sub._audio = self._audio
        return sub

    def split_speakers(self, num_held_out: int, seed: int) -> tuple[SpeakerCorpus, SpeakerCorpus]:
        """``(rest, held_out)``: ``num_held_out`` speakers drawn with ``seed``, disjoint from the rest."""
        if not 0 < num_held_out < len(self.speakers):
            raise ConfigError(
                f"cannot hold out {num_held_out} of {len(self.speakers)} speakers; keep at least "
                "one on each side."
            )
        rng = np.random.default_rng([int(seed), 0x5EED])
        order = [self.speakers[i] for i in rng.permutation(len(self.speakers))]
        held = sorted(order[:num_held_out])
        rest = sorted(order[num_held_out:])
        return self.subset(rest), self.subset(held)
