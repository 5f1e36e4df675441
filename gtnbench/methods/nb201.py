"""NAS-Bench-201 proxy methods: train-based (real data or a GTN), training-free, and tabular."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

from gtnbench.meta import frozen, load_gtn
from gtnbench.methods.base import TrialContext, TrialResult
from gtnbench.nas.proxies import train_based, training_free
from gtnbench.nas.table import describe_column, load_table
from gtnbench.store import artifact_path
from gtnbench.suite import NB201Free, NB201Table, NB201Train, Trial, expand, sampled_architectures
from gtnbench.teachers.real import RealDataTeacher

NB201_BATCH = 256  # the benchmark's own training batch size (for the cost of tabular proxies)


def _gtn_checkpoint(trial: Trial, method: NB201Train, ctx: TrialContext) -> Path:
    """The GTN that teaches: a checkpoint file, or the one this run's gtn method trained with the same seed."""
    if method.checkpoint:
        return Path(method.checkpoint)
    source = next(t for t in expand(ctx.config) if t.method == method.gtn and t.seed == trial.seed)
    return artifact_path(ctx.run_dir, source.id) / "gtn.pt"


def run_nb201_train(trial: Trial, method: NB201Train, ctx: TrialContext) -> TrialResult:
    dataset, device = ctx.dataset, ctx.device
    if method.teacher == "real":
        teacher = RealDataTeacher(dataset.train, method.batch_size, method.lr, method.momentum, "constant",
                                  method.augment)  # fmt: skip
        source = {"teacher": "real", "batch_size": method.batch_size, "lr": method.lr, "momentum": method.momentum}
        scores = train_based(trial.arch, teacher, method.steps, dataset, method.network.channels,
                             method.network.cells, trial.seed, device, method.eval_size)  # fmt: skip
    else:
        checkpoint = _gtn_checkpoint(trial, method, ctx)
        gtn, config = load_gtn(checkpoint, device)
        source = {"teacher": "gtn", "checkpoint": str(checkpoint), "gtn": config}
        with frozen(gtn):
            scores = train_based(trial.arch, gtn, method.steps, dataset, method.network.channels,
                                 method.network.cells, trial.seed, device, method.eval_size)  # fmt: skip
    largest = str(max(method.steps))
    metrics = {"score": scores.scores[largest], "seconds": scores.seconds[largest]}
    details = {**asdict(scores), **source, "network": method.network.model_dump(), "steps": max(method.steps),
               "eval_size": method.eval_size or len(dataset.val)}  # fmt: skip
    return TrialResult(metrics, details)


def run_nb201_free(trial: Trial, method: NB201Free, ctx: TrialContext) -> TrialResult:
    scores = training_free(trial.arch, method.proxies, ctx.dataset, method.batch_size, method.network.channels,
                           method.network.cells, trial.seed, ctx.device)  # fmt: skip
    details = {**asdict(scores), "network": method.network.model_dump(), "batch_size": method.batch_size}
    return TrialResult({f"{k}_seconds": v for k, v in scores.seconds.items()}, details)


def run_nb201_table(trial: Trial, method: NB201Table, ctx: TrialContext) -> TrialResult:
    table = load_table()
    archs = sampled_architectures(ctx.config)
    steps = method.epochs * math.ceil(50_000 / NB201_BATCH)
    details = {"column": method.column, "column_means": describe_column(method.column), "steps": steps,
               "scores": {str(a): table.value(method.column, a) for a in archs}, "table_sha256": table.sha256}  # fmt: skip
    return TrialResult({}, details)
