"""Entropy-SGD (Chaudhari et al.; THEORY.md section 4) as a ``torch.optim.Optimizer``, with the reference code's
options (-L, --gamma, --scoping, --noise, --L2) and its verbose statistics.

One outer step at parameters x (t = number of steps taken so far):

    x' <- x, mu <- x, gamma_t = gamma (1 + scoping)^t
    repeat L times:   d = grad f_batch(x') + L2 x'  -> Nesterov momentum (inner_momentum, buffer reset each step)
                      d <- d + gamma_t (x' - x)                             (a fresh mini-batch each time)
                      x' <- x' - eta' d + sqrt(2 eta') noise xi,  xi ~ N(0, I)   (Langevin at beta = noise^-2)
                      mu <- alpha mu + (1 - alpha) x'
    outer gradient:   g = x - mu  (~ grad of the local entropy / gamma_t: x - <y>, <y> the mean of
                      rho_inf(y; x) ∝ exp(-beta f(y) - beta gamma_t |x - y|^2 / 2));  g <- g + L2 x
    x <- x - lr * Nesterov-momentum(g)

``L = 0`` is plain SGD with Nesterov momentum (and L2) on the batch gradient: torch.optim.SGD(momentum=m,
nesterov=True, weight_decay=L2) bit for bit. gamma multiplies the coupling: it is the inverse of the scope t of
the Hamilton-Jacobi picture (t = 1 / gamma). As in the reference code the inner loop reuses the outer momentum
unless ``inner_momentum`` is given. The first inner step is taken at x, so its batch gradient is the stochastic
gradient at x: the statistics compare it with the local-entropy gradient at no extra closure call. The
optimizer clears the gradients before each closure call and refuses a closure that returns None or never calls
backward. NaN gradients propagate as in torch's optimizers unless ``check_finite=True`` (:mod:`pde_sgd.optim.common`).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..validation import positive
from .common import (CheckedGroups, ExtraState, capped_growth, count, evaluate, fraction, inner_momentum, nesterov_,
                     nonnegative, optional_fraction, require_finite, seeded_generator)


class EntropySGD(CheckedGroups, ExtraState, torch.optim.Optimizer):
    """Entropy-SGD. ``step(closure)``: ``closure()`` draws a mini-batch, zeroes and back-propagates its loss at
    the current parameters and returns the loss (the usual torch closure); it is called L times per step
    (once for L = 0). The step returns the loss of the first call (the batch loss at x).

    Parameters: lr (outer step), momentum (Nesterov), L (inner Langevin steps, the same in every param group),
    inner_lr (eta'), gamma (coupling, > 0), scoping (growth rate of gamma), noise (eps), alpha (averaging of mu),
    weight_decay (L2, added to every gradient), inner_momentum (None: = momentum), seed (the Langevin noise),
    check_finite (refuse a non-finite outer direction before changing anything; one host sync per step).
    After each step ``stats`` holds the batch loss, ``grad_norm`` |grad f_batch(x)|, ``entropy_grad_norm``
    |x - mu|, ``angle`` (degrees) between the two, and ``gamma`` (gamma_t used).
    """

    CHECKS = {"lr": positive, "momentum": fraction, "L": count, "inner_lr": positive, "gamma": positive,
              "scoping": nonnegative, "noise": nonnegative, "alpha": fraction, "weight_decay": nonnegative,
              "inner_momentum": optional_fraction}

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.9, L: int = 5, inner_lr: float = 0.1,
                 gamma: float = 0.03, scoping: float = 1e-3, noise: float = 1e-4, alpha: float = 0.75,
                 seed: int = 0, *, weight_decay: float = 0.0, inner_momentum: float | None = None,
                 check_finite: bool = False) -> None:
        defaults = self.checked({"lr": lr, "momentum": momentum, "L": L, "inner_lr": inner_lr, "gamma": gamma,
                                 "scoping": scoping, "noise": noise, "alpha": alpha, "weight_decay": weight_decay,
                                 "inner_momentum": inner_momentum})
        super().__init__(params, defaults)
        if len({g["L"] for g in self.param_groups}) != 1:
            raise ValueError(f"L must be the same in every param group, got {[g['L'] for g in self.param_groups]}")
        self.t = 0
        self.generators = [seeded_generator(seed)]
        self.stats: dict[str, float] = {}
        self.check_finite = bool(check_finite)

    @property
    def generator(self) -> torch.Generator:
        return self.generators[0]

    def _gamma(self, group: dict) -> float:
        """This step's coupling gamma (1 + scoping)^t of a param group (no cap)."""
        return capped_growth(group["gamma"], group["scoping"], math.inf, self.t)

    def _groups(self):
        for group in self.param_groups:
            yield group, [p for p in group["params"] if p.requires_grad]

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        if closure is None:
            raise ValueError("EntropySGD.step needs a closure that evaluates a fresh mini-batch")
        L = self.param_groups[0]["L"]
        if L == 0:
            loss = self._evaluate(closure)
            grads = {p: _grad(p) for _, ps in self._groups() for p in ps}
            sgrad = list(grads.values())
        else:
            loss, grads, sgrad = self._inner_loop(closure, L)
        if self.check_finite:
            require_finite(list(grads.values()), "EntropySGD", "outer direction")
        for group, ps in self._groups():
            for p in ps:
                g = grads[p]
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                p.add_(nesterov_(g, self.state[p], group["momentum"]), alpha=-group["lr"])
        self._record(loss, sgrad, [grads[p] for _, ps in self._groups() for p in ps] if L else sgrad, L)
        self.t += 1
        return loss

    def _evaluate(self, closure) -> torch.Tensor:
        return evaluate(closure, [p for _, ps in self._groups() for p in ps], "EntropySGD")

    def _inner_loop(self, closure, L: int):
        """L Langevin steps from x; returns (loss at x, {p: x - mu}, the stochastic gradient at x)."""
        x = {p: p.detach().clone() for _, ps in self._groups() for p in ps}
        mu = {p: v.clone() for p, v in x.items()}
        bufs: dict = {p: {} for p in x}
        first_loss, sgrad = None, []
        try:
            for step in range(L):
                loss = self._evaluate(closure)
                first_loss = loss if step == 0 else first_loss
                for group, ps in self._groups():
                    gam = self._gamma(group)
                    eta, eps, a = group["inner_lr"], group["noise"], group["alpha"]
                    for p in ps:
                        d = _grad(p)
                        if group["weight_decay"]:
                            d = d.add(p, alpha=group["weight_decay"])
                        if step == 0:
                            sgrad.append(d.clone())
                        d = nesterov_(d, bufs[p], inner_momentum(group))
                        d = d.add(p - x[p], alpha=gam)
                        p.add_(d, alpha=-eta)
                        if eps:
                            xi = torch.randn(p.shape, generator=self.generator, dtype=p.dtype).to(p.device)
                            p.add_(xi, alpha=math.sqrt(2.0 * eta) * eps)
                        mu[p].mul_(a).add_(p, alpha=1.0 - a)
        finally:  # the parameters hold x again, whatever the closure did
            for p, xp in x.items():
                p.copy_(xp)
        return first_loss, {p: x[p] - mu[p] for p in x}, sgrad

    def _record(self, loss, sgrad: list[torch.Tensor], egrad: list[torch.Tensor], L: int) -> None:
        gs = torch.cat([g.reshape(-1) for g in sgrad]) if sgrad else torch.zeros(1)
        es = torch.cat([g.reshape(-1) for g in egrad]) if egrad else torch.zeros(1)
        gn, en = float(gs.norm()), float(es.norm())
        cos = float(torch.dot(gs, es)) / (gn * en) if gn > 0 and en > 0 else 1.0
        self.stats = {"loss": float(loss) if loss is not None else math.nan, "grad_norm": gn,
                      "entropy_grad_norm": en, "angle": math.degrees(math.acos(max(-1.0, min(1.0, cos)))),
                      "gamma": self._gamma(self.param_groups[0]) if L else 0.0}


def _grad(p: torch.Tensor) -> torch.Tensor:
    """p's gradient (zeros when the closure left it unset: a parameter the loss does not use)."""
    return p.grad if p.grad is not None else torch.zeros_like(p)
