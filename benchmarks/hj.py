"""Benchmark: Hamilton-Jacobi solvers of pde_sgd against py-pde and hj_reachability, and exact Hopf-Lax.

1. Viscous u_t = -1/2 |grad u|^2 + (1/(2 beta)) Laplace u on the periodic n x n grid of [0, 2 pi)^2 (n = 256),
   beta = 10, f = (cos x + cos(y + 0.3)) / 2, to T = 1 and T = 10; L-inf error against the spectral Cole-Hopf
   solution on the same grid beside every time. py-pde: KPZInterfacePDE(nu = 1/(2 beta), lmbda = -0.5) (its code
   computes lmbda |grad h|^2 with central differences and the standard 5-point Laplacian, as "central" does; see
   PEERS.md), explicit Euler dt = 1e-3; its first call (JIT), its fixed cost per call (a 1-step solve) and its
   per-step cost are reported apart. pde_sgd: solve_viscous with TVD-RK3. Like for like: "central" (the same
   second-order discretisation, the same grid) at cfl 0.5, cfl 1 and dt = 1e-3. Best against best: also
   "central4" (fourth order) on coarser grids (the error is measured at each grid's own cells).
   Each comparison: time to solution at equal error (the fastest pde_sgd run whose error is <= py-pde's)
   with and without py-pde's fixed cost; rates per right-hand-side evaluation (an RK3 step is 3 evaluations, an
   Euler step 1). At T = 10 py-pde's Euler error (dt 1e-3) partly cancels the central Laplacian's spatial error
   (Euler's -nu^2 dt/2 against +nu h^2/12 on the k^4 term: half of it at this dt and h); the same py-pde run at
   dt = 5e-4 has error 1.2e-4 and the semi-discrete limit is 1.7e-4, which no RK3 run of "central" can beat.
   Bandwidth: the fused "central" RK3 step at 1024^2 moves 64 B per cell (stage 1 reads u and writes L0,
   stages 2 and 3 read two arrays and write one, 8 B each; neighbour rows come from cache), against a triad
   measured in the same run.
2. Inviscid u_t = -1/2 |grad u|^2, f = |x| (Euclidean norm) on [-2, 2]^2, n x n: hj_reachability's
   WENO5 / TVD-RK3 / global Lax-Friedrichs ("very_high", CFL 0.75) for exactly 1000 CFL steps in one jitted
   loop (first call apart), then pde_sgd's WENO5 / RK3 (Godunov, CFL 0.75) to the same final time; error
   against the exact Huber envelope (L-inf and mean over |x| < 1). Same method on both sides.
3. Exact Hopf-Lax on N = 4096 points in 1-D: the O(N) lower envelope (moreau_envelope) vs the O(N^2) brute
   force (exact.hopf_lax_brute, numpy).
4. First call (import + one small solve of each kind) in a fresh process with the Numba cache warm.
Peers that fail to import are skipped with a message. Run with the bench environment:
    .venv-bench/bin/python benchmarks/hj.py [--n 256] [--threads 1] [--repeats 3]
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402

BETA, HORIZONS, DT_PEER, RK3_BYTES = 10.0, (1.0, 10.0), 1e-3, 64
COARSE = (32, 48, 64, 96, 128)  # the central4 grids for best against best


def timed(fn, repeats: int = 1):
    """(result, best wall time over ``repeats`` calls)."""
    t, out = C.best_of(fn, repeats)
    return out, t


def viscous_problem(n, T):
    """(grid, f, the exact solution at T on the grid, or None for T = None)."""
    from pde_sgd import Grid
    from pde_sgd.hj import exact
    grid = Grid([0.0, 0.0], [2 * np.pi] * 2, [n, n], bc="periodic")
    X, Y = grid.coords
    f = 0.5 * (np.cos(X) + np.cos(Y + 0.3))
    return grid, f, None if T is None else exact.cole_hopf_spectral(f, grid, T, BETA)


def our_runs(n):
    """(label, cells per axis, like for like, solve_viscous options) of the pde_sgd viscous runs."""
    runs = [("central cfl 0.5", n, True, dict(scheme="central")),
            ("central cfl 1", n, True, dict(scheme="central", cfl=1.0)),
            ("central dt 1e-3", n, True, dict(scheme="central", max_dt=DT_PEER))]
    return runs + [(f"central4 cfl 1 {m}^2", m, False, dict(scheme="central4", cfl=1.0)) for m in COARSE if m < n]


def bench_viscous(n, repeats, rows):
    from pde_sgd import hj
    for T in HORIZONS:
        for label, m, like, kw in our_runs(n):
            grid, f, ref = viscous_problem(m, T)
            hj.solve_viscous(f, grid, BETA, times=[0.01], **kw)  # warm-up (cache load)
            res, t = timed(lambda: hj.solve_viscous(f, grid, BETA, times=[T], **kw), repeats)
            steps = res.params["steps"]
            rows.append((f"viscous T={T:g}", f"pde_sgd {label}", 0.0, t, 3 * steps,
                         grid.size * 3 * steps / t / 1e6, float(np.max(np.abs(res["u"][-1] - ref))), like))
        try:
            import pde
        except Exception as exc:  # noqa: BLE001 - any import failure means: skip the peer
            print(f"py-pde skipped: {exc!r}")
            continue
        grid, f, ref = viscous_problem(n, T)
        pgrid = pde.CartesianGrid([[0, 2 * np.pi]] * 2, [n, n], periodic=True)
        state = pde.ScalarField(pgrid, f)
        eq = pde.KPZInterfacePDE(nu=1 / (2 * BETA), lmbda=-0.5)
        solve = lambda t_end: eq.solve(state, t_range=t_end, dt=DT_PEER, solver="euler", tracker=None)  # noqa
        _, t_first = timed(lambda: solve(DT_PEER))
        _, t_fixed = timed(lambda: solve(DT_PEER), repeats)
        out, t = timed(lambda: solve(T), repeats)
        steps = int(round(T / DT_PEER))
        t_steps = t - t_fixed if t > t_fixed else np.nan  # not resolved when the per-call cost dominates
        print(f"  py-pde T={T:g}: first call {t_first:.2f} s, fixed cost per call {t_fixed:.2f} s, "
              f"per step {t_steps / steps * 1e3:.3f} ms")
        rows.append((f"viscous T={T:g}", "py-pde KPZ Euler dt 1e-3", t_fixed, t_steps, steps,
                     grid.size * steps / t_steps / 1e6, float(np.max(np.abs(out.data - ref))), True))


def fused_bandwidth(bandwidth, n=1024, steps=20):
    """The fused "central" RK3 step at n^2 (cfl 1, ~``steps`` steps, best of 3): cell-steps/s and the fraction of
    the triad at RK3_BYTES per cell-step."""
    from pde_sgd import hj
    grid, f, _ = viscous_problem(n, None)
    T = steps / (2 * (1 / (2 * BETA)) * 2 * (n / (2 * np.pi)) ** 2)  # ~steps steps (the diffusion limit dominates)
    hj.solve_viscous(f, grid, BETA, times=[T / steps], scheme="central", cfl=1.0)
    res, t = timed(lambda: hj.solve_viscous(f, grid, BETA, times=[T], scheme="central", cfl=1.0), 3)
    rate = grid.size * res.params["steps"] / t
    print(f"fused central RK3 step at {n}^2: {rate / 1e6:.1f} M cell-steps/s, "
          f"{C.fraction(rate, RK3_BYTES, bandwidth)} at {RK3_BYTES} B/cell-step "
          f"({rate * RK3_BYTES / 1e9:.1f} GB/s counted)")


def viscous_ratios(rows):
    for T in HORIZONS:
        sel = [r for r in rows if r[0] == f"viscous T={T:g}"]
        peer = next((r for r in sel if r[1].startswith("py-pde")), None)
        if peer is None:
            continue
        for kind, pool in (("like for like (central, same grid)", [r for r in sel if r[7]]),
                           ("best vs best", sel)):
            ok = [r for r in pool if r[1].startswith("pde_sgd") and r[6] <= peer[6]]
            if not ok:
                closest = min((r for r in pool if r[1].startswith("pde_sgd")), key=lambda r: r[6])
                print(f"  T={T:g} {kind}: no pde_sgd run reached py-pde's error {peer[6]:.2e} "
                      f"(closest: {closest[1]} {closest[6]:.2e})")
                continue
            best = min(ok, key=lambda r: r[3])
            print("  " + C.ratio_line(f"T={T:g} {kind}, time to py-pde's error, {best[1]}, py-pde incl. its "
                                      f"fixed cost", best[3], peer[2] + np.nan_to_num(peer[3]), best[6], peer[6]))
            print("  " + C.ratio_line(f"T={T:g} {kind}, same, py-pde per-step cost only", best[3], peer[3],
                                      best[6], peer[6]))
        central = next(r for r in sel if r[1] == "pde_sgd central cfl 1")
        print(f"  T={T:g} per RHS evaluation: pde_sgd central {central[5]:.1f} vs py-pde {peer[5]:.1f} M cell-evals/s"
              f" ({central[5] / peer[5]:.2f}x)")


def bench_inviscid(n, repeats, rows):
    from pde_sgd import Grid, hj
    from pde_sgd.hj import exact
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import hj_reachability as hjr
    except Exception as exc:  # noqa: BLE001
        print(f"hj_reachability skipped: {exc!r}")
        t_final = 1000 * 0.75 / (2 / (4.0 / n))
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

        t_first, t, (t_final, v_peer) = C.first_and_best(lambda: jax.block_until_ready(thousand_steps(v0)),
                                                          repeats)
        t_final = float(t_final)
        r = np.linalg.norm(np.asarray(pgrid.states), axis=-1)
        err = np.abs(np.asarray(v_peer) - exact.abs_value(r, t_final))
        rows.append(("inviscid", "hj_reachability WENO5/RK3/LF", t_first - t, t, 3000, n * n * 3000 / t / 1e6,
                     float(err.max()), float(err[r < 1].mean())))
    grid = Grid([-2.0, -2.0], [2.0, 2.0], [n, n])
    r = np.linalg.norm(np.stack(grid.coords, -1), axis=-1)
    for label, scheme in [("WENO5/RK3/Godunov", "weno5"), ("upwind1/RK3/Godunov", "upwind1")]:
        t_first, t, res = C.first_and_best(
            lambda: hj.solve_inviscid(r, grid, times=[t_final], scheme=scheme, cfl=0.75), repeats)
        steps = res.params["steps"]
        err = np.abs(res["u"][-1] - exact.abs_value(r, t_final))
        rows.append(("inviscid", f"pde_sgd {label}", t_first - t, t, 3 * steps, grid.size * 3 * steps / t / 1e6,
                     float(err.max()), float(err[r < 1].mean())))
    print(f"inviscid final time T = {t_final:.4f} (1000 hj_reachability CFL steps)")


def bench_hopf_lax(repeats, rows, n=4096):
    from pde_sgd import Grid, hj
    from pde_sgd.hj import exact
    grid = Grid(-3.0, 3.0, n)
    x = grid.axes[0]
    f = x ** 2 + 1.5 * np.sin(2 * np.pi * x)
    hj.moreau_envelope(f, grid, 0.5)
    (u, _), t_fast = timed(lambda: hj.moreau_envelope(f, grid, 0.5), repeats)
    (ub, _), t_brute = timed(lambda: exact.hopf_lax_brute(f, x, x, 0.5), repeats)
    rows.append(("hopf-lax", "pde_sgd moreau_envelope O(N)", 0.0, t_fast, 1, n / t_fast / 1e6,
                 float(np.max(np.abs(u - ub)))))
    rows.append(("hopf-lax", "brute force O(N^2) (numpy)", 0.0, t_brute, 1, n / t_brute / 1e6, 0.0))


FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from pde_sgd import Grid, hj
g = Grid([0.0, 0.0], [6.28, 6.28], [256, 256], bc="periodic")
f = np.cos(g.coords[0]) + np.cos(g.coords[1])
hj.solve_viscous(f, g, 10.0, times=[0.01])
hj.solve_inviscid(f, g, times=[0.01])
hj.local_entropy(f, g, 0.1, 10.0)
hj.moreau_envelope(f, g, 0.1)
print(time.perf_counter() - t0)
"""


