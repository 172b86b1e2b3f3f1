"""Benchmark: the 2-D SGD SDE with anisotropic D(x), 10,000 paths x 1,000 steps, Numba kernel vs torchsde.

dX = -grad f(X) dt + sqrt(2 beta^-1 D(X)) dW, f the 2-D double well, D(x) a field on a 64 x 64 grid
(rotating, anisotropic: eigenvalues 1 and 0.2 + 0.8 sin^2 x_1), interpolated and Cholesky-factorised at every
step by both codes, Euler-Maruyama, dt = 0.01. Both sides run on ``--threads`` threads (Numba and torch), the
same number of repetitions (best reported), first call (compile or cache load / warm-up) apart; the "error"
beside each time is the largest |difference of the ensemble means| / its standard error against the Numba run
(same law, so O(1)); the mean of x_1 is printed beside it. The torchsde peer is written as its users would
(:func:`lean_sde`: a ``torchsde.SDE``-style module, f and g in plain float64 torch, bilinear D and its 2x2
Cholesky factor in closed form, no host sync, ``sdeint`` called directly); the package's own bridge
(:mod:`pde_sgd.sde.torch_bridge`, general N-D interpolation and factor, input checks) is timed on its own row.
``--modes`` adds Numba-only rows for the other kernel variants on the same problem: D constant (the field's
mean), D a jitted callable (the same rotating field in closed form), and Milstein with the D field. Adds the
torchsde rows on CUDA when a GPU is present.
Usage: python benchmarks/sde.py [--threads 1] [--clock cpu] [--repeats 3] [--paths N] [--steps N] [--modes ...]
"""
from __future__ import annotations

import os
import sys

import numpy as np
from numba import njit

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402
from pde_sgd import Grid, landscapes  # noqa: E402
from pde_sgd.sde import simulate_sgd  # noqa: E402

MODES = ("constant", "callable", "milstein")


def diffusion_field(grid: Grid) -> np.ndarray:
    x1, x2 = grid.coords
    theta = 0.8 * x1 + 0.3 * x2
    c, s = np.cos(theta), np.sin(theta)
    lam2 = 0.2 + 0.8 * np.sin(x1) ** 2
    R = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    Lam = np.zeros(grid.shape + (2, 2))
    Lam[..., 0, 0], Lam[..., 1, 1] = 1.0, lam2
    return R @ Lam @ np.swapaxes(R, -1, -2)


@njit
def rotating_D(x, t, out):
    """The field of :func:`diffusion_field` in closed form: R(theta) diag(1, 0.2 + 0.8 sin^2 x_1) R(theta)^T."""
    theta = 0.8 * x[0] + 0.3 * x[1]
    c, s = np.cos(theta), np.sin(theta)
    lam2 = 0.2 + 0.8 * np.sin(x[0]) ** 2
    out[0, 0], out[1, 1] = c * c + lam2 * s * s, s * s + lam2 * c * c
    out[0, 1] = out[1, 0] = c * s * (1.0 - lam2)


def lean_sde(D: np.ndarray, grid: Grid, beta: float, device: str):
    """The torchsde peer as a torchsde user writes it: dX = -grad f dt + sqrt(2/beta) S(X) dW, f the 2-D double
    well (x_1^2 - 1)^2 / 4 + x_2^2 / 2, S S^T the bilinear interpolation of the cell-centred field D (held
    constant beyond the outer centres, as the Numba kernel), factorised in closed form."""
    import torch

    class LeanSDE(torch.nn.Module):
        noise_type, sde_type = "general", "ito"

        def __init__(self) -> None:
            super().__init__()
            kw = dict(device=device, dtype=torch.float64)
            self.v = torch.as_tensor(np.stack([D[..., 0, 0], D[..., 1, 0], D[..., 1, 1]], -1).reshape(-1, 3), **kw)
            self.lower, self.h = torch.as_tensor(grid.lower, **kw), torch.as_tensor(grid.spacing, **kw)
            self.n, self.ny, self.scale = grid.shape[0], grid.shape[1], float(np.sqrt(2.0 / beta))

        def f(self, t, y):
            x1 = y[:, :1]
            return torch.cat([x1 * (1.0 - x1 * x1), -y[:, 1:]], 1)

        def g(self, t, y):
            s = ((y - self.lower) / self.h - 0.5).clamp(0.0, self.n - 1.0)
            i = s.floor().clamp(max=self.n - 2)
            w = s - i
            i = i.long()
            k = i[:, 0] * self.ny + i[:, 1]
            wx, wy = w[:, :1], w[:, 1:]
            v, ny = self.v, self.ny
            d = (1 - wx) * ((1 - wy) * v[k] + wy * v[k + 1]) + wx * ((1 - wy) * v[k + ny] + wy * v[k + ny + 1])
            l11 = d[:, 0].sqrt()
            l21 = d[:, 1] / l11
            l22 = (d[:, 2] - l21 * l21).sqrt()
            return self.scale * torch.stack([l11, torch.zeros_like(l11), l21, l22], -1).view(-1, 2, 2)
    return LeanSDE()


