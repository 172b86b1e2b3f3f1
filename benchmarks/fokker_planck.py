"""Benchmark: 2-D Ornstein-Uhlenbeck Fokker-Planck, pde_sgd against fplanck, FiPy and py-pde, and the explicit
step's kernel against its roofline (roofline.py), and the memory and build time of the solver at scale.

Problem (PEERS.md): f = |x|^2 / 2, D = I, beta = 1, box [-6, 6]^2, reflecting walls, n x n cells (default 256),
from N(m0, 0.25 I), m0 = (1.5, -1), to T = 0.5; rel. L-inf error against the exact Gaussian beside every time.
1. Kernel: one explicit Euler step, matrix-free face stencil (serial at 1 thread, blocks of rows in parallel
   otherwise) vs the CSR mat-vec, at 1024^2, each against its roofline (roofline.py: a triad at the kernel's own
   working set, the core's FMA rate). Per cell-step, counted by hand: stencil 8 (rho) + 8 (new rho) + 4 x 8 (face
   weights) = 48 bytes and 17 flops; CSR 8 + 8 + 5 x (8 value + 4 column index) + 4 (row pointer) = 80 bytes and
   2 x 5 + 2 = 12 flops; neighbour reads hit the cache. Then the peak memory per cell of FokkerPlanck(...) with
   20 explicit steps at 1024^2 and the build's CPU time at 2048^2, each in a fresh process.
2. Steady state: pde_sgd (build + sparse LU) vs fplanck (build + shift-invert eigs), build timed apart.
3. Transient. Like for like: expm_multiply (pde_sgd) vs expm_multiply (fplanck), generator builds apart;
   implicit Euler and Crank-Nicolson at equal dt (pde_sgd vs FiPy: same method, same time error). FiPy has
   implicit Euler only for this equation (its exponential convection term has no explicit form), so its
   Crank-Nicolson step is made from one FiPy solve, x+ = 2 (I - dt/2 L)^-1 x - x (the same step, exactly); its
   dt is halved, each run actually made, until its error is <= pde_sgd's exact-in-time error (the spatial error
   of this grid). py-pde's explicit Euler at its best stable step, its fixed per-call cost (a 1-step solve)
   reported apart. Every side's error is measured against the exact density at its own output points, which are
   checked to be the same n x n cell centres. At equal error: for each peer, its fastest run with error
   <= 1.05 x pde_sgd's expm error against pde_sgd's fastest such run (fixed costs included), and best vs best
   over all peers.
Usage: .venv-bench/bin/python benchmarks/fokker_planck.py [--n 256] [--threads 1] [--repeats 3] [--skip-fipy]
"""
from __future__ import annotations

import collections.abc
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402

L_BOX, BETA, T_END = 6.0, 1.0, 0.5
M0, S0 = np.array([1.5, -1.0]), 0.25 * np.eye(2)


def setup(n):
    """pde_sgd's grid and the initial density N(M0, S0) at its cell centres."""
    from pde_sgd import Grid
    grid = Grid([-L_BOX] * 2, [L_BOX] * 2, [n, n])
    return grid, gauss(*grid.coords, M0, S0)


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def gauss(X, Y, m, S):
    """The normal density N(m, S) at the points (X, Y) (any shape)."""
    P = np.linalg.inv(S)
    dx, dy = X - m[0], Y - m[1]
    q = P[0, 0] * dx * dx + 2 * P[0, 1] * dx * dy + P[1, 1] * dy * dy
    return np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(S)))


def error_at(values, X, Y, which, n):
    """Rel. L-inf error of a side's ``values`` against the exact density (``which``: "T" the transient at T_END,
    "ss" the steady state) evaluated at that side's own points (X, Y); the points must be pde_sgd's cell centres
    (to 1e-9 h, checked): every side's error is measured on the same point set."""
    from pde_sgd.fokker_planck import exact
    h = 2 * L_BOX / n
    centres = -L_BOX + (np.arange(n) + 0.5) * h
    nearest = lambda Z: centres[np.clip(np.rint((np.ravel(Z) + L_BOX) / h - 0.5).astype(int), 0, n - 1)]  # noqa
    off = max(np.abs(np.ravel(Z) - nearest(Z)).max() for Z in (X, Y))
    assert np.size(X) == n * n and off < 1e-9 * h, f"a side's points are not the n x n cell centres ({off:.2e})"
    m, S = exact.ou_moments(np.eye(2), np.eye(2), BETA, M0, S0, T_END) if which == "T" else (np.zeros(2),
                                                                                             np.eye(2) / BETA)
    return rel_err(np.asarray(values).reshape(np.shape(X)), gauss(np.asarray(X), np.asarray(Y), m, S))


