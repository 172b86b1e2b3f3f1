"""Benchmark: Hamilton-Jacobi solvers of pde_sgd against py-pde and hj_reachability, and exact Hopf-Lax.

1. Viscous u_t = -1/2 |grad u|^2 + (1/(2 beta)) Laplace u on the periodic 256 x 256 grid of [0, 2 pi)^2,
   beta = 10, f = (cos x + cos(y + 0.3)) / 2, to T = 1 (1000 steps of dt = 1e-3 for py-pde's explicit Euler),
   error (L-inf) against the spectral Cole-Hopf solution. py-pde: KPZInterfacePDE(nu = 1/(2 beta),
   lmbda = -0.5) (its code computes lmbda |grad h|^2, see PEERS.md), second solve timed.
   pde_sgd: solve_viscous with "central" (2nd order) and "weno5" gradients, TVD-RK3, automatic step (default
   cfl 0.5, and 1.0, still inside RK3's diffusion limit), and "central" forced to dt = 1e-3 (the same 1000
   steps as py-pde).
2. Inviscid u_t = -1/2 |grad u|^2, f = |x| (Euclidean norm) on [-2, 2]^2, 256 x 256: hj_reachability's
   WENO5 / TVD-RK3 / global Lax-Friedrichs ("very_high", CFL 0.75) for exactly 1000 CFL steps in one jitted
   loop (second call timed), then pde_sgd's WENO5 / RK3 (Godunov, CFL 0.75) to the same final time; error
   against the exact Huber envelope (L-inf and mean over |x| < 1).
3. Exact Hopf-Lax on N = 4096 points in 1-D: the O(N) lower envelope (moreau_envelope) vs the O(N^2) brute
   force (exact.hopf_lax_brute, numpy).
4. First call (import + one small solve of each kind) in a fresh process with the Numba cache warm.

"cell-steps/s" = cells x time steps / wall time (a step being a full RK3 step for RK3 schemes, one Euler
step for py-pde); the time-to-solution ratio compares runs to the same T at their own accuracy.
Peers that fail to import are skipped with a message. Run with the bench environment:
    .venv-bench/bin/python benchmarks/hj.py [--n 256] [--threads N]
``--threads`` sets the Numba threads (pde_sgd and py-pde) and, for N = 1, single-threaded XLA for
hj_reachability. On a machine shared with other jobs use --threads 1: Numba's OpenMP workers spin at every
barrier and lose several-fold when a core is taken away from them.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

from pde_sgd import Grid, hj
from pde_sgd.hj import exact

BETA, T_VISC, DT_PEER = 10.0, 1.0, 1e-3


def timed(fn, repeats: int = 1):
    """(result, best wall time over ``repeats`` calls)."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def viscous_problem(n):
    grid = Grid([0.0, 0.0], [2 * np.pi] * 2, [n, n], bc="periodic")
    X, Y = grid.coords
    f = 0.5 * (np.cos(X) + np.cos(Y + 0.3))
    return grid, f, exact.cole_hopf_spectral(f, grid, T_VISC, BETA)


def bench_viscous(n, rows):
    grid, f, ref = viscous_problem(n)
    for label, kw in [("central, auto dt", dict(scheme="central")),
                      ("central, auto dt, cfl = 1", dict(scheme="central", cfl=1.0)),
                      ("central, dt = 1e-3", dict(scheme="central", max_dt=DT_PEER)),
                      ("weno5, auto dt", dict(scheme="weno5"))]:
        hj.solve_viscous(f, grid, BETA, times=[0.01], **kw)  # warm-up (cache load)
        res, t = timed(lambda: hj.solve_viscous(f, grid, BETA, times=[T_VISC], **kw), repeats=2)
        steps = res.params["steps"]
        rows.append(("viscous", f"pde_sgd {label}", t, steps, grid.size * steps / t,
                     float(np.max(np.abs(res["u"][-1] - ref)))))
    try:
        import pde
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip the peer
        print(f"py-pde skipped: {exc!r}")
        return
    pgrid = pde.CartesianGrid([[0, 2 * np.pi]] * 2, [n, n], periodic=True)
    state = pde.ScalarField(pgrid, f)
    eq = pde.KPZInterfacePDE(nu=1 / (2 * BETA), lmbda=-0.5)
    solve = lambda: eq.solve(state, t_range=T_VISC, dt=DT_PEER, solver="euler", tracker=None)  # noqa: E731
    _, t_first = timed(solve)
    out, t = timed(solve)
    steps = int(round(T_VISC / DT_PEER))
    rows.append(("viscous", f"py-pde KPZ explicit Euler dt = 1e-3 (first call {t_first:.1f} s)", t, steps,
                 grid.size * steps / t, float(np.max(np.abs(out.data - ref)))))


