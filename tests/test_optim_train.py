"""`pde-sgd train` end to end on digits (CPU): curves saved as a Result, resume after SIGKILL gives the result of
an uninterrupted run, distributed Elastic-SGD (2 gloo processes on 127.0.0.1) equals the in-process one, bad input."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pde_sgd import Result, cli

ROOT = Path(__file__).resolve().parents[1]


def _same_run(a: Result, b: Result) -> None:
    """Every array equal bit for bit except the wall-clock curve (a measurement)."""
    assert sorted(a.arrays) == sorted(b.arrays)
    for k in a.arrays:
        if k != "wall_time":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert a.params["config"] == b.params["config"]


def test_train_entropy_sgd_end_to_end(tmp_path, capsys):
    out = tmp_path / "esgd"
    assert cli.main(["train", "--optim", "entropy-sgd", "-L", "3", "--epochs", "2", "--out", str(out),
                     "--no-progress"]) == 0
    assert "final test error" in capsys.readouterr().out
    r = Result.load(out / "result")
    assert r.kind == "training.run" and r.params["steps"] == 2 * r.params["steps_per_epoch"] == 90
    np.testing.assert_array_equal(r["epoch"], [0, 1, 2])
    np.testing.assert_array_equal(r["effective_epoch"], [0, 3, 6])
    assert r["test_error"][0] > 0.7 and r["test_error"][-1] < 0.25     # chance is 0.9: it learned
    assert len(r["stat_angle"]) == 90 and np.all((r["stat_angle"] >= 0) & (r["stat_angle"] <= 180))
    assert not list(out.glob("checkpoint-*"))                            # removed once the Result is saved


def test_resume_after_sigkill_gives_the_uninterrupted_result(tmp_path):
    args = ["--optim", "parle", "-L", "2", "--replicas", "2", "--noise", "1e-3", "--epochs", "8",
            "--checkpoint-every", "10", "--no-progress"]
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "pde_sgd.cli", "train", *args, "--out", str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not list(killed.glob("checkpoint-rank0-step*.pt")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert not (killed / "result.json").exists(), "the run finished before it could be killed"
    assert cli.main(["train", *args, "--out", str(killed)]) == 0          # resumes
    resumed = Result.load(killed / "result")
    assert resumed.params["resumed_at"] and resumed.params["resumed_at"][0] >= 10
    assert cli.main(["train", *args, "--out", str(tmp_path / "whole")]) == 0
    _same_run(resumed, Result.load(tmp_path / "whole" / "result"))


def test_distributed_elastic_sgd_equals_the_in_process_run(tmp_path):
    args = ["--optim", "elastic-sgd", "--replicas", "2", "--rho", "0.1", "--epochs", "1", "--vmap", "on", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "pde_sgd.cli", "train", *args, "--distributed",
                          "--out", str(tmp_path / "dist")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert cli.main(["train", *args, "--out", str(tmp_path / "local")]) == 0
    dist, local = Result.load(tmp_path / "dist" / "result"), Result.load(tmp_path / "local" / "result")
    assert dist.params["world_size"] == 2 and local.params["world_size"] == 1
    dist.params["config"]["distributed"] = False
    _same_run(dist, local)


@pytest.mark.parametrize("argv, message", [
    (["--optim", "parle", "-L", "0"], "L must be"), (["--replicas", "0", "--optim", "parle"], "replicas"),
    (["--lr", "-1"], "lr"), (["--distributed"], "optim must be one of"), (["--batch-size", "0"], "batch_size"),
    (["--batch-size", "5000"], "batch_size"), (["--momentum", "1"], "momentum"), (["--threads", "0"], "threads"),
    (["--gamma", "0", "--optim", "entropy-sgd"], "gamma")])
def test_bad_input_is_a_clear_error(tmp_path, capsys, argv, message):
    assert cli.main(["train", *argv, "--epochs", "1", "--out", str(tmp_path), "--no-progress"]) == 2
    assert message in capsys.readouterr().out


def test_a_checkpoint_of_another_run_is_refused(tmp_path, capsys):
    from pde_sgd.training import TrainConfig, Trainer
    Trainer(TrainConfig(epochs=1), tmp_path, progress=False).save_checkpoint()
    assert cli.main(["train", "--epochs", "2", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "different run" in capsys.readouterr().out


def test_train_options_reach_the_train_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(flag in out for flag in ("--optim", "-L", "--gamma", "--scoping", "--noise", "--replicas", "--distributed"))
