"""Train voxref's speaker-independent two-talker separator.

Re-runnable and seeded. Stages:

1. **Voices.** ``--voices`` espeak-ng voice variants that the benchmark corpus does *not* use
   (so the quality benchmark's speakers, targets and interferers alike, are never heard in
   training), each at two pitches, read random word sequences drawn from the corpus sentences'
   vocabulary (new sentences, not the corpus texts). Rendered at 16 kHz with silence trimmed and
   cached in ``--work`` (``voices-<hash>.npz``). With ``--languages N``, N more espeak-ng voices
   in each language of ``train_overlap_detector.LANGUAGES`` (``render_language_voices``; none
   of festival's languages of voice group B). A seeded tenth of the voices is held apart for
   validation.
2. **Training** of :class:`voxref.separation.separator.TwoSpeakerSeparator`. Each example is drawn
   on the fly (seeded): a ``--crop`` second crop of one voice's utterance and another voice's
   utterance overlapped with :func:`voxref.augment.overlap.add_overlap` at an SIR uniform in
   [-5, 10] dB over 30-100 % of the crop; sources are the target and the placed interferer. A
   ``--single`` share of examples (after ``--single-from`` steps) is one voice alone (second
   source silent), a ``--noise`` share gets a little coloured noise (SNR 15-40 dB, in neither
   source) and a ``--reverb`` share is in a reverberant room (sources reverberant). With
   ``--augment P`` each of the two voices is first made into another one, independently
   (``train_overlap_detector.VoiceTransform``: speed / vocal-tract length, formant warp at
   constant pitch, random EQ, breath noise, each with probability P; ``--wobble Q``: a drifting
   rate with probability Q), so the network cannot rely on how espeak-ng sounds. Loss:
   :func:`voxref.separation.separator.pit_separation_loss` (utterance-level permutation-invariant
   negative SNR; for one voice, SNR of the stream holding it plus the other stream's energy),
   Adam, cosine learning-rate decay over ``--steps`` (cut short at ``--max-minutes``; the steps
   done are recorded).
3. **Validation** on the held-apart voices: SI-SDR improvement of the better-matching stream over
   the mixture, for the target, at SIR 0, 5 and 10 dB; and the one/two-voice gate: the level of
   the quieter stream (:func:`voxref.separation.separator.weaker_stream_db`) that best separates
   single voices from those mixtures, written to the checkpoint as
   ``metadata["two_voice_threshold_db"]`` (the Embedder separates only above it).

``--eval-corpus CKPT`` evaluates a checkpoint on the benchmark corpus's voices instead (none in
training; ``--voice-group A|B``: those of one group of benchmarks/corpus/voice_split.py): SI-SDR and GE2E cosine to the clean target of the mixture, the better stream and the
oracle ideal ratio mask, by engine pair, and how often the gate is right there. Whether
``voxref.embed`` gains from it is measured by the quality benchmark (``voxref[separate=CKPT]``;
BENCHMARKS.md "Overlapped references").

Writes ``--work/separator.pt`` and, with ``--ship``, copies it to
``src/voxref/data/two_speaker_separator.pt``: whether ``voxref.embed`` uses it is decided by the
quality benchmark (BENCHMARKS.md), not here.

``--resume CKPT`` continues from a checkpoint's weights with a fresh optimiser and schedule (and
a new data seed); the earlier runs are listed in the checkpoint's ``metadata["history"]``.

Usage (repository root)::

    .venv/bin/python scripts/train_separator.py --batch 12 --steps 6000 --max-minutes 80 \
        --perturb 0.82 0.9 0.95 1.05 1.1 1.2
    .venv/bin/python scripts/train_separator.py --resume benchmarks/work/separator/separator.pt \
        --batch 12 --steps 2500 --max-minutes 40 --lr 5e-4 --ship
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("train_separator")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16_000
SHIP_PATH = REPO / "src" / "voxref" / "data" / "two_speaker_separator.pt"

# espeak-ng variants the benchmark corpus (benchmarks/corpus/synth.py) does not use
TRAIN_VARIANTS = (
    "adam", "Alex", "Andy", "Annie", "antonio", "benjamin", "boris", "caleb", "david", "Denis",
    "Diogo", "ed", "edward", "edward2", "Gene", "Gene2", "gustave", "Henrique", "Hugo", "Jacky",
    "john", "Lee", "linda", "Marco", "Mario", "marcelo", "max", "Michael", "michel", "miguel",
    "Mike", "pablo", "paul", "pedro", "quincy", "rob", "robert", "shelby", "Storm", "zac",
    "klatt3", "klatt5", "klatt6", "iven", "iven2", "iven4", "steph2", "steph3",
)  # fmt: skip
ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")


def loss_description() -> str:
    """The training loss in words, with :func:`pit_separation_loss`'s own settings."""
    import inspect

    from voxref.separation.separator import pit_separation_loss

    d = {k: v.default for k, v in inspect.signature(pit_separation_loss).parameters.items()}
    return (
        f"uPIT negative SNR (counted up to {d['max_db']:g} dB); single voices: SNR + "
        f"{d['silence_weight']:g} x second-stream energy (dB re mixture, floor {d['floor_db']:g})"
    )


