"""F12: the seeds' optimizers on the digits MLP and CNN, several seeds each (``pde-sgd train`` runs, saved as Results).

Each run is :func:`pde_sgd.training.train` (checkpointed: an interrupted ``make figures`` resumes), single-threaded
torch on the CPU, float32, batch 32 on the 1437 training digits (360 held out). Hyper-parameters are the command
line's defaults (Entropy-SGD lr 1, gamma 1e-4, noise 1e-4; Parle/Elastic-SGD lr 0.1, rho 0.01, 3 replicas, Parle
gamma 0.01; SGD lr 0.1 with Nesterov momentum 0.9; VSGD the authors' lr 0.1) except L (3 quick, 5 full: the
reference's 20 would cost 20 gradient evaluations per step) and Adam's lr 1e-2 (torch's default 1e-3 is far
too slow for a few epochs here).

:func:`summarize` gives the final test errors (mean, std over seeds) and the verdict on each of the seeds'
orderings: Parle < Elastic-SGD < Entropy-SGD ~ SGD (Chaudhari et al., LeNet/MNIST 0.44 < 0.48 < 0.49 ~ 0.50 %)
and VSGD >= Adam in accuracy (Chen et al., CIFAR-100). "a < b" holds when the mean error of a is below that of
b; "a ~ b" when the two means differ by less than two standard errors of their difference. Each verdict also
says whether the gap exceeds two standard errors (seed-to-seed spread), i.e. whether it is resolved at all.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pde_sgd import Result

OUT = Path(__file__).resolve().parent / "out"
OPTIMIZERS = ("sgd", "entropy-sgd", "elastic-sgd", "parle", "vsgd", "adam")
MODELS = ("mlp", "cnn")
ADAM_LR = 1e-2
CLAIMS = (("parle", "<", "elastic-sgd"), ("elastic-sgd", "<", "entropy-sgd"), ("entropy-sgd", "~", "sgd"),
          ("vsgd", "<=", "adam"))


def settings(full: bool) -> dict:
    return {"epochs": 20, "L": 5, "seeds": (0, 1, 2)} if full else {"epochs": 2, "L": 3, "seeds": (0, 1, 2)}


def optimizer_runs(full: bool = False, out: Path | None = OUT) -> dict[tuple[str, str], list[Result]]:
    """{(model, optimizer): [Result per seed]} of ``training.run`` Results (saved under ``out/f12_*``)."""
    import tempfile

    from pde_sgd.training import TrainConfig, train
    s = settings(full)
    tag = "full" if full else "quick"
    results: dict[tuple[str, str], list[Result]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(out) if out is not None else Path(tmp)
        for model in MODELS:
            for opt in OPTIMIZERS:
                runs = []
                for seed in s["seeds"]:
                    cfg = TrainConfig(model=model, optim=opt, epochs=s["epochs"], L=s["L"], seed=seed,
                                      lr=ADAM_LR if opt == "adam" else None)
                    runs.append(train(cfg, base / f"f12_{tag}_{model}_{opt}_seed{seed}"))
                results[(model, opt)] = runs
    return results


def final_errors(results: dict[tuple[str, str], list[Result]]) -> dict[tuple[str, str], np.ndarray]:
    """Final test error of every seed, per (model, optimizer)."""
    return {k: np.array([r["test_error"][-1] for r in rs]) for k, rs in results.items()}


def verdict(a: np.ndarray, rel: str, b: np.ndarray) -> tuple[bool, bool]:
    """(holds, resolved): the claim "a rel b" on mean test errors, and whether |gap| > 2 standard errors."""
    gap = a.mean() - b.mean()
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size) if a.size > 1 else 0.0
    resolved = abs(gap) > 2 * se
    holds = {"<": gap < 0, "<=": gap <= 0, "~": not resolved}[rel]
    return bool(holds), bool(resolved)


def summarize(results: dict[tuple[str, str], list[Result]], full: bool) -> Result:
    """Table of final test errors (mean, std over seeds) and the claims' verdicts, as a Result ``f12.summary``."""
    err = final_errors(results)
    mean = np.array([[err[(m, o)].mean() for o in OPTIMIZERS] for m in MODELS])
    std = np.array([[err[(m, o)].std(ddof=1) for o in OPTIMIZERS] for m in MODELS])
    wall = np.array([[np.mean([r["wall_time"][-1] for r in results[(m, o)]]) for o in OPTIMIZERS] for m in MODELS])
    verdicts = {m: [{"claim": f"{a} {rel} {b}", "holds": h, "resolved": res}
                    for a, rel, b in CLAIMS for h, res in [verdict(err[(m, a)], rel, err[(m, b)])]] for m in MODELS}
    return Result("f12.summary", {"mean_test_error": mean, "std_test_error": std, "mean_wall_time": wall},
                  {"models": list(MODELS), "optimizers": list(OPTIMIZERS), "settings": {**settings(full), "full": full},
                   "adam_lr": ADAM_LR, "verdicts": verdicts})


def table(summary: Result) -> str:
    """The summary as a Markdown table plus the verdict lines."""
    p = summary.params
    lines = ["| optimizer | " + " | ".join(f"{m} test error (%)" for m in p["models"]) + " |",
             "|---|" + "---|" * len(p["models"])]
    for j, o in enumerate(p["optimizers"]):
        cells = [f"{100 * summary['mean_test_error'][i, j]:.2f} ± {100 * summary['std_test_error'][i, j]:.2f}"
                 for i in range(len(p["models"]))]
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    for m in p["models"]:
        lines.append("")
        lines.append(f"{m}: " + "; ".join(f"{v['claim']}: {'holds' if v['holds'] else 'does NOT hold'}"
                                          f"{'' if v['resolved'] else ' (gap within 2 SE)'}" for v in p["verdicts"][m]))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    full = "--full" in sys.argv
    summary = summarize(optimizer_runs(full=full), full)
    summary.save(OUT / f"f12_summary_{'full' if full else 'quick'}")
    print(table(summary))
