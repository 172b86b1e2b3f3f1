"""Benchmark: Hamilton-Jacobi solvers of pde_sgd against py-pde and hj_reachability, and exact Hopf-Lax.

1. Viscous u_t = -1/2 |grad u|^2 + (1/(2 beta)) Laplace u on the periodic n x n grid of [0, 2 pi)^2 (n = 256),
   beta = 10, f = (cos x + cos(y + 0.3)) / 2, to T = 1 and T = 10. Every error is the L-inf error at the SAME
   points, py-pde's n x n cell centres, against the spectral Cole-Hopf solution there; a pde_sgd run on a coarser
   m x m grid is first interpolated to those points by its trigonometric interpolant (exact for the grid's
   band-limited modes; its aliasing error counts against pde_sgd).
   py-pde: KPZInterfacePDE(nu = 1/(2 beta), lmbda = -0.5) (its code computes lmbda |grad h|^2 with central
   differences and the 5-point Laplacian, as "central" does; see PEERS.md), explicit Euler, its stepper built
   ONCE per dt (EulerSolver.make_stepper, numba backend; the build, JIT included, is reported apart) and timed
   over the whole run (per-step cost = run time / steps, no subtraction of two runs). Each dt in DT_PEER_CANDIDATES
   (T / dt an integer at both horizons) runs; "like for like" is dt = 1e-3, "best" the largest stable dt (finite,
   error < 1e-2 at T = 10; the forward-Euler diffusion limit is h^2 / (4 nu) = 3.0e-3 here).
   pde_sgd: like for like, "central" on the same grid with TVD-RK3 (cfl 1) and ETDRK4 (cfl 1); best, ETDRK4
   with "central4" on m x m grids (COARSE) at cfl in CFLS (ETDRK4 has no diffusion limit: cfl > 1 leans on the
   diffusion for stability, see pde_sgd.hj.etd), and TVD-RK3 "central4" on the same m x m grids at cfl 1 (what
   the fourth-order grid alone gains, without ETDRK4). Ratio at equal error: py-pde's time over that of the fastest
   pde_sgd run whose error is <= py-pde's (fixed costs apart: py-pde's stepper build, pde_sgd's Numba cache load).
   Kernel counts: the fused "central" TVD-RK3 step moves 64 B and does 85 flops per cell-step (counted by hand,
   see RK3_BYTES, RK3_FLOPS).
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

BETA, HORIZONS, DT_PEER = 10.0, (1.0, 10.0), 1e-3
DT_PEER_CANDIDATES = (1e-3, 2e-3, 1.0 / 450, 2.5e-3, 1.0 / 350)  # 1/350 = 2.86e-3: just below the diffusion limit
COARSE, CFLS = (24, 32, 48, 64, 96, 128), (1.0, 2.0, 4.0, 8.0)  # ETDRK4 central4 settings for best against best
# The fused "central" TVD-RK3 step, counted by hand from schemes._central_pair / _central_rhs / _padded:
# bytes (STREAM convention, 8 B per value): stage 0 reads u, writes L0 (16); stage 1 reads u, L0, writes w (24);
# stage 2 reads w, u, writes u (24) = 64 B per cell-step, neighbour rows from cache.
# flops of _central_rhs per cell: differences dm, dp, em, ep (4 x 2), means p, q (2 x 2),
#   nu ((dp - dm) ih2 + (ep - em) ih1) (6), 0.5 (p p + q q) (4), the difference of the two (1) = 23;
#   stage 0: 23; stage 1: + u1 = u + dt L0 at the row and the two neighbours (3 x 2) + 3/4 u + 1/4 (u1 + dt r) (5)
#   = 34; stage 2: + 1/3 u + 2/3 (u2 + dt r) (5) = 28; total 85 flops per cell-step.
RK3_BYTES, RK3_FLOPS = 64, 85


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


def to_points(u, n):
    """The trigonometric interpolant of u (m x m cell-centred samples of a 2 pi-periodic field) at the n x n cell
    centres: per axis, the Fourier coefficients shifted by the half-cell offset between the two grids and
    zero-padded (the Nyquist mode of an even m split between +-m/2)."""
    for axis in (0, 1):
        m = u.shape[axis]
        if m == n:
            continue
        c = np.moveaxis(np.fft.fft(u, axis=axis), axis, 0)
        k = np.fft.fftfreq(m, 1.0 / m)
        if m % 2 == 0:  # split the Nyquist coefficient into +m/2 and -m/2 halves
            half = 0.5 * c[m // 2:m // 2 + 1]
            c = np.concatenate([c[:m // 2], half, half, c[m // 2 + 1:]])
            k = np.concatenate([k[:m // 2], [m / 2], k[m // 2:]])
        shift = np.exp(1j * k * (np.pi / n - np.pi / m)).reshape((-1,) + (1,) * (u.ndim - 1))
        full = np.zeros((n,) + c.shape[1:], dtype=complex)
        idx = np.where(k >= 0, k, n + k).astype(int)
        full[idx] += c * shift
        u = np.moveaxis(np.real(np.fft.ifft(full, axis=0)) * (n / m), 0, axis)
    return u


def our_runs(n):
    """(label, cells per axis, like for like, solve_viscous options) of the pde_sgd viscous runs."""
    runs = [("rk3 central cfl 1", n, True, dict(scheme="central", cfl=1.0)),
            ("etdrk4 central cfl 1", n, True, dict(scheme="central", cfl=1.0, time_stepper="etdrk4"))]
    runs += [(f"rk3 central4 {m}^2 cfl 1", m, False, dict(scheme="central4", cfl=1.0)) for m in COARSE if m < n]
    return runs + [(f"etdrk4 central4 {m}^2 cfl {c:g}", m, False,
                    dict(scheme="central4", cfl=c, time_stepper="etdrk4")) for m in COARSE if m < n for c in CFLS]


def bench_ours(n, repeats, rows):
    from pde_sgd import hj
    for T in HORIZONS:
        ref = viscous_problem(n, T)[2]
        for label, m, like, kw in our_runs(n):
            grid, f, _ = viscous_problem(m, None)
            hj.solve_viscous(f, grid, BETA, times=[0.01], **kw)  # warm-up (cache load)
            res, t = timed(lambda: hj.solve_viscous(f, grid, BETA, times=[T], **kw), repeats)
            steps, evals = res.params["steps"], res.stats["substeps"]
            err = float(np.max(np.abs(to_points(res["u"][-1], n) - ref)))
            rows.append((f"viscous T={T:g}", f"pde_sgd {label}", 0.0, t, steps, evals,
                         grid.size * evals / t / 1e6, err, like))


def bench_py_pde(n, repeats, rows):
    """py-pde's Euler stepper, built once per dt and timed over whole runs; returns the largest stable dt."""
    try:
        import pde
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip the peer
        print(f"py-pde skipped: {exc!r}")
        return None
    grid, f, _ = viscous_problem(n, None)
    refs = {T: viscous_problem(n, T)[2] for T in HORIZONS}
    pgrid = pde.CartesianGrid([[0, 2 * np.pi]] * 2, [n, n], periodic=True)
    assert np.allclose(pgrid.cell_coords[..., 0], grid.coords[0])  # the same points
    eq = pde.KPZInterfacePDE(nu=1 / (2 * BETA), lmbda=-0.5)
    stable = None
    for dt in DT_PEER_CANDIDATES:
        solver = pde.EulerSolver(eq, backend="numba")
        t0 = C.clock()
        stepper = solver.make_stepper(pde.ScalarField(pgrid, f), dt=dt)
        t_build = C.clock() - t0
        ok = True
        for T in HORIZONS:
            steps = int(round(T / dt))
            state = pde.ScalarField(pgrid, f)

            def run():
                state.data[...] = f
                return stepper(state, 0.0, T)  # round((t_end - t_start) / dt) steps of dt

            t_reached, t = timed(run, repeats)
            err = float(np.max(np.abs(state.data - refs[T]))) if np.all(np.isfinite(state.data)) else np.inf
            ok = ok and err < 1e-2 and abs(t_reached - T) < 1e-9 * T
            rows.append((f"viscous T={T:g}", f"py-pde Euler dt {dt:.3g}", t_build, t, steps, steps,
                         grid.size * steps / t / 1e6, err, dt == DT_PEER))
        print(f"  py-pde dt {dt:.3g}: stepper build (JIT) {t_build:.2f} s, per step "
              f"{rows[-1][3] / rows[-1][4] * 1e3:.3f} ms at T = {HORIZONS[-1]:g}, {'stable' if ok else 'UNSTABLE'}")
        if ok and (stable is None or dt > stable):
            stable = dt
    return stable