def bench_inviscid(n, rows):
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import hj_reachability as hjr
    except Exception as exc:  # noqa: BLE001
        print(f"hj_reachability skipped: {exc!r}")
        t_final = 1000 * 0.75 / (2 / (4.0 / n))
        peer = None
    else:
        class FreeParticle(hjr.Dynamics):
            """H(p) = |p|^2 / 2: u_t = -H(grad u), hj_reachability's forward-time sign convention."""

            def __init__(self):
                super().__init__("min", "max", None, None)

            def __call__(self, state, control, disturbance, time):
                raise NotImplementedError

            def optimal_control_and_disturbance(self, state, time, grad_value):
                raise NotImplementedError

            def hamiltonian(self, state, time, value, grad_value):
                return 0.5 * jnp.sum(grad_value ** 2)

            def partial_max_magnitudes(self, state, time, value, grad_value_box):
                return jnp.maximum(jnp.abs(grad_value_box.lo), jnp.abs(grad_value_box.hi))

        pgrid = hjr.Grid.from_lattice_parameters_and_boundary_conditions(hjr.sets.Box(jnp.array([-2.0, -2.0]),
                                                                                      jnp.array([2.0, 2.0])), (n, n))
        settings = hjr.SolverSettings.with_accuracy("very_high")
        dyn = FreeParticle()
        v0 = jnp.linalg.norm(pgrid.states, axis=-1)

        @jax.jit
        def thousand_steps(v):
            body = lambda i, tv: settings.time_integrator(settings, dyn, pgrid, tv[0], tv[1], 1e9)  # noqa: E731
            return jax.lax.fori_loop(0, 1000, body, (0.0, v))

        _, t_first = timed(lambda: jax.block_until_ready(thousand_steps(v0)))
        (t_final, v_peer), t = timed(lambda: jax.block_until_ready(thousand_steps(v0)), repeats=2)
        t_final = float(t_final)
        pts = np.asarray(pgrid.states)
        r = np.linalg.norm(pts, axis=-1)
        err = np.abs(np.asarray(v_peer) - exact.abs_value(r, t_final))
        peer = ("inviscid", f"hj_reachability WENO5/RK3/LF (first call {t_first:.1f} s)", t, 1000,
                n * n * 1000 / t, float(err.max()), float(err[r < 1].mean()))
    grid = Grid([-2.0, -2.0], [2.0, 2.0], [n, n])
    r = np.linalg.norm(np.stack(grid.coords, -1), axis=-1)
    for label, scheme in [("WENO5/RK3/Godunov", "weno5"), ("upwind1/RK3/Godunov", "upwind1")]:
        hj.solve_inviscid(r, grid, times=[1e-3], scheme=scheme, cfl=0.75)
        res, t = timed(lambda: hj.solve_inviscid(r, grid, times=[t_final], scheme=scheme, cfl=0.75), repeats=2)
        steps = res.params["steps"]
        err = np.abs(res["u"][-1] - exact.abs_value(r, t_final))
        rows.append(("inviscid", f"pde_sgd {label}", t, steps, grid.size * steps / t, float(err.max()),
                     float(err[r < 1].mean())))
    if peer is not None:
        rows.append(peer)
    print(f"inviscid final time T = {t_final:.4f} (1000 hj_reachability CFL steps)")