STENCIL_FLOPS_2D = 17  # per cell-step, diagonal D (stencil.py _steps): per axis 4 mul + 3 add/sub, + 1 to sum the
# two axes, + 2 for rho + dt v (the wrapped ends are the same arithmetic)


def bench_kernel(repeats, n=1024, steps=20):
    """Explicit-step throughput of the stencil and of the CSR product on the same operator (1 thread: per CPU-second
    of the calling thread), each against its roofline at its own working set (roofline.py)."""
    import numba

    from pde_sgd import Grid, landscapes
    from pde_sgd.fokker_planck import FokkerPlanck
    from pde_sgd.fokker_planck.evolve import _euler_steps
    from roofline import roofline
    grid = Grid([-L_BOX] * 2, [L_BOX] * 2, [n, n])
    fp = FokkerPlanck(landscapes.quadratic(np.eye(2)), grid, beta=BETA, D=1.0)
    L, st = fp.generator, fp.operator.stencil
    rho0 = setup(n)[1].ravel()
    dt = 0.5 * fp.dt_limit
    one = numba.get_num_threads() == 1
    clock = time.thread_time if one else C.clock
    csr_bytes = 8 + 8 + 12 * L.nnz / L.shape[0] + 4
    rows, outs = [], {}
    for name, nbytes, flops, arrays, run in [
            ("stencil (face weights)", st.bytes_per_cell_step, STENCIL_FLOPS_2D, (st.weights,),
             lambda a, b: st.euler_steps(a, b, dt, steps, parallel=not one)),
            ("CSR mat-vec", csr_bytes, 2 * L.nnz / L.shape[0] + 2, (L.data, L.indices, L.indptr),
             lambda a, b: _euler_steps(L.indptr, L.indices, L.data, a, b, dt, steps))]:
        a, b = rho0.copy(), np.empty_like(rho0)
        run(a, b)  # compile / load
        t, _ = C.best_of(lambda: run(a, b), repeats, clock=clock)
        rate = grid.size * steps / t
        working_set = 2 * rho0.nbytes + sum(x.nbytes for x in arrays)
        roof = roofline(f"{name}, {n}^2", bytes_per_cell=nbytes, flops_per_cell=flops,
                        working_set_bytes=working_set, measured_rate=rate, clock=clock) if one else None
        outs[name] = rho0.copy()
        run(outs[name], b)
        rows.append((name, rate / 1e6, nbytes, flops, f"{100 * roof['fraction']:.0f}% ({roof['bound']})" if roof
                     else "- (1 thread only)"))
    print(f"\nexplicit step kernel, {n}^2, {steps} steps (best of {repeats}, "
          f"{'thread CPU s' if one else 'clock'}); stencil vs CSR results differ by {rel_err(*outs.values()):.1e}")
    C.table(["kernel", "M cell-steps/s", "B/cell-step", "flops/cell-step", "of roofline"], rows,
            ["s", ".1f", ".0f", ".0f", "s"])
    print(f"stencil / CSR speed-up: {rows[0][1] / rows[1][1]:.2f}x")


MEMORY_PROBE = """
import os, sys, time
import numpy as np
from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck

def status(key):
    with open('/proc/self/status') as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith(key))

n, steps = int(sys.argv[1]), int(sys.argv[2])
f = landscapes.quadratic(np.eye(2))
g0 = Grid([-6.0] * 2, [6.0] * 2, [64, 64])  # warm: modules imported, kernels loaded
fp0 = FokkerPlanck(f, g0, beta=1.0, D=1.0)
fp0.evolve(np.ones(g0.shape), times=[0.0, 3 * fp0.dt_limit])
del fp0
grid = Grid([-6.0] * 2, [6.0] * 2, [n, n])
with open('/proc/self/clear_refs', 'w') as fh:  # reset the peak-RSS mark (VmHWM) to the current RSS
    fh.write('5')
base = status('VmRSS')
t0 = time.process_time()
fp = FokkerPlanck(f, grid, beta=1.0, D=1.0)
build = time.process_time() - t0
if steps:
    X, Y = grid.coords
    fp.evolve(np.exp(-0.5 * (X ** 2 + Y ** 2)), times=[0.0, steps * 0.9 * fp.dt_limit])
print(build, (status('VmHWM') - base) / grid.size)
"""