def bench_viscous(n, repeats, rows):
    bench_ours(n, repeats, rows)
    return bench_py_pde(n, repeats, rows)


def fused_bandwidth(n=1024, steps=20):
    """The fused "central" RK3 step at n^2 (cfl 1, ~``steps`` steps, best of 3): cell-steps/s, and the bytes and
    flops per second that the hand counts RK3_BYTES, RK3_FLOPS imply."""
    from pde_sgd import hj
    grid, f, _ = viscous_problem(n, None)
    T = steps / (2 * (1 / (2 * BETA)) * 2 * (n / (2 * np.pi)) ** 2)  # ~steps steps (the diffusion limit dominates)
    hj.solve_viscous(f, grid, BETA, times=[T / steps], scheme="central", cfl=1.0)
    res, t = timed(lambda: hj.solve_viscous(f, grid, BETA, times=[T], scheme="central", cfl=1.0), 3)
    rate = grid.size * res.params["steps"] / t
    print(f"fused central RK3 step at {n}^2: {rate / 1e6:.1f} M cell-steps/s; counted by hand {RK3_BYTES} B and "
          f"{RK3_FLOPS} flops per cell-step: {rate * RK3_BYTES / 1e9:.1f} GB/s, {rate * RK3_FLOPS / 1e9:.2f} GFLOP/s")


