"""Entropy-SGD (Chaudhari et al.; THEORY.md section 4) as a ``torch.optim.Optimizer``.

One outer step at parameters x:

    x' <- x, mu <- x;  gamma_t = gamma (1 + scoping)^t
    repeat L times:   d = grad f_batch(x') + gamma_t (x' - x)           (a fresh mini-batch each time)
                      x' <- x' - eta' d + sqrt(2 eta') eps xi,  xi ~ N(0, I)   (Langevin at beta = eps^-2)
                      mu <- alpha mu + (1 - alpha) x'
    outer gradient:   g = x - mu  (~ grad of the local entropy / gamma_t: x - <y>, <y> the mean of
                      rho_inf(y; x) ∝ exp(-beta f(y) - beta gamma_t |x - y|^2 / 2))
    x <- x - lr * Nesterov-momentum(g)

``L = 0`` is plain SGD with Nesterov momentum on the batch gradient. gamma here multiplies the coupling: it is
the inverse of the scope t of the Hamilton-Jacobi picture (t = 1 / gamma).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..validation import positive, positive_int


class EntropySGD(torch.optim.Optimizer):
    """Entropy-SGD. ``step(closure)``: ``closure()`` draws a mini-batch, zeroes and back-propagates its loss at
    the current parameters and returns the loss (the usual torch closure); it is called L times per step
    (once for L = 0).

    Parameters: lr (outer step), momentum (Nesterov), L (inner Langevin steps), inner_lr (eta'), gamma,
    scoping, noise (eps), alpha (averaging of mu), seed (the Langevin noise generator).
    """

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.9, L: int = 5, inner_lr: float = 0.1,
                 gamma: float = 0.03, scoping: float = 1e-3, noise: float = 1e-4, alpha: float = 0.75,
                 seed: int = 0) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha!r}")
        defaults = {"lr": positive("lr", lr), "momentum": momentum, "L": positive_int("L", L, minimum=0),
                    "inner_lr": positive("inner_lr", inner_lr), "gamma": positive("gamma", gamma),
                    "scoping": positive("scoping", scoping, allow_zero=True),
                    "noise": positive("noise", noise, allow_zero=True), "alpha": alpha}
        super().__init__(params, defaults)
        self.t = 0
        self.generator = torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        if closure is None:
            raise ValueError("EntropySGD.step needs a closure that evaluates a fresh mini-batch")
        loss = None
        for group in self.param_groups:
            params = [p for p in group["params"] if p.requires_grad]
            x = [p.detach().clone() for p in params]
            if group["L"] == 0:
                with torch.enable_grad():
                    loss = closure()
                grads = [p.grad.detach().clone() for p in params]
            else:
                gam = group["gamma"] * (1.0 + group["scoping"]) ** self.t
                mu = [xi.clone() for xi in x]
                eta, eps, a = group["inner_lr"], group["noise"], group["alpha"]
                for _ in range(group["L"]):
                    with torch.enable_grad():
                        loss = closure()
                    for p, xi, m in zip(params, x, mu):
                        d = p.grad + gam * (p - xi)
                        p.add_(d, alpha=-eta)
                        if eps:
                            xi_noise = torch.randn(p.shape, generator=self.generator, dtype=p.dtype).to(p.device)
                            p.add_(xi_noise, alpha=(2.0 * eta) ** 0.5 * eps)
                        m.mul_(a).add_(p, alpha=1.0 - a)
                grads = [xi - m for xi, m in zip(x, mu)]
                for p, xi in zip(params, x):
                    p.copy_(xi)
            for p, g in zip(params, grads):
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if group["momentum"]:
                    buf = g.clone() if buf is None else buf.mul_(group["momentum"]).add_(g)
                    state["momentum_buffer"] = buf
                    g = g + group["momentum"] * buf  # Nesterov
                p.add_(g, alpha=-group["lr"])
        self.t += 1
        return loss
