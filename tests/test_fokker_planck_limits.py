"""Runs that cannot fit or finish are refused before any work, with the parameter, the estimate and the range."""
import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.fokker_planck import evolve as ev
from pde_sgd.fokker_planck.solver import check_build_fits
from pde_sgd.fokker_planck.steady import lu_bytes_estimate


@pytest.fixture(scope="module")
def fp():
    return FokkerPlanck(landscapes.double_well(2), Grid([-2.0, -2.0], [2.0, 2.0], [20, 20]), beta=1.0, D=0.5)


def _rho0(fp):
    X, Y = fp.grid.coords
    return np.exp(-(X ** 2 + Y ** 2))


def test_huge_n_saves_is_a_memory_error_naming_it(fp):
    with pytest.raises(MemoryError, match=r"n_saves: 1000000000001 snapshots .* at most n_saves = \d+"):
        fp.evolve(_rho0(fp), T=1.0, n_saves=10 ** 12)  # before the 8 TB of output times are even allocated
    limit = 8.0 * 400 * 10  # ten fields of 400 cells: 8 snapshots and the two working copies
    with pytest.raises(MemoryError, match=r"times: 9 snapshots of 400 cells need .* at most n_saves = 7 \(8 output"):
        ev.check_snapshots_fit(9, 400, "times", limit=limit)
    ev.check_snapshots_fit(8, 400, "times", limit=limit)  # the quoted maximum fits


@pytest.mark.parametrize("method, kw", [("explicit", {}), ("implicit", {"dt": 1e-3}), ("expm", {})])
def test_a_span_beyond_max_work_is_refused_with_the_longest_allowed(fp, method, kw):
    with pytest.raises(ValueError, match=rf"T: evolving over a span of 1e\+13 with method='{method}' .*at most a "
                                         rf"span of"):
        fp.evolve(_rho0(fp), T=1e13, method=method, **kw)
    with pytest.raises(ValueError, match="times: evolving"):
        fp.evolve(_rho0(fp), times=[0.0, 1.0, 1e13], method=method, **kw)


def test_the_longest_span_quoted_is_accepted(fp, monkeypatch):
    """The span the message allows is (just) within MAX_WORK: the bound is the one the check applies."""
    import re
    monkeypatch.setattr(ev, "MAX_WORK", 1e6)  # a few thousand steps on 400 cells
    with pytest.raises(ValueError) as info:
        fp.evolve(_rho0(fp), T=100.0)
    allowed = float(re.search(r"at most a span of ([0-9.e+-]+)", str(info.value)).group(1))
    res = fp.evolve(_rho0(fp), T=0.99 * allowed)
    assert res.params["n_steps"] * fp.grid.size <= 1e6


def test_a_grid_beyond_memory_is_refused_before_the_build():
    g = Grid([-1.0, -1.0], [1.0, 1.0], [100, 100])
    with pytest.raises(MemoryError, match=r"grid: .*100x100 grid \(10000 cells\) needs up to .* at most ~"):
        check_build_fits(g, limit=1e5)
    check_build_fits(g, limit=1e9)  # 10^4 cells x a few hundred bytes fit in 1 GB


def test_lu_estimate_bounds_the_measured_factor_size_from_above():
    """SuperLU's factors (L + U entries, 12 bytes each: value and row index) of the reduced steady-state system
    with cross diffusion, measured here, lie below the estimate and within a factor 2 of it (the estimate was
    4x low in 3-D before: N^(5/3) / 2 entries)."""
    import scipy.sparse.linalg as sla
    for shape in [(64, 64), (16, 16, 16)]:
        d = len(shape)
        D = np.eye(d) + 0.3 * (np.ones((d, d)) - np.eye(d))
        g = Grid([-2.0] * d, [2.0] * d, list(shape))
        L = FokkerPlanck(landscapes.double_well(d), g, beta=1.0, D=D).generator.tocsc()
        lu = sla.splu(L[1:, 1:].tocsc())
        measured = 12.0 * (lu.L.nnz + lu.U.nnz)
        assert measured <= lu_bytes_estimate(shape) <= 2 * measured, (shape, measured, lu_bytes_estimate(shape))
