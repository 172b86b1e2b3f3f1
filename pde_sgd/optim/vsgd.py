"""VSGD (Chen, Kuzina, Esmaeili, Tomczak; THEORY.md section 7) as a ``torch.optim.Optimizer``.

Element-wise per parameter, as in the authors' code. Model: the true gradient g_t ~ N(mu_{t-1}, 1/w_g), the
observed batch gradient ghat_t ~ N(g_t, 1/w_ghat), precisions w_g ~ Gamma(ps, ps), w_ghat ~ Gamma(ps, K_g ps)
(``ghattg`` = K_g, ``ps`` the prior strength). With 2a = 2 ps + 1 + 1e-4 and mu, B_g, B_ghat starting at 0,
step t = 1, 2, ... is

    theta <- theta (1 - lr weight_decay)                                   (decoupled, as AdamW)
    s_g, s_ghat = (2 ps, 2 K_g ps) / (2a - 1) if t = 1 else (B_g, B_ghat) / (2a)
    mu_t = (ghat_t s_g + mu_{t-1} s_ghat) / (s_g + s_ghat),   Sigma_t = s_g s_ghat / (s_g + s_ghat)
    m2 = Sigma_t + mu_t^2
    Bhat_g = 2 ps + m2 - 2 mu_t mu_{t-1} + mu_{t-1}^2,   Bhat_ghat = 2 K_g ps + m2 - 2 ghat_t mu_t + ghat_t^2
    B_g <- (1 - t^-tau1) B_g + t^-tau1 Bhat_g,   B_ghat <- (1 - t^-tau2) B_ghat + t^-tau2 Bhat_ghat
    theta <- theta - lr mu_t / (sqrt(m2) + eps)

mu_t = (1 - m_t) ghat_t + m_t mu_{t-1} with the *effective momentum* m_t = s_ghat / (s_g + s_ghat) (element-wise;
:meth:`VSGD.effective_momentum`). With m_t held fixed at beta1 (``momentum=beta1``), mu is Adam's first moment
(its ``exp_avg``, before bias correction).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..validation import positive
from .common import fraction


class VSGD(torch.optim.Optimizer):
    """VSGD with the authors' defaults (lr 0.1, K_g = ``ghattg`` = 30, ``ps`` = 1e-8, tau1 = 0.81, tau2 = 0.9).

    ``momentum``: None (the algorithm) or a value in [0, 1) that pins the effective momentum (the Adam limit;
    the variances still update). After each step ``stats["effective_momentum"]`` is its mean over all elements.
    """

    def __init__(self, params, lr: float = 0.1, *, ghattg: float = 30.0, ps: float = 1e-8, tau1: float = 0.81,
                 tau2: float = 0.9, weight_decay: float = 0.0, eps: float = 1e-8,
                 momentum: float | None = None) -> None:
        for name, tau in (("tau1", tau1), ("tau2", tau2)):
            if not 0.0 < positive(name, tau) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {tau!r}")
        defaults = {"lr": positive("lr", lr), "ghattg": positive("ghattg", ghattg), "ps": positive("ps", ps),
                    "tau1": float(tau1), "tau2": float(tau2),
                    "weight_decay": positive("weight_decay", weight_decay, allow_zero=True),
                    "eps": positive("eps", eps, allow_zero=True),
                    "momentum": None if momentum is None else fraction("momentum", momentum)}
        super().__init__(params, defaults)
        self.stats: dict[str, float] = {}

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        m_sum, m_count = 0.0, 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                m = self._update(p, p.grad, group)
                m_sum += float(m.sum())
                m_count += m.numel()
        if m_count:
            self.stats = {"effective_momentum": m_sum / m_count}
        return loss

    def _update(self, p: torch.Tensor, ghat: torch.Tensor, group: dict) -> torch.Tensor:
        """One element-wise VSGD step of parameter ``p``; returns its effective momentum s_ghat / (s_g + s_ghat)."""
        lr, ps, kg, eps = group["lr"], group["ps"], group["ghattg"], group["eps"]
        state = self.state[p]
        if not state:
            state["step"] = 0
            for key in ("mu", "bg", "bhg"):
                state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        t = state["step"]
        mu_prev, bg, bhg = state["mu"].clone(), state["bg"], state["bhg"]
        if group["weight_decay"]:
            p.mul_(1.0 - lr * group["weight_decay"])
        two_a = 2.0 * ps + 1.0 + 1e-4
        if t == 1:
            sg = torch.full_like(p, 2.0 * ps / (two_a - 1.0))
            shg = torch.full_like(p, 2.0 * kg * ps / (two_a - 1.0))
        else:
            sg, shg = bg / two_a, bhg / two_a
        total = sg + shg
        if group["momentum"] is None:
            m, mu = shg / total, (ghat * sg + mu_prev * shg) / total
        else:  # pinned: the same operation as Adam's first moment, exp_avg.lerp_(grad, 1 - beta1)
            m, mu = torch.full_like(p, group["momentum"]), mu_prev.lerp(ghat, 1.0 - group["momentum"])
        m2 = sg * shg / total + mu * mu
        bg_hat = 2.0 * ps + m2 - 2.0 * mu * mu_prev + mu_prev * mu_prev
        bhg_hat = 2.0 * kg * ps + m2 - 2.0 * ghat * mu + ghat * ghat
        rho1, rho2 = t ** -group["tau1"], t ** -group["tau2"]
        bg.mul_(1.0 - rho1).add_(bg_hat, alpha=rho1)
        bhg.mul_(1.0 - rho2).add_(bhg_hat, alpha=rho2)
        state["mu"].copy_(mu)
        state["momentum"] = m
        p.addcdiv_(mu, m2.sqrt().add_(eps), value=-lr)
        return m

    def effective_momentum(self) -> list[torch.Tensor]:
        """The current element-wise effective momentum s_ghat / (s_g + s_ghat) of each parameter that has stepped."""
        return [self.state[p]["momentum"] for g in self.param_groups for p in g["params"] if "momentum" in self.state[p]]