def _vocabulary() -> list[str]:
    sys.path.insert(0, str(REPO))
    from benchmarks.corpus.sentences import SENTENCES

    words = sorted({w.lower() for s in SENTENCES for w in re.findall(r"[A-Za-z']+", s)})
    return words


def render_voices(work: Path, n_utts: int, seed: int) -> dict[str, list[np.ndarray]]:
    """Utterances of every training voice (cached)."""
    key = hashlib.sha1(f"{TRAIN_VARIANTS}{ACCENTS}{n_utts}{seed}v1".encode()).hexdigest()[:10]
    cache = work / f"voices-{key}.npz"
    if cache.is_file():
        data = np.load(cache)
        out: dict[str, list[np.ndarray]] = {}
        for name in data.files:
            voice, _, _ = name.rpartition("#")
            out.setdefault(voice, []).append(data[name])
        return out
    import soundfile as sf

    from voxref.audio.resample import resample

    sys.path.insert(0, str(REPO))
    from benchmarks.corpus.synth import trim_silence

    rng = np.random.default_rng(seed)
    words = _vocabulary()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for v, variant in enumerate(TRAIN_VARIANTS):
            for pitch in (int(rng.integers(20, 45)), int(rng.integers(55, 85))):
                accent = ACCENTS[int(rng.integers(len(ACCENTS)))]
                speed = int(rng.integers(140, 185))
                name = f"{accent}+{variant}-p{pitch}"
                utts = []
                for _ in range(n_utts):
                    text = " ".join(rng.choice(words, size=int(rng.integers(8, 15))))
                    txt, wav = Path(tmp) / "t.txt", Path(tmp) / "o.wav"
                    txt.write_text(text + ".\n")
                    cmd = ["espeak-ng", "-v", f"{accent}+{variant}", "-s", str(speed)]
                    cmd += ["-p", str(pitch), "-w", str(wav), "-f", str(txt)]
                    subprocess.run(cmd, check=True, capture_output=True)
                    x, sr = sf.read(wav, dtype="float32")
                    x = resample(x, sr, SAMPLE_RATE).astype(np.float32)
                    x = trim_silence(x, SAMPLE_RATE)
                    utts.append(x / max(1e-6, float(np.abs(x).max())) * 0.5)
                out[name] = utts
            log.info("rendered %d/%d variants", v + 1, len(TRAIN_VARIANTS))
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **{f"{k}#{i}": u for k, us in out.items() for i, u in enumerate(us)})
    return out


