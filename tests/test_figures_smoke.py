"""Every figure script and every simulation runs in its quick setting and writes valid output (issue 14).

The scripts are discovered (figures/fig_*.py, simulations/*.py), so figures added later are covered without
editing this file. Simulations write into a temporary folder: the ``out`` default of every simulation function
is redirected for the session. A figure's claim is asserted where it is testable in the quick setting.
"""
import ast
import importlib
import importlib.util
import inspect
import io
import sys
import warnings
from pathlib import Path

import pytest

from pde_sgd import Result

ROOT = Path(__file__).resolve().parents[1]
FIGURES = sorted((ROOT / "figures").glob("fig_*.py"))
SIMULATIONS = sorted(p for p in (ROOT / "simulations").glob("*.py") if not p.name.startswith("_"))


def _simulation_functions(module):
    """Public experiment functions of a simulations module: defined there, with ``full`` and ``out`` options."""
    return {name: f for name, f in inspect.getmembers(module, inspect.isfunction)
            if f.__module__ == module.__name__ and not name.startswith("_")
            and {"full", "out"} <= set(inspect.signature(f).parameters)}


@pytest.fixture(scope="session")
def sim_out(tmp_path_factory):
    """Import every simulations module and point the ``out`` default of its functions at a temporary folder."""
    out = tmp_path_factory.mktemp("simulations_out")
    sys.path.insert(0, str(ROOT))
    saved = []
    for path in SIMULATIONS:
        module = importlib.import_module(f"simulations.{path.stem}")
        for f in _simulation_functions(module).values():
            names = list(inspect.signature(f).parameters)
            if f.__defaults__ is not None:
                start = len(names) - len(f.__defaults__)
                saved.append((f, "__defaults__", f.__defaults__))
                f.__defaults__ = tuple(out if names[start + i] == "out" else v for i, v in enumerate(f.__defaults__))
            if f.__kwdefaults__ and "out" in f.__kwdefaults__:
                saved.append((f, "__kwdefaults__", dict(f.__kwdefaults__)))
                f.__kwdefaults__["out"] = out
    yield out
    for f, attr, value in saved:
        setattr(f, attr, value)


_RUNS: dict = {}
_QUALITY: dict = {}   # figure -> what pde_sgd.plotting.layout_problems found when it was saved


def run_figure(path: Path, out_dir: Path):
    """Run one figure (once per session); returns its output paths or re-raises its error."""
    from pde_sgd.plotting import FigureQualityWarning
    if path.stem not in _RUNS:
        spec = importlib.util.spec_from_file_location(f"smoke_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FigureQualityWarning)
            try:
                spec.loader.exec_module(module)
                _RUNS[path.stem] = ("ok", module.make(out_dir / path.stem, full=False))
            except Exception as exc:  # recorded, re-raised by every test that needs this figure
                _RUNS[path.stem] = ("error", exc)
        _QUALITY[path.stem] = [str(w.message) for w in caught if issubclass(w.category, FigureQualityWarning)]
    status, value = _RUNS[path.stem]
    if status == "error":
        raise value
    return value


def _valid_png(data: bytes) -> bool:
    from PIL import Image
    img = Image.open(io.BytesIO(data))
    img.verify()
    return img.format == "PNG" and min(img.size) >= 100


def _valid_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:] and b"/Page" in data