def bench_memory(repeats):
    """Peak resident memory per cell above the warm process (VmHWM after reset, Linux) of FokkerPlanck(...) plus
    20 explicit steps at 1024^2 (rho0 included), and the build's CPU time at 2048^2, each in a fresh process."""
    import subprocess
    cwd = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print("\nmemory and build (fresh process each; targets: <= 200 B/cell at 1024^2, build < 1 s at 2048^2)")
    for n, steps in ((1024, 20), (2048, 0)):
        runs = []
        for _ in range(repeats):
            out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(n), str(steps)], cwd=cwd, check=True,
                                 capture_output=True, text=True).stdout.split()
            runs.append((float(out[0]), float(out[1])))
        builds, peaks = zip(*runs)
        print(f"  {n}^2: build {min(builds):.3f} s CPU (best of {repeats}; worst {max(builds):.3f} s: page faults),"
              f" peak {max(peaks):.0f} B/cell above the warm process" + (f" with {steps} explicit steps" if steps
                                                                          else " (build only)"))


def bench_pde_sgd(n, repeats, rows):
    from pde_sgd import landscapes
    from pde_sgd.fokker_planck import FokkerPlanck
    grid, rho0 = setup(n)
    X, Y = grid.coords
    f = landscapes.quadratic(np.eye(2))
    build = lambda: FokkerPlanck(f, grid, beta=BETA, D=1.0)  # noqa: E731
    t_build, fp = C.best_of(build, repeats)
    fresh = [build() for _ in range(repeats)]  # the solve timed by itself, on solvers not yet used
    t_ss, ss = C.best_of(lambda: fresh.pop().steady_state(), repeats)
    rows.append(("steady", "pde_sgd build + sparse LU", t_build, t_ss, error_at(ss, X, Y, "ss", n)))
    for label, kw in [("explicit Euler (stencil) at 0.9 x its stable dt", dict(method="explicit")),
                      ("implicit Euler dt=0.025", dict(method="implicit", theta=1.0, dt=0.025)),
                      ("Crank-Nicolson dt=0.05", dict(method="implicit", theta=0.5, dt=0.05)),
                      ("expm_multiply", dict(method="expm"))]:
        fp.evolve(rho0, times=[0.0, 1e-4], **kw)  # compile / load
        t, res = C.best_of(lambda: fp.evolve(rho0, times=[0.0, T_END], **kw), repeats)
        rows.append(("transient", f"pde_sgd {label}", t_build, t, error_at(res["rho"][-1], X, Y, "T", n)))


def bench_fplanck(n, repeats, rows):
    try:
        import fplanck
        import fplanck.solver
        from scipy import constants
    except Exception as exc:  # a broken peer must not stop the benchmark
        print(f"fplanck skipped: {exc!r}")
        return
    np.product = np.prod  # NumPy 2 removed np.product; fplanck still calls it (PEERS.md)
    fplanck.solver.Iterable = collections.abc.Iterable  # missing import in fplanck 0.2.2 (PEERS.md)
    grid, rho0 = setup(n)
    vol = grid.cell_volume

    def build():  # as its users write it: physical units, kT = 1, drag 1 / D
        return fplanck.fokker_planck(temperature=1 / constants.k / BETA, drag=1.0, extent=[2 * L_BOX] * 2,
                                     resolution=2 * L_BOX / n * (1 + 1e-12),  # ceil(extent / res) = n
                                     potential=lambda x, y: 0.5 * (x**2 + y**2),
                                     boundary=fplanck.boundary.reflecting)

    t_build, sim = C.best_of(build, repeats)
    assert tuple(sim.Ngrid) == (n, n), sim.Ngrid
    t_ss, ss = C.best_of(sim.steady_state, repeats)
    X, Y = sim.grid  # its own points (centred node grid): the same cell centres as ours, checked in error_at
    rows.append(("steady", "fplanck build + shift-invert eigs", t_build, t_ss, error_at(ss / vol, X, Y, "ss", n)))
    pdf = lambda x, y: gauss(x, y, M0, S0)  # noqa: E731  (the initial density at its points, as its users pass it)
    t, out = C.best_of(lambda: sim.propagate(pdf, T_END), repeats)
    rows.append(("transient", "fplanck expm_multiply", t_build, t, error_at(out / vol, X, Y, "T", n)))


