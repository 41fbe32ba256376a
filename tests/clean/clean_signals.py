"""Signal helpers for the cleaning tests: speech with silences at known places, seeded noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 16_000


def trim(x: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    """Drop leading/trailing samples below ``threshold`` (synthesiser silence)."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    return x[idx[0] : idx[-1] + 1]


@dataclass(frozen=True)
class SpeechWithPauses:
    """Utterances separated by silences: ``samples`` and the true speech spans (seconds)."""

    samples: np.ndarray
    spans: tuple[tuple[float, float], ...]

    @property
    def mask(self) -> np.ndarray:
        m = np.zeros(len(self.samples), dtype=bool)
        for s, e in self.spans:
            m[int(round(s * SR)) : int(round(e * SR))] = True
        return m


def build(utts: list[np.ndarray], pauses: list[float]) -> SpeechWithPauses:
    """``pauses[0]`` s of silence, then each utterance followed by the next pause."""
    parts = [np.zeros(int(pauses[0] * SR), np.float32)]
    spans, t = [], len(parts[0])
    for u, p in zip(utts, pauses[1:]):
        spans.append((t / SR, (t + len(u)) / SR))
        gap = np.zeros(int(p * SR), np.float32)
        parts += [u.astype(np.float32), gap]
        t += len(u) + len(gap)
    return SpeechWithPauses(np.concatenate(parts), tuple(spans))


def white_noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def pink_noise(n: int, seed: int) -> np.ndarray:
    """1/f power spectrum above 20 Hz (flat below), unit variance."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    y = np.fft.irfft(spectrum / np.sqrt(np.maximum(f, 20.0)), n)
    return y / np.std(y)


def add_noise(
    clean: np.ndarray, speech_mask: np.ndarray, noise: np.ndarray, snr_db: float
) -> np.ndarray:
    """``clean + g * noise`` with g set for an active-speech SNR of ``snr_db`` (speech power on the mask)."""
    p_speech = np.mean(clean[speech_mask].astype(np.float64) ** 2)
    g = np.sqrt(p_speech / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return (clean + g * noise).astype(np.float32)


def babble(talkers: list[list[np.ndarray]], n: int, seed: int) -> np.ndarray:
    """Sum of the talkers (each a list of utterances, played back to back from a random point,
    looped) at equal power: ``n`` samples of babble."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    for utts in talkers:
        talk = np.concatenate([utts[i] for i in rng.permutation(len(utts))])
        talk = np.tile(talk, n // len(talk) + 2)
        start = int(rng.integers(len(talk) - n))
        seg = talk[start : start + n].astype(np.float64)
        out += seg / np.sqrt(np.mean(seg**2))
    return out
