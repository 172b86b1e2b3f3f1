"""Animations for teaching: the theory's solutions in motion, written as GIF (Pillow) and MP4 (ffmpeg).

    fp_f1      Fokker-Planck densities from x = 2.5 driven by the wiggly f, by its viscous HJ solution u(., 0.2)
               and by its non-viscous one u(., 0.1) (Deep Relaxation fig. 1, F1, in motion)
    sde_cloud  an SDE particle cloud dX = -(D + Q) grad Phi dt + sqrt(2 beta^-1 D) dW with anisotropic constant D
               and antisymmetric Q on the 2-D double well Phi: its steady state is exp(-beta Phi), yet the
               particles circulate around Phi's minima (the A-type form of THEORY.md section 3)
    hj_time    the viscous (local entropy) and non-viscous (Moreau envelope) HJ solutions u(., t) of the wiggly
               f as the time (scope) t grows

``pde-sgd animate NAME [--frames N] [--fps F] [--out DIR]``; :func:`animate` is the same from Python.
matplotlib is imported only when an animation is made (``import pde_sgd`` never imports it).
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import hj, landscapes
from .grid import Grid

MAX_FRAMES = 600
MAX_FPS = 60.0
BETA_F1, T_VISCOUS, T_INVISCID, X_START = 10.0, 0.2, 0.1, 2.5


def f1_potentials(grid: Grid) -> dict[str, np.ndarray]:
    """The wiggly f of F1 on ``grid`` with its viscous (t = 0.2, beta = 10) and non-viscous (t = 0.1) HJ solutions."""
    f = landscapes.wiggly(seed=0).on_grid(grid)
    return {"f (SGD)": f,
            f"viscous HJ u(., {T_VISCOUS})": hj.local_entropy(f, grid, T_VISCOUS, BETA_F1).u,
            f"non-viscous HJ u(., {T_INVISCID})": hj.moreau_envelope(f, grid, T_INVISCID)[0]}


def _fp_f1(n_frames: int) -> tuple[object, Callable[[int], None]]:
    """F1 in motion: rho_t = d_x(u' rho) + beta^-1 rho_xx from a narrow Gaussian at x = 2.5, for each of three u."""
    from .fokker_planck import FokkerPlanck, exact
    from .plotting import subplots
    grid = Grid(-3.0, 3.0, 300)
    x = grid.axes[0]
    times = np.concatenate([[0.0], np.geomspace(0.01, 20.0, n_frames - 1)])
    rho0 = exact.gaussian_density(grid, [X_START], [[0.08**2]])
    drivers = f1_potentials(grid)
    runs = {name: FokkerPlanck(u, grid, beta=BETA_F1, D=1.0).evolve(rho0, times=times, method="expm")["rho"]
            for name, u in drivers.items()}
    fig, axes = subplots(1, 3, width=3.6, height=3.0)
    lines = []
    for ax, (name, u) in zip(axes[0], drivers.items()):
        ax.plot(x, (u - u.min()) / 4.0, color="0.6", lw=0.8, label="potential (scaled)")
        (line,) = ax.plot(x, runs[name][0], color="C0", lw=1.4, label="density")
        ax.set(title=f"driven by {name}", xlabel="x", ylim=(0.0, 2.5))
        ax.legend(fontsize=6, loc="upper center")
        lines.append((line, runs[name]))
    title = fig.suptitle("")

    def update(i: int) -> None:
        for line, rho in lines:
            line.set_ydata(rho[i])
        title.set_text(f"F1 in motion: Fokker-Planck, beta = {BETA_F1:g}, t = {times[i]:.3g}")
    return fig, update


def _sde_cloud(n_frames: int) -> tuple[object, Callable[[int], None]]:
    """Particles of the A-type SDE on the 2-D double well, D = R diag(1, 0.15) R^T (45 degrees), Q = 1.5 J."""
    from .plotting import subplots
    from .sde import simulate_sgd
    beta, per_frame, dt = 6.0, 25, 0.005
    rot = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2.0)
    D = rot @ np.diag([1.0, 0.15]) @ rot.T
    Q = 1.5 * np.array([[0.0, 1.0], [-1.0, 0.0]])
    phi = landscapes.double_well(2)
    start = np.random.default_rng(0).normal([-1.0, 0.0], 0.15, size=(300, 2))
    run = simulate_sgd(phi, D, beta, start, dt=dt, n_steps=per_frame * (n_frames - 1), n_paths=start.shape[0], seed=0,
                       precondition=D + Q, n_saves=n_frames - 1)
    xs, ts = run["x"], run["times"]
    grid = Grid([-2.2, -1.6], [2.2, 1.6], [120, 90])
    X, Y = grid.coords
    fig, axes = subplots(1, 1, width=5.0, height=3.8)
    ax = axes[0, 0]
    ax.contourf(X, Y, np.exp(-beta * phi.on_grid(grid)), levels=12, cmap="Greys")
    ax.contour(X, Y, phi.on_grid(grid), levels=np.linspace(-0.2, 1.5, 9), colors="0.5", linewidths=0.4)
    cloud = ax.scatter(xs[0, :, 0], xs[0, :, 1], s=4, color="C3")
    (trail,) = ax.plot([], [], color="C0", lw=0.8)
    ax.set(xlabel="x1", ylabel="x2", xlim=(-2.2, 2.2), ylim=(-1.6, 1.6), aspect="equal")

    def update(i: int) -> None:
        cloud.set_offsets(xs[i])
        trail.set_data(xs[max(0, i - 40):i + 1, 0, 0], xs[max(0, i - 40):i + 1, 0, 1])
        ax.set_title(f"dX = -(D + Q) grad Phi dt + sqrt(2 D / beta) dW, beta = {beta:g}, t = {ts[i]:.2f}\n"
                     "shading: exp(-beta Phi), the steady state; blue: one path", fontsize=8)
    return fig, update


