"""Elastic-SGD and Parle (Chaudhari et al., SysML 2018; THEORY.md sections 4 and 7) as ``torch.optim`` optimizers.

n replicas x^1..x^n of the model's parameters are coupled to a reference xbar, which is what the model's
parameters hold between steps (the model to evaluate). One step, with r_t = min(rho (1 + scoping)^t, rho_max):

Elastic-SGD   d^a = grad f_a(x^a) + L2 x^a + r_t (x^a - xbar)          (f_a: replica a's own mini-batch)
Parle         each replica runs L Entropy-SGD steps from y = x^a, coupling g_t = min(gamma (1 + scoping)^t,
              gamma_max) to its own anchor x^a, with the exponential average z (alpha = 0.75):
                  e = grad f_a(y) + L2 y -> Nesterov (inner_momentum);  y <- y - eta' (e + g_t (y - x^a)) + sqrt(2 eta') noise xi
                  z <- alpha z + (1 - alpha) (y - x^a)        (z starts at 0 each step)
              and its local-entropy direction is the bias-corrected average displacement over eta':
                  d^a = -z / ((1 - alpha^L) eta') + r_t (x^a - xbar)
both          x^a <- x^a - lr Nesterov(d^a)  (torch.optim.SGD's momentum, one buffer per replica)
              xbar <- (1/n) sum_a x^a          (the reference is the replicas' mean, as in the Parle code)

With L = 1 and g = 0, -z / ((1 - alpha) eta') = grad f_a(x^a) + L2 x^a, so Parle is Elastic-SGD (bit for bit
when eta' is a power of two); with one replica and r = 0 Elastic-SGD is torch.optim.SGD. In the continuous-time
limit (THEORY section 4) Elastic-SGD's replicas sample rho_inf(y; xbar) and xbar follows the local entropy.

Replicas live in the optimizer's state stacked along a leading axis (``state[p]["replicas"]``: (n_local, *p.shape)).
Gradients come either from ``closure()``, called once per replica (and inner step) with the model's parameters
set to that replica and ``opt.replica`` its global index (any model), or from ``batched(points)``, which gets
the stacked points and returns (losses (n_local,), stacked gradients) in one call: :func:`stacked_grad_fn` builds
one with ``torch.func.vmap``. With ``distributed=True`` (torch.distributed initialised, e.g. by ``torchrun``:
gloo on CPU, nccl on CUDA) the n replicas are split evenly over the processes, rank k holding replicas
k n/W .. (k+1) n/W - 1, and the mean is an all-reduce: the same replicas, seeds and batches give the same run.
A closure that returns None or never calls backward, and a ``batched`` function whose output has the wrong
shapes, are refused with a ValueError. NaN gradients propagate as in torch's optimizers unless
``check_finite=True`` (:mod:`pde_sgd.optim.common`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..validation import positive, positive_int
from .common import (CheckedGroups, ExtraState, cap, capped_growth, evaluate, fraction, inner_momentum, nesterov_,
                     nonnegative, optional_fraction, require_finite, seeded_generator)

Batched = Callable[[list[torch.Tensor]], tuple[torch.Tensor, list[torch.Tensor]]]


def replica_seed(seed: int, replica: int) -> int:
    """A seed for replica ``replica`` of a run seeded ``seed`` (numpy SeedSequence, independent streams)."""
    return int(np.random.SeedSequence([positive_int("seed", seed, minimum=0), replica]).generate_state(1)[0])


class _Replicas(CheckedGroups, ExtraState, torch.optim.Optimizer):
    """Replica bookkeeping shared by :class:`ElasticSGD` and :class:`Parle`."""

    CAPS = ("rho",)

    def __init__(self, params, defaults: dict, n_replicas: int, seed: int, distributed: bool,
                 check_finite: bool) -> None:
        super().__init__(params, defaults)
        self.check_finite = bool(check_finite)
        self.n_replicas = positive_int("n_replicas", n_replicas)
        self.distributed = bool(distributed)
        first, n_local = 0, self.n_replicas
        if self.distributed:
            import torch.distributed as dist
            if not dist.is_available() or not dist.is_initialized():
                raise ValueError("distributed=True needs torch.distributed initialised (launch with torchrun and "
                                 "call torch.distributed.init_process_group first)")
            world, rank = dist.get_world_size(), dist.get_rank()
            if self.n_replicas % world:
                raise ValueError(f"n_replicas must be a multiple of the world size {world}, got {self.n_replicas}")
            n_local = self.n_replicas // world
            first = rank * n_local
        self.replica_ids = list(range(first, first + n_local))
        self.replica: int | None = None
        self.t = 0
        self.seed = positive_int("seed", seed, minimum=0)
        self.generators = [seeded_generator(replica_seed(self.seed, r)) for r in self.replica_ids]
        self.stats: dict[str, float] = {}

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"] if p.requires_grad]

    def _group_of(self) -> list[dict]:
        return [g for g in self.param_groups for p in g["params"] if p.requires_grad]

    def replicas(self) -> list[torch.Tensor]:
        """The local replicas of each parameter, stacked (n_local, *p.shape) (created at xbar on first use)."""
        n = len(self.replica_ids)
        out = []
        for p in self._params():
            st = self.state[p]
            if "replicas" not in st:
                st["replicas"] = p.detach().unsqueeze(0).repeat(n, *([1] * p.dim())).clone()
            out.append(st["replicas"])
        return out

    def _gradients(self, points: list[torch.Tensor], closure, batched: Batched | None):
        """Batch losses (n_local,) and stacked gradients at ``points`` (a list of (n_local, *p.shape))."""
        if batched is not None:
            return self._batched(points, batched)
        if closure is None:
            raise ValueError(f"{type(self).__name__}.step needs a closure (called once per replica) or batched=")
        params = self._params()
        xbar = [p.detach().clone() for p in params]
        grads = [torch.zeros_like(w) for w in points]
        losses = []
        try:
            for i, r in enumerate(self.replica_ids):
                self.replica = r
                for p, w in zip(params, points):
                    p.copy_(w[i])
                loss = evaluate(closure, params, type(self).__name__)
                losses.append(torch.as_tensor(loss).detach().reshape(()))
                for g, p in zip(grads, params):
                    if p.grad is not None:
                        g[i].copy_(p.grad)
        finally:  # the parameters hold xbar again, whatever the closure did
            self.replica = None
            for p, xb in zip(params, xbar):
                p.copy_(xb)
        return torch.stack(losses), grads

    def _batched(self, points: list[torch.Tensor], batched: Batched) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``batched(points)``, its (losses (n_local,), one gradient shaped like each point) checked."""
        n = len(self.replica_ids)
        out = batched(points)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise ValueError(f"batched must return (losses, gradients), got {type(out).__name__}")
        losses, grads = out
        if not torch.is_tensor(losses) or tuple(losses.shape) != (n,):
            shape = tuple(losses.shape) if torch.is_tensor(losses) else type(losses).__name__
            raise ValueError(f"batched must return losses of shape ({n},) (one per local replica), got {shape}")
        grads = list(grads) if isinstance(grads, (tuple, list)) else [grads]
        if len(grads) != len(points):
            raise ValueError(f"batched returned {len(grads)} gradient(s) for {len(points)} parameter(s)")
        for i, (g, w) in enumerate(zip(grads, points)):
            if not torch.is_tensor(g) or g.shape != w.shape:
                shape = tuple(g.shape) if torch.is_tensor(g) else type(g).__name__
                raise ValueError(f"batched: gradient {i} must have shape {tuple(w.shape)} "
                                 f"(n_local, *parameter shape), got {shape}")
        return losses.detach(), [g.detach() for g in grads]

    def _mean(self, x: torch.Tensor) -> torch.Tensor:
        """(1/n) sum over all n replicas (all processes) of the stacked local replicas ``x``."""
        total = x.sum(0)
        if self.distributed:
            import torch.distributed as dist
            dist.all_reduce(total)
        return total / self.n_replicas

    def _outer(self, directions: list[torch.Tensor], losses: torch.Tensor) -> torch.Tensor:
        """x^a <- x^a - lr Nesterov(d^a); xbar <- mean of the replicas, written into the parameters; returns the
        mean batch loss over all replicas."""
        if self.check_finite:
            require_finite(directions, type(self).__name__, "update direction")
        for p, group, x, d in zip(self._params(), self._group_of(), self.replicas(), directions):
            x.add_(nesterov_(d, self.state[p], group["momentum"]), alpha=-group["lr"])
            p.copy_(self._mean(x))
        loss = self._mean(losses.reshape(-1, 1)).reshape(())
        self.stats = {"loss": float(loss), "rho": self._rho(self.param_groups[0])}
        self.t += 1
        return loss

    def _rho(self, group: dict) -> float:
        """This step's elastic coupling r_t of a param group."""
        return capped_growth(group["rho"], group["scoping"], group["rho_max"], self.t)

    def _elastic(self, x: torch.Tensor, p: torch.Tensor, rho: float) -> torch.Tensor:
        """r (x^a - xbar) for the stacked replicas x of parameter p (which holds xbar)."""
        return (x - p).mul_(rho)