def fipy_runs(n, target, rows, budget=120.0) -> bool:
    """FiPy's implicit Euler at two steps (first order: its time error dominates), then Crank-Nicolson at halving
    steps until its error is <= ``target`` (pde_sgd's, passed in), each run actually made, within ``budget``
    seconds of FiPy time. Returns whether it got there (True also when FiPy is missing: nothing to retry)."""
    try:
        import fipy
    except Exception as exc:
        print(f"FiPy skipped: {exc!r}")
        return True
    grid, rho0 = setup(n)
    t0 = C.clock()
    h = 2 * L_BOX / n
    mesh = fipy.Grid2D(dx=h, dy=h, nx=n, ny=n) + ((-L_BOX,), (-L_BOX,))
    gradf = fipy.FaceVariable(mesh=mesh, rank=1, value=mesh.faceCenters.value)
    eq = fipy.TransientTerm() == fipy.DiffusionTerm(coeff=1.0 / BETA) + fipy.ExponentialConvectionTerm(coeff=gradf)
    t_build = C.clock() - t0

    def run(dt, crank_nicolson):
        # FiPy orders cells x fastest: value[i + n * j] at (x_i, y_j)
        phi = fipy.CellVariable(mesh=mesh, value=rho0.T.ravel(), hasOld=True)
        t0 = C.clock()
        for _ in range(round(T_END / dt)):
            phi.updateOld()
            if crank_nicolson:  # (I - dt/2 L)^-1 (I + dt/2 L) x = 2 (I - dt/2 L)^-1 x - x: one FiPy solve
                old = np.array(phi.value)
                eq.solve(var=phi, dt=0.5 * dt)
                phi.setValue(2.0 * np.array(phi.value) - old)
            else:
                eq.solve(var=phi, dt=dt)
        Xc, Yc = (np.array(z) for z in mesh.cellCenters.value)  # its own cell centres (x fastest)
        return C.clock() - t0, error_at(np.array(phi.value), Xc, Yc, "T", n)

    spent = 0.0
    for dt in (0.05, 0.025):
        t, err = run(dt, False)
        spent += t
        rows.append(("transient", f"FiPy implicit Euler dt={dt:g}", t_build, t, err))
    dt, per_step = 0.1, t / round(T_END / 0.025)
    while spent + per_step * T_END / dt <= budget:
        t, err = run(dt, True)
        spent += t
        rows.append(("transient", f"FiPy Crank-Nicolson dt={dt:g}", t_build, t, err))
        if err <= target:
            return True
        dt /= 2
    print(f"FiPy: Crank-Nicolson at {n}^2 did not reach error {target:.2e} within {budget:.0f} s (next step dt = "
          f"{dt:g} would take ~{per_step * T_END / dt:.0f} s)")
    return False


def expm_error(rows):
    """1.05 x pde_sgd's exact-in-time error in ``rows``: the equal-error target."""
    return 1.05 * next(err for _, name, _, _, err in rows if name == "pde_sgd expm_multiply")


def bench_pypde(n, repeats, rows, steps=(8e-4, 6e-4, 5e-4, 4e-4, 3e-4)):
    """py-pde's explicit Euler on the expression PDE (as its users write it), at its best stable step: the largest
    dt of ``steps`` whose run to T_END stays finite and below 100% error; its fixed per-call cost (a one-step
    solve) timed apart, the per-step cost as (run - fixed)."""
    try:
        import pde
    except Exception as exc:
        print(f"py-pde skipped: {exc!r}")
        return
    grid, rho0 = setup(n)
    pgrid = pde.CartesianGrid([[-L_BOX, L_BOX]] * 2, [n, n])
    eq = pde.PDE({"c": f"laplace(c) / {BETA} + x * d_dx(c) + y * d_dy(c) + 2 * c"}, bc={"derivative": 0})
    X, Y = pgrid.cell_coords[..., 0], pgrid.cell_coords[..., 1]

    def run(t_end, dt):
        return eq.solve(pde.ScalarField(pgrid, rho0.copy()), t_range=t_end, dt=dt, solver="euler",
                        tracker=None).data

    t_first, _ = C.best_of(lambda: run(steps[-1], steps[-1]), 1)
    for dt in steps:
        with np.errstate(all="ignore"):
            out = run(T_END, dt)
        if np.all(np.isfinite(out)) and error_at(out, X, Y, "T", n) < 1.0:
            break
    t_fixed, _ = C.best_of(lambda: run(dt, dt), repeats)  # one step: the per-call cost
    t, out = C.best_of(lambda: run(T_END, dt), repeats)
    print(f"py-pde: first call (JIT) {t_first:.2f} s, fixed per-call cost {t_fixed:.2f} s, best stable dt {dt:g} "
          f"(of {steps}), per step {(t - t_fixed) / round(T_END / dt) * 1e3:.3f} ms")
    rows.append(("transient", f"py-pde explicit Euler dt={dt:g} (best stable; non-conservative)", t_fixed,
                 t - t_fixed, error_at(out, X, Y, "T", n)))


