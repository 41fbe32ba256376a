"""Train voxref's frame-level speaker counter / overlap detector.

Re-runnable and seeded. Stages:

1. **Voices**: the separator's training voices (``scripts/train_separator.py``: espeak-ng
   variants that neither the benchmark corpus nor :mod:`voxref.separation.synthetic` use, random
   word sequences), with ``--languages N``: N more espeak-ng voices in each language of
   :data:`LANGUAGES` (reading the same words by that language's rules), each also at
   ``--perturb`` speed factors (new vocal tracts). A seeded tenth of the base voices (with their
   perturbed copies) is held apart for validation.
2. **Conversations** drawn on the fly (seeded), ``--crop`` seconds each: one to three voices
   taking turns with pauses and overlaps (gaps uniform in [-0.8, 0.6] s, a third of them forced
   negative), occasional back-channels inside a turn, each voice at its own level
   (+-``--level-db``). With ``--augment P`` every voice of a conversation is first made into
   another one (:class:`VoiceTransform`, each part with probability P: speed / vocal-tract
   length, formant warp at constant pitch, random EQ, breath noise; with ``--wobble Q`` also,
   with probability Q, a drifting rate) and the mixture gets a random EQ with probability
   P / 2, so the network cannot rely on how espeak-ng sounds.
   Labels per 10 ms frame come from the dry tracks (:func:`source_activity`: within 40 dB of the
   track's loudest frame, pauses under 0.2 s filled) and are counted (0, 1, 2+). Then, each with
   its own probability: a reverberant room (RT60 0.2-0.9 s), coloured noise (SNR 5-35 dB),
   a telephone channel (300-3400 Hz, mu-law) and a random gain.
3. **Training** of :class:`voxref.separation.overlap_detector.SpeakerCountNet` with frame-wise
   cross-entropy (overlap frames weighted ``--overlap-weight``), Adam, cosine decay over
   ``--steps`` (cut short at ``--max-minutes``), optionally from ``--resume``'s weights.
4. **Validation** on held-apart voices (without ``--augment``): frame accuracy and overlap
   precision / recall / F1 at the 0.5 threshold, every ``--save-every`` steps (with a
   checkpoint of that step) and at the end, written to the checkpoint's metadata.

How much it helps diarization is measured by ``python -m voxref.separation.benchmark`` (pyannote's
real sample and the synthetic conversations, none of whose voices are in training), and how it
transfers to voices of other engines by ``scripts/speaker_count_transfer.py``.

Usage (repository root)::

    .venv/bin/python scripts/train_overlap_detector.py --steps 2500 --max-minutes 40 --ship

The shipped checkpoint's command is in its metadata (``command``). Without training:
``--evaluate CKPT...`` validates checkpoints on the held-apart voices of the given settings, and
``--finalize CKPT --out PATH [--overlap-bias B] [--note KEY=VALUE] [--ship]`` copies one with a
calibration of its overlap logit chosen on tuning voices (``scripts/speaker_count_transfer.py
--overlap-bias``). The augmented counters and why none shipped: BENCHMARKS.md (speaker counter
on voices of other engines).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_separator import (  # noqa: E402
    REPO,
    TRAIN_VARIANTS,
    _vocabulary,
    perturb_voices,
    render_voices,
)

log = logging.getLogger("train_overlap_detector")

SAMPLE_RATE = 16_000
SHIP_PATH = REPO / "src" / "voxref" / "data" / "speaker_count.pt"
STFT_SIZE, STFT_HOP = 512, 128
#: espeak-ng languages of the extra voices (none of festival's languages of voice group B:
#: ca, cs, it, ru, fi).
LANGUAGES = ("de", "fr-fr", "es", "pt", "pl", "nl", "sv", "hu", "tr", "ro", "sk", "hr", "lv", "id")


def _piece(rng: np.random.Generator, utt: np.ndarray, low: float, high: float) -> np.ndarray:
    """A random stretch of ``utt`` between ``low`` and ``high`` seconds (the whole utterance when
    it is shorter)."""
    n = int(rng.uniform(low, high) * SAMPLE_RATE)
    if utt.size <= n:
        return utt
    s = int(rng.integers(0, utt.size - n + 1))
    return utt[s : s + n]


def render_language_voices(
    work: Path, languages: tuple[str, ...], per_language: int, n_utts: int, seed: int
) -> dict[str, list[np.ndarray]]:
    """Utterances of ``per_language`` espeak-ng voices of every language in ``languages``
    (variants of :data:`TRAIN_VARIANTS`, random pitch and speed), reading random words of the
    English vocabulary with that language's rules (cached)."""
    import subprocess
    import tempfile

    import soundfile as sf

    from voxref.audio.resample import resample

    key = hashlib.sha1(f"{languages}{per_language}{n_utts}{seed}v1".encode()).hexdigest()[:10]
    cache = work / f"language-voices-{key}.npz"
    if cache.is_file():
        data = np.load(cache)
        out: dict[str, list[np.ndarray]] = {}
        for name in data.files:
            out.setdefault(name.rpartition("#")[0], []).append(data[name])
        return out
    words = _vocabulary()  # puts the repository on sys.path
    from benchmarks.corpus.synth import trim_silence

    rng = np.random.default_rng([seed, 17])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        txt, wav = Path(tmp) / "t.txt", Path(tmp) / "o.wav"
        for lang in languages:
            for _ in range(per_language):
                variant = TRAIN_VARIANTS[int(rng.integers(len(TRAIN_VARIANTS)))]
                pitch, speed = int(rng.integers(15, 90)), int(rng.integers(130, 190))
                name = f"{lang}+{variant}-p{pitch}"
                utts = []
                for _ in range(n_utts):
                    txt.write_text(
                        " ".join(rng.choice(words, size=int(rng.integers(8, 15)))) + ".\n"
                    )
                    cmd = ["espeak-ng", "-v", f"{lang}+{variant}", "-s", str(speed)]
                    cmd += ["-p", str(pitch), "-w", str(wav), "-f", str(txt)]
                    subprocess.run(cmd, check=True, capture_output=True)
                    x, sr = sf.read(wav, dtype="float32")
                    x = trim_silence(resample(x, sr, SAMPLE_RATE).astype(np.float32), SAMPLE_RATE)
                    utts.append(x / max(1e-6, float(np.abs(x).max())) * 0.5)
                out[name] = utts
            log.info("rendered the %s voices", lang)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **{f"{k}#{i}": u for k, us in out.items() for i, u in enumerate(us)})
    return out


