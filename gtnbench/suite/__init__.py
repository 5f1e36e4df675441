"""Suites are data: a TOML file, its schema and validation, its scales, and its expansion into trials.

- files.py: suite files (scales deep-merged into a base; errors that name the file and key), bundled suites;
- fields.py: the field types (one value or a grid, the learner and its batch-norm default);
- methods.py: one schema per method kind, `[set_evaluation]`, a method's ablation axes and budgets;
- config.py: one resolved scale (SuiteConfig) and its configuration hash;
- trials.py: expansion into trials and what each needs first;
- bounds.py: the sizes and counts a suite may set, from what the data and a device can hold;
- score.py: the suite `gtnbench score` generates for a set someone brings.

The names below are the package's public face (for users and tests); gtnbench's own modules import
from the file that defines a name.
"""

from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.files import Suite, find_suite, load_suite, parse_suite
from gtnbench.suite.trials import Trial, expand

__all__ = ["Suite", "SuiteConfig", "Trial", "expand", "find_suite", "load_suite", "parse_suite"]