ELASTIC_CHECKS = {"lr": positive, "momentum": fraction, "rho": nonnegative, "scoping": nonnegative, "rho_max": cap,
                  "weight_decay": nonnegative}


class ElasticSGD(_Replicas):
    """Elastic-SGD with ``n_replicas`` replicas; rho (coupling r, >= 0) grows as rho (1 + scoping)^t up to
    rho_max. ``step(closure=None, *, batched=None)``: see the module docstring."""

    CHECKS = ELASTIC_CHECKS

    def __init__(self, params, lr: float = 0.1, *, n_replicas: int = 3, momentum: float = 0.9, rho: float = 0.01,
                 scoping: float = 1e-3, rho_max: float = 10.0, weight_decay: float = 0.0, seed: int = 0,
                 distributed: bool = False, check_finite: bool = False) -> None:
        defaults = self.checked({"lr": lr, "momentum": momentum, "rho": rho, "scoping": scoping, "rho_max": rho_max,
                                 "weight_decay": weight_decay})
        super().__init__(params, defaults, n_replicas, seed, distributed, check_finite)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None, *,  # type: ignore[override]
             batched: Batched | None = None) -> torch.Tensor:
        xs = self.replicas()
        losses, grads = self._gradients(xs, closure, batched)
        dirs = []
        for p, group, x, g in zip(self._params(), self._group_of(), xs, grads):
            if group["weight_decay"]:
                g = g.add(x, alpha=group["weight_decay"])
            dirs.append(g + self._elastic(x, p, self._rho(group)))
        return self._outer(dirs, losses)


