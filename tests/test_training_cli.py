"""`pde-sgd train` guards its output folder and its checkpoints: a finished run of other settings is refused
(--force replaces it), the same settings return the stored result, an edited or inconsistent checkpoint and a
resume with another --threads are refused with the reason, bad --seed / --device / --out are clean errors."""
import errno

import pytest
import torch

from pde_sgd import Result, cli
from pde_sgd.training import TrainConfig, Trainer
from pde_sgd.training.run import pack_checkpoint, unpack_checkpoint

FAST = ["--epochs", "1", "--batch-size", "256", "--no-progress"]  # sgd: 6 steps


def _train(out, *extra):
    return cli.main(["train", *FAST, "--out", str(out), *extra])


def test_finished_run_of_other_settings_is_refused_and_force_replaces_it(tmp_path, capsys):
    assert _train(tmp_path) == 0
    first = Result.load(tmp_path / "result")
    assert first.params["config"]["threads"] == 1
    capsys.readouterr()
    assert _train(tmp_path, "--lr", "0.2") == 2
    msg = capsys.readouterr().out
    assert "finished run of another configuration" in msg and "lr None -> 0.2" in msg and "--force" in msg
    assert Result.load(tmp_path / "result").params["config"]["lr"] is None  # untouched
    assert _train(tmp_path, "--lr", "0.2", "--force") == 0
    assert Result.load(tmp_path / "result").params["config"]["lr"] == 0.2


def test_same_settings_return_the_stored_result_without_training(tmp_path, monkeypatch):
    assert _train(tmp_path) == 0
    stored = Result.load(tmp_path / "result")
    monkeypatch.setattr(Trainer, "_one_step", lambda self: pytest.fail("trained again"))
    assert _train(tmp_path) == 0
    assert Result.load(tmp_path / "result").params == stored.params


def _checkpoint(out, **cfg):
    trainer = Trainer(TrainConfig(epochs=1, batch_size=256, **cfg), out, progress=False)
    trainer.save_checkpoint()
    return out / "checkpoint-rank0-step0.pt"


def test_a_checkpoint_changed_on_disk_is_refused(tmp_path, capsys):
    path = _checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 1  # one bit of the payload
    path.write_bytes(bytes(data))
    assert _train(tmp_path) == 2
    assert f"checkpoint {path} is corrupt or was edited" in capsys.readouterr().out


@pytest.mark.parametrize("edit", ["step", "name"])
def test_an_edited_checkpoint_step_is_refused_even_with_a_valid_hash(tmp_path, capsys, edit):
    path = _checkpoint(tmp_path)
    state = unpack_checkpoint(path)
    if edit == "step":
        state["step"] = 3
        path.write_bytes(pack_checkpoint(state))
    else:  # renamed: the file claims step 3, its content is step 0
        path.rename(tmp_path / "checkpoint-rank0-step3.pt")
    assert _train(tmp_path) == 2
    assert "is inconsistent (step" in capsys.readouterr().out


def test_resuming_with_another_thread_count_is_refused(tmp_path, capsys):
    _checkpoint(tmp_path, threads=1)
    assert _train(tmp_path, "--threads", "2") == 2
    msg = capsys.readouterr().out
    assert "threads 1 -> 2" in msg and "bit-identical" in msg and "--threads" in msg


def test_a_file_without_the_verified_header_is_refused(tmp_path, capsys):
    torch.save({"step": 0}, tmp_path / "checkpoint-rank0-step0.pt")  # e.g. an old-format checkpoint
    assert _train(tmp_path) == 2
    assert "not a pde_sgd checkpoint" in capsys.readouterr().out


@pytest.mark.parametrize("seed", ["1e20", "-1", "9223372036854775808", "abc"])
def test_seed_out_of_range_is_a_usage_error_with_the_range(tmp_path, capsys, seed):
    with pytest.raises(SystemExit) as exc:
        _train(tmp_path, "--seed", seed)
    assert exc.value.code == 2
    assert "--seed must be an integer in [0, 2**63 - 1]" in capsys.readouterr().err


def test_seed_in_exponent_notation_within_range_is_accepted():
    from pde_sgd.training.cli import _seed
    assert _seed("1e3") == 1000 and _seed("9223372036854775807") == 2 ** 63 - 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_device_without_cuda_is_a_clean_error(tmp_path, capsys):
    assert _train(tmp_path, "--device", "cuda:0") == 2
    assert "device 'cuda:0': CUDA is not available" in capsys.readouterr().out


def test_unwritable_out_is_refused_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Trainer, "__init__", lambda *a, **k: pytest.fail("started before --out was checked"))
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "run"
    assert _train(out) == 2
    assert f"--out {out} is not a writable folder" in capsys.readouterr().out


def test_full_out_during_the_run_is_a_clean_error_naming_the_path(tmp_path, capsys, monkeypatch):
    from pde_sgd.training import run

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(run, "atomic_write_bytes", full)
    assert _train(tmp_path) == 1
    msg = capsys.readouterr().out
    assert f"cannot write to --out {tmp_path}: No space left on device" in msg and "checkpoint-rank0" in msg


def test_help_shows_the_defaults():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "pde_sgd.cli", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    for shown in ("(default: 32)", "(default: 5)", "(default: runs/train)", "(default: 1)", "--force"):
        assert shown in text, shown


def test_loss_option_trains_on_the_squared_error_to_the_one_hot_target(tmp_path):
    """--loss mse: the recorded losses are the mean squared error to the one-hot labels averaged over classes
    (recomputed here by hand from the trained module), not the cross-entropy; the default stays cross-entropy
    and is not written into stored configurations (old runs keep their settings)."""
    assert _train(tmp_path / "mse", "--loss", "mse") == 0
    res = Result.load(tmp_path / "mse" / "result")
    assert res.params["config"]["loss"] == "mse"
    cfg = TrainConfig(**{**res.params["config"]})
    trainer = Trainer(cfg, tmp_path / "again", progress=False)
    with torch.no_grad():
        z = trainer.module(trainer.test.X)
        one_hot = torch.nn.functional.one_hot(trainer.test.y, z.shape[1]).to(z.dtype)
        by_hand = float(((z - one_hot) ** 2).mean())
        ce = float(torch.nn.functional.cross_entropy(z, trainer.test.y))
    trainer._evaluate()
    assert trainer.curves["test_loss"][-1] == pytest.approx(by_hand, rel=1e-6)
    assert abs(by_hand - ce) > 0.1
    assert "loss" not in TrainConfig().to_dict()
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="hinge")
