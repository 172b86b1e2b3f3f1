"""Pieces shared by the optimizers of :mod:`pde_sgd.optim`: hyper-parameter checks, closure and gradient checks,
torch's Nesterov step, the growing capped coupling schedule, and ``state_dict`` support (a tag naming the
optimizer and the parameter shapes, and state that is not per parameter).

Non-finite gradients: like torch's own optimizers (``torch.optim.SGD``, ``Adam``: no check, a NaN gradient
makes NaN parameters), the optimizers propagate them by default, at no cost. ``check_finite=True`` makes each
step first verify, on the device, that the update direction is finite (one host sync per step) and raise a
ValueError naming the parameter before any parameter or state is changed.

``nesterov_`` repeats, operation for operation, what ``torch.optim.SGD(momentum=m, nesterov=True)`` does to a
gradient (single-tensor path), so that an optimizer built on it reduces to torch's SGD bit for bit:

    buf <- g (first step) | m buf + g;     direction = g + m buf.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..validation import positive, positive_int


def fraction(name: str, value: float, *, allow_one: bool = False) -> float:
    """``value`` as a float in [0, 1) (or [0, 1]), else ValueError naming ``name`` and the range."""
    v = positive(name, value, allow_zero=True)
    if v > 1.0 or (v == 1.0 and not allow_one):
        raise ValueError(f"{name} must be in [0, 1{']' if allow_one else ')'}, got {value!r}")
    return v


def nonnegative(name: str, value: float) -> float:
    return positive(name, value, allow_zero=True)


def optional_fraction(name: str, value: float | None) -> float | None:
    return None if value is None else fraction(name, value)


def count(name: str, value: int) -> int:
    """An integer >= 0 (L of Entropy-SGD)."""
    return positive_int(name, value, minimum=0)


def cap(name: str, value: float) -> float:
    """A coupling cap: > 0, or inf for none."""
    return value if isinstance(value, float) and math.isinf(value) and value > 0 else positive(name, value)


def not_bool(name: str, value: Any) -> Any:
    """``value`` unless it is a bool (True is not the number 1 here): ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a real number, got the bool {value!r}")
    return value


class CheckedGroups:
    """Mixin: the options of the constructor and of every param group pass the same checks (``CHECKS``: option
    name -> check(name, value) returning the value or raising ValueError; bools are refused); unknown options
    are refused; each group, completed by the defaults, has every cap ``<name>_max`` >= ``<name>`` (``CAPS``)."""

    CHECKS: dict[str, Callable[[str, Any], Any]] = {}
    CAPS: tuple[str, ...] = ()

    @classmethod
    def checked(cls, options: dict) -> dict:
        unknown = sorted(set(options) - set(cls.CHECKS) - {"params"})
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for {cls.__name__}; allowed: {', '.join(cls.CHECKS)}")
        return {k: v if k == "params" else cls.CHECKS[k](k, not_bool(k, v)) for k, v in options.items()}

    def add_param_group(self, param_group: dict) -> None:
        group = self.checked(dict(param_group))
        check_caps({**self.defaults, **group}, *self.CAPS)  # type: ignore[attr-defined]
        super().add_param_group(group)  # type: ignore[misc]


def nesterov_(grad: torch.Tensor, state: dict, momentum: float, key: str = "momentum_buffer") -> torch.Tensor:
    """The Nesterov direction for ``grad``, updating ``state[key]`` exactly as torch.optim.SGD does."""
    if not momentum:
        return grad
    buf = state.get(key)
    if buf is None:
        buf = state[key] = torch.clone(grad).detach()
    else:
        buf.mul_(momentum).add_(grad)
    return grad.add(buf, alpha=momentum)


def inner_momentum(group: dict) -> float:
    """The inner loop's momentum: ``inner_momentum``, or the outer ``momentum`` when None (the reference code)."""
    return group["momentum"] if group["inner_momentum"] is None else group["inner_momentum"]


def capped_growth(value: float, rate: float, cap: float, t: int) -> float:
    """The coupling schedule of the seeds' codes: value (1 + rate)^t, capped at ``cap``."""
    return min(value * (1.0 + rate) ** t, cap)


