"""Train and evaluate voxref's reference-pooling head on synthesised, degraded speakers.

Re-runnable and seeded; CPU minutes. Three stages, each cached under ``--work``:

1. **Corpus** (``corpus.npz``). Every *tuning* voice of ``benchmarks/corpus/synth.py`` (rotation
   ``A->B`` of ``benchmarks/corpus/voice_split.py``: espeak-ng only; the reporting voices and the
   reserved voices are never heard) says
   ``--enroll-utts`` enrollment sentences and ``--test-utts`` test sentences (disjoint sentence
   pools). Each enrollment utterance is rendered in every condition of :data:`CONDITIONS`
   (clean; white/pink/brown noise at 0-5 dB; reverberation; another speaker overlapped over part of
   it at SIR 0-5 dB; babble at 0-10 dB; telephone band + mu-law) with ``voxref.augment``, then
   embedded window by window with ``voxref.embedder.ge2e.GE2EEncoder``. Per reference it keeps the
   window embeddings, the per-window overlap fraction (the oracle stand-in for
   ``voxref.separation.guide``), the blind SNR estimate and speech seconds
   (``voxref.cleaning.snr.measure_snr``, the stand-in for ``QualityReport``) and a nuisance vector.
   Test utterances stay clean and are embedded whole.
2. **Training** of :class:`voxref.embedder.pooling.AttentivePooling` on the *train* speakers only:
   random reference sets (1..5 references, random conditions) are pooled; the loss is GE2E over the
   pooled set embeddings plus ``1 - cos`` to the speaker's clean centroid, plus ``lambda * vCLUB``
   between the pooled embedding and the set's nuisance vector (alternating estimator updates).
3. **Evaluation** on *held-apart* speakers (never seen in training), 4-fold over speakers (fold 0
   = the build-time split of 12 speakers; the head is retrained for each fold): enrollment sets of
   k = 3 and 5 references, either all clean or a "mixed bag" (one clean reference + k - 1
   different degradations), scored against clean single-utterance tests of every held-apart
   speaker of the fold. EER of mean pooling, the clean stage's ``QualityReport.weight_hint``, the
   parameter-free attention (agreement only / quality only / both) and the trained head, per fold
   and averaged, on plain and on overlap-masked (``guided_window_pool``) reference embeddings, is
   printed as markdown tables and written to ``results-seed<seed><level><tag>.json``.

Usage (repository root; the corpus takes 4-10 CPU minutes once, each fold ~3-4 more)::

    .venv/bin/python scripts/train_pooling_head.py                  # all stages
    .venv/bin/python scripts/train_pooling_head.py --folds 0        # one fold
    .venv/bin/python scripts/train_pooling_head.py --eval-only      # reuse the heads
    .venv/bin/python scripts/train_pooling_head.py --ship           # + maybe ship

``--level-dbfs`` (default -20, as ``voxref.Embedder``) is the active speech level every reference
and test utterance is scaled to before the encoder; ``off`` embeds them as rendered. The shipped
head was trained as rendered (before the option existed) and loses nothing on levelled references
(``benchmarks/results/pooling_head.md``, "Speech level").

``--ship`` writes the fold-0 head to ``src/voxref/data/pooling_head.pt`` only when, on plain
reference embeddings, it beats the parameter-free attention on both mixed bags (k = 3 and 5) and
is at most 0.1 EER points worse on the clean sets, both on fold 0 and on the mean over folds;
otherwise it says why and writes nothing there.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxref.audio.level import TARGET_LEVEL_DBFS
from voxref.cli.options import level_option

log = logging.getLogger("train_pooling_head")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16_000

CONDITIONS = ("clean", "noise", "reverb", "overlap", "babble", "telephone")
"""Rendering of each enrollment utterance; index = position."""

DEGRADED = CONDITIONS[1:]
NOISE_COLORS = ("white", "pink", "brown")
NUISANCE_DIM = len(CONDITIONS) + len(NOISE_COLORS) + 3
"""One-hot condition, one-hot noise colour, true SNR / 20, overlap ratio, RT60 (s)."""


def _seed(*parts: int | str) -> int:
    """A stable 32-bit seed from ints / strings (crc32 of their repr)."""
    return zlib.crc32(repr(parts).encode())


# --------------------------------------------------------------------------------------- corpus
@dataclass
class Corpus:
    """Every reference (one rendering of one enrollment utterance) and every clean test utterance.

    Window embeddings of all references are stacked in ``windows``; reference ``r`` owns rows
    ``offsets[r]:offsets[r + 1]`` (and the matching entries of ``window_overlap``).
    """

    speakers: list[str]
    held_apart: np.ndarray  # (S,) bool
    windows: np.ndarray  # (W, D) float32
    window_overlap: np.ndarray  # (W,) fraction of each window overlapped by another talker
    offsets: np.ndarray  # (R + 1,)
    ref_speaker: np.ndarray  # (R,)
    ref_utt: np.ndarray  # (R,)
    ref_condition: np.ndarray  # (R,) index into CONDITIONS
    ref_snr_true: np.ndarray  # (R,) dB (inf for clean / reverb / telephone)
    ref_snr_est: np.ndarray  # (R,) blind estimate (QualityReport.snr_db), dB; nan if unknown
    ref_speech_s: np.ndarray  # (R,)
    ref_bandwidth: np.ndarray  # (R,) estimated bandwidth, Hz
    ref_clipping: np.ndarray  # (R,) clipping ratio
    ref_weight_hint: np.ndarray  # (R,) QualityReport.weight_hint (clean stage's heuristic)
    ref_overlap: np.ndarray  # (R,) fraction of the reference overlapped by another talker
    ref_nuisance: np.ndarray  # (R, NUISANCE_DIM)
    test_embeddings: np.ndarray  # (T, D)
    test_speaker: np.ndarray  # (T,)

    def save(self, path: Path) -> None:
        arrays = {k: v for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}
        np.savez_compressed(path, speakers=np.array(self.speakers), **arrays)

    @classmethod
    def load(cls, path: Path) -> Corpus:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        d["speakers"] = [str(s) for s in d["speakers"]]
        return cls(**d)

    @property
    def num_references(self) -> int:
        return len(self.ref_speaker)

    def reference_windows(self, r: int) -> np.ndarray:
        return self.windows[self.offsets[r] : self.offsets[r + 1]]

    def reference_overlap(self, r: int) -> np.ndarray:
        return self.window_overlap[self.offsets[r] : self.offsets[r + 1]]

    def reference_means(self) -> np.ndarray:
        """(R, D) unit-norm mean of each reference's windows (what mean pooling uses)."""
        sums = np.add.reduceat(self.windows.astype(np.float64), self.offsets[:-1], axis=0)
        return (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32)

    def index(self) -> dict[tuple[int, int, int], int]:
        """(speaker, utt, condition) -> reference row."""
        return {
            (int(s), int(u), int(c)): r
            for r, (s, u, c) in enumerate(zip(self.ref_speaker, self.ref_utt, self.ref_condition))
        }


