"""Nudged SGD (Jastrzebski et al.; THEORY.md section 5) as a ``torch.optim.Optimizer``.

    g' = g + (gamma - 1) V V^T g,   x <- x - lr g',

with V (P, K) the top-K Hessian eigenvectors (Lanczos with full reorthogonalisation on Hessian-vector
products, :func:`pde_sgd.networks.hessian.lanczos`), refreshed every ``update_every`` steps. The Hessian is that
of ``hessian_loss()`` when given (the paper: the loss on a fixed subset of >= 5% of the training data), else
that of the closure's mini-batch loss. gamma < 1 damps the step along the sharpest directions (SGD then
settles in sharper minima); gamma = 1 is plain SGD.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..networks.hessian import lanczos
from ..validation import positive, positive_int


class NudgedSGD(torch.optim.Optimizer):
    """``step(closure)``: ``closure()`` evaluates a mini-batch loss at the current parameters and returns it
    *without* calling backward (the optimizer differentiates it, twice when it refreshes V). ``hessian_loss``,
    if given, evaluates the loss that defines the Hessian (a fixed subset) at the current parameters."""

    def __init__(self, params, lr: float = 0.1, gamma: float = 0.1, k: int = 2, update_every: int = 10,
                 n_iter: int | None = None, seed: int = 0,
                 hessian_loss: Callable[[], torch.Tensor] | None = None) -> None:
        defaults = {"lr": positive("lr", lr)}
        super().__init__(params, defaults)
        self.gamma = positive("gamma", gamma)
        self.k, self.update_every = positive_int("k", k), positive_int("update_every", update_every)
        self.n_iter, self.seed, self.hessian_loss = n_iter, seed, hessian_loss
        self.params = [p for g in self.param_groups for p in g["params"] if p.requires_grad]
        if len(self.param_groups) != 1:
            raise ValueError("NudgedSGD supports a single parameter group")
        self.V: torch.Tensor | None = None
        self.t = 0

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        if closure is None:
            raise ValueError("NudgedSGD.step needs a closure returning the mini-batch loss")
        refresh = self.gamma != 1.0 and self.t % self.update_every == 0
        own = self.hessian_loss is None
        with torch.enable_grad():
            loss = closure()
            grads = torch.autograd.grad(loss, self.params, create_graph=refresh and own)
            if refresh:
                h_grads = grads if own else torch.autograd.grad(self.hessian_loss(), self.params,
                                                                create_graph=True)
        g = torch.cat([x.reshape(-1) for x in grads])
        if refresh:
            sizes = [p.numel() for p in self.params]

            def hvp(v: torch.Tensor) -> torch.Tensor:
                parts = [u.view_as(p) for u, p in zip(torch.split(v, sizes), self.params)]
                hv = torch.autograd.grad(h_grads, self.params, grad_outputs=parts, retain_graph=True)
                return torch.cat([x.reshape(-1) for x in hv])
            _, self.V = lanczos(hvp, g.numel(), self.k, n_iter=self.n_iter, seed=self.seed + self.t,
                                dtype=g.dtype, device=g.device)
        g = g.detach()
        if self.V is not None and self.gamma != 1.0:
            g = g + (self.gamma - 1.0) * (self.V @ (self.V.T @ g))
        with torch.no_grad():
            offset = 0
            lr = self.param_groups[0]["lr"]
            for p in self.params:
                n = p.numel()
                p.add_(g[offset:offset + n].view_as(p), alpha=-lr)
                offset += n
        self.t += 1
        return loss.detach()
