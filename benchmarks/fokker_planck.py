"""Benchmark: 2-D Ornstein-Uhlenbeck Fokker-Planck on 256 x 256, pde_sgd against fplanck, FiPy and py-pde.

Problem (PEERS.md): f = |x|^2 / 2, D = I, beta = 1, box [-6, 6]^2 with reflecting walls, 256 x 256 cells.
* Steady state: build + solve time and rel. L-inf error against the exact Gaussian N(0, I).
* Transient: from N(m0, S0), m0 = (1.5, -1), S0 = 0.25 I, to T = 0.5; wall time, cell-steps per second and
  rel. L-inf error against the exact Gaussian N(e^-T m0, e^-2T S0 + (1 - e^-2T) I). The figure of merit
  "time x error" compares runs of different step counts (lower is better).
Peers that fail to import are skipped. Run with the bench environment:
    .venv-bench/bin/python benchmarks/fokker_planck.py [--n 256] [--skip-fipy]
Timings are of the second call where a peer JIT-compiles (py-pde; pde_sgd's Numba kernel is warmed up first).
"""
from __future__ import annotations

import argparse
import collections.abc
import time

import numpy as np

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck, exact

L_BOX, BETA, T_END = 6.0, 1.0, 0.5
M0, S0 = np.array([1.5, -1.0]), 0.25 * np.eye(2)


def exact_fields(grid):
    m, S = exact.ou_moments(np.eye(2), np.eye(2), BETA, M0, S0, T_END)
    return (exact.gaussian_density(grid, M0, S0), exact.gaussian_density(grid, m, S),
            exact.gaussian_density(grid, [0, 0], np.eye(2) / BETA))


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_pde_sgd(n, rows):
    grid = Grid([-L_BOX] * 2, [L_BOX] * 2, [n, n])
    rho0, rho_T, rho_ss = exact_fields(grid)
    f = landscapes.quadratic(np.eye(2))
    FokkerPlanck(f, Grid([-1, -1], [1, 1], [8, 8]), beta=BETA).evolve(np.ones((8, 8)), times=[0, 0.01])  # JIT warm-up
    (fp, ss), t = timed(lambda: (lambda p: (p, p.steady_state()))(FokkerPlanck(f, grid, beta=BETA, D=1.0)))
    rows.append(("steady", "pde_sgd (SG + sparse LU)", t, rel_err(ss, rho_ss), None))
    for label, kw in [("explicit Euler, Numba", dict(method="explicit")),
                      ("Crank-Nicolson dt=0.01", dict(method="implicit", theta=0.5, dt=0.01)),
                      ("expm_multiply", dict(method="expm"))]:
        res, t = timed(lambda: fp.evolve(rho0, times=[0.0, T_END], **kw))
        steps = res.params.get("n_steps")
        rows.append(("transient", f"pde_sgd {label}", t, rel_err(res["rho"][-1], rho_T),
                     None if steps is None else steps * n * n / t))


def bench_fplanck(n, rows):
    try:
        import fplanck
        import fplanck.solver
        from scipy import constants
    except Exception as exc:  # a broken peer must not stop the benchmark
        print(f"fplanck skipped: {exc!r}")
        return
    np.product = np.prod  # NumPy 2 removed np.product; fplanck still calls it (PEERS.md)
    fplanck.solver.Iterable = collections.abc.Iterable  # missing import in fplanck 0.2.2 (PEERS.md)
    grid = Grid([-L_BOX] * 2, [L_BOX] * 2, [n, n])
    rho0, rho_T, rho_ss = exact_fields(grid)
    vol = grid.cell_volume

    def build():
        return fplanck.fokker_planck(temperature=1 / constants.k / BETA, drag=1.0, extent=[2 * L_BOX] * 2,
                                     resolution=2 * L_BOX / n * (1 + 1e-12),  # ceil(extent / res) = n
                                     potential=lambda x, y: 0.5 * (x**2 + y**2),
                                     boundary=fplanck.boundary.reflecting)

    sim, t_build = timed(build)
    assert tuple(sim.Ngrid) == (n, n), sim.Ngrid
    ss, t_ss = timed(sim.steady_state)
    rows.append(("steady", "fplanck (build + shift-invert eigs)", t_build + t_ss, rel_err(ss / vol, rho_ss), None))
    pdf = lambda x, y: exact.gaussian_density(grid, M0, S0).reshape(x.shape)  # noqa: E731
    out, t = timed(lambda: sim.propagate(pdf, T_END))
    rows.append(("transient", "fplanck expm_multiply", t, rel_err(out / vol, rho_T), None))
    print(f"fplanck build {t_build:.2f} s, steady solve {t_ss:.2f} s")


