"""``pde-sgd animate`` writes GIFs with the requested frames; ``pde_sgd.widgets.explore`` draws its settings."""
import numpy as np
import pytest
from PIL import Image

from pde_sgd import animations, cli, widgets


def test_animate_writes_gif_with_expected_frame_count(tmp_path, capsys):
    assert cli.main(["animate", "hj_time", "--frames", "5", "--fps", "10", "--out", str(tmp_path), "--no-mp4"]) == 0
    gif = tmp_path / "hj_time.gif"
    assert f"wrote {gif}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hj_time.gif"]  # no temporary file left behind
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 5 and im.size[0] > 100
        im.seek(0)
        first = np.asarray(im.convert("RGB")).astype(int)
        im.seek(4)
        last = np.asarray(im.convert("RGB")).astype(int)
        assert im.info["duration"] == pytest.approx(100, abs=10)  # 10 fps
    assert np.abs(first - last).sum() > 0  # the solution moves: frames differ


def test_animate_list_names_every_animation(capsys):
    assert cli.main(["animate", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("fp_f1", "sde_cloud", "hj_time"):
        assert name in out
    assert set(animations.describe()) == {"fp_f1", "sde_cloud", "hj_time"}


@pytest.mark.parametrize("kw, message", [({"frames": 1}, "frames must be an integer in [2, 600]"),
                                         ({"frames": 2.5}, "frames must be an integer"),
                                         ({"fps": 0}, "fps must be a number in (0, 60]"),
                                         ({"fps": 120}, "fps must be a number in (0, 60]")])
def test_animate_rejects_bad_options_before_work(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[").replace(")", r"\)")
                       .replace("]", r"\]")):
        animations.animate("hj_time", tmp_path, **kw)
    with pytest.raises(ValueError, match="name must be one of"):
        animations.animate("no_such_animation", tmp_path)
    assert not any(tmp_path.iterdir())


def test_animate_cli_reports_bad_frames_as_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["animate", "hj_time", "--frames", "0", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "frames must be an integer in [2, 600]" in capsys.readouterr().err


def test_explore_draws_each_static_setting_without_a_kernel(monkeypatch):
    monkeypatch.setenv(widgets.WIDGETS_ENV, "0")
    calls = []
    widgets.explore(lambda beta, t: calls.append((beta, t)), beta=(1, 20, 10), t=(0.1, 1.0, 0.2, 0.1),
                    static=[{"beta": 2, "t": 0.5}, {"beta": 20, "t": 0.1}])
    assert calls == [(2.0, 0.5), (20.0, 0.1)]


def test_explore_builds_sliders_in_a_live_kernel(monkeypatch):
    import ipywidgets
    seen = {}
    monkeypatch.setattr(widgets, "live_widgets", lambda: True)
    monkeypatch.setattr(ipywidgets, "interact", lambda f, **kw: seen.update(kw))
    widgets.explore(lambda beta: None, beta=(1, 20, 10, 0.5), static=[{"beta": 2}])
    s = seen["beta"]
    assert (s.min, s.max, s.value, s.step) == (1.0, 20.0, 10.0, 0.5)


@pytest.mark.parametrize("sliders, static, message", [
    ({"beta": (1, 20)}, [{"beta": 2}], "must be \\(min, max, value\\)"),
    ({"beta": (20, 1, 10)}, [{"beta": 2}], "finite min < max"),
    ({"beta": (1, 20, 30)}, [{"beta": 2}], "value must lie in"),
    ({"beta": (1, 20, 10, 0)}, [{"beta": 2}], "step must lie in"),
    ({"beta": (1, 20, 10)}, [], "non-empty list"),
    ({"beta": (1, 20, 10)}, [{"t": 2}], "exactly \\['beta'\\]"),
    ({"beta": (1, 20, 10)}, [{"beta": 50}], "outside the slider range"),
])
def test_explore_rejects_bad_sliders(sliders, static, message):
    with pytest.raises(ValueError, match=message):
        widgets.explore(lambda **kw: None, static=static, **sliders)


def test_animate_writes_mp4_exactly_when_ffmpeg_is_present(tmp_path):
    import shutil
    import subprocess
    if shutil.which("ffmpeg") is None:
        with pytest.raises(ValueError, match="mp4=True needs ffmpeg"):
            animations.animate("hj_time", tmp_path, frames=3, mp4=True)
        assert [p.name for p in animations.animate("hj_time", tmp_path, frames=3)] == ["hj_time.gif"]
        return
    paths = animations.animate("hj_time", tmp_path, frames=3, mp4=True)
    assert [p.name for p in paths] == ["hj_time.gif", "hj_time.mp4"]
    if shutil.which("ffprobe"):
        out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                              "stream=nb_read_frames", "-of", "csv=p=0", str(paths[1])],
                             capture_output=True, text=True, check=True)
        assert int(out.stdout.strip()) == 3
