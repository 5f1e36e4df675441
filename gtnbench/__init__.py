"""gtnbench: re-runnable benchmark suites for learned synthetic training data."""

__version__ = "0.1.0"
