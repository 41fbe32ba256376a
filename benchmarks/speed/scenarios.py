"""Speed scenarios: one timed operation each, run in its own process for a clean peak-RSS reading.

A :class:`Scenario` names a system (``voxref``, ``resemblyzer``, ``ecapa``), a stage (``load``,
``clean``, ``diarize``, ``guide``, ``encode``, ``pool``, ``prepare``, ``embed``, ``batch``,
``model_load``) and an audio label (:class:`~.audio.SpeedAudio`). Its ``build`` function does the
set-up (models, audio in memory) and returns the callable to time plus a warm-up callable on
short audio; it raises :class:`NotAvailable` when another system is not installed (SpeechBrain
for ``ecapa``), which the report shows as "n/a". A voxref stage that cannot be imported or whose
shipped model is missing fails the run.

Run one scenario (prints one JSON line)::

    python -m benchmarks.speed.scenarios voxref.embed@3x5s --audio-dir benchmarks/work/speed

Examples
--------
>>> "voxref.embed@1x5s" in SCENARIOS and SCENARIOS["voxref.guide@ref5"].stage
'guide'
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .audio import SpeedAudio

__all__ = ["Scenario", "SCENARIOS", "NotAvailable", "run_scenario", "STAGES"]

STAGES = ("load", "clean", "diarize", "guide", "separate", "encode", "pool")
"""Per-reference pipeline stages, in data-flow order (the RTF-per-stage table)."""

Timed = tuple[Callable[[], Any], Callable[[], Any] | None]


class NotAvailable(Exception):
    """The stage or system does not exist (yet) in this environment."""


@dataclass(frozen=True)
class Scenario:
    """One timed operation.

    Attributes
    ----------
    name
        ``"<system>.<stage>@<audio>"``.
    system, stage, audio
        What runs, which stage, on which audio label.
    build
        ``build(audio) -> (fn, warmup)`` (see the module docstring).
    n_files
        Files processed per call (for files/s).
    compare
        Scenarios with the same ``compare`` key are put side by side (ratios vs voxref).
    note
        What exactly is timed.
    single
        Time only the first call (model loading: later calls may hit a cache).
    """

    name: str
    system: str
    stage: str
    audio: str
    build: Callable[[SpeedAudio], Timed]
    n_files: int = 1
    compare: str | None = None
    note: str = ""
    single: bool = False


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    x, sr = sf.read(str(path), dtype="float32", always_2d=False)
    return x, sr


def _short(audio: SpeedAudio) -> tuple[np.ndarray, int]:
    x, sr = _read(audio.refs[1])
    return x[: 2 * sr], sr


# --------------------------------------------------------------------------- voxref
def _embedder() -> Any:
    from voxref.pipeline import Embedder

    emb = Embedder()
    _ = emb.encoder
    return emb


def _voxref_model_load(audio: SpeedAudio) -> Timed:
    import torch  # noqa: F401 - imports stay outside the timing

    import voxref.embedder.ge2e  # noqa: F401
    from voxref.pipeline import Embedder

    return (lambda: Embedder().encoder), None


def _voxref_load(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        emb = _embedder()
        path = audio.paths(label)[0]
        return (lambda: emb.load(path)), (lambda: emb.load(audio.refs[1]))

    return build


def _voxref_clean(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        from voxref.cleaning.pipeline import clean

        x, sr = _read(audio.paths(label)[0])
        short = _short(audio)
        return (lambda: clean((x, sr))), (lambda: clean(short))

    return build


def _voxref_diarize(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        from voxref.separation.diarization import diarize

        x, sr = _read(audio.paths(label)[0])
        short = _read(audio.refs[1])
        return (lambda: diarize(x, sample_rate=sr)), (
            lambda: diarize(short[0], sample_rate=short[1])
        )

    return build


def _voxref_guide(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        from voxref.separation.target import extract_target

        x, sr = _read(audio.paths(label)[0])
        enrollment = [_read(p) for p in audio.refs[1:3]]
        short = _short(audio)
        return (lambda: extract_target((x, sr), enrollment)), (
            lambda: extract_target(short, enrollment)
        )

    return build


def _voxref_separate(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        from voxref.separation.separator import TwoSpeakerSeparator
        from voxref.separation.streams import stream_windows

        emb = _embedder()
        net = TwoSpeakerSeparator.load()
        x, sr = _read(audio.paths(label)[0])
        short, _ = _short(audio)
        rate = emb.encoder.sample_rate
        if sr != rate:  # the Embedder hands the separator speech at the encoder's rate
            from voxref.audio.resample import resample

            x, short = resample(x, sr, rate), resample(short, sr, rate)

        def run(samples: np.ndarray) -> Any:
            streams = net.split(samples, rate)
            return stream_windows(streams, rate, emb.encoder, level_dbfs=emb.level_dbfs)

        return (lambda: run(x)), (lambda: run(short))

    return build


def _voxref_encode(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        emb = _embedder()
        x, _ = _read(audio.paths(label)[0])
        short, _ = _short(audio)
        enc = emb.encoder
        return (lambda: enc.embed_windows(x)), (lambda: enc.embed_windows(short))

    return build


def _voxref_pool(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        emb = _embedder()
        prepared = [emb.prepare(p) for p in audio.paths(label)]
        return (lambda: emb.combine(prepared)), None

    return build


def _voxref_prepare(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        emb = _embedder()
        paths = audio.paths(label)
        return (lambda: [emb.prepare(p) for p in paths]), (lambda: emb.prepare(audio.refs[1]))

    return build


def _voxref_embed(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        emb = _embedder()
        paths = [str(p) for p in audio.paths(label)]
        return (lambda: emb.embed(paths)), (lambda: emb.embed([str(audio.refs[1])]))

    return build


def _voxref_batch(audio: SpeedAudio) -> Timed:
    emb = _embedder()
    speakers = {
        f"spk{i}": [str(audio.refs[i]), str(audio.refs[(i + 1) % len(audio.refs)])]
        for i in range(10)
    }
    return (lambda: emb.embed_many(speakers)), (lambda: emb.embed([str(audio.refs[1])]))


# --------------------------------------------------------------------------- resemblyzer
def _resemblyzer_encoder() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder

    with contextlib.redirect_stdout(io.StringIO()):
        return VoiceEncoder("cpu", verbose=False)


def _resemblyzer_model_load(audio: SpeedAudio) -> Timed:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import resemblyzer  # noqa: F401 - the import stays outside the timing
    return _resemblyzer_encoder, None


def _resemblyzer_utterance(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        from resemblyzer import preprocess_wav

        enc = _resemblyzer_encoder()
        x, sr = _read(audio.paths(label)[0])
        short = _short(audio)
        return (
            lambda: enc.embed_utterance(preprocess_wav(x, source_sr=sr)),
            lambda: enc.embed_utterance(preprocess_wav(short[0], source_sr=short[1])),
        )

    return build


def _resemblyzer_speaker(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        from resemblyzer import preprocess_wav

        enc = _resemblyzer_encoder()
        paths = audio.paths(label)
        return (
            lambda: enc.embed_speaker([preprocess_wav(p) for p in paths]),
            lambda: enc.embed_speaker([preprocess_wav(audio.refs[1])]),
        )

    return build


# --------------------------------------------------------------------------- ECAPA
def _import_ecapa() -> tuple[Any, Any]:
    try:
        from speechbrain.lobes.features import Fbank
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    except ImportError as exc:
        raise NotAvailable(f"speechbrain: {exc}") from None
    return Fbank, ECAPA_TDNN


def _ecapa_model() -> tuple[Any, Any]:
    fbank_cls, ecapa_cls = _import_ecapa()
    model = ecapa_cls(input_size=80, lin_neurons=192).eval()  # random weights: speed only
    return fbank_cls(n_mels=80), model


def _ecapa_model_load(audio: SpeedAudio) -> Timed:
    _import_ecapa()  # the import stays outside the timing
    return _ecapa_model, None


def _ecapa_forward(label: str) -> Callable[[SpeedAudio], Timed]:
    def build(audio: SpeedAudio) -> Timed:
        import torch

        fbank, model = _ecapa_model()
        x, _ = _read(audio.paths(label)[0])
        short, _ = _short(audio)

        def forward(samples: np.ndarray) -> Any:
            with torch.inference_mode():
                wav = torch.from_numpy(samples)[None]
                return model(fbank(wav))

        return (lambda: forward(x)), (lambda: forward(short))

    return build


def _ecapa_embed(label: str) -> Callable[[SpeedAudio], Timed]:
    """ECAPA on each file and a normalised mean (files read inside the timing, like the others)."""

    def build(audio: SpeedAudio) -> Timed:
        import torch

        fbank, model = _ecapa_model()
        paths = audio.paths(label)

        def run() -> Any:
            with torch.inference_mode():
                vecs = [
                    model(fbank(torch.from_numpy(_read(p)[0])[None])).reshape(-1) for p in paths
                ]
                v = torch.stack(vecs).mean(0)
                return v / v.norm()

        return run, (lambda: model(fbank(torch.from_numpy(_short(audio)[0])[None])))

    return build


# --------------------------------------------------------------------------- registry
def _registry() -> dict[str, Scenario]:
    s: list[Scenario] = [
        Scenario(
            "voxref.model_load@none",
            "voxref",
            "model_load",
            "none",
            _voxref_model_load,
            compare="model_load",
            note="first Embedder().encoder in the process (weights -> torch module)",
            single=True,
        ),
        Scenario(
            "resemblyzer.model_load@none",
            "resemblyzer",
            "model_load",
            "none",
            _resemblyzer_model_load,
            compare="model_load",
            note="first VoiceEncoder('cpu') in the process",
            single=True,
        ),
        Scenario(
            "ecapa.model_load@none",
            "ecapa",
            "model_load",
            "none",
            _ecapa_model_load,
            compare="model_load",
            note="first ECAPA_TDNN(80, 192) + Fbank(80) in the process, random init",
            single=True,
        ),
    ]
    for label in ("ref5", "long"):
        s += [
            Scenario(
                f"voxref.load@{label}",
                "voxref",
                "load",
                label,
                _voxref_load(label),
                note="Embedder.load(path): decode, validate, resample",
            ),
            Scenario(
                f"voxref.clean@{label}",
                "voxref",
                "clean",
                label,
                _voxref_clean(label),
                note="voxref.cleaning.clean((x, sr)) with its defaults",
            ),
            Scenario(
                f"voxref.diarize@{label}",
                "voxref",
                "diarize",
                label,
                _voxref_diarize(label),
                note="voxref.diarize(x, sample_rate)",
            ),
            Scenario(
                f"voxref.guide@{label}",
                "voxref",
                "guide",
                label,
                _voxref_guide(label),
                note="extract_target(x, guide=[2 references of 5 s])",
            ),
            Scenario(
                f"voxref.separate@{label}",
                "voxref",
                "separate",
                label,
                _voxref_separate(label),
                note="two-talker separator + both streams levelled and embedded (separate=True)",
            ),
            Scenario(
                f"voxref.encode@{label}",
                "voxref",
                "encode",
                label,
                _voxref_encode(label),
                compare=f"utterance@{label}",
                note="encoder.embed_windows(x)",
            ),
            Scenario(
                f"voxref.prepare@{label}",
                "voxref",
                "prepare",
                label,
                _voxref_prepare(label),
                note="Embedder.prepare(path): every per-reference stage wired in",
            ),
            Scenario(
                f"resemblyzer.embed_utterance@{label}",
                "resemblyzer",
                "encode",
                label,
                _resemblyzer_utterance(label),
                compare=f"utterance@{label}",
                note="embed_utterance(preprocess_wav(x, source_sr))",
            ),
            Scenario(
                f"ecapa.forward@{label}",
                "ecapa",
                "encode",
                label,
                _ecapa_forward(label),
                compare=f"utterance@{label}",
                note="ECAPA_TDNN(Fbank(x)), random weights",
            ),
        ]
    s.append(
        Scenario(
            "voxref.pool@3x5s",
            "voxref",
            "pool",
            "3x5s",
            _voxref_pool("3x5s"),
            n_files=3,
            note="Embedder.combine(3 prepared references)",
        )
    )
    for label, n in (("1x5s", 1), ("3x5s", 3), ("10x5s", 10), ("long", 1)):
        s += [
            Scenario(
                f"voxref.embed@{label}",
                "voxref",
                "embed",
                label,
                _voxref_embed(label),
                n_files=n,
                compare=f"embed@{label}",
                note="Embedder.embed(paths) (model loaded)",
            ),
            Scenario(
                f"resemblyzer.embed_speaker@{label}",
                "resemblyzer",
                "embed",
                label,
                _resemblyzer_speaker(label),
                n_files=n,
                compare=f"embed@{label}",
                note="embed_speaker([preprocess_wav(path) ...])",
            ),
            Scenario(
                f"ecapa.embed@{label}",
                "ecapa",
                "embed",
                label,
                _ecapa_embed(label),
                n_files=n,
                compare=f"embed@{label}",
                note="read + Fbank + ECAPA per file, normalised mean",
            ),
        ]
    s.append(
        Scenario(
            "voxref.batch@20files",
            "voxref",
            "batch",
            "20files",
            _voxref_batch,
            n_files=20,
            note="Embedder.embed_many(10 speakers x 2 files of 5 s)",
        )
    )
    return {x.name: x for x in s}


SCENARIOS: dict[str, Scenario] = _registry()


def peak_rss_mb() -> float:
    """Peak resident memory of this process's address space, in MiB.

    ``VmHWM`` from ``/proc/self/status`` (reset by ``exec``, so a parent's peak never leaks in,
    unlike ``ru_maxrss`` which Linux carries across ``fork`` + ``exec``); ``getrusage`` elsewhere.

    Examples
    --------
    >>> peak_rss_mb() > 1.0
    True
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _audio_seconds(scenario: Scenario, audio: SpeedAudio) -> float | None:
    if scenario.audio == "none":
        return None
    if scenario.audio == "20files":
        return 20 * audio.seconds("ref5")
    return audio.seconds(scenario.audio)


