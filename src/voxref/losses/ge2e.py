r"""Generalized end-to-end (GE2E) loss for speaker verification.

Wan, Wang, Papir & Lopez Moreno, "Generalized End-to-End Loss for Speaker Verification",
ICASSP 2018 (arXiv:1710.10467).

A batch holds ``N`` speakers with ``M`` utterances each; ``e_ji`` is the (unit-norm) embedding of
utterance ``i`` of speaker ``j`` and ``c_k = (1/M) sum_m e_km`` the centroid of speaker ``k``. For the
utterance's own speaker the centroid leaves the utterance out,
``c_j^(-i) = (sum_m e_jm - e_ji) / (M - 1)``, which keeps the trivial solution away. With a learnable
scale ``w > 0`` and offset ``b`` (initialised to 10 and -5):

.. math::

    S_{ji,k} = w \cos(e_{ji}, c_k^{(-i) \text{ if } k = j}) + b

    L_\text{softmax}(e_{ji}) = -S_{ji,j} + \log \sum_k \exp S_{ji,k}

    L_\text{contrast}(e_{ji}) = 1 - \sigma(S_{ji,j}) + \max_{k \ne j} \sigma(S_{ji,k})

The paper sums ``L`` over all ``(j, i)``; :class:`GE2ELoss` averages by default (``reduction``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._common import REDUCTIONS, LossInputError, check_choice, reduce_loss

__all__ = ["GE2ELoss", "ge2e_similarity"]

VARIANTS = ("softmax", "contrast")


def _check_batch(embeddings: torch.Tensor) -> None:
    if embeddings.ndim != 3:
        raise LossInputError(
            f"GE2E needs embeddings shaped (speakers, utterances, dim); got shape "
            f"{tuple(embeddings.shape)}. Reshape the batch to N speakers x M utterances."
        )
    n_speakers, n_utterances, _ = embeddings.shape
    if n_speakers < 2 or n_utterances < 2:
        raise LossInputError(
            f"GE2E needs at least 2 speakers and 2 utterances per speaker (the own centroid "
            f"leaves the utterance out); got {n_speakers} speakers x {n_utterances} utterances."
        )


def ge2e_similarity(embeddings: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Cosine similarity of every utterance to every speaker centroid, the own one leave-one-out.

    Parameters
    ----------
    embeddings
        ``(N, M, D)``: ``N`` speakers, ``M >= 2`` utterances each.
    normalize
        L2-normalise the embeddings before building centroids (the paper's ``e_ji`` are unit-norm).

    Returns
    -------
    torch.Tensor
        ``(N, M, N)``: entry ``[j, i, k]`` is ``cos(e_ji, c_k)``, with ``c_j^(-i)`` where ``k == j``.

    Examples
    --------
    >>> import torch
    >>> e = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> ge2e_similarity(e).round(decimals=4).tolist()
    [[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]]
    """
    _check_batch(embeddings)
    n_speakers, n_utterances, _ = embeddings.shape
    unit = F.normalize(embeddings, dim=-1)
    members = unit if normalize else embeddings  # what the centroids average
    sums = members.sum(dim=1)  # (N, D)
    centroids = F.normalize(sums / n_utterances, dim=-1)  # (N, D)
    exclusive = F.normalize((sums[:, None, :] - members) / (n_utterances - 1), dim=-1)
    cos_all = torch.einsum("jid,kd->jik", unit, centroids)  # (N, M, N)
    cos_own = (unit * exclusive).sum(dim=-1)  # (N, M)
    own = torch.eye(n_speakers, dtype=torch.bool, device=embeddings.device)[:, None, :]
    return torch.where(own, cos_own[:, :, None], cos_all)


class GE2ELoss(nn.Module):
    """GE2E loss (Wan et al. 2018) with learnable similarity scale ``w`` and offset ``b``.

    Parameters
    ----------
    variant
        ``"softmax"`` (cross-entropy over speakers) or ``"contrast"`` (own centroid vs the most
        similar other centroid, through a sigmoid).
    init_w, init_b
        Initial ``w`` and ``b`` (paper: 10 and -5).
    min_w
        ``w`` is clamped to at least this value in the forward pass, so it stays positive.
    normalize
        L2-normalise input embeddings first (set ``False`` only if they already are).
    reduction
        ``"mean"`` (default) or ``"sum"`` over the ``N*M`` utterances, or ``"none"`` for ``(N, M)``.

    Examples
    --------
    >>> import torch
    >>> loss_fn = GE2ELoss()
    >>> e = torch.randn(4, 5, 16, generator=torch.Generator().manual_seed(0), requires_grad=True)
    >>> loss = loss_fn(e)
    >>> loss.backward()
    >>> loss.ndim, bool(loss > 0), e.grad.shape
    (0, True, torch.Size([4, 5, 16]))
    >>> clustered = torch.eye(4)[:, None, :].expand(4, 5, 4)  # each speaker on its own axis
    >>> round(GE2ELoss(init_w=100.0)(clustered).item(), 6)
    0.0
    """

    def __init__(
        self,
        variant: str = "softmax",
        init_w: float = 10.0,
        init_b: float = -5.0,
        min_w: float = 1e-6,
        normalize: bool = True,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.variant = check_choice("variant", variant, VARIANTS)
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)
        self.min_w = float(min_w)
        self.normalize = bool(normalize)
        self.w = nn.Parameter(torch.tensor(float(init_w)))
        self.b = nn.Parameter(torch.tensor(float(init_b)))

    def similarity(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Scaled similarity matrix ``S``, shape ``(N, M, N)`` (see the module docstring)."""
        cos = ge2e_similarity(embeddings, normalize=self.normalize)
        return self.w.clamp(min=self.min_w) * cos + self.b

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Loss of a ``(N speakers, M utterances, D)`` batch, reduced as ``self.reduction`` says."""
        scores = self.similarity(embeddings)  # (N, M, N)
        n_speakers = scores.shape[0]
        own = torch.eye(n_speakers, dtype=torch.bool, device=scores.device)[:, None, :]
        own_score = scores.diagonal(dim1=0, dim2=2).transpose(0, 1)  # (N, M): S[j, i, j]
        if self.variant == "softmax":
            per_utterance = torch.logsumexp(scores, dim=-1) - own_score
        else:
            probs = torch.sigmoid(scores)
            hardest_other = probs.masked_fill(own, 0.0).amax(dim=-1)
            per_utterance = 1.0 - torch.sigmoid(own_score) + hardest_other
        return reduce_loss(per_utterance, self.reduction)

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, normalize={self.normalize}, reduction={self.reduction!r}"
