"""Methods turn one trial into one result; each kind of method registers its trial function here."""

from __future__ import annotations

from typing import Callable

from gtnbench.methods.base import TrialContext, TrialResult
from gtnbench.methods.gtn import run_gtn
from gtnbench.methods.nb201 import run_nb201_free, run_nb201_table, run_nb201_train
from gtnbench.methods.real import run_real

TRIAL_FUNCTIONS: dict[str, Callable[..., TrialResult]] = {
    "real": run_real,
    "gtn": run_gtn,
    "nb201-train": run_nb201_train,
    "nb201-free": run_nb201_free,
    "nb201-table": run_nb201_table,
}

__all__ = ["TRIAL_FUNCTIONS", "TrialContext", "TrialResult"]