def _sentence_pools(seed: int) -> tuple[list[str], list[str]]:
    from benchmarks.corpus.sentences import SENTENCES

    rng = np.random.default_rng(_seed(seed, "sentences"))
    perm = [SENTENCES[i] for i in rng.permutation(len(SENTENCES))]
    k = int(round(0.65 * len(perm)))
    return perm[:k], perm[k:]


def _render(
    condition: str,
    x: np.ndarray,
    rng: np.random.Generator,
    others: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Degrade clean ``x``; returns (signal, per-sample interferer mask, nuisance facts)."""
    from voxref.augment.babble import add_babble
    from voxref.augment.bandlimit import telephone
    from voxref.augment.levels import gain_for_snr
    from voxref.augment.noise import add_noise
    from voxref.augment.reverb import reverberate

    sr = SAMPLE_RATE
    mask = np.zeros(len(x), dtype=bool)
    facts = {"snr": np.inf, "color": -1, "overlap": 0.0, "rt60": 0.0}
    seed = int(rng.integers(2**31))
    if condition == "clean":
        y = x
    elif condition == "noise":
        color = int(rng.integers(len(NOISE_COLORS)))
        snr = float(rng.uniform(0.0, 5.0))
        y = add_noise(x, sr, snr, NOISE_COLORS[color], seed=seed)
        facts.update(snr=snr, color=color)
    elif condition == "reverb":
        rt60 = float(rng.uniform(0.4, 1.0))
        y = reverberate(x, sr, rt60, drr_db=float(rng.uniform(-3.0, 6.0)), seed=seed)
        facts.update(rt60=rt60)
    elif condition == "overlap":
        other = others[int(rng.integers(len(others)))]
        frac = float(rng.uniform(0.4, 0.9))
        n = min(len(other), int(frac * len(x)))
        start = int(rng.integers(0, len(x) - n + 1))
        seg = np.zeros(len(x), dtype=np.float32)
        seg[start : start + n] = other[:n]
        sir = float(rng.uniform(0.0, 5.0))
        y = (x + gain_for_snr(x, seg, sr, sir) * seg).astype(np.float32)
        mask[start : start + n] = True
        facts.update(snr=sir, overlap=n / len(x))
    elif condition == "babble":
        snr = float(rng.uniform(0.0, 10.0))
        y = add_babble(x, sr, snr, others, num_speakers=3, seed=seed)
        facts.update(snr=snr)
    elif condition == "telephone":
        y = telephone(x, sr, "mulaw")
    else:  # pragma: no cover
        raise ValueError(condition)
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:
        y = y * (0.99 / peak)
    return np.asarray(y, dtype=np.float32), mask, facts


def _nuisance(condition: int, facts: dict) -> np.ndarray:
    v = np.zeros(NUISANCE_DIM, dtype=np.float32)
    v[condition] = 1.0
    if facts["color"] >= 0:
        v[len(CONDITIONS) + facts["color"]] = 1.0
    snr = facts["snr"] if np.isfinite(facts["snr"]) else 30.0
    v[-3:] = (snr / 20.0, facts["overlap"], facts["rt60"])
    return v


def build_corpus(
    seed: int = 0,
    enroll_utts: int = 8,
    test_utts: int = 4,
    held_apart: int = 12,
    level_dbfs: float | None = TARGET_LEVEL_DBFS,
) -> Corpus:
    """Synthesise, degrade and embed the whole corpus (see the module docstring).

    Every reference and test utterance is scaled to ``level_dbfs`` active level before the encoder
    sees it, as ``voxref.Embedder`` does by default (``None``: embedded as rendered).
    """
    from benchmarks.corpus.synth import synthesize
    from benchmarks.corpus.voice_split import HEADLINE_ROTATION, require_tuning, tuning_catalogue

    from voxref.cleaning.quality import assess
    from voxref.cleaning.snr import measure_snr
    from voxref.cleaning.vad import detect_speech
    from voxref.embedder.ge2e import GE2EEncoder

    enc = GE2EEncoder()
    catalogue = tuning_catalogue(HEADLINE_ROTATION)
    require_tuning([v.id for v in catalogue], HEADLINE_ROTATION)
    n_spk = len(catalogue)
    rng = np.random.default_rng(_seed(seed, "split"))
    held = np.zeros(n_spk, dtype=bool)
    held[rng.permutation(n_spk)[:held_apart]] = True
    enroll_pool, test_pool = _sentence_pools(seed)

    t0 = time.time()
    enroll: list[list[np.ndarray]] = []
    tests: list[list[np.ndarray]] = []
    for s, voice in enumerate(catalogue):
        r = np.random.default_rng(_seed(seed, "text", voice.id))
        e_txt = [enroll_pool[i] for i in r.choice(len(enroll_pool), enroll_utts, replace=False)]
        t_txt = [test_pool[i] for i in r.choice(len(test_pool), test_utts, replace=False)]
        enroll.append(
            [synthesize(voice, t, seed=_seed(seed, s, "e", i))[0] for i, t in enumerate(e_txt)]
        )
        tests.append(
            [synthesize(voice, t, seed=_seed(seed, s, "t", i))[0] for i, t in enumerate(t_txt)]
        )
    log.info("synthesised %d voices in %.1f s", n_spk, time.time() - t0)

    win_list, ovl_list, offsets = [], [], [0]
    keys = ("spk", "utt", "cond", "snr", "est", "sp", "bw", "clip", "hint", "ovl", "nui")
    meta: dict[str, list] = {k: [] for k in keys}
    for s in range(n_spk):
        pool = [i for i in range(n_spk) if i != s and held[i] == held[s]]
        for u, x in enumerate(enroll[s]):
            for c, cond in enumerate(CONDITIONS):
                rng = np.random.default_rng(_seed(seed, "render", s, u, c))
                picks = rng.choice(len(pool), 3, replace=False)
                others = [enroll[pool[p]][int(rng.integers(enroll_utts))] for p in picks]
                y, mask, facts = _render(cond, x, rng, others)
                we = enc.embed_windows(_level(y, level_dbfs))
                cover = np.array(
                    [
                        mask[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)].mean()
                        for a, b in zip(we.starts, we.ends)
                    ],
                    dtype=np.float32,
                )
                regions = detect_speech(y, SAMPLE_RATE)
                snr = measure_snr(y, SAMPLE_RATE, regions=regions)
                report = assess(f"{s}/{u}/{cond}", y, SAMPLE_RATE, regions, snr)
                report.set_overlap_ratio(facts["overlap"])
                win_list.append(we.embeddings)
                ovl_list.append(cover)
                offsets.append(offsets[-1] + len(we))
                meta["spk"].append(s)
                meta["utt"].append(u)
                meta["cond"].append(c)
                meta["snr"].append(facts["snr"])
                meta["est"].append(report.snr_db if report.snr_db is not None else np.nan)
                meta["sp"].append(report.speech_s)
                meta["bw"].append(
                    report.bandwidth_hz if report.bandwidth_hz is not None else np.nan
                )
                meta["clip"].append(report.clipping_ratio)
                meta["hint"].append(report.weight_hint)
                meta["ovl"].append(facts["overlap"])
                meta["nui"].append(_nuisance(c, facts))
        log.info("speaker %d/%d rendered (%.0f s)", s + 1, n_spk, time.time() - t0)
    test_emb, test_spk = [], []
    for s in range(n_spk):
        for x in tests[s]:
            test_emb.append(enc.embed_utterance(_level(x, level_dbfs)))
            test_spk.append(s)
    return Corpus(
        speakers=[v.id for v in catalogue],
        held_apart=held,
        windows=np.concatenate(win_list).astype(np.float32),
        window_overlap=np.concatenate(ovl_list),
        offsets=np.asarray(offsets, dtype=np.int64),
        ref_speaker=np.asarray(meta["spk"], dtype=np.int64),
        ref_utt=np.asarray(meta["utt"], dtype=np.int64),
        ref_condition=np.asarray(meta["cond"], dtype=np.int64),
        ref_snr_true=np.asarray(meta["snr"], dtype=np.float32),
        ref_snr_est=np.asarray(meta["est"], dtype=np.float32),
        ref_speech_s=np.asarray(meta["sp"], dtype=np.float32),
        ref_bandwidth=np.asarray(meta["bw"], dtype=np.float32),
        ref_clipping=np.asarray(meta["clip"], dtype=np.float32),
        ref_weight_hint=np.asarray(meta["hint"], dtype=np.float32),
        ref_overlap=np.asarray(meta["ovl"], dtype=np.float32),
        ref_nuisance=np.stack(meta["nui"]),
        test_embeddings=np.stack(test_emb).astype(np.float32),
        test_speaker=np.asarray(test_spk, dtype=np.int64),
    )


def _level(x: np.ndarray, level_dbfs: float | None) -> np.ndarray:
    """``x`` scaled to ``level_dbfs`` active level (unchanged when ``None``)."""
    from voxref.audio.level import normalize_level

    return x if level_dbfs is None else normalize_level(x, SAMPLE_RATE, level_dbfs)[0]


def level_tag(level_dbfs: float | None) -> str:
    """File-name part naming the speech level of a corpus (``-level-20`` / ``-nolevel``)."""
    return "-nolevel" if level_dbfs is None else f"-level{level_dbfs:g}"


def load_or_build_corpus(
    work: Path, seed: int, rebuild: bool = False, level_dbfs: float | None = TARGET_LEVEL_DBFS
) -> Corpus:
    path = work / f"corpus-seed{seed}{level_tag(level_dbfs)}.npz"
    if path.exists() and not rebuild:
        log.info("corpus from %s", path)
        return Corpus.load(path)
    corpus = build_corpus(seed, level_dbfs=level_dbfs)
    work.mkdir(parents=True, exist_ok=True)
    corpus.save(path)
    log.info("corpus written to %s (%d references)", path, corpus.num_references)
    return corpus


# ----------------------------------------------------------------------------- references
def reference_qualities(corpus: Corpus) -> list:
    """One :class:`RefQuality` per reference: measured speech, SNR, bandwidth, clipping + overlap.

    The overlap ratio is the construction's (what ``voxref.separation.guide`` is meant to estimate).
    """
    from voxref.embedder.pooling import RefQuality

    def num(v: float) -> float | None:
        return None if not np.isfinite(v) else float(v)

    return [
        RefQuality(
            speech_s=num(corpus.ref_speech_s[r]),
            snr_db=num(corpus.ref_snr_est[r]),
            overlap_ratio=float(corpus.ref_overlap[r]),
            bandwidth_hz=num(corpus.ref_bandwidth[r]),
            clipping_ratio=num(corpus.ref_clipping[r]),
        )
        for r in range(corpus.num_references)
    ]


def reference_embeddings(corpus: Corpus, guided: bool) -> np.ndarray:
    """(R, D) per-reference embeddings: plain window mean, or windows masked by the overlap."""
    from voxref.embedder.pooling import guided_window_pool

    if not guided:
        return corpus.reference_means()
    out = np.zeros((corpus.num_references, corpus.windows.shape[1]), dtype=np.float32)
    for r in range(corpus.num_references):
        out[r] = guided_window_pool(corpus.reference_windows(r), None, corpus.reference_overlap(r))[
            0
        ]
    return out


def speaker_targets(corpus: Corpus) -> np.ndarray:
    """(S, D) clean centroid of each speaker: clean enrollment renderings + clean test utterances."""
    means = corpus.reference_means()
    d = means.shape[1]
    out = np.zeros((len(corpus.speakers), d), dtype=np.float32)
    for s in range(len(corpus.speakers)):
        rows = means[(corpus.ref_speaker == s) & (corpus.ref_condition == 0)]
        rows = np.concatenate([rows, corpus.test_embeddings[corpus.test_speaker == s]])
        v = rows.mean(axis=0)
        out[s] = v / np.linalg.norm(v)
    return out


# ----------------------------------------------------------------------------- training
@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train_head` (defaults: ~1-2 CPU minutes)."""

    steps: int = 2000
    speakers_per_batch: int = 8
    sets_per_speaker: int = 4
    max_refs: int = 5
    lr: float = 2e-3
    weight_decay: float = 1e-4
    clean_weight: float = 1.0
    ge2e_weight: float = 0.3
    lambda_mi: float = 0.01
    mi_steps: int = 5
    mi_lr: float = 1e-2
    prior_bias: bool = True
    all_clean_prob: float = 0.25
    outlier_prob: float = 0.15
    hidden: int = 64
    heads: int = 4
    embedding_dim: int = 16
    seed: int = 0


class SetSampler:
    """Random reference sets of training speakers, padded to ``max_refs`` with a mask."""

    def __init__(
        self,
        corpus: Corpus,
        speakers: np.ndarray,
        max_refs: int,
        all_clean_prob: float,
        outlier_prob: float,
        rng: np.random.Generator,
    ) -> None:
        self.corpus, self.speakers, self.max_refs = corpus, np.asarray(speakers), max_refs
        self.all_clean_prob, self.outlier_prob, self.rng = all_clean_prob, outlier_prob, rng
        self.index = corpus.index()
        self.n_utts = int(corpus.ref_utt.max()) + 1

    def draw_set(self, s: int) -> list[int]:
        rng = self.rng
        k = int(rng.integers(1, self.max_refs + 1))
        utts = rng.choice(self.n_utts, k, replace=False)
        if rng.random() < self.all_clean_prob:
            conds = np.zeros(k, dtype=int)
        else:
            conds = rng.integers(0, len(CONDITIONS), size=k)
        refs = [self.index[(int(s), int(u), int(c))] for u, c in zip(utts, conds)]
        if k >= 3 and rng.random() < self.outlier_prob:
            other = int(rng.choice(self.speakers[self.speakers != s]))
            refs[-1] = self.index[
                (other, int(rng.integers(self.n_utts)), int(rng.integers(len(CONDITIONS))))
            ]
        return refs

    def batch(
        self, n_speakers: int, sets_per_speaker: int
    ) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
        spk = self.rng.choice(self.speakers, n_speakers, replace=False)
        sets = [self.draw_set(int(s)) for s in spk for _ in range(sets_per_speaker)]
        return spk, np.repeat(spk, sets_per_speaker), sets


def pad_sets(sets: list[list[int]], max_refs: int, *arrays: np.ndarray) -> tuple:
    """Gather per-reference ``arrays`` into ``(B, max_refs, ...)`` tensors plus a ``(B, max_refs)`` mask."""
    import torch

    b = len(sets)
    mask = np.zeros((b, max_refs), dtype=bool)
    idx = np.zeros((b, max_refs), dtype=np.int64)
    for i, refs in enumerate(sets):
        mask[i, : len(refs)] = True
        idx[i, : len(refs)] = refs
    out = [
        torch.from_numpy(a[idx] * mask.reshape(b, max_refs, *([1] * (a.ndim - 1)))) for a in arrays
    ]
    return (*out, torch.from_numpy(mask))


def train_head(
    corpus: Corpus,
    embeddings: np.ndarray,
    qualities: list,
    config: TrainConfig,
    log_every: int = 250,
):
    """Train :class:`AttentivePooling` on the train speakers (see the module docstring)."""
    import torch

    from voxref.embedder.pooling.head import AttentivePooling
    from voxref.embedder.pooling.quality import quality_features
    from voxref.losses import VCLUB, GE2ELoss, MIRegularizer

    train_speakers = np.flatnonzero(~corpus.held_apart)
    rng = np.random.default_rng(_seed(config.seed, "train"))
    sampler = SetSampler(
        corpus, train_speakers, config.max_refs, config.all_clean_prob, config.outlier_prob, rng
    )
    feats = quality_features(qualities)
    targets = torch.from_numpy(speaker_targets(corpus))
    emb = embeddings.astype(np.float32)
    nuis = corpus.ref_nuisance.astype(np.float32)

    head = AttentivePooling(
        dim=emb.shape[1],
        quality_dim=feats.shape[1],
        hidden=config.hidden,
        heads=config.heads,
        embedding_dim=config.embedding_dim,
        prior_bias=config.prior_bias,
        seed=config.seed,
    )
    ge2e = GE2ELoss()
    opt = torch.optim.AdamW(
        [*head.parameters(), *ge2e.parameters()], lr=config.lr, weight_decay=config.weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.steps)
    club = VCLUB(emb.shape[1], nuis.shape[1], hidden=64, seed=config.seed)
    reg = MIRegularizer(
        club,
        torch.optim.Adam(club.parameters(), lr=config.mi_lr),
        lambda_mi=config.lambda_mi,
        steps=config.mi_steps,
    )
    scale = float(np.sqrt(emb.shape[1]))  # unit-norm rows -> roughly unit variance per dimension
    history = []
    t0 = time.time()
    head.train()
    for step in range(1, config.steps + 1):
        _, spk, sets = sampler.batch(config.speakers_per_batch, config.sets_per_speaker)
        e, q, nu, mask = pad_sets(sets, config.max_refs, emb, feats, nuis)
        pooled, _ = head(e, q, mask)
        set_nuisance = nu.sum(1) / mask.sum(1, keepdim=True)
        l_clean = (1.0 - (pooled * targets[spk]).sum(-1)).mean()
        l_ge2e = ge2e(pooled.view(config.speakers_per_batch, config.sets_per_speaker, -1))
        reg.update_estimator(pooled * scale, set_nuisance)
        l_mi = reg.penalty(pooled * scale, set_nuisance)
        loss = config.clean_weight * l_clean + config.ge2e_weight * l_ge2e + l_mi
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % log_every == 0 or step == config.steps:
            row = {
                "step": step,
                "clean": l_clean.item(),
                "ge2e": l_ge2e.item(),
                "mi": l_mi.item() / max(config.lambda_mi, 1e-12),
                "seconds": round(time.time() - t0, 1),
            }
            history.append(row)
            log.info(
                "step %(step)d: 1-cos %(clean).4f  ge2e %(ge2e).3f  vCLUB %(mi).3f  (%(seconds).0f s)",
                row,
            )
    head.eval()
    return head, history


# ----------------------------------------------------------------------------- evaluation
EVAL_KINDS = (
    ("clean", 3),
    ("clean", 5),
    ("mixed", 3),
    ("mixed", 5),
    ("intruder", 3),
    ("intruder", 5),
)


def eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Equal error rate (0-1) of a trial list."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels.astype(int), scores)
    fnr = 1.0 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2.0)