def _hj_time(n_frames: int) -> tuple[object, Callable[[int], None]]:
    """u(., t) of the wiggly f for t from 0 to 0.5: viscous (beta = 10) and non-viscous, with f."""
    from .plotting import subplots
    grid = Grid(-3.0, 3.0, 500)
    x = grid.axes[0]
    f = landscapes.wiggly(seed=0).on_grid(grid)
    times = np.linspace(0.0, 0.5, n_frames)
    visc = [f if t == 0 else hj.local_entropy(f, grid, t, BETA_F1).u for t in times]
    invisc = [f if t == 0 else hj.moreau_envelope(f, grid, t)[0] for t in times]
    fig, axes = subplots(1, 1, width=5.0, height=3.4)
    ax = axes[0, 0]
    ax.plot(x, f, color="0.6", lw=0.8, label="f")
    (lv,) = ax.plot(x, f, color="C0", label=f"viscous u(., t), beta = {BETA_F1:g}")
    (li,) = ax.plot(x, f, color="C3", ls="--", label="non-viscous u(., t)")
    ax.set(xlabel="x", ylabel="value", ylim=(float(f.min()) - 1.0, 6.0))
    ax.legend(fontsize=7, loc="upper center")

    def update(i: int) -> None:
        lv.set_ydata(visc[i])
        li.set_ydata(invisc[i])
        ax.set_title(f"Hamilton-Jacobi solutions of the wiggly loss, t = {times[i]:.3f}")
    return fig, update


ANIMATIONS: dict[str, Callable[[int], tuple[object, Callable[[int], None]]]] = {
    "fp_f1": _fp_f1, "sde_cloud": _sde_cloud, "hj_time": _hj_time}


def describe() -> dict[str, str]:
    """Each animation's name and its one-line description (the first docstring line of its builder)."""
    return {name: build.__doc__.splitlines()[0] for name, build in ANIMATIONS.items()}


