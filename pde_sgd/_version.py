"""The package version: one place, read by setup.cfg (attr:), pde_sgd.__version__, saved Results and sweep keys."""
__version__ = "0.1.0"