def lean_run(sde, x0, T: float, dt: float, n_paths: int, seed: int, device: str) -> np.ndarray:
    """``torchsde.sdeint`` from x0 to T (Euler, fixed dt, a seeded Brownian interval told the step): x(T)."""
    import torch
    import torchsde
    y0 = torch.tensor(x0, dtype=torch.float64, device=device).expand(n_paths, 2).contiguous()
    ts = torch.tensor([0.0, T], dtype=torch.float64, device=device)
    bm = torchsde.BrownianInterval(t0=0.0, t1=T, size=(n_paths, 2), dtype=torch.float64, device=device,
                                   entropy=seed, dt=dt)
    with torch.no_grad():
        return torchsde.sdeint(sde, y0, ts, bm=bm, dt=dt, method="euler")[-1].cpu().numpy()


def main() -> None:
    ap = C.parser(__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1_000)
    ap.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES,
                    help="extra Numba rows: constant D, callable D, Milstein (default: all; none: --modes)")
    ns = ap.parse_args()
    threads = C.set_threads(ns.threads, ns.clock)
    L, beta, dt = landscapes.double_well(2), 3.0, 0.01
    grid = Grid([-3, -3], [3, 3], [64, 64])
    D = diffusion_field(grid)
    x0 = [0.5, 0.0]
    work = ns.paths * ns.steps

    def numba_run(D_arg, scheme="euler", g=None):
        return lambda: simulate_sgd(L, D_arg, beta, x0, dt=dt, n_steps=ns.steps, n_paths=ns.paths, seed=1, grid=g,
                                    scheme=scheme)

    first, t_numba, res = C.first_and_best(numba_run(D, g=grid), ns.repeats)
    xn = res["x"][-1]
    rows = [("Numba, D field (Euler)", "cpu", first - t_numba, t_numba, None)]
    extra = {"constant": numba_run(D.mean(axis=(0, 1))), "callable": numba_run(rotating_D),
             "milstein": numba_run(D, "milstein", grid)}
    for mode in ns.modes:
        f, t, _ = C.first_and_best(extra[mode], ns.repeats)
        rows.append((f"Numba, D {mode}" if mode != "milstein" else "Numba, D field (Milstein)", "cpu", f - t, t, None))

    import torch

    from pde_sgd.sde import torch_bridge as tb
    T = dt * ns.steps
    means = {rows[0][0]: float(xn[:, 0].mean())}
    for dev in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        lean = lean_sde(D, grid, beta, dev)
        bridge = tb.make_sde(L, D, beta, grid=grid, device=dev)
        for name, fn in ((f"torchsde {dev}, lean module (Euler)", lambda: lean_run(lean, x0, T, dt, ns.paths, 1, dev)),
                         (f"torchsde {dev}, pde_sgd bridge (Euler)",
                          lambda: tb.run(bridge, x0, T=T, dt=dt, n_paths=ns.paths, seed=1)["x"][-1])):
            first, t, xt = C.first_and_best(fn, ns.repeats, sync)
            se = np.sqrt(xn.var(0) / len(xn) + xt.var(0) / len(xt))
            rows.append((name, dev, first - t, t, float(np.max(np.abs(xn.mean(0) - xt.mean(0)) / se))))
            means[name] = float(xt[:, 0].mean())
    print(f"\n{ns.paths} paths x {ns.steps} steps, {threads} thread(s), best of {ns.repeats}")
    C.table(["code", "device", "first-call extra s", "s", "ns/path-step", "M path-steps/s", "|mean diff|/SE",
             "mean x_1(T)"],
            [(name, dev, f, t, 1e9 * t / work, work / t / 1e6, "-" if z is None else f"{z:.2f}",
              f"{means[name]:.4f}" if name in means else "-")
             for name, dev, f, t, z in rows], ["s", "s", ".2f", ".3f", ".1f", ".2f", "s", "s"])
    for name, _, _, t, z in rows:
        if z is not None:
            print(f"ratio {name} / Numba D field: {t / t_numba:.1f}x (means agree to {z:.2f} standard errors)")


if __name__ == "__main__":
    main()