def cheapest(rows, peers, target):
    """(time to T with fixed costs, error, name) of the fastest pde_sgd (``peers`` False) or peer transient run
    whose error is <= ``target``, or None."""
    runs = [(t + fixed, err, name) for task, name, fixed, t, err in rows if task == "transient"
            and name.startswith("pde_sgd") != peers and err <= target]
    return min(runs) if runs else None


def report(rows):
    C.table(["task", "solver", "fixed s", "solve s", "rel L-inf"], rows, ["s", "s", ".3f", ".3f", ".2e"])
    by = {name: (fixed, t, err) for _, name, fixed, t, err in rows}
    print("\nratios (peer time / pde_sgd time; > 1: pde_sgd faster):")
    pairs = [("steady, build + solve", "pde_sgd build + sparse LU", "fplanck build + shift-invert eigs", True),
             ("expm vs expm, solve only", "pde_sgd expm_multiply", "fplanck expm_multiply", False),
             ("expm vs expm, with build", "pde_sgd expm_multiply", "fplanck expm_multiply", True),
             ("implicit Euler, same dt", "pde_sgd implicit Euler dt=0.025", "FiPy implicit Euler dt=0.025", False),
             ("Crank-Nicolson, same dt", "pde_sgd Crank-Nicolson dt=0.05", "FiPy Crank-Nicolson dt=0.05", False)]
    for label, ours, theirs, with_fixed in pairs:
        if ours in by and theirs in by:
            (fo, to, eo), (ft, tt, et) = by[ours], by[theirs]
            print("  " + C.ratio_line(label, to + fo * with_fixed, tt + ft * with_fixed, eo, et))
    # equal error: the error of the exact-in-time solution (the spatial error of the grid), 5% slack
    target = expm_error(rows)
    ours = cheapest(rows, False, target)
    print(f"  at equal error (rel. L-inf <= {target:.2e}, pde_sgd's exact-in-time error; fixed costs included):")
    for prefix in [p for p in ("fplanck", "FiPy", "py-pde") if any(r[1].startswith(p) for r in rows)]:
        theirs = cheapest([r for r in rows if r[1].startswith(prefix)], True, target)
        if theirs is None:
            print(f"    {prefix}: no run reached it")
        else:
            print(f"    {ours[2]} {ours[0]:.3f} s (err {ours[1]:.1e}) vs {theirs[2]} {theirs[0]:.3f} s (err "
                  f"{theirs[1]:.1e}): {theirs[0] / ours[0]:.2f}x")
    best = cheapest(rows, True, target)
    if best:
        print(f"  best vs best at equal error: {ours[2]} vs {best[2]}: {best[0] / ours[0]:.2f}x")


def main(argv=None):
    ap = C.parser(__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--skip-fipy", action="store_true")
    ap.add_argument("--kernel-only", action="store_true", help="only the explicit-step kernel (roofline) and memory")
    args = ap.parse_args(argv)
    threads = C.set_threads(args.threads, args.clock)
    bench_kernel(args.repeats)
    bench_memory(args.repeats)
    if args.kernel_only:
        return
    rows: list = []
    bench_pde_sgd(args.n, args.repeats, rows)
    bench_fplanck(args.n, args.repeats, rows)
    coarse: list = []
    if not args.skip_fipy and not fipy_runs(args.n, expm_error(rows), rows):
        bench_pde_sgd(args.n // 2, args.repeats, coarse)  # FiPy at our error on a grid where it finishes
        fipy_runs(args.n // 2, expm_error(coarse), coarse, budget=60.0)
    bench_pypde(args.n, args.repeats, rows)
    for n, table in ((args.n, rows), (args.n // 2, coarse)):
        if table:
            print(f"\n2-D OU Fokker-Planck, {n}^2, box [-6,6]^2, beta = 1, T = {T_END}, {threads} thread(s), "
                  f"best of {args.repeats} (FiPy: one run)" + ("" if n == args.n else
                                                               f": FiPy did not reach our error at {args.n}^2"))
            report(table)


if __name__ == "__main__":
    main()
