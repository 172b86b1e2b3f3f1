"""``pde-sgd capture``: train a small network with SGD and capture D and the Hessian spectrum along the way.

Example::

    pde-sgd capture -- --model mlp --data digits --steps 2000 --eta 0.1 --batch-size 32 --at 0.2 0.4 1.0

writes ``captures/<model>_<data>_step<t>.npz`` + ``.json`` (one :mod:`capture` record per fraction of training,
``--out`` sets the folder) and prints the statistics of D (eigenvalue mean +- std over all P, rank fraction)
and the top Hessian eigenvalues. Through the top-level ``pde-sgd`` command the options go after ``--``
(``pde-sgd`` hands everything after ``capture`` to this parser, and argparse would otherwise claim them).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

from .capture import capture, load_capture, save_capture
from .data import DATASETS, load_dataset, torch_threads
from .models import build_model
from .training import sgd_iterates

CLI_MODELS = ("mlp", "cnn")   # the models for DATASETS ("cnn1d" needs one-channel signals (N, 1, L), which they are not)


class _HelpWithDefaults(argparse.HelpFormatter):
    """Append "(default: X)" to every option's help that has a meaningful default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" not in text and action.default not in (None, False, argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pde-sgd capture", formatter_class=_HelpWithDefaults,
                                description="Train a small network with SGD and capture the gradient-noise "
                                            "matrix D and the top Hessian eigenvalues at chosen fractions of "
                                            "training; each capture is saved as OUT/MODEL_DATA_stepT.npz + .json.")
    p.add_argument("--model", choices=CLI_MODELS, default="mlp", help="network architecture")
    p.add_argument("--data", choices=DATASETS, default="digits", help="offline dataset")
    p.add_argument("--n-samples", type=int, default=None, metavar="N",
                   help="data subset size (default: all digits / 256 synthetic)")
    p.add_argument("--hidden", type=int, nargs="+", default=[32], metavar="W", help="MLP hidden widths")
    p.add_argument("--steps", type=int, default=2000, help="SGD steps (>= 1)")
    p.add_argument("--eta", type=float, default=0.1, help="learning rate (> 0)")
    p.add_argument("--batch-size", type=int, default=32, metavar="B", help="minibatch size, in [1, N]")
    p.add_argument("--weight-decay", type=float, default=1e-3, metavar="LAMBDA",
                   help="weight decay: L2 penalty coefficient of the model's loss (>= 0)")
    p.add_argument("--at", type=float, nargs="+", default=[0.2, 0.4, 1.0], metavar="FRACTION",
                   help="fractions of training, in [0, 1], at which to capture")
    p.add_argument("--k", type=int, default=5, help="number of top Hessian eigenpairs (Lanczos), in [1, P]")
    p.add_argument("--hessian-samples", type=int, default=None, metavar="N",
                   help="take the Hessian on a seeded subset of N samples (default: all)")
    p.add_argument("--n-store", type=int, default=64, metavar="M", help="eigenvectors of D to store (>= 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of data subsets, initialisation and minibatches")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64", help="floating-point type")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for these tiny nets)")
    p.add_argument("--out", type=Path, default=Path("captures"), help="output folder")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _check_options(ns: argparse.Namespace, n_data: int, n_params: int) -> None:
    """Raise ValueError naming the first bad option (all checked before any training)."""
    if ns.steps < 1:
        raise ValueError(f"--steps must be >= 1 (captures are taken at fractions of the training run), got {ns.steps}")
    if ns.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {ns.threads}")
    if not ns.at or any(not 0 <= f <= 1 for f in ns.at):
        raise ValueError(f"--at must be fractions in [0, 1], got {ns.at}")
    if not 1 <= ns.k <= n_params:
        raise ValueError(f"--k must be in [1, P={n_params}], got {ns.k}")
    if ns.n_store < 1:
        raise ValueError(f"--n-store must be >= 1, got {ns.n_store}")
    if ns.hessian_samples is not None and not 1 <= ns.hessian_samples <= n_data:
        raise ValueError(f"--hessian-samples must be in [1, N={n_data}], got {ns.hessian_samples}")
    try:
        ns.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=ns.out):
            pass
    except OSError as exc:
        raise ValueError(f"--out {ns.out} is not a writable folder: {exc.strerror or exc}") from None


def main(args: list[str] | None = None) -> int:
    """Run the capture command; returns the exit status (0 on success, 2 on bad input, checked before training)."""
    parser = _parser()
    args = list(args or [])
    ns = parser.parse_args(args[1:] if args[:1] == ["--"] else args)
    try:
        data_kw = {"seed": ns.seed, "dtype": ns.dtype, "device": ns.device}
        if ns.n_samples is not None:
            data_kw["n"] = ns.n_samples
        if ns.data == "synthetic" and ns.model == "cnn":
            data_kw["as_image"] = True
        data = load_dataset(ns.data, **data_kw)
        model = build_model(ns.model, data, seed=ns.seed, hidden=tuple(ns.hidden), weight_decay=ns.weight_decay,
                            dtype=ns.dtype, device=ns.device)
        _check_options(ns, data.n, model.n_params)
        at = sorted({int(round(f * ns.steps)) for f in ns.at})
        it = sgd_iterates(model, model.theta(), data, eta=ns.eta, batch_size=ns.batch_size, n_steps=ns.steps,
                          seed=ns.seed)
    except ValueError as exc:
        parser.print_usage()
        print(f"pde-sgd capture: error: {exc}")
        return 2
    with torch_threads(ns.threads):
        _run(ns, data, model, at, it)
    return 0


def _run(ns: argparse.Namespace, data, model, at: list[int], it) -> None:
    print(f"{ns.model} on {ns.data}: N={data.n}, P={model.n_params}, device={data.X.device}, dtype={ns.dtype}")
    bar = tqdm(total=ns.steps, desc="SGD", disable=ns.no_progress)
    for t, theta, _ in it:
        if t:
            bar.update(1)
        if t in at:
            res = capture(model, theta, data, eta=ns.eta, batch_size=ns.batch_size, step=t, seed=ns.seed,
                          k_hessian=ns.k, n_store=ns.n_store, hessian_samples=ns.hessian_samples)
            npz, _ = save_capture(res, ns.out / f"{ns.model}_{ns.data}_step{t}")
            load_capture(npz)  # re-read and re-validate what was written
            s = res.params["D_stats"]
            top = ", ".join(f"{v:.4g}" for v in res["H_eigenvalues"][:3])
            tqdm.write(f"step {t:6d}: loss {res.params['loss']:.4f}  D eig {s['mean']:.3g} +- {s['std']:.3g}  "
                       f"rank {s['rank']}/{s['n_params']} ({100 * s['rank_fraction']:.2f}%)  "
                       f"noise scale {s['noise_scale']:.3g}  H top {top}"
                       f"  -> {npz}")
    bar.close()
