"""Shared by the torch-optimizer tests: one optimizer step on the quadratic f(x) = a |x|^2 / 2."""
import torch


def quadratic_step(opt: torch.optim.Optimizer, x: torch.Tensor, a: float) -> None:
    """``opt.step`` with the closure of f(x) = a |x|^2 / 2 (x the optimizer's only parameter)."""
    def closure():
        opt.zero_grad()
        loss = 0.5 * a * (x * x).sum()
        loss.backward()
        return loss
    opt.step(closure)