def _overlap_detector():
    """``scripts/train_overlap_detector.py`` as a module (its voice augmentation and its voices
    of other languages; imported when asked for, as it imports this script)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import train_overlap_detector

    return train_overlap_detector


def language_voices(work: Path, per_language: int, n_utts: int, seed: int) -> tuple[dict, list]:
    """(voices, held-apart names): ``per_language`` espeak-ng voices of every language of
    ``train_overlap_detector.LANGUAGES`` (``render_language_voices``: variants of
    :data:`TRAIN_VARIANTS`, none of the corpus's voices), a seeded tenth of them held apart."""
    tod = _overlap_detector()
    voices = tod.render_language_voices(work, tod.LANGUAGES, per_language, n_utts, seed)
    order = sorted(voices)
    held = np.random.default_rng([seed, 18]).choice(order, size=max(1, len(order) // 10),
                                                     replace=False)  # fmt: skip
    return voices, sorted(held.tolist())


def perturb_voices(
    voices: dict[str, list[np.ndarray]], factors: list[float]
) -> dict[str, list[np.ndarray]]:
    """Each voice also at every speed factor (resampled and played at the original rate: pitch
    and formants move together, like a shorter or longer vocal tract): new voices named
    ``name@factor``."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    out = dict(voices)
    for f in factors:
        q = Fraction(1 / f).limit_denominator(50)
        for name, utts in voices.items():
            out[f"{name}@{f:g}"] = [
                resample_poly(u, q.numerator, q.denominator).astype(np.float32) for u in utts
            ]
    return out


def make_example(
    rng: np.random.Generator,
    voices: dict[str, list[np.ndarray]],
    names: list[str],
    crop: int,
    sir: tuple[float, float] = (-5.0, 10.0),
    *,
    single: bool = False,
    noise: float = 0.0,
    reverb: float = 0.0,
    augment: float = 0.0,
    wobble: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(mixture (N,), sources (2, N)): a crop of one voice overlapped by another, or (``single``)
    the voice alone with a silent second source. With probability ``noise`` a little coloured
    noise (SNR 15-40 dB to the mixture; in neither source) is added, as references keep after
    denoising. With probability ``reverb`` both voices are reverberated (one room: RT60
    0.2-0.9 s, DRR 0-10 dB, a separate impulse response each) and the sources are the
    reverberant voices, so a reverberant single voice stays one voice. With ``augment`` > 0 each
    of the two voices is first made into another one, independently: a
    ``train_overlap_detector.VoiceTransform`` (each of its parts - speed / vocal-tract length,
    formant warp at constant pitch, random EQ, breath noise - with probability ``augment``, and
    with probability ``wobble`` a drifting rate) applied to its utterance before cropping and
    mixing, so the sources are the transformed voices."""
    from voxref.augment.noise import colored_noise, mix_at_snr
    from voxref.augment.overlap import add_overlap
    from voxref.augment.reverb import reverberate

    a, b = rng.choice(len(names), size=2, replace=False)
    ua = voices[names[a]][int(rng.integers(len(voices[names[a]])))]
    ub = voices[names[b]][int(rng.integers(len(voices[names[b]])))]
    if augment > 0:
        transform = _overlap_detector().VoiceTransform
        ua = transform(rng, augment, wobble)(ua)
        ub = transform(rng, augment, wobble)(ub)
    elif wobble > 0:
        raise ValueError("wobble is a part of the voice augmentation: set augment > 0 as well")
    if ua.size >= crop:
        s = int(rng.integers(0, ua.size - crop + 1))
        t = ua[s : s + crop].copy()
    else:
        t = np.zeros(crop, np.float32)
        s = int(rng.integers(0, crop - ua.size + 1))
        t[s : s + ua.size] = ua
    if np.sqrt(np.mean(t**2)) < 1e-3:
        return make_example(rng, voices, names, crop, sir, single=single, noise=noise,
                            reverb=reverb, augment=augment, wobble=wobble)  # fmt: skip
    if rng.random() < reverb:
        rt60, drr = float(rng.uniform(0.2, 0.9)), float(rng.uniform(0.0, 10.0))
        t = reverberate(t, SAMPLE_RATE, rt60, drr_db=drr, rng=rng).astype(np.float32)
        ub = reverberate(ub, SAMPLE_RATE, rt60, drr_db=drr, rng=rng).astype(np.float32)
    if single:
        mix = t.copy()
    else:
        mix = add_overlap(t, SAMPLE_RATE, ub, float(rng.uniform(*sir)),
                          float(rng.uniform(0.3, 1.0)), rng=rng).samples.astype(np.float32)  # fmt: skip
    sources = np.stack([t, mix - t]).astype(np.float32)
    if rng.random() < noise:
        color = ("white", "pink", "brown")[int(rng.integers(3))]
        n = colored_noise(crop, SAMPLE_RATE, color, rng=rng)
        mix = mix_at_snr(mix, n, SAMPLE_RATE, float(rng.uniform(15, 40))).astype(np.float32)
    gain = np.float32(10 ** (rng.uniform(-10, 6) / 20))
    return mix * gain, sources * gain


def validate(net, voices, names, n: int, seed: int, crop: int) -> dict:
    """SI-SDR improvement on held-apart voices at SIR 0/5/10 dB, and the one/two-voice gate
    (:func:`calibrate_gate`) from the same mixtures, reverberant ones, and single voices (clean,
    a little noisy, reverberant).
    """
    import torch

    from voxref.separation.separator import si_sdr, weaker_stream_db

    out: dict = {}
    weaker: dict[str, list[float]] = {}
    for sir in (0.0, 5.0, 10.0):
        rng = np.random.default_rng(seed + 1000 + int(sir))
        gains = []
        for _ in range(n):
            mix, src = make_example(rng, voices, names, crop, (sir, sir))
            streams = net.split(mix, SAMPLE_RATE)
            est, t = torch.from_numpy(streams), torch.from_numpy(src[0])
            best = max(float(si_sdr(est[0], t)), float(si_sdr(est[1], t)))
            gains.append(best - float(si_sdr(torch.from_numpy(mix), t)))
            weaker.setdefault(f"two-sir{sir:g}", []).append(weaker_stream_db(streams, mix))
        out[f"sir{sir:g}"] = {"si_sdr_improvement_db": float(np.mean(gains)), "n": n}
    rng = np.random.default_rng(seed + 2000)
    kinds = {"one": {"single": True}, "one-noisy": {"single": True, "noise": 1.0},
             "one-reverb": {"single": True, "reverb": 1.0},
             "two-sir5-reverb": {"sir": (5.0, 5.0), "reverb": 1.0}}  # fmt: skip
    for key, kw in kinds.items():
        for _ in range(n):
            mix, _ = make_example(rng, voices, names, crop, **kw)
            weaker.setdefault(key, []).append(weaker_stream_db(net.split(mix, SAMPLE_RATE), mix))
    out["gate"] = calibrate_gate(weaker)
    return out


def calibrate_gate(weaker: dict[str, list[float]]) -> dict:
    """The weaker-stream level (dB) that best tells one voice (keys ``one*``) from two
    (``two*``): the threshold with the lowest mean of the two error rates; percentiles beside."""
    one = np.concatenate([v for k, v in weaker.items() if k.startswith("one")])
    two = np.concatenate([v for k, v in weaker.items() if k.startswith("two")])
    grid = np.unique(np.r_[one, two])
    errors = [(np.mean(one >= g) + np.mean(two < g)) / 2 for g in grid]
    best = int(np.argmin(errors))
    lo = grid[best - 1] if best > 0 else grid[best] - 1.0
    threshold = float((lo + grid[best]) / 2)
    return {
        "threshold_db": threshold,
        "error_one_voice": float(np.mean(one >= threshold)),
        "error_two_voices": float(np.mean(two < threshold)),
        "percentiles_db": {
            k: [round(float(q), 2) for q in np.percentile(v, [5, 25, 50, 75, 95])]
            for k, v in weaker.items()
        },
    }


def _group_of(speaker: str, family_group) -> str | None:
    """The voice group of a corpus speaker, ``None`` for voices of no group (reserved)."""
    try:
        return family_group(speaker)
    except (KeyError, ValueError):
        return None


def corpus_eval(net, corpus: Path, n: int, sir: float, seed: int, group: str | None = None) -> dict:
    """The separator on the benchmark corpus's voices (never heard in training): ``n`` seeded
    mixtures of two corpus speakers at ``sir`` dB over 30-100 % of the target. SI-SDR of the
    mixture, of the better stream and of the oracle ideal ratio mask (headroom), and the cosine
    of their GE2E embeddings (speech levelled to -22 dBFS) to the clean target's, by engine pair
    (espeak-ng / flite / real). With ``group`` (``"A"`` or ``"B"``,
    :mod:`benchmarks.corpus.voice_split`) both speakers of every mixture are of that voice
    group; otherwise any two corpus speakers."""
    import json as _json

    import soundfile as sf
    import torch

    from voxref.audio.level import TARGET_LEVEL_DBFS, normalize_level
    from voxref.augment.overlap import add_overlap
    from voxref.embedder.registry import get_encoder
    from voxref.separation.separator import si_sdr, weaker_stream_db

    sys.path.insert(0, str(REPO))
    from benchmarks.corpus.voice_split import family_group
    from benchmarks.quality.conditions import oracle_masked

    utts = _json.loads((corpus / "manifest.json").read_text())["utterances"]
    if group is not None:
        utts = [u for u in utts if _group_of(u["speaker"], family_group) == group]
    if len({u["speaker"] for u in utts}) < 2:
        raise SystemExit(f"fewer than two speakers of voice group {group} in {corpus}: "
                         "render the corpus (python -m benchmarks.corpus) first")  # fmt: skip
    enc = get_encoder("ge2e")
    rng = np.random.default_rng(seed)

    def emb(x: np.ndarray) -> np.ndarray:
        w = enc.embed_windows(normalize_level(x, SAMPLE_RATE, TARGET_LEVEL_DBFS)[0])
        m = w.embeddings.mean(axis=0)
        return m / np.linalg.norm(m)

    def sdr(x: np.ndarray, ref: np.ndarray) -> float:
        return float(si_sdr(torch.from_numpy(np.asarray(x)), torch.from_numpy(ref)))

    rows, pairs = [], []
    while len(rows) < n:
        a, b = rng.choice(len(utts), 2, replace=False)
        if utts[a]["speaker"] == utts[b]["speaker"]:
            continue
        t, _ = sf.read(corpus / utts[a]["path"], dtype="float32")
        i, _ = sf.read(corpus / utts[b]["path"], dtype="float32")
        mix = add_overlap(t, SAMPLE_RATE, i, sir, float(rng.uniform(0.3, 1.0)), rng=rng).samples
        streams = net.split(mix, SAMPLE_RATE)
        best = max(streams, key=lambda y: sdr(y, t))
        oracle = oracle_masked(t, mix, "irm")
        et = emb(t)
        rows.append([sdr(mix, t), sdr(best, t), sdr(oracle, t),
                     emb(mix) @ et, emb(best) @ et, emb(oracle) @ et,
                     weaker_stream_db(streams, mix),
                     weaker_stream_db(net.split(t, SAMPLE_RATE), t)])  # fmt: skip
        pairs.append("+".join(utts[k]["engine"].split("-")[0] for k in (a, b)))
    r, pairs = np.array(rows), np.array(pairs)
    cols = ("si_sdr_mix", "si_sdr_best_stream", "si_sdr_oracle_irm",
            "cos_mix", "cos_best_stream", "cos_oracle_irm",
            "weaker_stream_db_mix", "weaker_stream_db_target_alone")  # fmt: skip
    threshold = net.two_voice_threshold_db

    def summary(m: np.ndarray) -> dict:
        out = {c: float(r[m, j].mean()) for j, c in enumerate(cols)}
        if threshold is not None:  # the gate on voices it was not calibrated on
            out["gate_two_voices_found"] = float(np.mean(r[m, 6] >= threshold))
            out["gate_one_voice_found"] = float(np.mean(r[m, 7] < threshold))
        return {**out, "n": int(m.sum())}

    return {
        "sir_db": sir,
        "voice_group": group,
        "all": summary(np.ones(len(r), dtype=bool)),
        "by_engines": {p: summary(pairs == p) for p in sorted(set(pairs))},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work" / "separator")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--utts", type=int, default=12, help="utterances per voice")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-minutes", type=float, default=60.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--val", type=int, default=60, help="validation mixtures per SIR")
    p.add_argument("--resume", type=Path, help="start from this checkpoint's weights")
    p.add_argument(
        "--perturb",
        type=float,
        nargs="*",
        default=[],
        help="speed factors: every voice also resampled by each (more, different voices)",
    )
    p.add_argument(
        "--single",
        type=float,
        default=0.2,
        help="share of single-voice examples (second stream taught to stay silent: the gate)",
    )
    p.add_argument(
        "--single-from",
        type=int,
        default=600,
        help="steps of two-voice examples only before single voices join (learn to separate first)",
    )
    p.add_argument(
        "--noise", type=float, default=0.3, help="share of examples with a little coloured noise"
    )
    p.add_argument(
        "--reverb", type=float, default=0.3, help="share of examples in a reverberant room"
    )
    p.add_argument(
        "--languages",
        type=int,
        default=0,
        help="N more espeak-ng voices in each language of train_overlap_detector.LANGUAGES "
        "(0: the English variants only)",
    )
    p.add_argument(
        "--augment",
        type=float,
        default=0.0,
        help="probability of each part of a voice transform (train_overlap_detector."
        "VoiceTransform), drawn for each source of a mixture (0: voices as rendered)",
    )
    p.add_argument(
        "--wobble",
        type=float,
        default=0.0,
        help="probability of a drifting rate per transformed source (needs --augment > 0)",
    )
    p.add_argument(
        "--separation-threshold-db",
        type=float,
        help="the Embedder's separation threshold to record in the checkpoint "
        "(metadata separation_threshold_db; chosen on the quality benchmark, tuning voices); "
        "required with --ship",
    )
    p.add_argument("--ship", action="store_true")
    p.add_argument(
        "--eval-corpus",
        type=Path,
        metavar="CKPT",
        help="only evaluate CKPT on the benchmark corpus's voices (--corpus), print JSON",
    )
    p.add_argument("--corpus", type=Path, default=REPO / "benchmarks" / "work" / "corpus")
    p.add_argument("--eval-n", type=int, default=60, help="corpus mixtures for --eval-corpus")
    p.add_argument(
        "--voice-group",
        choices=("A", "B"),
        help="--eval-corpus on the speakers of this voice group only (benchmarks/corpus/"
        "voice_split.py: A = tuning voices, B = reporting voices; default: any)",
    )
    args = p.parse_args(argv)
    if args.ship and args.separation_threshold_db is None:
        p.error(
            "--ship needs --separation-threshold-db: the shipped checkpoint records where the "
            "Embedder separates (chosen on the quality benchmark's tuning voices, e.g. "
            "benchmarks/results/separation_threshold.json), not only the gate's equal-error point"
        )
    if args.voice_group is not None and args.eval_corpus is None:
        p.error("--voice-group applies to --eval-corpus only")
    if args.languages < 0:
        p.error("--languages must be 0 or more")
    if not 0.0 <= args.augment <= 1.0 or not 0.0 <= args.wobble <= 1.0:
        p.error("--augment and --wobble are probabilities in [0, 1]")
    if args.wobble > 0 and args.augment == 0:
        p.error("--wobble is part of the voice augmentation: give --augment > 0 too")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from voxref.separation.separator import TwoSpeakerSeparator, pit_separation_loss

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.eval_corpus is not None:
        net = TwoSpeakerSeparator.load(args.eval_corpus)
        result = {"checkpoint": str(args.eval_corpus), "metadata": {
            k: net.metadata.get(k) for k in ("steps", "train_minutes", "perturb", "history")
        }}  # fmt: skip
        result["corpus"] = [
            corpus_eval(net, args.corpus, args.eval_n, s, args.seed, args.voice_group)
            for s in (0.0,)
        ]
        print(json.dumps(result, indent=2))
        return 0
    voices = render_voices(args.work, args.utts, args.seed)
    names = sorted(voices)
    rng = np.random.default_rng(args.seed)
    held = sorted(rng.choice(names, size=max(2, len(names) // 10), replace=False).tolist())
    train_names = [n for n in names if n not in held]
    if args.languages:
        extra, extra_held = language_voices(args.work, args.languages, args.utts, args.seed)
        voices.update(extra)
        held += extra_held
        train_names += [n for n in sorted(extra) if n not in extra_held]
    if args.perturb:
        voices = perturb_voices(voices, args.perturb)
        train_names += [f"{n}@{f:g}" for n in train_names for f in args.perturb]
    log.info("%d training voices, %d held apart", len(train_names), len(held))
    net = TwoSpeakerSeparator(seed=args.seed)
    history: list[dict] = []

    def settings(step: int, minutes: float) -> dict:
        """What made the weights so far (kept in every checkpoint this run writes)."""
        return {
            "seed": args.seed, "steps": step, "batch": args.batch, "lr": args.lr,
            "perturb": list(args.perturb), "history": history,
            "train_minutes": round(minutes, 2),
            "single_voice_share": args.single, "single_voice_from_step": args.single_from,
            "noise_share": args.noise, "reverb_share": args.reverb,
            "languages_per_language": args.languages, "augment": args.augment,
            "wobble": args.wobble,
            "command": "train_separator.py " + " ".join(sys.argv[1:] if argv is None else argv),
        }  # fmt: skip

    if args.resume is not None:
        start = TwoSpeakerSeparator.load(args.resume)
        net.load_state_dict(start.state_dict())
        # every setting of the run it continues (the keys settings() writes), not only its length
        keys = settings(0, 0.0).keys() - {"history"}
        history = [*start.metadata.get("history", []), {
            k: v for k, v in start.metadata.items() if k in keys
        }]  # fmt: skip
        rng = np.random.default_rng(args.seed + 1 + len(history))
        log.info("resumed from %s (%s)", args.resume, history[-1])
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps)))
    )
    crop = int(round(args.crop * SAMPLE_RATE))
    t0 = time.time()

    losses: list[float] = []
    step = 0
    net.train()
    while step < args.steps and (time.time() - t0) < args.max_minutes * 60:
        share = args.single if step >= args.single_from else 0.0
        single = rng.random(args.batch) < share
        batch = [make_example(rng, voices, train_names, crop, single=bool(one), noise=args.noise,
                              reverb=args.reverb, augment=args.augment, wobble=args.wobble)
                 for one in single]  # fmt: skip
        mix = torch.from_numpy(np.stack([m for m, _ in batch]))
        src = torch.from_numpy(np.stack([s for _, s in batch]))
        loss = pit_separation_loss(net.separate(mix), src, torch.from_numpy(single))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 50 == 0:
            log.info(
                "step %d loss %.2f (last 50) %.1f min",
                step, float(np.mean(losses[-50:])), (time.time() - t0) / 60,
            )  # fmt: skip
        if step % 500 == 0:  # a checkpoint to resume from, with what made it so far
            net.save(
                args.work / "separator.pt",
                {**settings(step, (time.time() - t0) / 60), "partial": True},
            )
    minutes = (time.time() - t0) / 60
    val = validate(net, voices, held, args.val, args.seed, crop)
    log.info("validation on held-apart voices: %s", val)
    meta = {
        **settings(step, minutes),
        "crop_seconds": args.crop,
        "train_voices": [n for n in train_names if "@" not in n],
        "held_apart_voices": held,
        "final_loss": float(np.mean(losses[-100:])) if losses else None,
        "validation": val,
        "two_voice_threshold_db": val["gate"]["threshold_db"] if args.single > 0 else None,
        **(
            {"separation_threshold_db": float(args.separation_threshold_db)}
            if args.separation_threshold_db is not None
            else {}
        ),
        "loss": loss_description(),
        "script": "scripts/train_separator.py",
    }
    path = net.save(args.work / "separator.pt", meta)
    (args.work / "separator.json").write_text(json.dumps(meta, indent=2))
    if args.ship:
        SHIP_PATH.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHIP_PATH)
        log.info("copied to %s", SHIP_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
