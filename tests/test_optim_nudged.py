"""NudgedSGD over several steps against the update by hand on a quadratic whose top Hessian eigenvector is e1,
and its state_dict round trip (t and V restored: a resumed run nudges where an uninterrupted one does)."""
import copy

import torch

from pde_sgd.optim import NudgedSGD

A = torch.diag(torch.tensor([5.0, 2.0, 1.0, 0.5], dtype=torch.float64))
X0 = torch.tensor([1.0, 1.0, -1.0, 2.0], dtype=torch.float64)


def _loss(x):
    return lambda: 0.5 * x @ A @ x


def _by_hand(steps, lr, gamma):
    """x <- x - lr g', g' = A x with its e1 component scaled by gamma (g + (gamma - 1) e1 e1^T g)."""
    x = X0.clone()
    for _ in range(steps):
        g = A @ x
        g[0] *= gamma
        x = x - lr * g
    return x


def test_every_step_is_nudged_from_the_first_one():
    """V is computed at t = 0 (and refreshed every update_every steps): all five steps scale the e1 component."""
    x = X0.clone().requires_grad_(True)
    opt = NudgedSGD([x], lr=0.1, gamma=0.5, k=1, n_iter=4, update_every=2)
    for _ in range(5):
        opt.step(_loss(x))
    assert torch.allclose(x.detach(), _by_hand(5, 0.1, 0.5), rtol=0, atol=1e-12)
    assert opt.t == 5 and opt.V is not None and opt.V.shape == (4, 1)


def test_state_dict_round_trip_restores_t_and_V():
    """Stopped after one step (update_every = 3: V was computed at t = 0 and is next refreshed at t = 3), the
    reloaded optimizer nudges steps 2 and 3 with the saved V, as the uninterrupted run does."""
    x = X0.clone().requires_grad_(True)
    opt = NudgedSGD([x], lr=0.1, gamma=2.0, k=1, n_iter=4, update_every=3)
    opt.step(_loss(x))
    saved = copy.deepcopy(opt.state_dict())
    y = x.detach().clone().requires_grad_(True)
    opt2 = NudgedSGD([y], lr=0.1, gamma=2.0, k=1, n_iter=4, update_every=3)
    opt2.load_state_dict(saved)
    assert opt2.t == 1 and opt2.V is not None
    for _ in range(2):
        opt2.step(_loss(y))
    assert torch.allclose(y.detach(), _by_hand(3, 0.1, 2.0), rtol=0, atol=1e-12)