def bench_hopf_lax(rows, n=4096):
    grid = Grid(-3.0, 3.0, n)
    x = grid.axes[0]
    f = x ** 2 + 1.5 * np.sin(2 * np.pi * x)
    hj.moreau_envelope(f, grid, 0.5)
    (u, _), t_fast = timed(lambda: hj.moreau_envelope(f, grid, 0.5), repeats=3)
    (ub, _), t_brute = timed(lambda: exact.hopf_lax_brute(f, x, x, 0.5))
    rows.append(("hopf-lax", "pde_sgd moreau_envelope O(N)", t_fast, 1, n / t_fast, float(np.max(np.abs(u - ub)))))
    rows.append(("hopf-lax", "brute force O(N^2) (numpy)", t_brute, 1, n / t_brute, 0.0))


FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from pde_sgd import Grid, hj
g = Grid([0.0, 0.0], [6.28, 6.28], [256, 256], bc="periodic")
f = np.cos(g.coords[0]) + np.cos(g.coords[1])
hj.solve_viscous(f, g, [0.01], 10.0)
hj.solve_inviscid(f, g, [0.01])
hj.local_entropy(f, g, 0.1, 10.0).u
hj.moreau_envelope(f, g, 0.1)
print(time.perf_counter() - t0)
"""


def first_call_seconds(threads: int | None) -> float:
    """Import + first call of each solver in a fresh interpreter (the Numba cache is warm after this run)."""
    env = dict(os.environ) if threads is None else dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=256, help="cells per axis of the 2-D problems")
    parser.add_argument("--threads", type=int, default=None, help="Numba threads (default: all cores)")
    ns = parser.parse_args(argv)
    if ns.threads is not None:
        import numba
        numba.set_num_threads(ns.threads)
        if ns.threads == 1:
            os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    print(f"Numba threads: {ns.threads or 'default'}")
    rows: list[tuple] = []
    bench_viscous(ns.n, rows)
    bench_inviscid(ns.n, rows)
    bench_hopf_lax(rows)
    print(f"\n{'problem':9s} {'method':58s} {'wall s':>8s} {'steps':>6s} {'cell-steps/s':>13s} "
          f"{'L-inf err':>10s} {'mean err':>9s}")
    for row in rows:
        extra = f"{row[6]:9.2e}" if len(row) > 6 else ""
        print(f"{row[0]:9s} {row[1]:58s} {row[2]:8.4g} {row[3]:6d} {row[4]:13.3e} {row[5]:10.2e} {extra}")
    by = {(r[0], r[1].split(" (")[0]): r for r in rows}

    def ratio(problem, ours, theirs):
        a = by.get((problem, ours))
        b = next((r for k, r in by.items() if k[0] == problem and k[1].startswith(theirs)), None)
        if a is None or b is None:
            return
        print(f"{problem}: {ours} vs {b[1].split(' (')[0]}: time-to-solution ratio {b[2] / a[2]:.2f}x, "
              f"cell-steps/s ratio {a[4] / b[4]:.2f}x, error {a[5]:.2e} vs {b[5]:.2e}")

    print()
    for ours in ("pde_sgd central, auto dt", "pde_sgd central, auto dt, cfl = 1", "pde_sgd central, dt = 1e-3",
                 "pde_sgd weno5, auto dt"):
        ratio("viscous", ours, "py-pde")
    ratio("inviscid", "pde_sgd WENO5/RK3/Godunov", "hj_reachability")
    fast, brute = by[("hopf-lax", "pde_sgd moreau_envelope O(N)")], by[("hopf-lax", "brute force O(N^2)")]
    print(f"hopf-lax N = 4096: O(N) envelope {brute[2] / fast[2]:.0f}x faster than brute force, "
          f"max |difference| {fast[5]:.1e}")
    print(f"first call (import + solve_viscous, solve_inviscid, local_entropy, moreau_envelope on 256^2), "
          f"Numba cache warm: {first_call_seconds(ns.threads):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
