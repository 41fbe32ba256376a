"""``voxref demo``: embed the two speakers of pyannote's bundled recording and compare them."""

from __future__ import annotations

import argparse

import numpy as np

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run voxref on bundled real speech (pyannote's 2-speaker sample)",
        description=(
            "Cuts pyannote.audio's bundled 30 s two-speaker recording by its RTTM into two halves "
            "per speaker, embeds each half, and prints the similarity matrix: same-speaker halves "
            "should score high, different speakers low."
        ),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import soundfile as sf

    from ..api import get_embedder, similarity
    from ..sample_data import pyannote_sample, read_rttm, speaker_turns_audio
    from .similarity_cmd import format_matrix

    wav_path, rttm_path = pyannote_sample()
    samples, sr = sf.read(wav_path, dtype="float32")
    per_speaker = speaker_turns_audio(samples, sr, read_rttm(rttm_path))
    emb = get_embedder()
    names, vectors = [], []
    for spk, audio in sorted(per_speaker.items()):
        half = len(audio) // 2
        for k, part in enumerate((audio[:half], audio[half:]), 1):
            names.append(f"{spk}-half{k}")
            vectors.append(emb.embed([(part, sr)]))
        print(f"{spk}: {len(audio) / sr:.1f} s of overlap-free speech")
    sim = similarity(vectors)
    print(f"\nencoder: {emb.encoder.name} ({emb.dimension}-d); cosine similarity:")
    print(format_matrix(names, sim))
    n = len(names)
    same = [
        sim[i, j]
        for i in range(n)
        for j in range(i + 1, n)
        if names[i].split("-")[0] == names[j].split("-")[0]
    ]
    diff = [
        sim[i, j]
        for i in range(n)
        for j in range(i + 1, n)
        if names[i].split("-")[0] != names[j].split("-")[0]
    ]
    print(f"\nsame speaker: {np.mean(same):.3f}   different speakers: {np.mean(diff):.3f}")
    both = emb.embed([(samples, sr)], return_details=True)
    print(
        f"whole recording (both voices, {len(samples) / sr:.0f} s) -> cosine to each speaker: "
        + ", ".join(
            f"{spk} {float(both.embedding @ emb.embed([(a, sr)])):.3f}"
            for spk, a in sorted(per_speaker.items())
        )
    )
    return 0
