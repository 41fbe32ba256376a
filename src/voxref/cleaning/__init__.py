"""Cleaning stage: voice activity detection, denoising and a quality report per reference.

Importing this package is cheap (numpy only): onnxruntime, torch, noisereduce and the
DeepFilterNet runtime load on first use.

Examples
--------
>>> import numpy as np
>>> from voxref.cleaning import clean
>>> rng = np.random.default_rng(0)
>>> result = clean((0.01 * rng.standard_normal(16000).astype(np.float32), 16000), denoise="off")
>>> result.report.verdict
'reject'
"""

from .denoise import (
    AUTO_SNR_THRESHOLD_DB,
    DEFAULT_POLICY,
    DENOISE_POLICIES,
    AutoDenoiser,
    Denoiser,
    NoDenoiser,
    SpectralGate,
    get_denoiser,
)
from .dfn3 import DeepFilterNet3
from .pipeline import CleanResult, check, clean, concatenate_regions
from .quality import (
    QualityReport,
    assess,
    clipping_ratio,
    estimate_bandwidth,
    format_reports,
    level_dbfs,
)
from .snr import SNREstimate, estimate_snr, measure_snr, snr_against_reference
from .vad import EnergyVAD, SileroVAD, SpeechRegions, VoiceActivityDetector, detect_speech, get_vad

__all__ = [
    "clean",
    "check",
    "CleanResult",
    "concatenate_regions",
    "QualityReport",
    "assess",
    "format_reports",
    "clipping_ratio",
    "estimate_bandwidth",
    "level_dbfs",
    "detect_speech",
    "get_vad",
    "SpeechRegions",
    "VoiceActivityDetector",
    "SileroVAD",
    "EnergyVAD",
    "estimate_snr",
    "measure_snr",
    "snr_against_reference",
    "SNREstimate",
    "Denoiser",
    "NoDenoiser",
    "SpectralGate",
    "DeepFilterNet3",
    "AutoDenoiser",
    "get_denoiser",
    "DENOISE_POLICIES",
    "DEFAULT_POLICY",
    "AUTO_SNR_THRESHOLD_DB",
]
