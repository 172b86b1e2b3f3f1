"""The package's Numba cache is keyed by the hash of all its sources (issue 20, "stale compiled code"), and a
read-only package with a read-only HOME falls back to a temporary cache with one warning.

Each check runs a copy of the package in fresh subprocesses, as a user (or a developer editing a helper) would.
"""
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import numpy as np

import pde_sgd
from pde_sgd import _numba_cache

PACKAGE = os.path.dirname(pde_sgd.__file__)

# proximal_point's kernel (hj/inviscid.py) inlines landscapes.jit_grad (another module). One prox step of
# f = x^2 / 2 from x0 = 1.3 with t = 0.5: Newton refines the best cell centre (0.75) to x0 / (1 + t) exactly.
PROX = """
import numpy as np
from pde_sgd import Grid, landscapes
from pde_sgd.hj import proximal_point
r = proximal_point(landscapes.quadratic(np.eye(1)), Grid(-2.0, 2.0, 8), [1.3], 0.5, 1)
print(repr(float(r["path"][-1, 0, 0])))
"""


def _copy_package(dest):
    """The package's sources (and the cache of this very source hash, so the first run starts warm)."""
    shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    warm = os.path.join(PACKAGE, "__pycache__", f"numba-{_numba_cache.SOURCE_HASH}")
    if os.path.isdir(warm):
        shutil.copytree(warm, os.path.join(dest, "__pycache__", f"numba-{_numba_cache.SOURCE_HASH}"))


def _run(code, cwd, env=None):
    env = dict(os.environ if env is None else env, PYTHONPATH=str(cwd))
    env.pop("NUMBA_CACHE_DIR", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_the_source_hash_reads_contents_not_sizes_or_mtimes(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "a.py").write_text("x = 1\n")
    h0 = _numba_cache.source_hash(str(pkg))
    st = os.stat(pkg / "sub" / "a.py")
    (pkg / "sub" / "a.py").write_text("x = 2\n")  # same size, same mtime
    os.utime(pkg / "sub" / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns))
    h1 = _numba_cache.source_hash(str(pkg))
    (pkg / "sub" / "__pycache__").mkdir()
    (pkg / "sub" / "__pycache__" / "b.py").write_text("junk")  # caches are not sources
    assert h0 != h1 == _numba_cache.source_hash(str(pkg))


def test_editing_a_helper_in_another_module_is_seen_by_the_next_run(tmp_path):
    _copy_package(tmp_path / "pde_sgd")
    first = float(_run(PROX, tmp_path).stdout)
    assert abs(first - 1.3 / 1.5) < 1e-12  # the Newton-refined prox
    src = tmp_path / "pde_sgd" / "landscapes.py"
    text = src.read_text()
    helper = '    """Write grad f(x) into ``out`` (same length as ``x``)."""\n    lf[1](x, lf[3], out)\n'
    assert helper in text
    src.write_text(text.replace(helper, helper + "    out[0] = np.nan\n"))  # Newton now always rejected
    second = float(_run(PROX, tmp_path).stdout)
    assert second == 0.75  # the best cell centre, unrefined: the edited helper was compiled in
    roots = os.listdir(tmp_path / "pde_sgd" / "__pycache__")
    assert len([r for r in roots if r.startswith("numba-")]) == 2  # one cache per source hash


READ_ONLY = """
import os, tempfile, warnings
RO = tuple(os.path.abspath(p) + os.sep for p in {ro!r})
if os.getuid() == 0:  # root ignores permission bits: refuse writes below RO as a read-only mount would
    _makedirs, _tf = os.makedirs, tempfile.TemporaryFile
    def _refuse(path):
        if (os.path.abspath(path) + os.sep).startswith(RO):
            raise PermissionError(13, "Permission denied", path)
    def makedirs(path, *a, **k):
        _refuse(path)
        return _makedirs(path, *a, **k)
    def TemporaryFile(*a, dir=None, **k):
        if dir is not None:
            _refuse(dir)
        return _tf(*a, dir=dir, **k)
    os.makedirs, tempfile.TemporaryFile = makedirs, TemporaryFile
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import numpy as np
    from pde_sgd import landscapes
    from pde_sgd.sde import simulate_sgd  # defines @cfunc(cache=True) placeholders at import
    v = landscapes.quadratic(np.eye(2)).value(np.ones((3, 2)))
    landscapes.double_well(2).grad(np.ones((3, 2)))
assert np.allclose(v, 1.0), v
msgs = [str(w.message) for w in caught if "is writable" in str(w.message)]
print(len(msgs))
print(msgs[0] if msgs else "")
"""


def test_a_read_only_package_and_home_fall_back_to_a_temporary_cache_with_one_warning(tmp_path):
    pkg, home, tmp = tmp_path / "pde_sgd", tmp_path / "home", tmp_path / "tmp"
    _copy_package(pkg)
    shutil.rmtree(pkg / "__pycache__", ignore_errors=True)
    home.mkdir()
    tmp.mkdir()
    for root, dirs, files in os.walk(pkg):
        for name in files + dirs:
            p = os.path.join(root, name)
            os.chmod(p, os.stat(p).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    for p in (pkg, home):
        os.chmod(p, 0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    try:
        out = _run(READ_ONLY.format(ro=[str(pkg), str(home)]), tmp_path, env).stdout.splitlines()
    finally:
        for root, dirs, files in os.walk(tmp_path):
            os.chmod(root, 0o755)
    assert out[0] == "1", out
    assert str(tmp) in out[1]
    cached = [f for _, _, fs in os.walk(tmp) for f in fs if f.endswith(".nbi")]
    assert cached and not (pkg / "__pycache__").exists() and not os.listdir(home)
