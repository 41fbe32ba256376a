"""Seeded data augmentation for training and for benchmark degradations.

One transform per module, each a class (``Transform(...)(samples, sample_rate, seed=...)``)
and a function:

==================  ====================================================================
module              what
==================  ====================================================================
``levels``          active power, SNR/SIR in dB (the one definition every transform uses)
``noise``           white / pink / brown / recorded noise at an SNR (:class:`AddNoise`)
``babble``          sum of other talkers at an SNR (:class:`AddBabble`)
``reverb``          synthetic / recorded / shoebox RIRs, RT60 measurement (:class:`Reverb`)
``bandlimit``       telephone channel + mu/A-law, low/band-pass (:class:`Telephone`, :class:`BandLimit`)
``gain``            gain and hard clipping (:class:`Gain`, :class:`Clip`)
``overlap``         interfering talker over part of the target, with masks (:class:`Overlap`)
``speed``           speed perturbation and pitch shift (:class:`SpeedPerturb`, :class:`PitchShift`)
``compose``         :class:`Compose`, :class:`OneOf`, :class:`AugmentLog`, :func:`nuisance_vector`
==================  ====================================================================

Every random call takes ``seed`` or ``rng`` (numpy Generator); batches of ``(B, T)`` tensors go
through ``Transform.apply_batch(batch, sample_rate, generator=torch.Generator)`` (seed scheme in
:mod:`voxref.augment.base`). Importing this package loads numpy only (scipy and torch load when
first needed).

Examples
--------
>>> import numpy as np
>>> import voxref.augment as A
>>> x = np.sin(np.arange(16000) / 9).astype(np.float32)
>>> chain = A.Compose([(A.Reverb((0.3, 0.9)), 0.5), A.AddNoise((5.0, 20.0), ["white", "pink"])])
>>> y, log = chain.augment(x, 16000, seed=7)
>>> y.dtype, y.shape, A.nuisance_vector(log).shape
(dtype('float32'), (16000,), (18,))
"""

from .babble import AddBabble, add_babble, make_babble
from .bandlimit import (
    BandLimit,
    Telephone,
    bandpass,
    companding,
    highpass,
    lowpass,
    telephone,
)
from .base import Transform, batch_seeds, make_rng
from .compose import (
    NUISANCE_FIELDS,
    AppliedTransform,
    AugmentLog,
    Compose,
    OneOf,
    nuisance_matrix,
    nuisance_vector,
)
from .gain import Clip, Gain, apply_gain, clip
from .levels import active_power, active_power_torch, snr_db
from .noise import AddNoise, add_noise, colored_noise, mix_at_snr
from .overlap import Overlap, OverlapResult, add_overlap
from .reverb import Reverb, convolve_rir, measure_rt60, reverberate, synthetic_rir
from .sources import SourceBank
from .speed import PitchShift, SpeedPerturb, pitch_shift, speed_perturb, time_stretch

__all__ = [
    # base and levels
    "Transform",
    "make_rng",
    "batch_seeds",
    "active_power",
    "active_power_torch",
    "snr_db",
    "SourceBank",
    # transforms
    "AddNoise",
    "add_noise",
    "colored_noise",
    "mix_at_snr",
    "AddBabble",
    "add_babble",
    "make_babble",
    "Reverb",
    "reverberate",
    "synthetic_rir",
    "convolve_rir",
    "measure_rt60",
    "Telephone",
    "telephone",
    "BandLimit",
    "lowpass",
    "highpass",
    "bandpass",
    "companding",
    "Gain",
    "apply_gain",
    "Clip",
    "clip",
    "Overlap",
    "OverlapResult",
    "add_overlap",
    "SpeedPerturb",
    "speed_perturb",
    "PitchShift",
    "pitch_shift",
    "time_stretch",
    # composition
    "Compose",
    "OneOf",
    "AugmentLog",
    "AppliedTransform",
    "NUISANCE_FIELDS",
    "nuisance_vector",
    "nuisance_matrix",
]
