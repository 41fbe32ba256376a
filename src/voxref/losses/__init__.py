"""Training objectives and mutual-information estimators (torch ``nn.Module`` s).

- :class:`GE2ELoss`: generalized end-to-end loss (Wan et al. 2018), softmax and contrast variants.
- :class:`AAMSoftmax`: additive angular margin softmax (ArcFace, Deng et al. 2019).
- :class:`TimbreConsistencyLoss`: chunks of one utterance (and its clean version) embed alike.
- :class:`VCLUB`: variational CLUB upper bound of MI (Cheng et al. 2020), to minimise.
- :class:`InfoNCE`: InfoNCE lower bound of MI, to maximise.
- :class:`MIRegularizer`: VQMIVC's alternating schedule around an MI estimator.

Importing this package imports torch.

Examples
--------
>>> import torch
>>> from voxref.losses import GE2ELoss
>>> GE2ELoss()(torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(0))).ndim
0
"""

from ._common import LossInputError
from .aam_softmax import AAMSoftmax
from .ge2e import GE2ELoss, ge2e_similarity
from .mi import VCLUB, InfoNCE, MIEstimator, MIRegularizer
from .timbre_consistency import TimbreConsistencyLoss

__all__ = [
    "GE2ELoss",
    "ge2e_similarity",
    "AAMSoftmax",
    "TimbreConsistencyLoss",
    "VCLUB",
    "InfoNCE",
    "MIRegularizer",
    "MIEstimator",
    "LossInputError",
]