def run_scenario(
    name: str, audio: SpeedAudio, repeats: int = 5, budget_seconds: float = 60.0
) -> dict[str, Any]:
    """Build, warm up and time one scenario in this process (see the module docstring).

    Timing stops after ``repeats`` calls or once ``budget_seconds`` are spent (at least one call).
    """
    sc = SCENARIOS[name]
    out: dict[str, Any] = {
        "name": sc.name,
        "system": sc.system,
        "stage": sc.stage,
        "audio": sc.audio,
        "n_files": sc.n_files,
        "compare": sc.compare,
        "note": sc.note,
        "audio_seconds": _audio_seconds(sc, audio),
    }
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        t0 = time.perf_counter()
        fn, warmup = sc.build(audio)
        out["setup_seconds"] = round(time.perf_counter() - t0, 3)
        if warmup is not None:
            warmup()
        out["load_average_1min"] = round(os.getloadavg()[0], 2)
        times: list[float] = []
        cpu_times: list[float] = []
        spent = 0.0
        n_calls = 1 if sc.single else repeats
        while len(times) < n_calls and (not times or spent < budget_seconds):
            t, c = time.perf_counter(), time.process_time()
            fn()
            dt = time.perf_counter() - t
            cpu_times.append(time.process_time() - c)
            times.append(dt)
            spent += dt
    except NotAvailable as exc:
        out.update(status="n/a", reason=str(exc))
        return out
    except Exception as exc:  # noqa: BLE001 - a failing scenario is reported, the rest still run
        out.update(status="error", reason=f"{type(exc).__name__}: {exc}")
        return out
    median = statistics.median(times)
    out.update(
        status="ok",
        times=[round(t, 5) for t in times],
        median_seconds=median,
        median_cpu_seconds=statistics.median(cpu_times),
        peak_rss_mb=round(peak_rss_mb(), 1),
    )
    if out["audio_seconds"]:
        out["rtf"] = median / out["audio_seconds"]
        out["x_realtime"] = out["audio_seconds"] / median
    out["files_per_second"] = sc.n_files / median if sc.audio != "none" else None
    return out


def main(argv: list[str] | None = None) -> int:
    """Run one scenario and print its result as one JSON line."""
    import logging

    parser = argparse.ArgumentParser(description="Time one voxref speed scenario.")
    parser.add_argument("name", choices=sorted(SCENARIOS))
    parser.add_argument("--audio-dir", type=Path, required=True)
    parser.add_argument("--long-seconds", type=float, default=600.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of timed calls at most")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    from .audio import make_speed_audio

    audio = make_speed_audio(args.audio_dir, args.long_seconds)
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON line
        result = run_scenario(args.name, audio, args.repeats, args.budget)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