def _check(name: str, frames: int, fps: float) -> None:
    if name not in ANIMATIONS:
        raise ValueError(f"name must be one of {sorted(ANIMATIONS)}, got {name!r}")
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or not 2 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames must be an integer in [2, {MAX_FRAMES}], got {frames!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps must be a number in (0, {MAX_FPS:g}], got {fps!r}")


def animate(name: str, out_dir: str | Path, *, frames: int = 60, fps: float = 12.0,
            mp4: bool | None = None, progress: bool = False) -> list[Path]:
    """Render animation ``name`` with ``frames`` frames to ``out_dir/NAME.gif`` (and ``NAME.mp4``).

    ``mp4``: None writes the MP4 when ffmpeg is on the PATH; True requires ffmpeg (ValueError without it);
    False writes the GIF only. ``progress``: a progress bar (tqdm) of the frames of each file written. Returns
    the paths written. Each file is written to a temporary name and then
    renamed, so an interrupted run leaves no half-written animation.
    """
    _check(name, frames, fps)
    have_ffmpeg = shutil.which("ffmpeg") is not None
    if mp4 and not have_ffmpeg:
        raise ValueError("mp4=True needs ffmpeg on the PATH (apt-get install ffmpeg), or pass mp4=None/False")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, update = ANIMATIONS[name](int(frames))
    anim = FuncAnimation(fig, update, frames=int(frames), blit=False, repeat=False)
    writers = [(".gif", PillowWriter(fps=fps))]
    if have_ffmpeg and mp4 is not False:
        writers.append((".mp4", FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])))
    from tqdm.auto import tqdm
    written = []
    try:
        for suffix, writer in writers:
            path = out_dir / f"{name}{suffix}"
            tmp = path.with_name(f".{path.stem}.part{suffix}")
            with tqdm(total=int(frames), desc=path.name, unit="frame", disable=not progress) as bar:
                anim.save(tmp, writer=writer, dpi=100, progress_callback=lambda i, n: bar.update(1))
            tmp.replace(path)
            written.append(path)
    finally:
        plt.close(fig)
    return written


def main(argv: list[str] | None = None) -> int:
    """``pde-sgd animate``: parse the options, validate them, write the animation and print the paths."""
    import argparse
    parser = argparse.ArgumentParser(prog="pde-sgd animate", description="write a teaching animation as GIF "
                                     "(and MP4 when ffmpeg is present)")
    parser.add_argument("name", nargs="?", choices=sorted(ANIMATIONS), help="the animation (see --list)")
    parser.add_argument("--list", action="store_true", help="list the animations with one line each and exit")
    parser.add_argument("--out", type=Path, default=Path("animations"), help="output folder (default: animations)")
    parser.add_argument("--frames", type=int, default=60, help=f"number of frames, 2..{MAX_FRAMES} (default 60)")
    parser.add_argument("--fps", type=float, default=12.0, help=f"frames per second, (0, {MAX_FPS:g}] (default 12)")
    parser.add_argument("--no-mp4", action="store_true", help="write the GIF only, even when ffmpeg is present")
    ns = parser.parse_args(argv)
    if ns.list:
        for name, line in describe().items():
            print(f"{name:10s} {line}")
        return 0
    if ns.name is None:
        parser.error("give an animation NAME or --list")
    try:
        _check(ns.name, ns.frames, ns.fps)
    except ValueError as err:
        parser.error(str(err))
    if not ns.no_mp4 and shutil.which("ffmpeg") is None:
        print("MP4 skipped: ffmpeg is not on the PATH (e.g. apt-get install ffmpeg); writing the GIF only")
    print(f"computing {ns.name} ({ns.frames} frames) ...", flush=True)
    for path in animate(ns.name, ns.out, frames=ns.frames, fps=ns.fps, mp4=False if ns.no_mp4 else None,
                        progress=True):
        print(f"wrote {path}")
    return 0
