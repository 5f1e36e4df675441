"""Methods turn one trial into one result; each kind of method registers its trial function here."""

from __future__ import annotations

from collections.abc import Callable

from gtnbench.methods.base import TrialContext, TrialResult
from gtnbench.methods.gtn import run_gtn
from gtnbench.methods.nb201 import (
    run_nb201_calibrate,
    run_nb201_free,
    run_nb201_table,
    run_nb201_train,
    run_nb201_train_batch,
)
from gtnbench.methods.real import run_real
from gtnbench.methods.teachers import run_small_set
from gtnbench.suite.methods import SET_KINDS

TRIAL_FUNCTIONS: dict[str, Callable[..., TrialResult]] = {
    "real": run_real,
    "gtn": run_gtn,
    "nb201-train": run_nb201_train,
    "nb201-calibrate": run_nb201_calibrate,
    "nb201-free": run_nb201_free,
    "nb201-table": run_nb201_table,
    **{kind: run_small_set for kind in SET_KINDS},
}

# Kinds whose trials can run several at once (same method and seed): one result per trial, in order.
BATCH_FUNCTIONS: dict[str, Callable[..., list[TrialResult]]] = {"nb201-train": run_nb201_train_batch}

__all__ = ["BATCH_FUNCTIONS", "TRIAL_FUNCTIONS", "TrialContext", "TrialResult"]
