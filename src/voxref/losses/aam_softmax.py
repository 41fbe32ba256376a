r"""Additive angular margin softmax (AAM-softmax, ArcFace).

Deng, Guo, Xue & Zafeiriou, "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
CVPR 2019 (arXiv:1801.07698); the speaker-verification form used to train ECAPA-TDNN
(Desplanques et al., Interspeech 2020) with margin 0.2 and scale 30.

With unit-norm embedding ``x``, unit-norm class weights ``W_c`` and ``cos(theta_c) = W_c . x``,
the target class ``y`` gets its angle widened by ``m`` before a softmax with scale ``s``:

.. math::

    L = -\log \frac{e^{s \psi(\theta_y)}}{e^{s \psi(\theta_y)} + \sum_{c \ne y} e^{s \cos\theta_c}},
    \qquad \psi(\theta) = \cos(\theta + m)

``cos(theta + m)`` stops decreasing once ``theta + m > pi``, which would reward pushing the
embedding further *away* from its class. As in ArcFace, for ``theta > pi - m`` (i.e.
``cos(theta) < th = cos(pi - m)``) the target logit is ``cos(theta) - mm`` with
``mm = sin(pi - m) * m`` instead, which keeps ``psi`` monotonic. ``easy_margin`` applies the margin
only where ``cos(theta) > 0`` and leaves the rest unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..seeding import seeded_init
from ._common import REDUCTIONS, LossInputError, check_choice

__all__ = ["AAMSoftmax"]


class AAMSoftmax(nn.Module):
    """AAM-softmax classification loss with its own ``(num_classes, dimension)`` weight matrix.

    Parameters
    ----------
    dimension
        Embedding size ``D``.
    num_classes
        Number of training speakers (classes).
    margin
        Additive angular margin ``m`` in radians (ECAPA-TDNN: 0.2).
    scale
        Logit scale ``s`` (ECAPA-TDNN: 30).
    easy_margin
        Apply the margin only where ``cos(theta) > 0`` (instead of the ``th``/``mm`` fallback).
    reduction
        ``"mean"``, ``"sum"`` or ``"none"``, as in :func:`torch.nn.functional.cross_entropy`.
    seed
        Seed for the Xavier-normal initialisation of the weights; ``None`` uses torch's global RNG.

    Examples
    --------
    >>> import torch
    >>> loss_fn = AAMSoftmax(dimension=8, num_classes=3, seed=0)
    >>> x = torch.randn(5, 8, generator=torch.Generator().manual_seed(1), requires_grad=True)
    >>> labels = torch.tensor([0, 1, 2, 0, 1])
    >>> loss = loss_fn(x, labels)
    >>> loss.backward()
    >>> bool(loss > 0), x.grad.shape, loss_fn.weight.grad.shape
    (True, torch.Size([5, 8]), torch.Size([3, 8]))
    >>> on_class = loss_fn.weight.detach()[labels]  # embeddings equal to their class weights
    >>> bool(loss_fn(on_class, labels) < loss)
    True
    """

    def __init__(
        self,
        dimension: int,
        num_classes: int,
        margin: float = 0.2,
        scale: float = 30.0,
        easy_margin: bool = False,
        reduction: str = "mean",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if dimension < 1 or num_classes < 2:
            raise ConfigError(
                f"AAMSoftmax needs dimension >= 1 and num_classes >= 2; got {dimension}, {num_classes}"
            )
        self.dimension = int(dimension)
        self.num_classes = int(num_classes)
        self.margin = float(margin)
        self.scale = float(scale)
        self.easy_margin = bool(easy_margin)
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)
        self.weight = nn.Parameter(torch.empty(self.num_classes, self.dimension))
        with seeded_init(seed):
            nn.init.xavier_normal_(self.weight)
        self._cos_m = math.cos(self.margin)
        self._sin_m = math.sin(self.margin)
        self._th = math.cos(math.pi - self.margin)
        self._mm = math.sin(math.pi - self.margin) * self.margin

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(B, num_classes)`` cosine between each embedding and each class weight."""
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dimension:
            raise LossInputError(
                f"AAMSoftmax expects embeddings shaped (batch, {self.dimension}); "
                f"got {tuple(embeddings.shape)}"
            )
        return F.linear(F.normalize(embeddings, dim=-1), F.normalize(self.weight, dim=-1))

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Scaled logits with the margin applied to each row's target class, ``(B, num_classes)``."""
        cos = self.cosine(embeddings)
        if labels.shape != cos.shape[:1]:
            raise LossInputError(
                f"labels must be shaped ({cos.shape[0]},) to match the embeddings; "
                f"got {tuple(labels.shape)}"
            )
        # the floor keeps d(sin)/d(cos) finite when an embedding sits exactly on its class weight
        sin = (1.0 - cos.square()).clamp(min=1e-7).sqrt()
        phi = cos * self._cos_m - sin * self._sin_m  # cos(theta + m)
        if self.easy_margin:
            phi = torch.where(cos > 0, phi, cos)
        else:
            phi = torch.where(cos > self._th, phi, cos - self._mm)
        target = F.one_hot(labels.long(), self.num_classes).to(torch.bool)
        return self.scale * torch.where(target, phi, cos)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """AAM-softmax cross-entropy of ``(B, D)`` embeddings against ``(B,)`` integer labels."""
        return F.cross_entropy(
            self.logits(embeddings, labels), labels.long(), reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return (
            f"dimension={self.dimension}, num_classes={self.num_classes}, margin={self.margin}, "
            f"scale={self.scale}, easy_margin={self.easy_margin}"
        )