def _stft(x: np.ndarray) -> np.ndarray:
    from scipy.signal import stft

    return stft(x, nperseg=STFT_SIZE, noverlap=STFT_SIZE - STFT_HOP, boundary="even")[2]


def _istft(spec: np.ndarray, n: int) -> np.ndarray:
    from scipy.signal import istft

    y = istft(spec, nperseg=STFT_SIZE, noverlap=STFT_SIZE - STFT_HOP)[1]
    return np.pad(y[:n], (0, max(0, n - y.size))).astype(np.float32)


def _envelope(mag: np.ndarray, order: int = 30) -> np.ndarray:
    """Log spectral envelope per frame (cepstrum liftered to ``order`` coefficients)."""
    cep = np.fft.irfft(np.log(mag + 1e-8), axis=0)
    cep[order + 1 : cep.shape[0] - order] = 0.0
    return np.fft.rfft(cep, axis=0).real


def random_eq(rng: np.random.Generator) -> np.ndarray:
    """Gain (dB) per STFT bin: a tilt of +-4 dB per octave around 1 kHz plus up to three
    peaks / notches of +-10 dB (0.15-0.6 octave wide, 150 Hz - 4 kHz), mean 0."""
    freqs = np.fft.rfftfreq(STFT_SIZE, 1 / SAMPLE_RATE)
    octave = np.log2(np.maximum(freqs, 50.0) / 1000.0)
    eq = rng.uniform(-4.0, 4.0) * octave
    for _ in range(int(rng.integers(0, 4))):
        centre, width = rng.uniform(np.log2(0.15), np.log2(4.0)), rng.uniform(0.15, 0.6)
        eq += rng.uniform(-10, 10) * np.exp(-0.5 * ((octave - centre) / width) ** 2)
    return eq - eq.mean()