def viscous_ratios(rows, stable_dt):
    for T in HORIZONS:
        sel = [r for r in rows if r[0] == f"viscous T={T:g}"]
        ours = [r for r in sel if r[1].startswith("pde_sgd")]
        peers = {r[1]: r for r in sel if r[1].startswith("py-pde")}
        if not peers:
            continue
        cases = [("like for like (py-pde dt 1e-3; pde_sgd central on the same grid)", f"py-pde Euler dt {DT_PEER:.3g}",
                  [r for r in ours if r[8]])]
        if stable_dt is not None:
            cases.append((f"best vs best (py-pde at its largest stable dt {stable_dt:.3g}; pde_sgd any setting)",
                          f"py-pde Euler dt {stable_dt:.3g}", ours))
            best_err = min(peers.values(), key=lambda r: r[7])
            cases.append((f"py-pde's most accurate run ({best_err[1]}) vs pde_sgd any setting", best_err[1], ours))
        if stable_dt is not None:
            cases.append((f"py-pde at dt {stable_dt:.3g} vs pde_sgd TVD-RK3 only (no ETDRK4)",
                          f"py-pde Euler dt {stable_dt:.3g}", [r for r in ours if "rk3" in r[1]]))
        for kind, name, pool in cases:
            peer = peers[name]
            ok = [r for r in pool if r[7] <= peer[7]]
            if not ok:
                closest = min(pool, key=lambda r: r[7])
                print(f"  T={T:g} {kind}: no pde_sgd run reached py-pde's error {peer[7]:.2e} "
                      f"(closest: {closest[1]} {closest[7]:.2e})")
                continue
            best = min(ok, key=lambda r: r[3])
            print(f"  T={T:g} {kind}:\n    py-pde {peer[3]:.4f} s (err {peer[7]:.2e}), {best[1]} {best[3]:.4f} s "
                  f"(err {best[7]:.2e}): ratio at equal error {peer[3] / best[3]:.2f}x")
        central = next(r for r in ours if r[1] == "pde_sgd rk3 central cfl 1")
        peer = peers[f"py-pde Euler dt {DT_PEER:.3g}"]
        print(f"  T={T:g} per RHS evaluation on the same grid: pde_sgd rk3 central "
              f"{central[6]:.1f} vs py-pde {peer[6]:.1f} M cell-evals/s ({central[6] / peer[6]:.2f}x)")


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
    rows: list[tuple] = []
    fused_bandwidth()
    stable_dt = bench_viscous(ns.n, ns.repeats, rows)
    print(f"\nviscous HJ {ns.n}^2, {threads} thread(s), best of {ns.repeats}; errors at py-pde's {ns.n}^2 cell "
          f"centres; fixed = py-pde's stepper build (JIT), apart from the timed run")
    C.table(["problem", "method", "fixed s", "run s", "steps", "RHS evals", "M cell-evals/s", "L-inf err"],
            [r[:8] for r in rows], ["s", "s", ".2f", ".4f", "d", "d", ".1f", ".2e"])
    print("\nratios (peer / pde_sgd; > 1: pde_sgd faster):")
    viscous_ratios(rows, stable_dt)
    rows = []
    bench_inviscid(ns.n, ns.repeats, rows)
    bench_hopf_lax(ns.repeats, rows)
    C.table(["problem", "method", "fixed s", "solve s", "RHS evals", "M cell-evals/s", "L-inf err"],
            [r[:7] for r in rows], ["s", "s", ".2f", ".3f", "d", ".1f", ".2e"])
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
