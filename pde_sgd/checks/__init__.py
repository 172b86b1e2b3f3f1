"""The theorems of THEORY.md as functions that return a measured error next to its tolerance.

Each check returns a :class:`Check` (name, measured value, tolerance, passed) so users can run the same
verification the test suite runs on their own settings. Topic modules: ``checks.hj``, ``checks.fokker_planck``,
``checks.sde`` (where present).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """A measured quantity and the tolerance it is held to (``passed`` when ``measured <= tolerance``)."""

    name: str
    measured: float
    tolerance: float
    detail: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.measured <= self.tolerance)

    def __str__(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        return f"[{mark}] {self.name}: {self.measured:.3g} <= {self.tolerance:.3g} {self.detail}".rstrip()