def first_call_seconds(threads: int) -> float:
    """Import + first call of each solver in a fresh interpreter (the Numba cache is warm after this run)."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = C.parser(__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=256, help="cells per axis of the 2-D problems")
    ns = parser.parse_args(argv)
    threads = C.set_threads(ns.threads, ns.clock)
    bandwidth = C.triad_bandwidth()
    print(f"triad (1 thread): {bandwidth / 1e9:.1f} GB/s")
    rows: list[tuple] = []
    fused_bandwidth(bandwidth)
    bench_viscous(ns.n, ns.repeats, rows)
    bench_inviscid(ns.n, ns.repeats, rows)
    bench_hopf_lax(ns.repeats, rows)
    print(f"\n{ns.n}^2, {threads} thread(s), best of {ns.repeats}; fixed = first/per-call cost apart from the "
          f"timed solve; rate per RHS evaluation")
    C.table(["problem", "method", "fixed s", "solve s", "RHS evals", "M cell-evals/s", "L-inf err"],
            [r[:7] for r in rows], ["s", "s", ".2f", ".3f", "d", ".1f", ".2e"])
    print("\nratios (peer / pde_sgd; > 1: pde_sgd faster):")
    viscous_ratios(rows)
    inv = {r[1]: r for r in rows if r[0] == "inviscid"}
    ours, peer = inv.get("pde_sgd WENO5/RK3/Godunov"), inv.get("hj_reachability WENO5/RK3/LF")
    if ours and peer:
        print("  " + C.ratio_line("inviscid WENO5/RK3, same final time", ours[3], peer[3], ours[6], peer[6])
              + f"; mean err |x|<1: {ours[7]:.1e} vs {peer[7]:.1e}")
    fast, brute = (next(r for r in rows if r[1].startswith(k)) for k in ("pde_sgd moreau", "brute"))
    print(f"  hopf-lax N = 4096: O(N) envelope {brute[3] / fast[3]:.0f}x faster than brute force, "
          f"max |difference| {fast[6]:.1e}")
    print(f"first call (import + solve_viscous, solve_inviscid, local_entropy, moreau_envelope on 256^2), "
          f"Numba cache warm: {first_call_seconds(threads):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