class VoiceTransform:
    """A random new voice made from another one (training augmentation, seeded by ``rng``).

    Drawn once per voice of a conversation and applied to each of its pieces, with ``strength``
    the probability of each part: a **speed** factor (resampling: pitch and formants move
    together, as with another vocal-tract length and larynx), a **formant warp** (the cepstral
    envelope stretched along frequency, pitch kept: vocal-tract length alone), a random **EQ**
    (spectral tilt plus up to three peaks or notches: another voice quality or microphone) and
    **breath** (noise shaped by the envelope, following the speech's level). The result keeps
    the piece's RMS.
    """

    def __init__(self, rng: np.random.Generator, strength: float, wobble: float = 0.0) -> None:
        def maybe(low: float, high: float) -> float | None:
            return (
                float(np.exp(rng.uniform(np.log(low), np.log(high))))
                if rng.random() < strength
                else None
            )

        self.speed = maybe(0.82, 1.22)
        self.warp = maybe(0.84, 1.19)
        self.eq_db = random_eq(rng) if rng.random() < strength else None
        self.breath = float(rng.uniform(0.05, 0.35)) if rng.random() < strength * 0.5 else None
        self.wobble = None
        if wobble > 0 and rng.random() < wobble:
            depth, rate = float(rng.uniform(0.01, 0.05)), float(rng.uniform(2.0, 7.0))
            self.wobble = (
                depth,
                rate,
                float(rng.uniform(0, 2 * np.pi)),
                float(rng.uniform(0, 0.02)),
            )
        self.rng = rng

    def _wobble(self, x: np.ndarray) -> np.ndarray:
        """Play ``x`` at a rate that drifts (vibrato plus a random walk): F0 and formants move
        by a few per cent, as a speaker's pitch is never as steady as a formant synthesiser's."""
        depth, rate, phase, walk = self.wobble
        t = np.arange(x.size) / SAMPLE_RATE
        drift = np.cumsum(self.rng.standard_normal(x.size // 160 + 2)) * walk / np.sqrt(100)
        drift = np.interp(t, np.arange(drift.size) * 0.01, drift)
        speed = np.clip(1.0 + depth * np.sin(2 * np.pi * rate * t + phase) + drift, 0.8, 1.25)
        pos = np.cumsum(speed) - speed[0]
        pos = pos[pos <= x.size - 1]
        return np.interp(pos, np.arange(x.size), x).astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.size < STFT_SIZE:
            return x
        rms = float(np.sqrt(np.mean(x**2))) or 1.0
        if self.wobble is not None:
            x = self._wobble(x)
        if self.speed is not None:
            from fractions import Fraction

            from scipy.signal import resample_poly

            q = Fraction(1 / self.speed).limit_denominator(24)
            x = resample_poly(x, q.numerator, q.denominator).astype(np.float32)
        if self.warp is not None or self.eq_db is not None or self.breath is not None:
            spec = _stft(x)
            gain = np.zeros(spec.shape, np.float64)
            if self.warp is not None or self.breath is not None:
                env = _envelope(np.abs(spec))
            if self.warp is not None:
                src = np.arange(spec.shape[0]) / self.warp
                lo = np.minimum(src.astype(int), spec.shape[0] - 2)
                frac = np.clip(src - lo, 0.0, 1.0)[:, None]
                gain += env[lo] * (1 - frac) + env[lo + 1] * frac - env
            if self.eq_db is not None:
                gain += (self.eq_db * np.log(10) / 20)[:, None]
            spec = spec * np.exp(gain)
            if self.breath is not None:
                phase = np.exp(2j * np.pi * self.rng.random(spec.shape))
                spec = spec + self.breath * np.exp(env + gain) * phase
            x = _istft(spec, x.size)
        return (x * rms / (float(np.sqrt(np.mean(x**2))) or 1.0)).astype(np.float32)


def make_conversation(
    rng: np.random.Generator,
    voices: dict[str, list[np.ndarray]],
    names: list[str],
    crop: int,
    hop: int,
    *,
    reverb: float = 0.3,
    noise: float = 0.5,
    phone: float = 0.4,
    augment: float = 0.0,
    level_db: float = 6.0,
    wobble: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(mixture (crop,), labels (crop // hop,)) of a synthetic conversation crop.

    ``augment`` is the probability of each part of a :class:`VoiceTransform` per voice (0: the
    voices as rendered) and of a random EQ of the whole mixture; voices are at levels within
    +-``level_db`` dB; ``wobble`` is the probability of a drifting rate per transformed voice."""
    from voxref.augment.bandlimit import telephone
    from voxref.augment.noise import colored_noise, mix_at_snr
    from voxref.augment.reverb import reverberate
    from voxref.separation.overlap_detector import count_labels, source_activity

    k = int(rng.choice([1, 2, 3], p=[0.25, 0.6, 0.15]))
    who = rng.choice(len(names), size=k, replace=False)
    gains = 10 ** (rng.uniform(-level_db, level_db, size=k) / 20)
    transforms = [VoiceTransform(rng, augment, wobble) if augment > 0 else None for _ in range(k)]
    tracks = np.zeros((k, crop), np.float32)

    def place(i: int, piece: np.ndarray, pos: int) -> int:
        a, b = max(0, pos), min(crop, pos + piece.size)
        if b > a:
            tracks[i, a:b] += piece[a - pos : b - pos] * gains[i]
        return pos + piece.size

    def utterance(i: int) -> np.ndarray:
        utts = voices[names[who[i]]]
        return utts[int(rng.integers(len(utts)))]

    def voice(i: int, piece: np.ndarray) -> np.ndarray:
        return transforms[i](piece) if transforms[i] is not None else piece

    pos = int(rng.uniform(-1.5, 0.3) * SAMPLE_RATE)
    i = int(rng.integers(k))
    while pos < crop:
        piece = voice(i, _piece(rng, utterance(i), 0.4, 3.5))
        end = place(i, piece, pos)
        if k > 1 and rng.random() < 0.15 and piece.size > SAMPLE_RATE:
            j = int((i + 1 + rng.integers(k - 1)) % k)
            back = voice(j, _piece(rng, utterance(j), 0.2, 0.8))
            place(j, back, pos + int(rng.integers(0, piece.size - back.size + 1)))
        if k == 1:
            gap = rng.uniform(0.05, 0.8)
        elif rng.random() < 0.33:
            gap = rng.uniform(-0.8, -0.05)
        else:
            gap = rng.uniform(-0.8, 0.6)
        pos = end + int(gap * SAMPLE_RATE)
        if k > 1:
            i = int((i + 1 + rng.integers(k - 1)) % k)
    activity = np.stack([source_activity(t, SAMPLE_RATE, hop) for t in tracks])
    labels = count_labels(activity)
    if rng.random() < reverb:
        rt60, drr = float(rng.uniform(0.2, 0.9)), float(rng.uniform(0.0, 10.0))
        tracks = np.stack(
            [reverberate(t, SAMPLE_RATE, rt60, drr_db=drr, rng=rng)[:crop] for t in tracks]
        ).astype(np.float32)
    mix = tracks.sum(axis=0)
    if augment > 0 and rng.random() < augment * 0.5 and np.any(mix):
        channel = VoiceTransform(rng, 0.0)
        channel.eq_db = random_eq(rng)
        mix = channel(mix)
    if rng.random() < noise and np.any(mix):
        color = ("white", "pink", "brown")[int(rng.integers(3))]
        n = colored_noise(crop, SAMPLE_RATE, color, rng=rng)
        mix = mix_at_snr(mix, n, SAMPLE_RATE, float(rng.uniform(5, 35)))
    if rng.random() < phone:
        peak = float(np.abs(mix).max()) or 1.0
        mix = telephone(mix / peak * 0.7, SAMPLE_RATE, "mulaw" if rng.random() < 0.5 else None)
    mix = np.asarray(mix, np.float32)
    peak = float(np.abs(mix).max()) or 1.0
    mix = mix / peak * float(10 ** (rng.uniform(-30, -1) / 20))
    mix += 1e-5 * rng.standard_normal(crop).astype(np.float32)  # recorders are never silent
    return mix.astype(np.float32), labels


def batch(rng, voices, names, size, crop, hop, **options):
    import torch

    xs, ys = zip(
        *(make_conversation(rng, voices, names, crop, hop, **options) for _ in range(size))
    )
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def frame_metrics(pred: np.ndarray, labels: np.ndarray) -> dict:
    """Frame accuracy and overlap precision / recall / F1 (class 2)."""
    pred, labels = np.asarray(pred).ravel(), np.asarray(labels).ravel()
    tp = float(np.sum((pred == 2) & (labels == 2)))
    precision = tp / max(1.0, float(np.sum(pred == 2)))
    recall = tp / max(1.0, float(np.sum(labels == 2)))
    return {
        "accuracy": round(float(np.mean(pred == labels)), 4),
        "overlap_precision": round(precision, 4),
        "overlap_recall": round(recall, 4),
        "overlap_f1": round(2 * precision * recall / max(1e-9, precision + recall), 4),
        "overlap_share": round(float(np.mean(labels == 2)), 4),
    }


def validate(net, voices, names, n: int, seed: int, crop: int) -> dict:
    import torch

    rng = np.random.default_rng(seed)
    hop = net.config["hop"]
    x, y = batch(rng, voices, names, n, crop, hop)
    net.eval()
    with torch.no_grad():
        pred = net(x).argmax(-1)[:, : y.shape[1]].numpy()
    net.train()
    return frame_metrics(pred, y.numpy())


def _plain(value):
    """Settings as plain values; paths inside the repository relative to it."""
    if isinstance(value, Path):
        path = value.resolve()
        return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
    return value


def finalize(source: Path, out: Path, overlap_bias: float, notes: dict) -> Path:
    """Copy checkpoint ``source`` to ``out`` with ``overlap_bias`` added to the overlap logit (a
    calibration chosen on tuning voices: ``scripts/speaker_count_transfer.py --overlap-bias``)
    and ``notes`` (how it was chosen) added to its metadata."""
    import torch

    from voxref.separation.overlap_detector import SpeakerCountNet

    net = SpeakerCountNet.load(source)
    with torch.no_grad():
        net.out.bias[2] += overlap_bias
    meta = dict(net.metadata)
    meta["overlap_bias"] = meta.get("overlap_bias", 0.0) + overlap_bias
    meta.update(notes)
    return net.save(out, meta)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work" / "separator")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--utts", type=int, default=12, help="utterances per voice")
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=float, default=4.0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--overlap-weight", type=float, default=2.0)
    p.add_argument("--max-minutes", type=float, default=40.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--val", type=int, default=96, help="validation conversations")
    p.add_argument("--perturb", type=float, nargs="*", default=[0.85, 0.92, 1.08, 1.18])
    p.add_argument(
        "--augment",
        type=float,
        default=0.0,
        help="probability of each part of a VoiceTransform per voice (0: voices as rendered)",
    )
    p.add_argument("--level-db", type=float, default=6.0, help="voice levels within +-this")
    p.add_argument(
        "--wobble", type=float, default=0.0, help="probability of a drifting rate per voice"
    )
    p.add_argument(
        "--languages",
        type=int,
        default=0,
        help="extra espeak-ng voices per language of LANGUAGES (0: English voices only)",
    )
    p.add_argument("--save-every", type=int, default=500, help="validate and save every N steps")
    p.add_argument("--resume", type=Path, help="start from this checkpoint's weights")
    p.add_argument("--out", type=Path, help="checkpoint path (default WORK/speaker_count.pt)")
    p.add_argument("--ship", action="store_true", help=f"copy the result to {SHIP_PATH}")
    p.add_argument(
        "--finalize",
        type=Path,
        help="train nothing: copy this checkpoint to --out (and --ship) with --overlap-bias "
        "added to its overlap logit and --note added to its metadata",
    )
    p.add_argument("--overlap-bias", type=float, default=0.0, help="with --finalize")
    p.add_argument(
        "--evaluate",
        type=Path,
        nargs="+",
        help="train nothing: validate these checkpoints on the held-apart voices (the English "
        "ones alone and all; the same voices and conversations as training with these settings)",
    )
    p.add_argument(
        "--note", action="append", default=[], help="KEY=VALUE for the metadata (--finalize)"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.finalize:
        if not args.out:
            p.error("--finalize needs --out")
        notes = dict(n.partition("=")[::2] for n in args.note)
        out = finalize(args.finalize, args.out, args.overlap_bias, notes)
        if args.ship:
            shutil.copyfile(out, SHIP_PATH)
            log.info("shipped to %s", SHIP_PATH)
        return 0

    import torch

    from voxref.separation.overlap_detector import SpeakerCountNet

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    base = render_voices(args.work, args.utts, args.seed)
    order = sorted(base)
    rng = np.random.default_rng(args.seed)
    held = set(rng.choice(order, size=max(2, len(order) // 10), replace=False).tolist())
    train_base = {k: v for k, v in base.items() if k not in held}
    val_base = {k: v for k, v in base.items() if k in held}
    if args.languages:
        extra = render_language_voices(args.work, LANGUAGES, args.languages, args.utts, args.seed)
        extra_order = sorted(extra)
        extra_rng = np.random.default_rng([args.seed, 18])
        extra_held = extra_rng.choice(extra_order, size=max(1, len(extra) // 10), replace=False)
        held |= set(extra_held.tolist())
        train_base.update({k: v for k, v in extra.items() if k not in held})
        val_base.update({k: v for k, v in extra.items() if k in held})
    train = perturb_voices(train_base, args.perturb)
    val = perturb_voices(val_base, args.perturb)
    train_names, val_names = sorted(train), sorted(val)
    log.info("%d training voices, %d held apart", len(train_names), len(val_names))
    if args.evaluate:
        english = perturb_voices({k: base[k] for k in sorted(held) if k in base}, args.perturb)
        crop = int(args.crop * SAMPLE_RATE)
        for path in args.evaluate:
            net = SpeakerCountNet.load(path)
            m = {
                "english_held_apart": validate(
                    net, english, sorted(english), args.val, args.seed + 7, crop
                ),
                "all_held_apart": validate(net, val, val_names, args.val, args.seed + 7, crop),
            }
            log.info("%s %s", _plain(Path(path)), json.dumps(m))
        return 0

    net = SpeakerCountNet.load(args.resume) if args.resume else SpeakerCountNet(seed=args.seed)
    net.train()
    crop = int(args.crop * SAMPLE_RATE)
    hop = net.config["hop"]
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    weight = torch.tensor([1.0, 1.0, args.overlap_weight])
    data_rng = np.random.default_rng(args.seed + 1 + (1000 if args.resume else 0))
    out = args.out or args.work / "speaker_count.pt"
    t0, step, history = time.time(), 0, []
    for step in range(1, args.steps + 1):
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch(
            data_rng, train, train_names, args.batch, crop, hop,
            augment=args.augment, level_db=args.level_db, wobble=args.wobble,
        )  # fmt: skip
        logits = net(x)[:, : y.shape[1]]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 3), y.reshape(-1), weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        if step % 50 == 0:
            log.info("step %d loss %.4f lr %.2e %.1f min", step, loss.item(), lr,
                     (time.time() - t0) / 60)  # fmt: skip
        if step % args.save_every == 0:
            m = validate(net, val, val_names, args.val, args.seed + 7, crop)
            history.append({"step": step, **m})
            log.info("validation %s", m)
            stem = out.with_suffix("")
            net.save(Path(f"{stem}-partial.pt"), {"steps": step})
            net.save(Path(f"{stem}-step{step}.pt"), {"steps_done": step, "validation": m})
        if (time.time() - t0) / 60 > args.max_minutes:
            log.info("time limit reached at step %d", step)
            break
    metrics = validate(net, val, val_names, args.val, args.seed + 7, crop)
    log.info("final validation %s", metrics)
    meta = {
        "trained_by": "scripts/train_overlap_detector.py",
        "settings": {k: _plain(v) for k, v in vars(args).items()},
        "steps_done": step,
        "minutes": round((time.time() - t0) / 60, 1),
        "training_voices": len(train_names),
        "held_apart_voices": sorted(held),
        "validation": metrics,
        "history": history,
    }
    net.save(out, meta)
    log.info("wrote %s\n%s", out, json.dumps(metrics))
    if args.ship:
        shutil.copyfile(out, SHIP_PATH)
        log.info("shipped to %s", SHIP_PATH)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
