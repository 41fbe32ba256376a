"""A trainable, permutation-invariant attention head that pools a set of reference embeddings.

:class:`AttentivePooling` follows Pooling by Multihead Attention (PMA, Set Transformer, Lee et al.,
ICML 2019): each reference ``i`` becomes a token built from its embedding, its quality features
(:func:`voxref.embedder.pooling.quality.quality_features`) and set-relative features (its
leave-one-out agreement with the others and that agreement's offset from the set's mean); one
self-attention block lets the tokens see each other; then ``heads`` learned queries attend over the
tokens. The per-head attention maps are mixed with learned head weights into one weight per
reference, and the output is the normalised weighted sum of the *input* embeddings - the head
chooses weights, it never moves the embedding out of the encoder's space, and the weights explain
the result just like the parameter-free pooling's do.

Sets of 1..N references share a batch through a boolean ``mask`` (``True`` = present); padded
slots get weight exactly 0. Every operation is per token or a masked symmetric reduction, so
permuting the references permutes the weights and leaves the embedding unchanged.

Checkpoints (:meth:`AttentivePooling.save`) hold only tensors and plain Python values
(``{"format", "config", "state_dict", "metadata"}``) and load with
``torch.load(..., weights_only=True)``.

Importing this module imports torch.

Examples
--------
>>> import torch
>>> head = AttentivePooling(dim=8, seed=0)
>>> e = torch.nn.functional.normalize(torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
>>> mask = torch.tensor([[True, True, True], [True, True, False]])
>>> out, w = head(e, mask=mask)
>>> out.shape, w.shape, bool(w[1, 2] == 0)
(torch.Size([2, 8]), torch.Size([2, 3]), True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError
from ...loading.modules import SavedModule
from ...seeding import seeded_init
from .quality import QUALITY_FEATURE_NAMES, as_qualities, quality_features

__all__ = ["AttentivePooling", "CHECKPOINT_FORMAT", "set_features"]

CHECKPOINT_FORMAT = "voxref.pooling_head/1"

SET_FEATURE_NAMES = ("agreement", "agreement_offset")


def set_features(embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Set-relative features ``(B, N, 2)``: leave-one-out agreement and its offset from the set mean.

    ``embeddings`` ``(B, N, D)`` unit-norm, ``mask`` ``(B, N)`` bool. A lone reference has
    agreement 1 and offset 0; padded slots get zeros.
    """
    m = mask.to(embeddings.dtype)
    e = embeddings * m[..., None]
    total = e.sum(dim=1, keepdim=True)
    others = total - e
    agree = (embeddings * F.normalize(others, dim=-1, eps=1e-8)).sum(-1)
    count = m.sum(dim=1, keepdim=True)
    agree = torch.where(count > 1, agree, torch.ones_like(agree)) * m
    mean_agree = agree.sum(dim=1, keepdim=True) / count.clamp_min(1)
    offset = (agree - mean_agree) * m
    return torch.stack([agree, offset], dim=-1)