def bench_fipy(n, rows, n_steps=50):
    try:
        import fipy
    except Exception as exc:
        print(f"FiPy skipped: {exc!r}")
        return
    grid = Grid([-L_BOX] * 2, [L_BOX] * 2, [n, n])
    rho0, rho_T, _ = exact_fields(grid)
    h = 2 * L_BOX / n
    mesh = fipy.Grid2D(dx=h, dy=h, nx=n, ny=n) + ((-L_BOX,), (-L_BOX,))
    # FiPy orders cells x fastest: value[i + n * j] at (x_i, y_j)
    phi = fipy.CellVariable(mesh=mesh, value=rho0.T.ravel(), hasOld=True)
    gradf = fipy.FaceVariable(mesh=mesh, rank=1, value=mesh.faceCenters.value)
    eq = fipy.TransientTerm() == fipy.DiffusionTerm(coeff=1.0 / BETA) + fipy.ExponentialConvectionTerm(coeff=gradf)
    dt = T_END / n_steps

    def run():
        for _ in range(n_steps):
            phi.updateOld()
            eq.solve(var=phi, dt=dt)
        return np.array(phi.value).reshape(n, n).T

    out, t = timed(run)
    rows.append(("transient", f"FiPy implicit Euler dt={dt:g}", t, rel_err(out, rho_T), n_steps * n * n / t))


def bench_pypde(n, rows, dt=2e-4):
    try:
        import pde
    except Exception as exc:
        print(f"py-pde skipped: {exc!r}")
        return
    grid = Grid([-L_BOX] * 2, [L_BOX] * 2, [n, n])
    rho0, rho_T, _ = exact_fields(grid)
    pgrid = pde.CartesianGrid([[-L_BOX, L_BOX]] * 2, [n, n])
    eq = pde.PDE({"c": f"laplace(c) / {BETA} + x * d_dx(c) + y * d_dy(c) + 2 * c"}, bc={"derivative": 0})

    def run():
        state = pde.ScalarField(pgrid, rho0.copy())
        return eq.solve(state, t_range=T_END, dt=dt, solver="euler", tracker=None).data

    _, t_first = timed(run)
    out, t = timed(run)
    steps = int(round(T_END / dt))
    rows.append(("transient", f"py-pde explicit Euler dt={dt:g} (non-conservative)", t, rel_err(out, rho_T),
                 steps * n * n / t))
    print(f"py-pde first solve (with JIT) {t_first:.1f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--skip-fipy", action="store_true")
    args = ap.parse_args(argv)
    rows: list = []
    bench_pde_sgd(args.n, rows)
    bench_fplanck(args.n, rows)
    if not args.skip_fipy:
        bench_fipy(args.n, rows)
    bench_pypde(args.n, rows)
    print(f"\n2-D OU Fokker-Planck, {args.n}x{args.n}, box [-6,6]^2, beta = 1, T = {T_END}")
    print(f"{'task':10s} {'solver':58s} {'time [s]':>9s} {'rel Linf':>9s} {'Mcell-steps/s':>14s} {'time x err':>11s}")
    for task, name, t, err, rate in rows:
        r = "" if rate is None else f"{rate / 1e6:14.1f}"
        print(f"{task:10s} {name:58s} {t:9.3f} {err:9.2e} {r:>14s} {t * err:11.2e}")
    ours = {task: min((t * e, t, e) for tk, nm, t, e, _ in rows if tk == task and nm.startswith("pde_sgd"))
            for task in ("steady", "transient")}
    print("\nratios (peer / pde_sgd; > 1 means pde_sgd is better):")
    for task, name, t, err, _ in rows:
        if name.startswith("pde_sgd"):
            continue
        best_te, best_t, best_e = ours[task]
        print(f"  {task:10s} {name:58s} time {t / best_t:7.1f}x   time x error {t * err / best_te:9.1f}x"
              f"   (errors: peer {err:.1e}, pde_sgd {best_e:.1e})")


if __name__ == "__main__":
    main()
