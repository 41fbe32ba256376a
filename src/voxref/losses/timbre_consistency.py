r"""Timbre-consistency loss: chunks of one utterance should embed alike.

Noise, reverberation and channel vary *within* a recording while the speaker's timbre does not, so
the embeddings ``e_1 .. e_K`` of ``K`` chunks of one (noisy) utterance should agree with each
other and, when a clean version is available, with the clean utterance's embedding ``e_clean``:

.. math::

    L_\text{tc} = \frac{1}{K} \sum_k \bigl(1 - \cos(e_k, \bar e)\bigr)
        \; + \; \beta \, \frac{1}{K} \sum_k \bigl(1 - \cos(e_k, e_\text{clean})\bigr),
    \qquad \bar e = \frac{1}{K} \sum_k e_k

(the second term only when ``e_clean`` is given), averaged over the batch. The chunk-agreement
term is voxref's design (``shared/README.md``: noise varies locally inside an utterance, timbre
does not); the clean term is the within-sample variability-invariant idea of Cai, Wang & Li,
"Within-sample Variability-invariant Loss for Robust Speaker Recognition under Noisy
Environments", ICASSP 2020 (arXiv:2002.00924), there with clean/noisy copies of one utterance.
It complements AAM-softmax / GE2E: neither says anything about agreement inside one recording.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ._common import REDUCTIONS, LossInputError, check_choice, reduce_loss

__all__ = ["TimbreConsistencyLoss"]


class TimbreConsistencyLoss(nn.Module):
    """Agreement of ``K`` chunk embeddings per utterance (and, optionally, with a clean embedding).

    Parameters
    ----------
    beta
        Weight of the chunk-vs-clean term (used only when ``clean`` is passed to ``forward``).
    normalize
        L2-normalise chunk embeddings before averaging them into ``e_bar`` (so every chunk counts
        equally, whatever its norm).
    reduction
        ``"mean"`` (default) or ``"sum"`` over the batch, or ``"none"`` for a ``(B,)`` tensor.

    Examples
    --------
    >>> import torch
    >>> loss_fn = TimbreConsistencyLoss(beta=0.5)
    >>> same = torch.tensor([1.0, 2.0, 3.0]).expand(2, 4, 3)  # (B=2, K=4, D=3), all chunks equal
    >>> loss_fn(same, clean=same[:, 0]).abs().item() < 1e-6
    True
    >>> noisy = same + 0.3 * torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    >>> bool(loss_fn(noisy, clean=same[:, 0]) > 0)
    True
    """

    def __init__(self, beta: float = 1.0, normalize: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        if beta < 0:
            raise ConfigError(f"beta must be >= 0 (the clean term's weight); got {beta}")
        self.beta = float(beta)
        self.normalize = bool(normalize)
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)

    def forward(self, chunks: torch.Tensor, clean: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of ``(B, K, D)`` chunk embeddings, optionally against ``(B, D)`` clean embeddings."""
        if chunks.ndim != 3:
            raise LossInputError(
                f"chunks must be shaped (batch, chunks, dim); got {tuple(chunks.shape)}"
            )
        if clean is not None and clean.shape != (chunks.shape[0], chunks.shape[2]):
            raise LossInputError(
                f"clean must be shaped ({chunks.shape[0]}, {chunks.shape[2]}) to match chunks "
                f"{tuple(chunks.shape)}; got {tuple(clean.shape)}"
            )
        unit = F.normalize(chunks, dim=-1)
        mean = (unit if self.normalize else chunks).mean(dim=1, keepdim=True)  # (B, 1, D)
        per_item = (1.0 - F.cosine_similarity(chunks, mean, dim=-1)).mean(dim=1)  # (B,)
        if clean is not None and self.beta > 0:
            to_clean = 1.0 - F.cosine_similarity(chunks, clean[:, None, :], dim=-1)
            per_item = per_item + self.beta * to_clean.mean(dim=1)
        return reduce_loss(per_item, self.reduction)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, normalize={self.normalize}, reduction={self.reduction!r}"
