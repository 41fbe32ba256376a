"""The training objective: speaker loss(es) + timbre consistency + vCLUB nuisance penalty.

.. math::

    L = w_\\text{ge2e} L_\\text{GE2E} + w_\\text{aam} L_\\text{AAM}
        + w_\\text{tc} L_\\text{tc} + \\lambda \\hat I_\\text{vCLUB}(e; \\nu)

where ``e`` are the embeddings of the augmented crops and ``nu`` their nuisance vectors
(:func:`voxref.augment.nuisance_vector`). The vCLUB estimator is fitted separately (its own
optimiser, detached inputs) before each penalty, as :class:`voxref.losses.MIRegularizer` does.

Examples
--------
>>> import torch
>>> from voxref.train.config import TrainConfig
>>> obj = Objective(TrainConfig(timbre_weight=0.5), dimension=8, num_speakers=3)
>>> sorted(n for n, _ in obj.named_children())
['ge2e', 'timbre']
"""

from __future__ import annotations

import torch
from torch import nn

from ..augment import NUISANCE_FIELDS
from ..losses import VCLUB, AAMSoftmax, GE2ELoss, MIRegularizer, TimbreConsistencyLoss
from .config import TrainConfig

__all__ = ["Objective"]


class Objective(nn.Module):
    """Losses with trainable parameters (GE2E's ``w``/``b``, AAM's class weights) and the vCLUB
    estimator (trained by its own optimiser: keep it out of the main one, see
    :meth:`main_parameters`).

    Parameters
    ----------
    config
        Which losses, their weights and options.
    dimension
        Embedding size.
    num_speakers
        Training speakers (AAM classes).
    ge2e_init
        Initial GE2E ``(w, b)``; default the paper's ``(10, -5)``.
    """

    def __init__(
        self,
        config: TrainConfig,
        dimension: int,
        num_speakers: int,
        ge2e_init: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        w, b = ge2e_init or (10.0, -5.0)
        self.ge2e = (
            GE2ELoss(config.ge2e_variant, init_w=w, init_b=b) if "ge2e" in config.loss else None
        )
        if self.ge2e is not None and config.ge2e_variant == "softmax":
            # b shifts every logit of a row alike: the softmax variant does not depend on it, its
            # gradient is rounding noise, and Adam would turn that noise into lr-sized steps
            self.ge2e.b.requires_grad_(False)
        self.aam = (
            AAMSoftmax(
                dimension,
                num_speakers,
                margin=config.aam_margin,
                scale=config.aam_scale,
                seed=config.seed,
            )
            if "aam" in config.loss
            else None
        )
        self.timbre = (
            TimbreConsistencyLoss(beta=config.timbre_beta) if config.timbre_weight > 0 else None
        )
        self.club = None
        self.mi = None
        if config.mi_weight > 0:
            self.club = VCLUB(dimension, len(NUISANCE_FIELDS), config.mi_hidden, seed=config.seed)
            self.mi = MIRegularizer(
                self.club,
                torch.optim.Adam(self.club.parameters(), lr=config.mi_lr),
                lambda_mi=config.mi_weight,
                steps=config.mi_steps,
            )

    def main_parameters(self) -> list[nn.Parameter]:
        """Parameters the main optimiser updates (not the vCLUB estimator's, nor fixed ones)."""
        return [
            p for n, p in self.named_parameters() if not n.startswith("club.") and p.requires_grad
        ]

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        num_speakers: int,
        num_utterances: int,
        nuisance: torch.Tensor | None = None,
        chunks: torch.Tensor | None = None,
        clean: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Loss terms of one batch; ``"loss"`` is the weighted total to back-propagate.

        Parameters
        ----------
        embeddings
            ``(B, D)`` crop embeddings (speaker-major ``N x M`` for GE2E).
        labels
            ``(B,)`` speaker indices.
        num_speakers, num_utterances
            ``N`` and ``M`` (GE2E).
        nuisance
            ``(B, F)`` nuisance vectors (vCLUB penalty).
        chunks, clean
            ``(U, K, D)`` chunk embeddings and ``(U, D)`` clean embeddings (timbre loss).
        """
        cfg = self.config
        terms: dict[str, torch.Tensor] = {}
        total = embeddings.new_zeros(())
        if self.ge2e is not None:
            grid = embeddings.reshape(num_speakers, num_utterances, -1)
            terms["ge2e"] = self.ge2e(grid)
            total = total + cfg.ge2e_weight * terms["ge2e"]
        if self.aam is not None:
            terms["aam"] = self.aam(embeddings, labels)
            total = total + cfg.aam_weight * terms["aam"]
        if self.timbre is not None and chunks is not None:
            terms["timbre"] = self.timbre(chunks, clean)
            total = total + cfg.timbre_weight * terms["timbre"]
        if self.mi is not None and nuisance is not None:
            unit = nn.functional.normalize(embeddings, dim=-1)
            terms["club_nll"] = torch.tensor(self.mi.update_estimator(unit, nuisance))
            terms["mi"] = self.mi.penalty(unit, nuisance) / max(cfg.mi_weight, 1e-12)
            total = total + cfg.mi_weight * terms["mi"]
        terms["loss"] = total
        return terms