def evaluation_sets(
    corpus: Corpus, kind: str, k: int, n_sets: int, seed: int
) -> list[tuple[int, list[int]]]:
    """Enrollment sets of held-apart speakers.

    ``clean``: k clean renderings of k utterances. ``mixed``: one clean + k - 1 different
    degradations, each of another utterance. ``intruder``: a mixed bag of k - 1 plus one clean
    utterance of *another* held-apart speaker (a wrong file in the set).
    """
    index = corpus.index()
    n_utts = int(corpus.ref_utt.max()) + 1
    held = np.flatnonzero(corpus.held_apart)
    out = []
    for s in held:
        rng = np.random.default_rng(_seed(seed, "eval", kind, k, int(s)))
        for _ in range(n_sets):
            own = k - 1 if kind == "intruder" else k
            utts = rng.choice(n_utts, own, replace=False)
            if kind == "clean":
                conds = [0] * own
            else:
                conds = [0, *(1 + rng.choice(len(DEGRADED), own - 1, replace=False))]
            refs = [index[(int(s), int(u), int(c))] for u, c in zip(utts, conds)]
            if kind == "intruder":
                other = int(rng.choice(held[held != s]))
                refs.append(index[(other, int(rng.integers(n_utts)), 0)])
            out.append((int(s), refs))
    return out


