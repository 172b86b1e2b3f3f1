"""Nudged SGD (Jastrzebski et al.; THEORY.md section 5) as a ``torch.optim.Optimizer``.

    g' = g + (gamma - 1) V V^T g,   x <- x - lr g',

with V (P, K) the top-K Hessian eigenvectors (Lanczos with full reorthogonalisation on Hessian-vector
products, :func:`pde_sgd.linalg.lanczos`), refreshed every ``update_every`` steps. The Hessian is that of
``hessian_loss()`` when given (the paper: the loss on a fixed subset of >= 5% of the training data), else that of
the closure's mini-batch loss. gamma < 1 damps the step along the sharpest directions (SGD then settles in
sharper minima); gamma = 1 is plain SGD. ``state_dict`` carries t and V (a resumed run refreshes V when an
uninterrupted one would); NaN gradients propagate as in torch's optimizers unless ``check_finite=True``
(:mod:`pde_sgd.optim.common`).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..linalg import lanczos
from ..validation import positive, positive_int
from .common import CheckedGroups, TaggedState, not_bool, require_finite


class NudgedSGD(CheckedGroups, TaggedState, torch.optim.Optimizer):
    """``step(closure)``: ``closure()`` evaluates a mini-batch loss at the current parameters and returns it
    *without* calling backward (the optimizer differentiates it, twice when it refreshes V). ``hessian_loss``,
    if given, evaluates the loss that defines the Hessian (a fixed subset) at the current parameters."""

    CHECKS = {"lr": positive}

    def __init__(self, params, lr: float = 0.1, gamma: float = 0.1, k: int = 2, update_every: int = 10,
                 n_iter: int | None = None, seed: int = 0, *, check_finite: bool = False,
                 hessian_loss: Callable[[], torch.Tensor] | None = None) -> None:
        super().__init__(params, self.checked({"lr": lr}))
        self.gamma = positive("gamma", not_bool("gamma", gamma))
        self.k, self.update_every = positive_int("k", k), positive_int("update_every", update_every)
        self.n_iter = None if n_iter is None else positive_int("n_iter", n_iter)
        self.seed = positive_int("seed", seed, minimum=0)
        self.check_finite = bool(check_finite)
        if hessian_loss is not None and not callable(hessian_loss):
            raise ValueError(f"hessian_loss must be a callable returning a loss, got {type(hessian_loss).__name__}")
        self.hessian_loss = hessian_loss
        self.params = [p for g in self.param_groups for p in g["params"] if p.requires_grad]
        if len(self.param_groups) != 1:
            raise ValueError("NudgedSGD supports a single parameter group")
        self.V: torch.Tensor | None = None
        self.t = 0

    def extra_state(self) -> dict:
        return {"t": self.t, "V": None if self.V is None else self.V.detach().cpu().clone()}

    def load_extra_state(self, extra: dict) -> None:
        self.t = int(extra["t"])
        V = extra["V"]
        self.V = None if V is None else V.to(device=self.params[0].device, dtype=self.params[0].dtype)

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        if closure is None:
            raise ValueError("NudgedSGD.step needs a closure returning the mini-batch loss")
        refresh = self.gamma != 1.0 and self.t % self.update_every == 0
        own = self.hessian_loss is None
        with torch.enable_grad():
            loss = closure()
            if not (torch.is_tensor(loss) and loss.numel() == 1 and loss.requires_grad):
                raise ValueError("NudgedSGD: the closure must return the mini-batch loss, a one-element tensor "
                                 f"that requires grad (no backward call), got {type(loss).__name__}")
            grads = torch.autograd.grad(loss, self.params, create_graph=refresh and own)
            if refresh:
                h_grads = grads if own else torch.autograd.grad(self.hessian_loss(), self.params,
                                                                create_graph=True)
        if self.check_finite:
            require_finite([x.detach() for x in grads], "NudgedSGD", "gradient")
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
