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

As in torch's optimizers, a parameter whose ``grad`` is None is skipped and NaN gradients propagate unless
``check_finite=True`` (:mod:`pde_sgd.optim.common`); ``state_dict`` is tagged (another optimizer's or model's is refused).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..validation import positive
from .common import CheckedGroups, TaggedState, nonnegative, optional_fraction, require_finite


def _rate(name: str, tau: float) -> float:
    """A forgetting exponent tau in (0, 1]."""
    if not 0.0 < positive(name, tau) <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {tau!r}")
    return float(tau)


class VSGD(CheckedGroups, TaggedState, torch.optim.Optimizer):
    """VSGD with the authors' defaults (lr 0.1, K_g = ``ghattg`` = 30, ``ps`` = 1e-8, tau1 = 0.81, tau2 = 0.9).

    ``momentum``: None (the algorithm) or a value in [0, 1) that pins the effective momentum (the Adam limit;
    the variances still update). After each step ``stats["effective_momentum"]`` is its mean over all elements.
    """

    CHECKS = {"lr": positive, "ghattg": positive, "ps": positive, "tau1": _rate, "tau2": _rate,
              "weight_decay": nonnegative, "eps": nonnegative, "momentum": optional_fraction}

    def __init__(self, params, lr: float = 0.1, *, ghattg: float = 30.0, ps: float = 1e-8, tau1: float = 0.81,
                 tau2: float = 0.9, weight_decay: float = 0.0, eps: float = 1e-8,
                 momentum: float | None = None, check_finite: bool = False) -> None:
        defaults = self.checked({"lr": lr, "ghattg": ghattg, "ps": ps, "tau1": tau1, "tau2": tau2,
                                 "weight_decay": weight_decay, "eps": eps, "momentum": momentum})
        super().__init__(params, defaults)
        self.check_finite = bool(check_finite)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.check_finite:
            require_finite([p.grad for g in self.param_groups for p in g["params"] if p.grad is not None], "VSGD",
                           "gradient")
        for group in self.param_groups:
            by_step: dict[int, list[torch.Tensor]] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    for key in ("mu", "bg", "bhg"):
                        state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                by_step.setdefault(state["step"], []).append(p)
            for t, params in by_step.items():
                self._update(params, t, group)
        return loss

    def _update(self, params: list[torch.Tensor], t: int, group: dict) -> None:
        """One VSGD step t of ``params`` (multi-tensor ops). Uses the algebraically identical, cancellation-free
        forms Bhat_g = 2 ps + Sigma + (mu_t - mu_{t-1})^2 and Bhat_ghat = 2 K_g ps + Sigma + (mu_t - ghat_t)^2, and
        s_g / (s_g + s_ghat) = B_g / (B_g + B_ghat) (the factor 1 / (2a) cancels)."""
        lr, ps, kg, eps, pinned = group["lr"], group["ps"], group["ghattg"], group["eps"], group["momentum"]
        states = [self.state[p] for p in params]
        ghat = [p.grad for p in params]
        mu_prev, bg, bhg = ([s[k] for s in states] for k in ("mu", "bg", "bhg"))
        two_a = 2.0 * ps + 1.0 + 1e-4
        if t == 1:  # s = (2 ps, 2 K_g ps) / (2a - 1): the B that give them through s = B / (2a)
            c = two_a / (two_a - 1.0)
            bg_eff = [torch.full_like(p, 2.0 * ps * c) for p in params]
            bhg_eff = [torch.full_like(p, 2.0 * kg * ps * c) for p in params]
        else:
            bg_eff, bhg_eff = bg, bhg
        m = torch._foreach_div(bhg_eff, torch._foreach_add(bg_eff, bhg_eff))      # effective momentum
        sigma = torch._foreach_mul(bg_eff, m)
        torch._foreach_mul_(sigma, 1.0 / two_a)                                      # s_g s_ghat / (s_g + s_ghat)
        if pinned is None:
            mu = torch._foreach_lerp(ghat, mu_prev, m)                               # (ghat s_g + mu s_ghat) / (s_g + s_ghat)
        else:  # pinned: the same operation as Adam's first moment, exp_avg.lerp_(grad, 1 - beta1)
            mu = torch._foreach_lerp(mu_prev, ghat, 1.0 - pinned)
            m = [torch.full_like(p, pinned) for p in params]
        r, q = torch._foreach_sub(mu, mu_prev), torch._foreach_sub(mu, ghat)
        bg_hat, bhg_hat = torch._foreach_addcmul(sigma, r, r), torch._foreach_addcmul(sigma, q, q)
        torch._foreach_add_(bg_hat, 2.0 * ps)
        torch._foreach_add_(bhg_hat, 2.0 * kg * ps)
        torch._foreach_lerp_(bg, bg_hat, t ** -group["tau1"])                        # B <- (1 - rho) B + rho Bhat
        torch._foreach_lerp_(bhg, bhg_hat, t ** -group["tau2"])
        denom = torch._foreach_addcmul(sigma, mu, mu)                                # m2 = Sigma + mu^2
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, eps)
        if group["weight_decay"]:
            torch._foreach_mul_(params, 1.0 - lr * group["weight_decay"])
        torch._foreach_addcdiv_(params, mu, denom, value=-lr)
        for s, mu_i, m_i in zip(states, mu, m):
            s["mu"], s["momentum"] = mu_i, m_i

    @property
    def stats(self) -> dict[str, float]:
        """``effective_momentum``: the mean of the element-wise effective momentum over all parameters."""
        ms = self.effective_momentum()
        n = sum(m.numel() for m in ms)
        return {"effective_momentum": float(sum(float(m.sum()) for m in ms)) / n} if n else {}

    def effective_momentum(self) -> list[torch.Tensor]:
        """The current element-wise effective momentum s_ghat / (s_g + s_ghat) of each parameter that has stepped."""
        return [self.state[p]["momentum"] for g in self.param_groups for p in g["params"] if "momentum" in self.state[p]]
