"""Pieces shared by the optimizers of :mod:`pde_sgd.optim`: hyper-parameter checks, torch's Nesterov step,
the growing capped coupling schedule, and ``state_dict`` support for state that is not per parameter.

``nesterov_`` repeats, operation for operation, what ``torch.optim.SGD(momentum=m, nesterov=True)`` does to a
gradient (single-tensor path), so that an optimizer built on it reduces to torch's SGD bit for bit:

    buf <- g (first step) | m buf + g;     direction = g + m buf.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

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


class CheckedGroups:
    """Mixin: the options of the constructor and of every param group pass the same checks (``CHECKS``: option
    name -> check(name, value) returning the value or raising ValueError); unknown options are refused."""

    CHECKS: dict[str, Callable[[str, Any], Any]] = {}

    @classmethod
    def checked(cls, options: dict) -> dict:
        unknown = sorted(set(options) - set(cls.CHECKS) - {"params"})
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for {cls.__name__}; allowed: {', '.join(cls.CHECKS)}")
        return {k: v if k == "params" else cls.CHECKS[k](k, v) for k, v in options.items()}

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(self.checked(dict(param_group)))  # type: ignore[misc]


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


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator (the same random stream whatever device the parameters live on)."""
    return torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))


class ExtraState:
    """Mixin: ``state_dict`` also carries the step counter ``t`` and the noise generators' states, so that a run
    stopped after k steps and reloaded continues exactly as an uninterrupted one."""

    t: int
    generators: list[torch.Generator]

    def state_dict(self) -> dict:
        sd = super().state_dict()  # type: ignore[misc]
        sd["pde_sgd"] = {"t": self.t, "generators": [g.get_state() for g in self.generators]}
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        extra = state_dict.pop("pde_sgd", None)
        if extra is None:
            raise ValueError(f"state_dict was not written by {type(self).__name__}.state_dict (no 'pde_sgd' entry)")
        if len(extra["generators"]) != len(self.generators):
            raise ValueError(f"state_dict holds {len(extra['generators'])} noise generator(s), this optimizer "
                             f"{len(self.generators)} (different number of local replicas?)")
        super().load_state_dict(state_dict)  # type: ignore[misc]
        self.t = int(extra["t"])
        for g, s in zip(self.generators, extra["generators"]):
            g.set_state(s)
