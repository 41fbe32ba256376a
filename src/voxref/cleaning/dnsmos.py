"""Opt-in DNSMOS P.835 scores through ``speechmos`` (ONNX models inside its wheel; 2-4 s per clip).

DNSMOS (Reddy et al., Microsoft) predicts the mean opinion scores listeners would give: ``sig_mos``
(speech signal), ``bak_mos`` (background), ``ovrl_mos`` (overall) and ``p808_mos``. Slow and
meant for reports and benchmarks, not for every call.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from ..audio.resample import resample
from ..errors import optional_dependency

__all__ = ["dnsmos_scores", "DNSMOS_SAMPLE_RATE"]

log = logging.getLogger(__name__)

#: DNSMOS models take 16 kHz audio.
DNSMOS_SAMPLE_RATE = 16_000
_LOCK = threading.Lock()  # speechmos keeps its model in a module global


def dnsmos_scores(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """DNSMOS P.835 scores of mono ``samples`` at ``sample_rate`` (resampled to 16 kHz).

    Returns
    -------
    dict
        ``ovrl_mos``, ``sig_mos``, ``bak_mos``, ``p808_mos`` (1 = bad ... 5 = excellent).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = dnsmos_scores(0.1 * rng.standard_normal(16000), 16000)  # doctest: +SKIP
    >>> sorted(s)  # doctest: +SKIP
    ['bak_mos', 'ovrl_mos', 'p808_mos', 'sig_mos']
    """
    with optional_dependency("speechmos", "speechmos librosa", "DNSMOS quality scores"):
        from speechmos import dnsmos
    x = np.asarray(samples, dtype=np.float32)
    if sample_rate != DNSMOS_SAMPLE_RATE:
        x = resample(x, sample_rate, DNSMOS_SAMPLE_RATE)
    x = np.clip(x, -1.0, 1.0)  # speechmos refuses samples outside [-1, 1]
    with _LOCK:
        out = dnsmos.run(x, DNSMOS_SAMPLE_RATE)
    return {k: float(out[k]) for k in ("ovrl_mos", "sig_mos", "bak_mos", "p808_mos")}