class Parle(_Replicas):
    """Parle: ``n_replicas`` replicas, each taking L inner Entropy-SGD steps (inner_lr eta', coupling gamma >= 0
    growing to gamma_max, noise, alpha) per outer step, elastically coupled (rho, growing to rho_max) to their
    mean. ``inner_momentum`` None reuses ``momentum`` as the reference code does. ``step(closure=None, *,
    batched=None)`` calls the closure L times per replica; the returned loss is the mean batch loss at x^a."""

    CHECKS = {**ELASTIC_CHECKS, "L": positive_int, "inner_lr": positive, "gamma": nonnegative, "gamma_max": cap,
              "noise": nonnegative, "alpha": fraction, "inner_momentum": optional_fraction}
    CAPS = ("rho", "gamma")

    def __init__(self, params, lr: float = 0.1, *, n_replicas: int = 3, L: int = 5, momentum: float = 0.9,
                 inner_lr: float = 0.1, gamma: float = 0.01, rho: float = 0.01, scoping: float = 1e-3,
                 gamma_max: float = 1.0, rho_max: float = 10.0, noise: float = 0.0, alpha: float = 0.75,
                 weight_decay: float = 0.0, inner_momentum: float | None = None, seed: int = 0,
                 distributed: bool = False, check_finite: bool = False) -> None:
        defaults = self.checked({"lr": lr, "momentum": momentum, "rho": rho, "scoping": scoping, "rho_max": rho_max,
                                 "weight_decay": weight_decay, "L": L, "inner_lr": inner_lr, "gamma": gamma,
                                 "gamma_max": gamma_max, "noise": noise, "alpha": alpha,
                                 "inner_momentum": inner_momentum})
        super().__init__(params, defaults, n_replicas, seed, distributed, check_finite)
        for key in ("L", "inner_lr", "alpha"):
            if len({g[key] for g in self.param_groups}) != 1:
                raise ValueError(f"{key} must be the same in every param group")

    def _gamma(self, group: dict) -> float:
        """This step's entropic coupling g_t of a param group."""
        return capped_growth(group["gamma"], group["scoping"], group["gamma_max"], self.t)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None, *,  # type: ignore[override]
             batched: Batched | None = None) -> torch.Tensor:
        g0 = self.param_groups[0]
        L, eta, a = g0["L"], g0["inner_lr"], g0["alpha"]
        xs = self.replicas()
        groups = self._group_of()
        delta = [torch.zeros_like(x) for x in xs]   # y - x^a
        z = [torch.zeros_like(x) for x in xs]
        bufs: list[dict] = [{} for _ in xs]
        gammas = [self._gamma(group) for group in groups]   # this step's g_t, fixed over the inner loop
        first = None
        for step in range(L):
            losses, grads = self._gradients([x + d for x, d in zip(xs, delta)], closure, batched)
            first = losses if step == 0 else first
            for group, gam, x, d, zz, g, buf in zip(groups, gammas, xs, delta, z, grads, bufs):
                if group["weight_decay"]:
                    g = g.add(x + d, alpha=group["weight_decay"])
                e = nesterov_(g, buf, inner_momentum(group))
                if gam:
                    e = e.add(d, alpha=gam)
                d.add_(e, alpha=-eta)
                if group["noise"]:
                    d.add_(self._noise(x), alpha=float(np.sqrt(2.0 * eta)) * group["noise"])
                zz.mul_(a).add_(d, alpha=1.0 - a)
        scale = -(1.0 - a ** L) * eta
        dirs = [zz.div(scale) + self._elastic(x, p, self._rho(group))
                for zz, x, p, group in zip(z, xs, self._params(), groups)]
        gamma = self._gamma(g0)
        loss = self._outer(dirs, first)
        self.stats["gamma"] = gamma
        return loss

    def _noise(self, x: torch.Tensor) -> torch.Tensor:
        """Standard normals shaped like the stacked ``x``, replica i's from its own generator."""
        return torch.stack([torch.randn(x.shape[1:], generator=g, dtype=x.dtype) for g in self.generators]).to(x.device)


def stacked_grad_fn(module: torch.nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                    batches: Callable[[Sequence[int]], tuple[torch.Tensor, torch.Tensor]],
                    replica_ids: Sequence[int]) -> Batched:
    """A ``batched`` gradient function for :class:`ElasticSGD`/:class:`Parle`: ``torch.func.vmap`` over the
    replicas of grad(loss_fn(functional_call(module, params, X), y)), replica a on its own batch.

    ``batches(replica_ids)`` returns the stacked batches (X (n_local, B, ...), y (n_local, B)) for the next call.
    """
    from torch.func import functional_call, grad, vmap
    names = [n for n, p in module.named_parameters() if p.requires_grad]

    def one(params: list[torch.Tensor], X: torch.Tensor, y: torch.Tensor):
        loss = loss_fn(functional_call(module, dict(zip(names, params)), (X,)), y)
        return loss, loss

    vg = vmap(grad(one, has_aux=True))

    def fn(points: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        X, y = batches(replica_ids)
        grads, losses = vg(list(points), X, y)
        return losses, list(grads)
    return fn
