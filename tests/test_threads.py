"""``import pde_sgd`` sets OpenMP's passive wait policy before any OpenMP runtime loads, unless the user chose one."""
import os
import subprocess
import sys

import pytest

from pde_sgd import _threads

PROBE = """
import pde_sgd
from numba.np.ufunc.parallel import _launch_threads
_launch_threads()  # loads Numba's OpenMP layer: libgomp reads its environment now and prints it (OMP_DISPLAY_ENV)
print("applied", pde_sgd._threads.applied())
"""


def _probe(**env):
    base = {k: v for k, v in os.environ.items() if k not in _threads.WAIT_VARIABLES}
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
                         env={**base, "OMP_DISPLAY_ENV": "VERBOSE", "NUMBA_THREADING_LAYER": "omp", **env})
    assert run.returncode == 0, run.stderr
    return run.stdout + run.stderr


def test_passive_wait_reaches_the_openmp_runtime():
    out = _probe()
    # what libgomp itself read when Numba's pool started: no spinning at barriers
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in out and "GOMP_SPINCOUNT = '0'" in out
    assert "applied {'OMP_WAIT_POLICY': 'PASSIVE'}" in out


@pytest.mark.parametrize("name, value", [("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "5000")])
def test_explicit_user_setting_is_respected(name, value):
    out = _probe(**{name: value})
    assert "applied {}" in out
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in out if name == "OMP_WAIT_POLICY" else "GOMP_SPINCOUNT = '5000'" in out
    assert "GOMP_SPINCOUNT = '0'" not in out


@pytest.mark.parametrize("env, expected", [({}, {"OMP_WAIT_POLICY": "PASSIVE"}),
                                           ({"OMP_WAIT_POLICY": "active"}, {"OMP_WAIT_POLICY": "active"}),
                                           ({"KMP_BLOCKTIME": "0"}, {"KMP_BLOCKTIME": "0"}),
                                           ({"GOMP_SPINCOUNT": "0"}, {"GOMP_SPINCOUNT": "0"})])
def test_apply_defaults_only_fills_what_the_user_left_unset(env, expected):
    environ = dict(env, PATH="/bin")
    set_now = _threads.apply_defaults(environ)
    assert {k: v for k, v in environ.items() if k != "PATH"} == expected
    assert set_now == ({} if env else {"OMP_WAIT_POLICY": "PASSIVE"})
