"""Sliders for the lessons in ``notebooks/``, with a static fallback where no widget frontend runs.

:func:`explore` shows one ipywidgets slider per parameter and redraws as they move when the code runs in a
Jupyter kernel; otherwise (a script, CI, the documentation build, or ``PDE_SGD_WIDGETS=0``) it calls the
drawing function once for each of the given static settings, so a page without a live kernel still shows
the parameter's effect. ipywidgets is imported only on the live path; this module draws nothing itself.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

WIDGETS_ENV = "PDE_SGD_WIDGETS"


def live_widgets() -> bool:
    """True when running in a Jupyter kernel and the environment variable PDE_SGD_WIDGETS is not ``"0"``."""
    if os.environ.get(WIDGETS_ENV, "1") == "0":
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _slider_spec(name: str, spec: Sequence[float]) -> tuple[float, float, float, float]:
    """(min, max, value[, step]) checked: finite, min < max, min <= value <= max, 0 < step <= max - min."""
    if not isinstance(spec, Sequence) or len(spec) not in (3, 4):
        raise ValueError(f"slider {name!r} must be (min, max, value) or (min, max, value, step), got {spec!r}")
    lo, hi, value = (float(v) for v in spec[:3])
    step = float(spec[3]) if len(spec) == 4 else (hi - lo) / 100.0
    if not all(math.isfinite(v) for v in (lo, hi, value, step)) or not lo < hi:
        raise ValueError(f"slider {name!r} needs finite min < max, got ({lo}, {hi})")
    if not lo <= value <= hi:
        raise ValueError(f"slider {name!r}: value must lie in [{lo}, {hi}], got {value}")
    if not 0.0 < step <= hi - lo:
        raise ValueError(f"slider {name!r}: step must lie in (0, {hi - lo}], got {step}")
    return lo, hi, value, step


def explore(draw: Callable[..., Any], *, static: Sequence[Mapping[str, float]],
            **sliders: Sequence[float]) -> None:
    """Call ``draw(**values)`` under sliders (live kernel) or once per static setting (everywhere else).

    Parameters
    ----------
    draw : callable taking the slider names as keyword arguments; it draws (and shows) one figure.
    static : the settings drawn when no widget frontend runs; each maps every slider name to a value in its
        range (at least one setting).
    sliders : ``name=(min, max, value[, step])`` per parameter (step: default (max - min) / 100).
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {type(draw).__name__}")
    if not sliders:
        raise ValueError("explore needs at least one slider, e.g. beta=(1, 20, 10)")
    specs = {name: _slider_spec(name, spec) for name, spec in sliders.items()}
    if isinstance(static, Mapping) or len(static) == 0:
        raise ValueError("static must be a non-empty list of settings {name: value}")
    settings = []
    for setting in static:
        if set(setting) != set(specs):
            raise ValueError(f"each static setting must give exactly {sorted(specs)}, got {sorted(setting)}")
        for name, v in setting.items():
            lo, hi = specs[name][:2]
            if not lo <= float(v) <= hi:
                raise ValueError(f"static {name}={v} lies outside the slider range [{lo}, {hi}]")
        settings.append({k: float(v) for k, v in setting.items()})
    if not live_widgets():
        for setting in settings:
            draw(**setting)
        return
    import ipywidgets
    controls = {name: ipywidgets.FloatSlider(min=lo, max=hi, value=v, step=s, description=name,
                                             continuous_update=False)
                for name, (lo, hi, v, s) in specs.items()}
    ipywidgets.interact(draw, **controls)