@pytest.mark.parametrize("path", FIGURES, ids=[p.stem for p in FIGURES])
def test_figure_quick_setting_writes_valid_png_and_pdf(path, sim_out, tmp_path_factory):
    assert _first_doc_line(path), f"{path.name} has no one-line module docstring"
    paths = run_figure(path, tmp_path_factory.getbasetemp() / "figures")
    assert paths, f"{path.name}: make() returned no files"
    suffixes = sorted(Path(p).suffix for p in paths)
    assert ".png" in suffixes and ".pdf" in suffixes, paths
    for p in map(Path, paths):
        data = p.read_bytes()
        assert data, p
        assert _valid_png(data) if p.suffix == ".png" else _valid_pdf(data) if p.suffix == ".pdf" else True, p
    assert not [p for p in Path(paths[0]).parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("path", FIGURES, ids=[p.stem for p in FIGURES])
def test_figure_text_is_legible(path, sim_out, tmp_path_factory):
    """A journal's checks (issue 18): text >= 8 pt, no overlapping tick labels, symbols in mathtext or Unicode,
    a colourbar wherever colour encodes a value, zoomed axes anchored at 0 or marked (pde_sgd.plotting.
    layout_problems, run on every figure as it is saved)."""
    run_figure(path, tmp_path_factory.getbasetemp() / "figures")
    assert not _QUALITY[path.stem], _QUALITY[path.stem]


def _first_doc_line(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    return doc.strip().splitlines()[0] if doc else ""


def _figures_using(sim_module: str, name: str) -> list[Path]:
    return [p for p in FIGURES if f"from simulations.{sim_module} import" in p.read_text()
            and name in p.read_text()]


def _experiments(path: Path) -> list[str]:
    """Names of the public functions of a simulations script that take ``full`` and ``out`` (read, not run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
            and {"full", "out"} <= {a.arg for a in n.args.args + n.args.kwonlyargs}]


SIM_FUNCTIONS = [(p.stem, name) for p in SIMULATIONS for name in _experiments(p)]


@pytest.mark.parametrize("sim_module, name", SIM_FUNCTIONS, ids=[f"{m}.{n}" for m, n in SIM_FUNCTIONS])
def test_simulation_quick_setting_saves_loadable_results(sim_module, name, sim_out, tmp_path_factory):
    """Run through the figures that use it (once), else directly; every saved Result loads back."""
    funcs = _simulation_functions(importlib.import_module(f"simulations.{sim_module}"))
    users = _figures_using(sim_module, name)
    if users:
        for fig in users:
            run_figure(fig, tmp_path_factory.getbasetemp() / "figures")
    else:
        funcs[name](full=False)
    saved = sorted(js for js in sim_out.rglob("*.json") if js.with_suffix(".npz").exists())   # sweep stores too
    assert saved, "no simulation saved a Result"
    for js in saved:
        Result.load(js)


# --- claims testable in the quick setting ------------------------------------------------------------
def test_f5_linear_sde_peak_sits_at_the_predicted_rotation_frequency(sim_out, tmp_path_factory):
    """F5 (synthetic): the power spectrum of x_1 peaks at |Im lambda(F)| / 2 pi for Q != 0 (within the
    damping shift of the exact OU spectral density and two frequency bins), and has no interior peak for the
    gradient flow (Q = 0). Quick setting measured: peak 0.488 vs predicted 0.496, bin 0.049."""
    fig = ROOT / "figures" / "fig_f5_linear_sde_spectrum.py"
    run_figure(fig, tmp_path_factory.getbasetemp() / "figures")
    r = Result.load(sim_out / "sde_limit_cycle")
    f = r["freqs"]
    pos = f > 0
    bin_width = f[1] - f[0]
    P, P_exact = r["anisotropic_P"][pos], r["anisotropic_P_exact"][pos]
    nu_peak, nu_exact = f[pos][P.argmax()], f[pos][P_exact.argmax()]
    nu_pred = float(r["anisotropic_nu_pred"])
    assert abs(nu_peak - nu_exact) <= 2 * bin_width, (nu_peak, nu_exact)
    assert abs(nu_peak - nu_pred) <= 2 * bin_width, (nu_peak, nu_pred)
    assert P.max() > 3 * P[0]  # a genuine peak, not the low-frequency end
    iso = r["isotropic_P_exact"]
    assert float(r["isotropic_nu_pred"]) == 0.0 and iso.argmax() == 0  # no rotation: maximum at zero frequency


def test_layout_problems_finds_small_text_overlaps_and_ascii_symbols():
    """The checker itself can fail: each kind of problem on a hand-made figure, and a clean figure passes."""
    import matplotlib.pyplot as plt
    from pde_sgd.plotting import layout_problems
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xticks([0, 1e-3, 2e-3], ["0.000000", "0.001000", "0.002000"])      # crammed labels overlap
    ax.set_title("steady state, beta = 2", fontsize=6)
    ax.set_xlabel("eps_32")
    fig.text(0.9, 0.5, "a note that runs over the right edge")
    problems = layout_problems(fig)
    assert any("< 8 pt" in p for p in problems)
    assert any("overlapping x tick labels" in p for p in problems)
    assert any("ASCII symbol name" in p and "beta" in p for p in problems)
    assert any("ASCII symbol name" in p and "eps_32" in p for p in problems)
    assert "text 'a note that runs over the right edge' is cut off at the figure's edge" in problems
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 3))       # a minor label on a major one: neighbours only along the axis
    ax.set_xticks([0, 1], ["0.000", "1.000"])
    ax.set_xticks([0.02], ["0.020"], minor=True)
    assert any("overlapping x tick labels '0.000' and '0.020'" in p for p in layout_problems(fig))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_title(r"$\beta$ = 2, β = 2, ρ_ss, Φ (clean)", fontsize=9)
    ax.tick_params(labelsize=8)
    assert layout_problems(fig) == []
    plt.close(fig)


def _colour_panel(kind: str):
    """A figure with one panel whose colour encodes values, drawn by ``kind``; returns (fig, ax, artist)."""
    import matplotlib.pyplot as plt
    import numpy as np
    fig, ax = plt.subplots(figsize=(4, 3))
    z = np.arange(12.0).reshape(3, 4)
    draw = {"imshow": lambda: ax.imshow(z), "pcolormesh": lambda: ax.pcolormesh(z),
            "contourf": lambda: ax.contourf(z), "scatter c": lambda: ax.scatter([1, 2, 3], [1, 3, 2], c=[0, 1, 2]),
            "tripcolor": lambda: ax.tripcolor([0, 1, 0, 1], [0, 0, 1, 1], [0.0, 1.0, 2.0, 3.0])}
    return fig, ax, draw[kind]()


@pytest.mark.parametrize("kind", ["imshow", "pcolormesh", "contourf", "scatter c", "tripcolor"])
def test_layout_problems_wants_a_colourbar_where_colour_encodes_a_value(kind):
    """Flagged without a colourbar; accepted with one, or marked by no_colorbar with a reason."""
    import matplotlib.pyplot as plt
    from pde_sgd.plotting import layout_problems, no_colorbar
    fig, ax, artist = _colour_panel(kind)
    assert [p for p in layout_problems(fig) if "without a colourbar" in p], kind
    fig.colorbar(artist, ax=ax)
    assert layout_problems(fig) == []
    plt.close(fig)
    fig, ax, artist = _colour_panel(kind)
    no_colorbar(artist, "colour repeats the x position")
    assert layout_problems(fig) == []
    with pytest.raises(ValueError):
        no_colorbar(artist, " ")
    plt.close(fig)


def test_layout_problems_accepts_line_contours_and_one_colourbar_for_panels_sharing_levels():
    import matplotlib.pyplot as plt
    import numpy as np
    from pde_sgd.plotting import layout_problems
    z = np.arange(12.0).reshape(3, 4)
    fig, ax = plt.subplots(1, 3, figsize=(9, 3))
    ax[0].contour(z, colors="k")
    cs = [a.contourf(k * z, levels=np.linspace(0, 22, 6)) for k, a in zip((1, 2), ax[1:])]
    fig.colorbar(cs[1], ax=ax[1:].tolist())
    assert layout_problems(fig) == []
    ax[2].contourf(z, levels=np.linspace(0, 11, 6))       # other levels: a mapping no colourbar shows
    assert [p for p in layout_problems(fig) if "without a colourbar" in p]
    plt.close(fig)


def test_layout_problems_wants_zoomed_axes_anchored_or_marked():
    """A 1 % difference filling the panel is flagged; including 0, an offset or a zoomed() note passes."""
    import matplotlib.pyplot as plt
    from pde_sgd.plotting import layout_problems, zoomed

    def panel():
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([1, 2], [1.0, 1.01])
        return fig, ax
    fig, ax = panel()
    assert [p for p in layout_problems(fig) if "y axis zoomed" in p]
    ax.set_ylim(0, None)
    assert layout_problems(fig) == []
    plt.close(fig)
    fig, ax = panel()
    note = zoomed(ax, axis="y")
    assert "range 1.1%" in note.get_text() and layout_problems(fig) == []
    note.set_visible(False)
    assert [p for p in layout_problems(fig) if "y axis zoomed" in p]
    plt.close(fig)
    fig, ax = panel()
    ax.yaxis.get_major_formatter().set_useOffset(1.0)     # tick labels relative to a visible "+1"
    assert layout_problems(fig) == []
    ax.set_yscale("log")
    assert layout_problems(fig) == []
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    with pytest.raises(ValueError, match="anchored"):
        zoomed(ax)
    plt.close(fig)


def test_figure_descriptions_write_symbols_as_the_figures_do():
    """The first docstring line of each figure (shown by `pde-sgd list` and in the docs gallery) writes β, Φ, λ,
    η, ε, ρ_ss as the figures do, never as ASCII names (the same rule as layout_problems)."""
    import re

    from pde_sgd.plotting import ASCII_SYMBOLS
    bad = {}
    for path in FIGURES:
        first = (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").splitlines()[0]
        plain = re.sub(r"\$[^$]*\$", "", first)
        found = ASCII_SYMBOLS.findall(plain) + re.findall(r"(?<![A-Za-z_])eps(?![A-Za-z])", plain)
        if found:
            bad[path.stem] = found
    assert not bad, bad
