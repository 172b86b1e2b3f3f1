"""The gathered results of a sweep: its points in order, each point's Result (or None), and the failures."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..results import Result

KIND = "sweeps.table"


@dataclass
class Table:
    """Results of ``name`` in the order of ``points``; ``results[i]`` is None where point i did not finish.

    ``failed`` lists ``(point, traceback)`` for the points that raised. :meth:`column` stacks one quantity over
    the finished points (always in point order, so any two columns line up).
    """

    name: str
    points: list[dict]
    results: list[Result | None]
    failed: list[tuple[dict, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.points) != len(self.results):
            raise ValueError(f"table {self.name!r}: {len(self.points)} points but {len(self.results)} results")

    def finished(self) -> list[tuple[dict, Result]]:
        """``(point, Result)`` for every finished point, in point order."""
        return [(p, r) for p, r in zip(self.points, self.results) if r is not None]

    def column(self, key: str) -> np.ndarray:
        """``key`` over the finished points: a point parameter, else a Result array (stacked on a new first
        axis), else a scalar Result parameter. Raises KeyError naming the available keys if none has it."""
        done = self.finished()
        if not done:
            raise ValueError(f"table {self.name!r} has no finished points")
        if all(key in p for p, _ in done):
            return np.array([p[key] for p, _ in done])
        if all(key in r.arrays for _, r in done):
            shapes = {r[key].shape for _, r in done}
            if len(shapes) > 1:
                raise ValueError(f"column {key!r}: the arrays have different shapes {sorted(shapes)}; "
                                 "read them one by one with finished()")
            return np.stack([r[key] for _, r in done])
        if all(key in r.params for _, r in done):
            return np.array([r.params[key] for _, r in done])
        p0, r0 = done[0]
        raise KeyError(f"table {self.name!r} has no column {key!r} on every finished point; point parameters: "
                       f"{sorted(p0)}, arrays: {sorted(r0.arrays)}, params: {sorted(r0.params)}")

    def to_result(self) -> Result:
        """One Result holding the table: arrays ``"<i>.<name>"`` of finished point i, the rest in params."""
        arrays = {f"{i}.{k}": v for i, r in enumerate(self.results) if r is not None for k, v in r.arrays.items()}
        entries = [None if r is None else {"kind": r.kind, "params": r.params, "arrays": sorted(r.arrays)}
                   for r in self.results]
        return Result(KIND, arrays, {"name": self.name, "points": self.points, "results": entries,
                                     "failed": [list(f) for f in self.failed]})

    @classmethod
    def from_result(cls, result: Result) -> "Table":
        if result.kind != KIND:
            raise ValueError(f"a sweep table has kind {KIND!r}, got {result.kind!r}")
        p = result.params
        results = [None if e is None else Result(e["kind"], {k: result[f"{i}.{k}"] for k in e["arrays"]}, e["params"])
                   for i, e in enumerate(p["results"])]
        return cls(p["name"], p["points"], results, [(pt, tb) for pt, tb in p["failed"]])

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write the table as one Result (``path.npz`` + ``path.json``, atomically)."""
        return self.to_result().save(path)

    @classmethod
    def load(cls, path: str | Path) -> "Table":
        """A table written by :meth:`save`, or, for a folder, the table of the sweep store there (its points
        from ``sweep.json``, each finished Result, the recorded failures); nothing is computed."""
        if Path(path).is_dir():
            return cls.gather(path)
        return cls.from_result(Result.load(path))

    @classmethod
    def gather(cls, folder: str | Path) -> "Table":
        """The table of the sweep store ``folder`` as it stands (see :meth:`load`)."""
        from .store import Store
        st = Store(folder)
        manifest = st.read_manifest()
        points, keys = manifest["points"], manifest["keys"]
        results = [st.load(k) for k in keys]
        tracebacks = [None if r is not None else st.load_failure(k) for k, r in zip(keys, results)]
        return cls(manifest["name"], points, results, [(p, tb) for p, tb in zip(points, tracebacks) if tb])

    def __repr__(self) -> str:
        n_done = sum(r is not None for r in self.results)
        return f"Table({self.name!r}: {n_done}/{len(self.points)} finished, {len(self.failed)} failed)"