def evaluate(corpus: Corpus, methods: dict, n_sets: int = 30, seed: int = 0) -> dict:
    """EER (%) and mean target cosine of each method on each held-apart set kind.

    ``methods`` maps a name to ``fn(ref_ids) -> (D,) embedding``. Every enrollment set is scored
    against every clean test utterance of every held-apart speaker.
    """
    held = corpus.held_apart[corpus.test_speaker]
    tests, test_spk = corpus.test_embeddings[held], corpus.test_speaker[held]
    results: dict = {}
    for kind, k in EVAL_KINDS:
        sets = evaluation_sets(corpus, kind, k, n_sets, seed)
        spk = np.array([s for s, _ in sets])
        labels = spk[:, None] == test_spk[None, :]
        for name, fn in methods.items():
            pooled = np.stack([fn(refs) for _, refs in sets])
            scores = pooled @ tests.T
            results.setdefault(name, {})[f"{kind}-k{k}"] = {
                "eer_percent": round(100.0 * eer(scores.ravel(), labels.ravel()), 3),
                "target_cosine": round(float(scores[labels].mean()), 4),
                "trials": int(labels.size),
                "target_trials": int(labels.sum()),
            }
    return results


def format_table(results: dict) -> str:
    """Markdown table: one row per method, EER % (mean target cosine) per set kind."""
    cols = [f"{kind}-k{k}" for kind, k in EVAL_KINDS]
    lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in results.items():
        cells = [f"{row[c]['eer_percent']:.2f} % ({row[c]['target_cosine']:.3f})" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pooling_methods(corpus: Corpus, embeddings: np.ndarray, qualities: list, head=None) -> dict:
    """The compared poolings, each ``fn(ref_ids) -> embedding`` over ``embeddings`` rows."""
    from voxref.embedder.pooling import agreement, attention_pool, mean_pool

    hints = corpus.ref_weight_hint.astype(np.float64)

    def hint_pool(refs: list[int]) -> np.ndarray:
        w = np.maximum(hints[refs], 1e-6)
        v = (w[:, None] * embeddings[refs]).sum(0)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def naive_agreement(refs: list[int], scale: float = 10.0) -> np.ndarray:
        """A first probe: softmax over scaled cosine to the other references' mean."""
        w = np.exp(scale * agreement(embeddings[refs]))
        return attention_pool(
            embeddings[refs],
            [{"weight_hint": x} for x in w / w.max()],
            temperature=float("inf"),
            min_effective=0.0,
        )[0]

    methods = {
        "mean": lambda refs: mean_pool(embeddings[refs])[0],
        "naive agreement softmax": naive_agreement,
        "QualityReport.weight_hint": hint_pool,
        "attention (agreement only)": lambda refs: attention_pool(embeddings[refs])[0],
        "attention (quality only)": lambda refs: attention_pool(
            embeddings[refs], [qualities[i] for i in refs], temperature=float("inf")
        )[0],
        "attention (agreement + quality)": lambda refs: attention_pool(
            embeddings[refs], [qualities[i] for i in refs]
        )[0],
    }
    if head is not None:
        methods["trained head"] = lambda refs: head.pool(
            embeddings[refs], [qualities[i] for i in refs]
        )[0]
    return methods


def ship_decision(
    results: dict, baseline: str = "attention (agreement + quality)"
) -> tuple[bool, str]:
    """Ship the head only if it beats ``baseline`` on both mixed bags and is no worse on clean sets."""
    head, base = results["trained head"], results[baseline]
    why = []
    for kind, k in EVAL_KINDS:
        if kind == "intruder":
            continue
        key = f"{kind}-k{k}"
        h, b = head[key]["eer_percent"], base[key]["eer_percent"]
        if kind == "mixed" and not h < b:
            why.append(f"{key}: head {h:.2f} % >= {baseline} {b:.2f} %")
        if kind == "clean" and h > b + 0.1:
            why.append(f"{key}: head {h:.2f} % > {baseline} {b:.2f} % + 0.1")
    return (not why), (
        "; ".join(why) or "beats the parameter-free attention on every held-apart set kind"
    )


def fold_split(corpus: Corpus, fold: int, n_folds: int, seed: int) -> Corpus:
    """The corpus with ``held_apart`` set to speaker fold ``fold`` of ``n_folds``.

    Fold 0 is the corpus's own split (the first ``held_apart.sum()`` speakers of the seeded
    permutation); the remaining speakers of that permutation are cut into the other folds.
    Overlap / babble interferers were drawn within the build-time split, so in folds > 0 a held-apart
    speaker may have been an interferer in training data (as noise, never as a label).
    """
    import dataclasses

    n = len(corpus.speakers)
    perm = np.random.default_rng(_seed(seed, "split")).permutation(n)
    first = int(corpus.held_apart.sum())
    rest = np.array_split(perm[first:], n_folds - 1)
    folds = [perm[:first], *rest]
    held = np.zeros(n, dtype=bool)
    held[folds[fold]] = True
    return dataclasses.replace(corpus, held_apart=held)


def pooled_results(per_fold: list[dict], scores_key: str = "eer_percent") -> dict:
    """Mean over folds of each method's EER and target cosine."""
    out: dict = {}
    for name in per_fold[0]:
        out[name] = {}
        for key in per_fold[0][name]:
            cells = [f[name][key] for f in per_fold]
            out[name][key] = {
                "eer_percent": round(float(np.mean([c["eer_percent"] for c in cells])), 3),
                "eer_percent_per_fold": [c["eer_percent"] for c in cells],
                "target_cosine": round(float(np.mean([c["target_cosine"] for c in cells])), 4),
                "trials": int(sum(c["trials"] for c in cells)),
                "target_trials": int(sum(c["target_trials"] for c in cells)),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work" / "pooling")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true", help="re-synthesise the corpus")
    parser.add_argument(
        "--folds",
        type=int,
        nargs="*",
        default=[0, 1, 2, 3],
        help="speaker folds to hold apart (of 4; fold 0 = the shipped head's split)",
    )
    parser.add_argument(
        "--level-dbfs",
        type=level_option,
        default=TARGET_LEVEL_DBFS,
        help="active speech level references and tests are scaled to before the encoder, as "
        "voxref.Embedder(level_dbfs=...) does ('off': as rendered; default %(default)s)",
    )
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--lambda-mi", type=float, default=TrainConfig.lambda_mi)
    parser.add_argument("--ge2e-weight", type=float, default=TrainConfig.ge2e_weight)
    parser.add_argument(
        "--no-prior-bias", action="store_true", help="head learns without the quality prior"
    )
    parser.add_argument("--tag", default="", help="suffix of the head / results file names")
    parser.add_argument("--sets", type=int, default=30, help="evaluation sets per speaker and kind")
    parser.add_argument("--eval-only", action="store_true", help="reuse the heads in --work")
    parser.add_argument(
        "--ship",
        action="store_true",
        help="copy the fold-0 head to src/voxref/data/pooling_head.pt if it earns it",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    import torch

    torch.set_num_threads(1)
    from voxref.embedder.pooling.head import AttentivePooling

    level_dbfs = args.level_dbfs
    full = load_or_build_corpus(args.work, args.seed, args.rebuild, level_dbfs)
    lt = level_tag(level_dbfs)
    qualities = reference_qualities(full)
    embeddings = {
        "plain": reference_embeddings(full, guided=False),
        "guided": reference_embeddings(full, guided=True),
    }
    config = TrainConfig(
        steps=args.steps,
        lambda_mi=args.lambda_mi,
        ge2e_weight=args.ge2e_weight,
        prior_bias=not args.no_prior_bias,
        seed=args.seed,
    )
    per_fold: dict[str, list[dict]] = {"plain": [], "guided": []}
    heads, histories = {}, {}
    for fold in args.folds:
        corpus = fold_split(full, fold, 4, args.seed)
        head_path = args.work / f"pooling_head-seed{args.seed}{lt}{args.tag}-fold{fold}.pt"
        if args.eval_only:
            head = AttentivePooling.load(head_path)
            histories[fold] = head.metadata.get("history", [])
        else:
            head, histories[fold] = train_head(corpus, embeddings["plain"], qualities, config)
            train_spk = [corpus.speakers[s] for s in np.flatnonzero(~corpus.held_apart)]
            head.save(
                head_path,
                metadata={
                    "train_config": dict(config.__dict__),
                    "fold": fold,
                    "level_dbfs": level_dbfs,
                    "history": histories[fold],
                    "train_speakers": train_spk,
                },
            )
            log.info("fold %d head written to %s", fold, head_path)
        heads[fold] = head
        for variant, emb in embeddings.items():
            methods = pooling_methods(corpus, emb, qualities, head)
            res = evaluate(corpus, methods, args.sets, args.seed)
            per_fold[variant].append(res)
            print(
                f"\n### Fold {fold} held-apart speakers ({int(corpus.held_apart.sum())}), "
                f"reference embeddings: {variant}\n"
            )
            print(format_table(res), flush=True)

    results = {v: pooled_results(r) for v, r in per_fold.items()}
    for variant, res in results.items():
        print(f"\n### Mean over folds {args.folds}, reference embeddings: {variant}\n")
        print(format_table(res))
    ok, reason = ship_decision(results["plain"])
    if 0 in heads:
        ok0, reason0 = ship_decision(per_fold["plain"][args.folds.index(0)])
        ok, reason = ok and ok0, f"folds mean: {reason}; fold 0: {reason0}"
    print(f"\nship trained head: {ok} ({reason})")
    summary = {
        "seed": args.seed,
        "level_dbfs": level_dbfs,
        "folds": args.folds,
        "train_config": dict(config.__dict__),
        "history": histories,
        "per_fold": per_fold,
        "results": results,
        "ship": ok,
        "ship_reason": reason,
    }
    out = args.work / f"results-seed{args.seed}{lt}{args.tag}.json"
    out.write_text(json.dumps(summary, indent=1))
    log.info("results written to %s", out)
    if args.ship:
        target = REPO / "src" / "voxref" / "data" / "pooling_head.pt"
        if ok and 0 in heads:
            fold0 = fold_split(full, 0, 4, args.seed)
            heads[0].save(
                target,
                metadata={
                    "train_config": dict(config.__dict__),
                    "trained_by": "scripts/train_pooling_head.py --ship",
                    "seed": args.seed,
                    "voices": "tuning voices of rotation A->B (benchmarks/corpus/voice_split.py)",
                    "train_speakers": [
                        fold0.speakers[i] for i in np.flatnonzero(~fold0.held_apart)
                    ],
                    "level_dbfs": level_dbfs,
                    "held_apart_fold0": per_fold["plain"][args.folds.index(0)]["trained head"],
                    "held_apart_mean_over_folds": results["plain"]["trained head"],
                },
            )
            print(f"wrote {target}")
        else:
            print(f"not shipping: {reason}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