class AttentivePooling(SavedModule, nn.Module):
    """PMA-style pooling head over a set of reference embeddings (see the module docstring).

    Parameters
    ----------
    dim
        Embedding dimension of the encoder.
    quality_dim
        Number of quality features per reference (``len(QUALITY_FEATURE_NAMES)``).
    hidden
        Token width.
    heads
        Learned queries (and self-attention heads).
    embedding_dim
        Width of the projection of the embedding into each token (0: the head sees only the
        quality and set-relative features, not the embedding itself).
    dropout
        Dropout on tokens during training.
    prior_bias
        Add ``log(reliability)`` (quality feature 0, see
        :data:`~voxref.embedder.pooling.quality.QUALITY_FEATURE_NAMES`) to every head's attention
        logits, so the head starts from the parameter-free quality prior and learns corrections.
        References with no quality (all-zero features) get no bias.
    seed
        Seeds the initialisation (global RNG untouched); ``None`` uses torch's global RNG.

    Examples
    --------
    >>> head = AttentivePooling(dim=4, seed=0)
    >>> emb, w = head.pool(np.eye(4)[:3], qualities=[{"snr_db": 30.0}, None, None])
    >>> emb.shape, round(float(w.sum()), 5)
    ((4,), 1.0)
    """

    checkpoint_format = CHECKPOINT_FORMAT
    checkpoint_file = "pooling_head.pt"
    checkpoint_what = "pooling-head"
    trained_by = "scripts/train_pooling_head.py or use pooling='attention'"

    def __init__(
        self,
        dim: int = 256,
        quality_dim: int = len(QUALITY_FEATURE_NAMES),
        hidden: int = 64,
        heads: int = 4,
        embedding_dim: int = 16,
        dropout: float = 0.0,
        prior_bias: bool = True,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if hidden % heads:
            raise ConfigError(f"hidden={hidden} must be divisible by heads={heads}.")
        self.config = {
            "dim": int(dim),
            "quality_dim": int(quality_dim),
            "hidden": int(hidden),
            "heads": int(heads),
            "embedding_dim": int(embedding_dim),
            "dropout": float(dropout),
            "prior_bias": bool(prior_bias),
        }
        with seeded_init(seed):
            in_dim = quality_dim + len(SET_FEATURE_NAMES) + embedding_dim
            self.embed_proj = nn.Linear(dim, embedding_dim) if embedding_dim > 0 else None
            self.token = nn.Sequential(
                nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden)
            )
            self.norm1 = nn.LayerNorm(hidden)
            self.self_attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
            self.norm2 = nn.LayerNorm(hidden)
            self.ff = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden))
            self.query = nn.Parameter(
                torch.randn(heads, hidden // heads) / math.sqrt(hidden // heads)
            )
            self.key = nn.Linear(hidden, hidden)
            self.head_logits = nn.Parameter(torch.zeros(heads))
            self.dropout = nn.Dropout(dropout)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        embeddings: torch.Tensor,
        qualities: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool ``(B, N, D)`` embeddings; returns ``(B, D)`` unit-norm embeddings and ``(B, N)`` weights.

        ``qualities`` is ``(B, N, quality_dim)`` (``None``: all unknown, zeros); ``mask`` ``(B, N)``
        bool (``None``: all present). A ``(N, D)`` input is treated as one set.
        """
        single = embeddings.ndim == 2
        if single:
            embeddings = embeddings[None]
            qualities = None if qualities is None else qualities[None]
            mask = None if mask is None else mask[None]
        if embeddings.ndim != 3 or embeddings.shape[-1] != self.config["dim"]:
            raise ConfigError(
                f"embeddings must be (batch, refs, {self.config['dim']}); got {tuple(embeddings.shape)}."
            )
        b, n, _ = embeddings.shape
        if mask is None:
            mask = torch.ones(b, n, dtype=torch.bool, device=embeddings.device)
        mask = mask.to(torch.bool)
        if not bool(mask.any(dim=1).all()):
            raise ConfigError(
                "every set needs at least one present reference (mask row all False)."
            )
        if qualities is None:
            qualities = embeddings.new_zeros(b, n, self.config["quality_dim"])
        e = F.normalize(embeddings, dim=-1)
        parts = [qualities.to(e.dtype), set_features(e, mask)]
        if self.embed_proj is not None:
            parts.append(self.embed_proj(e))
        h = self.dropout(self.token(torch.cat(parts, dim=-1)))
        # one self-attention block (pre-norm), padded tokens masked out as keys
        hn = self.norm1(h)
        att, _ = self.self_attn(hn, hn, hn, key_padding_mask=~mask, need_weights=False)
        h = h + att
        h = h + self.ff(self.norm2(h))
        # PMA: learned queries attend over the tokens
        heads = self.config["heads"]
        k = self.key(h).view(b, n, heads, -1)  # (B, N, H, dk)
        scores = torch.einsum("bnhd,hd->bhn", k, self.query) / math.sqrt(k.shape[-1])
        if self.config["prior_bias"]:
            # start from the parameter-free quality prior: + log reliability (feature 0)
            prior = qualities[..., 0].to(e.dtype).clamp_min(1e-4).log()
            prior = torch.where(qualities[..., 0] > 0, prior, torch.zeros_like(prior))
            scores = scores + prior[:, None, :]
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        att = torch.softmax(scores, dim=-1)  # (B, H, N)
        weights = torch.einsum("h,bhn->bn", torch.softmax(self.head_logits, dim=0), att)
        weights = weights * mask
        weights = weights / weights.sum(dim=1, keepdim=True)
        pooled = F.normalize(torch.einsum("bn,bnd->bd", weights, e), dim=-1)
        if single:
            return pooled[0], weights[0]
        return pooled, weights

    @torch.no_grad()
    def pool(
        self, embeddings: np.ndarray, qualities: Sequence[Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """numpy convenience: ``(R, D)`` embeddings (+ qualities) -> ``((D,), (R,))`` float32.

        ``qualities`` as for :func:`voxref.embedder.pooling.reference_weights`.
        """
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ConfigError(f"embeddings must be a non-empty (refs, dim) array; got {x.shape}.")
        qs = as_qualities(qualities, x.shape[0])
        feats = quality_features(qs if qs is not None else [None] * x.shape[0])
        was_training = self.training
        self.eval()
        try:
            param = next(self.parameters())
            emb, w = self(
                torch.from_numpy(x).to(param.device, param.dtype),
                torch.from_numpy(feats).to(param.device, param.dtype),
            )
        finally:
            self.train(was_training)
        return emb.cpu().numpy().astype(np.float32), w.cpu().numpy().astype(np.float32)
