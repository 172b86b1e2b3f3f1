"""The README quickstart runs as written (its last example asserts the SDE agrees with Fokker-Planck)."""
import os
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_examples_run(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## Quickstart"):text.index("## Conventions")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    os.environ.setdefault("MPLBACKEND", "Agg")
    namespace: dict = {}
    for block in blocks:  # in order, in one namespace, as a reader would paste them
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "local_entropy.png").stat().st_size > 1000
