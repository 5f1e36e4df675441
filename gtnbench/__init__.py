"""gtnbench: re-runnable benchmark suites for learned synthetic training data."""

__version__ = "0.1.0"

_LAZY = {
    "load_results": "gtnbench.analysis.frames",
    "load_curves": "gtnbench.analysis.frames",
    "load_trials": "gtnbench.analysis.frames",
}


def __getattr__(name: str):
    """`gtnbench.load_results` and its companions import pandas only when first used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gtnbench' has no attribute {name!r}")
