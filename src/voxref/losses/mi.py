r"""Mutual-information estimators: vCLUB (upper bound, to minimise) and InfoNCE (lower bound).

**vCLUB** (Cheng, Hao, Dai, Liu, Gan & Carin, "CLUB: A Contrastive Log-ratio Upper Bound of Mutual
Information", ICML 2020, arXiv:2006.12013). A Gaussian ``q(y|x) = N(mu(x), diag(exp(logvar(x))))``
is fitted by maximum likelihood on paired samples; then

.. math::

    \hat I_\text{vCLUB} = \frac{1}{N} \sum_i \Bigl[\log q(y_i|x_i)
        - \frac{1}{N} \sum_j \log q(y_j|x_i)\Bigr]

is an upper bound of ``I(X; Y)`` when ``q`` is close to ``p(y|x)``. The sampled version (vCLUB-S)
replaces the inner mean by one negative ``y_{k_i}`` per row, ``k`` a random permutation, which costs
``O(N)`` instead of ``O(N^2)`` and has the same expectation. The Gaussian's normalising terms
cancel in each log-ratio, which is ``sum_d [(y_k - mu_i)^2 - (y_i - mu_i)^2] / (2 var_i)``. As in
the reference code (``Linear95/CLUB``), ``logvar`` goes through ``tanh``, so variances lie in
``[e^-1, e]``: scale ``y`` to roughly unit variance. The floor also caps the estimate for
near-deterministic relations at about ``e * Var(y)`` nats per dimension (2.7 for unit
variance), where it stops being an upper bound; as a penalty that cap keeps gradients bounded.

To *remove* information (VQMIVC, Wang et al., Interspeech 2021, with ``lambda = 0.01``), alternate:
a few likelihood steps of ``q`` on detached inputs, then ``lambda * I_vCLUB`` added to the main loss
(:class:`MIRegularizer`). Unlike the reference code, the hidden activation defaults to ELU: in
that alternation ReLU units of ``q`` die once the encoder hides the dependence, and a ``q`` with
dead units no longer sees it when it comes back (measured in ``tests/losses/test_mi.py``).

**InfoNCE** (van den Oord, Li & Vinyals, "Representation Learning with Contrastive Predictive
Coding", 2018; as a bound: Poole et al., "On Variational Bounds of Mutual Information", ICML 2019).
With a critic ``f(x, y)`` and ``N`` pairs,

.. math::

    \hat I_\text{NCE} = \log N - \frac{1}{N} \sum_i \Bigl[-f(x_i, y_i)
        + \log \sum_j e^{f(x_i, y_j)}\Bigr] \le \log N,

a lower bound of ``I(X; Y)``: use it where information should *rise* (maximise it).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..seeding import seeded_init
from ._common import LossInputError, check_choice

__all__ = ["VCLUB", "InfoNCE", "MIRegularizer", "MIEstimator"]

_LOG_2PI = math.log(2.0 * math.pi)
_ACTIVATIONS: dict[str, type[nn.Module]] = {"elu": nn.ELU, "relu": nn.ReLU}


def _check_pairs(x: torch.Tensor, y: torch.Tensor, x_dim: int, y_dim: int) -> None:
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != x_dim or y.shape[1] != y_dim:
        raise LossInputError(
            f"expected x shaped (N, {x_dim}) and y shaped (N, {y_dim}); "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise LossInputError(
            f"x and y must hold the same number N >= 2 of paired samples; "
            f"got {x.shape[0]} and {y.shape[0]}"
        )


class MIEstimator(Protocol):
    """What :class:`MIRegularizer` needs: an estimate to penalise and a loss that fits the estimator."""

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...

    def learning_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...

    def parameters(self) -> Iterator[nn.Parameter]: ...


class VCLUB(nn.Module):
    """Variational CLUB upper bound of ``I(X; Y)`` with a diagonal-Gaussian ``q(y|x)``.

    Parameters
    ----------
    x_dim, y_dim
        Sizes of the ``x`` and ``y`` samples.
    hidden
        Hidden units of the two one-hidden-layer networks ``mu(x)`` and ``logvar(x)``.
    activation
        Their hidden activation: ``"elu"`` (default; keeps adversarially trained ``q`` alive) or
        ``"relu"`` (as in the reference code).
    mode
        ``"sampled"`` (vCLUB-S: one shuffled negative per sample, ``O(N)``) or ``"pairwise"``
        (all ``N^2`` pairs, lower variance).
    seed
        Seeds the parameter initialisation and the generator that draws the negatives.
        ``None``: parameters from torch's global RNG, negatives from a private generator with
        torch's default seed (global RNG state is never consumed by ``forward``).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(256, 2, generator=g)
    >>> y = x + 0.1 * torch.randn(256, 2, generator=g)  # y almost a copy of x
    >>> club = VCLUB(2, 2, hidden=32, seed=0)
    >>> opt = torch.optim.Adam(club.parameters(), lr=1e-2)
    >>> for _ in range(200):
    ...     opt.zero_grad()
    ...     club.learning_loss(x, y).backward()
    ...     opt.step()
    >>> bool(club(x, y) > 2.0)  # nats; independent pairs give ~0
    True
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden: int = 64,
        *,
        activation: str = "elu",
        mode: str = "sampled",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.x_dim, self.y_dim, self.hidden = int(x_dim), int(y_dim), int(hidden)
        self.mode = check_choice("mode", mode, ("sampled", "pairwise"))
        self.activation = check_choice("activation", activation, tuple(_ACTIVATIONS))
        act = _ACTIVATIONS[self.activation]
        with seeded_init(seed):
            self.mu_net = nn.Sequential(
                nn.Linear(self.x_dim, self.hidden), act(), nn.Linear(self.hidden, self.y_dim)
            )
            self.logvar_net = nn.Sequential(
                nn.Linear(self.x_dim, self.hidden),
                act(),
                nn.Linear(self.hidden, self.y_dim),
                nn.Tanh(),
            )
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def mu_logvar(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of ``q(y|x)``, each ``(N, y_dim)``."""
        return self.mu_net(x), self.logvar_net(x)

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean of ``log q(y_i | x_i)`` over the batch, in nats (normalised Gaussian density)."""
        _check_pairs(x, y, self.x_dim, self.y_dim)
        mu, logvar = self.mu_logvar(x)
        per_dim = (y - mu).square() * torch.exp(-logvar) + logvar + _LOG_2PI
        return -0.5 * per_dim.sum(dim=-1).mean()

    def learning_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of ``y`` under ``q(y|x)``: minimise it to fit ``q``."""
        return -self.log_likelihood(x, y)

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """MI upper-bound estimate (nats, scalar) from ``N`` paired rows of ``x`` and ``y``.

        ``generator`` (CPU) draws the sampled negatives; by default the module's own one.
        """
        _check_pairs(x, y, self.x_dim, self.y_dim)
        mu, logvar = self.mu_logvar(x)
        inv_var = torch.exp(-logvar)
        positive = (y - mu).square()  # (N, D)
        if self.mode == "sampled":
            perm = torch.randperm(
                x.shape[0], generator=self.generator if generator is None else generator
            )
            negative = (y[perm.to(y.device)] - mu).square()  # (N, D)
        else:
            negative = (y[None, :, :] - mu[:, None, :]).square().mean(dim=1)  # (N, D): mean over j
        return (0.5 * (negative - positive) * inv_var).sum(dim=-1).mean()

    def extra_repr(self) -> str:
        return (
            f"x_dim={self.x_dim}, y_dim={self.y_dim}, hidden={self.hidden}, "
            f"activation={self.activation!r}, mode={self.mode!r}"
        )


class InfoNCE(nn.Module):
    """InfoNCE lower bound of ``I(X; Y)`` with a learned critic; maximise it to make MI rise.

    Parameters
    ----------
    x_dim, y_dim
        Sizes of the ``x`` and ``y`` samples.
    critic
        ``"separable"``: ``f(x, y) = g(x) . h(y)`` with one-hidden-layer MLPs ``g``, ``h``;
        ``"bilinear"``: ``f(x, y) = x^T W y`` with ``W`` starting at zero (estimate starts at 0);
        suits unit-norm embeddings. For free-scale data it cannot express the ``-|y_j|^2`` term
        of a Gaussian log-ratio and saturates well below the true MI.
    hidden, embed_dim
        Hidden units and output size of ``g`` and ``h`` (separable critic only).
    seed
        Seeds the critic's initialisation; ``None`` uses torch's global RNG.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(64, 2, generator=g)
    >>> y = x + 0.1 * torch.randn(64, 2, generator=g)
    >>> nce = InfoNCE(2, 2, seed=0)
    >>> opt = torch.optim.Adam(nce.parameters(), lr=1e-2)
    >>> for _ in range(100):
    ...     opt.zero_grad()
    ...     nce.learning_loss(x, y).backward()
    ...     opt.step()
    >>> estimate = nce(x, y).item()
    >>> 2.0 < estimate <= math.log(64)
    True
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        critic: str = "separable",
        hidden: int = 64,
        embed_dim: int = 32,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.x_dim, self.y_dim = int(x_dim), int(y_dim)
        self.critic = check_choice("critic", critic, ("separable", "bilinear"))
        with seeded_init(seed):
            if self.critic == "bilinear":
                self.weight = nn.Parameter(torch.zeros(self.x_dim, self.y_dim))
            else:
                self.x_net = nn.Sequential(
                    nn.Linear(self.x_dim, hidden), nn.ReLU(), nn.Linear(hidden, embed_dim)
                )
                self.y_net = nn.Sequential(
                    nn.Linear(self.y_dim, hidden), nn.ReLU(), nn.Linear(hidden, embed_dim)
                )

    def scores(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Critic values ``f(x_i, y_j)`` for every pair, shape ``(N, N)``; positives on the diagonal."""
        _check_pairs(x, y, self.x_dim, self.y_dim)
        if self.critic == "bilinear":
            return x @ self.weight @ y.T
        return self.x_net(x) @ self.y_net(y).T

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """MI lower-bound estimate in nats (scalar), at most ``log N``."""
        scores = self.scores(x, y)
        targets = torch.arange(scores.shape[0], device=scores.device)
        return math.log(scores.shape[0]) - F.cross_entropy(scores, targets)

    def learning_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``-estimate``: minimise it to tighten the bound (trains the critic, and encoders if any)."""
        return -self.forward(x, y)

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, y_dim={self.y_dim}, critic={self.critic!r}"


@contextlib.contextmanager
def _no_parameter_grads(module: MIEstimator) -> Iterator[None]:
    """Build the graph without gradients to ``module``'s parameters (inputs still get theirs)."""
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


class MIRegularizer:
    """Alternating schedule for an MI penalty (VQMIVC): fit the estimator, then penalise its estimate.

    Per training batch: call :meth:`update_estimator` (``steps`` optimiser steps on the estimator's
    ``learning_loss`` with *detached* inputs, so the encoders are untouched), then add
    :meth:`penalty` (``lambda_mi * estimate``, with gradients to the inputs only, never to the
    estimator) to the main loss. Keep the estimator's parameters out of the main optimiser.

    To strip a nuisance ``n`` from a learned representation ``z``, pass the nuisance as ``x`` and
    the representation as ``y`` (``q(z | n)``): then ``q``'s mean and variance depend on ``n``
    only, and the encoder cannot lower the estimate by moving ``z`` to where ``q`` is unsure.
    On the toy of ``tests/losses/test_mi.py`` that order removed the nuisance on 6 of 6 seeds;
    ``q(n | z)`` left R^2 of 0.1-0.5 on most of them.

    Parameters
    ----------
    estimator
        An upper-bound estimator such as :class:`VCLUB` (anything with ``learning_loss(x, y)``
        and ``__call__(x, y) -> estimate``).
    optimizer
        Optimiser over the estimator's parameters only.
    lambda_mi
        Weight of the estimate in the main loss (VQMIVC: 0.01).
    steps
        Estimator updates per call of :meth:`update_estimator` (VQMIVC: 5).

    Examples
    --------
    >>> import torch
    >>> club = VCLUB(1, 3, hidden=16, seed=0)  # q(z | nuisance)
    >>> reg = MIRegularizer(club, torch.optim.Adam(club.parameters(), lr=1e-3), lambda_mi=0.01)
    >>> g = torch.Generator().manual_seed(0)
    >>> encoder = torch.nn.Linear(4, 3)
    >>> x, nuisance = torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g)
    >>> z = encoder(x)
    >>> nll = reg.update_estimator(nuisance, z)  # 5 steps on q, encoder untouched
    >>> loss = z.square().mean() + reg.penalty(nuisance, z)
    >>> loss.backward()
    >>> encoder.weight.grad is not None, club.mu_net[0].weight.grad is None
    (True, True)
    """

    def __init__(
        self,
        estimator: MIEstimator,
        optimizer: torch.optim.Optimizer,
        lambda_mi: float = 0.01,
        steps: int = 5,
    ) -> None:
        if lambda_mi < 0 or steps < 0:
            raise ConfigError(f"lambda_mi and steps must be >= 0; got {lambda_mi} and {steps}")
        self.estimator = estimator
        self.optimizer = optimizer
        self.lambda_mi = float(lambda_mi)
        self.steps = int(steps)

    def update_estimator(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Run ``steps`` estimator updates on detached ``x``, ``y``; return the last learning loss.

        Returns ``nan`` when ``steps == 0``.
        """
        x, y = x.detach(), y.detach()
        loss_value = float("nan")
        for _ in range(self.steps):
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.estimator.learning_loss(x, y)
            loss.backward()
            self.optimizer.step()
            loss_value = float(loss.detach())
        self.optimizer.zero_grad(set_to_none=True)  # leave no stale gradients on the estimator
        return loss_value

    def penalty(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``lambda_mi * estimate(x, y)``: add it to the main loss (gradients reach ``x``, ``y`` only)."""
        with _no_parameter_grads(self.estimator):
            return self.lambda_mi * self.estimator(x, y)
