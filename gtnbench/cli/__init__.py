"""The `gtnbench` command line (console script `gtnbench.cli:main`)."""

from gtnbench.cli.main import main

__all__ = ["main"]
