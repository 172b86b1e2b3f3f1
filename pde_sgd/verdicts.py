"""Verdicts on the papers' claims, each with the preconditions measured in the run (THEORY.md section 8).

A claim is judged only where the run reached the regime the paper describes. A verdict is one of

- ``HOLDS``: every precondition met and the measured effect has the claimed sign beyond ``z`` standard errors
  (or, for a slope, the claimed value is inside the confidence interval and the alternative is outside);
- ``DOES NOT HOLD``: every precondition met and the effect has the opposite sign beyond ``z`` standard errors
  (or the claimed slope lies outside the interval);
- ``REGIME NOT REACHED``: a precondition failed; the verdict names it with its measured value and requirement,
  and says nothing about the claim;
- ``UNRESOLVED``: preconditions met but the interval contains both answers (the verdict gives the interval).

Preconditions are :class:`Precondition` records built by the helpers below (stability edge, overshoot along
the top eigenvector, trained to the paper's loss, trainability at B_opt, not at the end of a grid), so that
every experiment states them the same way. Pure numpy: experiments, figures and tests share this module.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .results import atomic_write_bytes
from .validation import finite_array, positive

HOLDS = "HOLDS"
DOES_NOT_HOLD = "DOES NOT HOLD"
REGIME_NOT_REACHED = "REGIME NOT REACHED"
UNRESOLVED = "UNRESOLVED"
OUTCOMES = (HOLDS, DOES_NOT_HOLD, REGIME_NOT_REACHED, UNRESOLVED)
SIGNS = ("negative", "positive")


@dataclass(frozen=True)
class Precondition:
    """One regime check: ``name`` (what it checks), the ``measured`` value, the ``required`` condition as text,
    and whether it was ``met``."""

    name: str
    measured: float
    required: str
    met: bool

    def __str__(self) -> str:
        return f"{self.name} = {self.measured:.4g} (needs {self.required}: {'met' if self.met else 'NOT met'})"

    def to_dict(self) -> dict:
        return {"name": self.name, "measured": float(self.measured), "required": self.required, "met": self.met}


@dataclass(frozen=True)
class Verdict:
    """The outcome on ``claim``, the ``evidence`` it rests on (a sentence with the numbers), and the
    preconditions that were checked (all of them, met or not)."""

    claim: str
    outcome: str
    evidence: str
    preconditions: tuple[Precondition, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[Precondition, ...]:
        return tuple(p for p in self.preconditions if not p.met)

    def __str__(self) -> str:
        pre = "; ".join(str(p) for p in self.preconditions)
        return f"{self.outcome}: {self.claim}. {self.evidence}" + (f" [preconditions: {pre}]" if pre else "")

    def headline(self) -> str:
        """One line for a figure: the outcome and either the first failed precondition or the evidence."""
        why = str(self.failed[0]) + (f" (+{len(self.failed) - 1} more)" if len(self.failed) > 1 else "") \
            if self.failed else self.evidence
        return f"{self.outcome}: {why}"

    def to_dict(self) -> dict:
        return {"claim": self.claim, "outcome": self.outcome, "evidence": self.evidence,
                "preconditions": [p.to_dict() for p in self.preconditions]}


def at_least(name: str, measured: float, threshold: float) -> Precondition:
    """``measured >= threshold``."""
    m = float(measured)
    return Precondition(name, m, f">= {threshold:.4g}", bool(np.isfinite(m) and m >= threshold))


def at_most(name: str, measured: float, threshold: float) -> Precondition:
    """``measured <= threshold``."""
    m = float(measured)
    return Precondition(name, m, f"<= {threshold:.4g}", bool(np.isfinite(m) and m <= threshold))


def stability_edge(lambda_max: float, eta: float, *, fraction: float = 0.8) -> Precondition:
    """The sharpness meets the stability edge: lambda_max >= ``fraction`` * 2 / eta (Cohen et al. 2021).

    Only then can eta cap the curvature, so only then can "larger eta: smaller peak" be judged. The measured
    value is reported as the ratio lambda_max / (2 / eta).
    """
    eta = positive("eta", eta)
    return at_least("λ_max / (2/η)", float(lambda_max) * eta / 2.0, positive("fraction", fraction))


def overshoot(relative_change_at_2: float, *, minimum: float = 0.005) -> Precondition:
    """SGD overshoots along the top eigenvector e_1: the relative loss change of a step 2 eta g_1 along e_1,
    E[L(theta - 2 eta g_1)] / L(theta) - 1, is at least ``minimum`` (the paper measured +2.1%; ~0 means SGD
    does not bounce in the sharpest direction and Nudged SGD's mechanism is absent)."""
    return at_least("loss change at α = 2", relative_change_at_2, minimum)


def trained_to(final_loss: float, max_loss: float) -> Precondition:
    """Training reached the paper's loss range: final train loss <= ``max_loss``."""
    return at_most("final train loss", final_loss, positive("max_loss", max_loss))


def trainable_at(train_accuracy: float, *, minimum: float = 0.99, where: str = "B_opt") -> Precondition:
    """The run trains at ``where``: train accuracy >= ``minimum`` (else an optimum there marks the edge of
    trainability, not of generalisation)."""
    return at_least(f"train accuracy at {where}", train_accuracy, minimum)


def inside_grid(index: int, n: int, *, name: str = "optimum") -> Precondition:
    """An optimum found on a grid of ``n`` points lies strictly inside it (not at its first or last point)."""
    i = int(index)
    return Precondition(f"{name} grid index", float(i), f"in [1, {n - 2}]", bool(0 < i < n - 1))


def judge_effect(claim: str, effect: float, se: float, *, expected: str,
                 preconditions: Sequence[Precondition] = (), z: float = 2.0) -> Verdict:
    """Judge a claim that an effect (a difference of means, say) is ``expected`` "negative" or "positive".

    HOLDS when the effect has the expected sign and |effect| > z se; DOES NOT HOLD when it has the other sign
    beyond z se; UNRESOLVED when |effect| <= z se; REGIME NOT REACHED when any precondition failed.
    """
    if expected not in SIGNS:
        raise ValueError(f"expected must be one of {SIGNS}, got {expected!r}")
    pre = tuple(preconditions)
    se = positive("se", se, allow_zero=True)
    effect = float(finite_array("effect", effect))
    ev = f"effect {effect:+.4g} ± {se:.2g} (SE), |effect| / SE = {abs(effect) / se if se else np.inf:.2g}"
    if any(not p.met for p in pre):
        return Verdict(claim, REGIME_NOT_REACHED, "not judged: " + "; ".join(str(p) for p in pre if not p.met)
                       + f" (measured {ev})", pre)
    if abs(effect) <= z * se:
        return Verdict(claim, UNRESOLVED, ev + f" <= {z:g}", pre)
    right = (effect < 0) == (expected == "negative")
    return Verdict(claim, HOLDS if right else DOES_NOT_HOLD, ev, pre)


def judge_slope(claim: str, slope: float, ci: Sequence[float], *, expected: float = 1.0,
                alternative: float | None = 0.5, preconditions: Sequence[Precondition] = ()) -> Verdict:
    """Judge "the slope is ``expected``" from a fitted ``slope`` and its confidence interval ``ci``.

    HOLDS: ``expected`` inside the interval and ``alternative`` (if given) outside; DOES NOT HOLD: ``expected``
    outside; UNRESOLVED: both inside. The evidence reads "consistent with 1 (CI [a, b]); 0.5 excluded".
    """
    lo, hi = (float(v) for v in finite_array("ci", ci, shape=(2,)))
    if lo > hi:
        raise ValueError(f"ci must be (low, high) with low <= high, got {tuple(ci)}")
    pre = tuple(preconditions)
    slope = float(slope)
    inside = lo <= expected <= hi
    ev = (f"slope {slope:.3g}, CI [{lo:.3g}, {hi:.3g}]: {'consistent with' if inside else 'excludes'} "
          f"{expected:g}")
    alt_inside = alternative is not None and lo <= alternative <= hi
    if alternative is not None:
        ev += f"; {alternative:g} {'not excluded' if alt_inside else 'excluded'}"
    if any(not p.met for p in pre):
        return Verdict(claim, REGIME_NOT_REACHED, "not judged: " + "; ".join(str(p) for p in pre if not p.met)
                       + f" (measured {ev})", pre)
    if not inside:
        return Verdict(claim, DOES_NOT_HOLD, ev, pre)
    return Verdict(claim, UNRESOLVED if alt_inside else HOLDS, ev, pre)


def summary_table(verdicts: Sequence[Verdict] | Mapping[str, Verdict]) -> str:
    """The verdicts as a Markdown table: claim, outcome, evidence, preconditions with their measured values."""
    items = list(verdicts.values()) if isinstance(verdicts, Mapping) else list(verdicts)
    rows = ["| claim | verdict | evidence | preconditions |", "|---|---|---|---|"]
    for v in items:
        pre = "; ".join(str(p) for p in v.preconditions) or "none"
        rows.append(f"| {v.claim} | **{v.outcome}** | {v.evidence} | {pre} |")
    return "\n".join(rows)


def write_verdicts(path: str | os.PathLike, verdicts: Sequence[Verdict] | Mapping[str, Verdict], *, title: str,
                   notes: str = "") -> Path:
    """Write ``# title``, the ``notes`` (Markdown: setup, measured numbers) and :func:`summary_table` of the
    verdicts to ``path`` atomically (a reader never sees half a file); returns the path."""
    text = f"# {title}\n\n" + (f"{notes.strip()}\n\n" if notes.strip() else "") + summary_table(verdicts) + "\n"
    atomic_write_bytes(path, text.encode())
    return Path(path)