def check_caps(options: dict, *names: str) -> None:
    """Each coupling's cap ``<name>_max`` must be >= its starting value ``<name>``."""
    for name in names:
        if options[f"{name}_max"] < options[name]:
            raise ValueError(f"{name}_max must be >= {name} = {options[name]!r}, got {options[f'{name}_max']!r}")


def evaluate(closure: Callable[[], Any], params: list[torch.Tensor], who: str) -> Any:
    """``closure()`` with grad enabled and the gradients of ``params`` cleared first; refuses a closure that
    returns None or sets no gradient (it never called ``backward``), which would otherwise step on stale or
    zero gradients. Returns the closure's loss."""
    for p in params:
        p.grad = None
    with torch.enable_grad():
        loss = closure()
    if loss is None:
        raise ValueError(f"{who}: the closure returned None; it must return the mini-batch loss")
    if params and all(p.grad is None for p in params):
        raise ValueError(f"{who}: the closure set no gradient; it must call loss.backward() (after zero_grad())")
    return loss


def require_finite(tensors: list[torch.Tensor], who: str, what: str) -> None:
    """ValueError naming the first of ``tensors`` (the parameters' update directions) that has a NaN or inf;
    one on-device reduction and one host sync when all are finite."""
    if not tensors or bool(torch.stack([torch.isfinite(x).all() for x in tensors]).all()):
        return
    i = next(i for i, x in enumerate(tensors) if not bool(torch.isfinite(x).all()))
    raise ValueError(f"{who}: the {what} of parameter {i} (shape {tuple(tensors[i].shape)}) has NaN or inf "
                     f"(check_finite=True); no parameter was changed")


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator (the same random stream whatever device the parameters live on)."""
    return torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))


class TaggedState:
    """Mixin: ``state_dict`` also carries (entry ``"pde_sgd"``) the optimizer's class name, the parameters' shapes
    and :meth:`extra_state`; ``load_state_dict`` refuses, with a ValueError and before changing anything, a
    state_dict of another optimizer or of a model with other parameter shapes."""

    param_groups: list[dict]

    def extra_state(self) -> dict:
        """State that is not per parameter (none here)."""
        return {}

    def load_extra_state(self, extra: dict) -> None:
        """Restore what :meth:`extra_state` saved (checked before anything is loaded)."""

    def check_extra_state(self, extra: dict) -> None:
        """ValueError if ``extra`` cannot be restored into this optimizer."""

    def _shapes(self) -> list[list[int]]:
        return [list(p.shape) for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict:
        sd = super().state_dict()  # type: ignore[misc]
        sd["pde_sgd"] = {"optimizer": type(self).__name__, "shapes": self._shapes(), **self.extra_state()}
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        name = type(self).__name__
        state_dict = dict(state_dict)
        extra = state_dict.pop("pde_sgd", None)
        if not isinstance(extra, dict) or "optimizer" not in extra:
            raise ValueError(f"state_dict was not written by {name}.state_dict (no 'pde_sgd' entry)")
        if extra["optimizer"] != name:
            raise ValueError(f"state_dict was written by {extra['optimizer']}, not {name}")
        if [list(s) for s in extra["shapes"]] != self._shapes():
            raise ValueError(f"state_dict holds parameters of shapes {extra['shapes']}, this {name} "
                             f"{self._shapes()} (another model?)")
        self.check_extra_state(extra)
        super().load_state_dict(state_dict)  # type: ignore[misc]
        self.load_extra_state(extra)


class ExtraState(TaggedState):
    """Mixin: ``state_dict`` also carries the step counter ``t`` and the noise generators' states, so that a run
    stopped after k steps and reloaded continues exactly as an uninterrupted one."""

    t: int
    generators: list[torch.Generator]

    def extra_state(self) -> dict:
        return {"t": self.t, "generators": [g.get_state() for g in self.generators]}

    def check_extra_state(self, extra: dict) -> None:
        if len(extra["generators"]) != len(self.generators):
            raise ValueError(f"state_dict holds {len(extra['generators'])} noise generator(s), this optimizer "
                             f"{len(self.generators)} (different number of local replicas?)")

    def load_extra_state(self, extra: dict) -> None:
        self.t = int(extra["t"])
        for g, s in zip(self.generators, extra["generators"]):
            g.set_state(s)
