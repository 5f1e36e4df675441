"""NAS-Bench-201 proxy methods: train-based (real data or a GTN), training-free, and tabular."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

from gtnbench.errors import TrialFailed
from gtnbench.meta import frozen, load_gtn
from gtnbench.methods.base import TrialContext, TrialResult
from gtnbench.nas.batched import train_based_batch
from gtnbench.nas.proxies import ProxyScores, train_based, training_free
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
    path = artifact_path(ctx.run_dir, source.id) / "gtn.pt"
    if not path.is_file():
        raise TrialFailed(f"the GTN of {source.id} is not in this run directory ({path}); it must finish first")
    return path


def run_nb201_train(trial: Trial, method: NB201Train, ctx: TrialContext) -> TrialResult:
    return run_nb201_train_batch([trial], method, ctx)[0]


def run_nb201_train_batch(trials: list[Trial], method: NB201Train, ctx: TrialContext) -> list[TrialResult]:
    """Score cells (same method and seed) by training them on the method's teacher: one at a time, or
    several at once through the vmapped super-network (same results up to float rounding)."""
    dataset, device, seed = ctx.dataset, ctx.device, trials[0].seed
    archs = [t.arch for t in trials]
    net = method.network

    def score(teacher) -> list[ProxyScores]:
        if len(archs) == 1:
            return [train_based(archs[0], teacher, method.steps, dataset, net.channels, net.cells, seed, device,
                                method.eval_size)]  # fmt: skip
        return train_based_batch(archs, teacher, method.steps, dataset, net.channels, net.cells, seed, device,
                                 method.eval_size)  # fmt: skip

    if method.teacher == "real":
        teacher = RealDataTeacher(dataset.train, method.batch_size, method.lr, method.momentum, "constant",
                                  method.augment)  # fmt: skip
        source = {"teacher": "real", "batch_size": method.batch_size, "lr": method.lr, "momentum": method.momentum}
        results = score(teacher)
    else:
        checkpoint = _gtn_checkpoint(trials[0], method, ctx)
        gtn, config = load_gtn(checkpoint, device)
        source = {"teacher": "gtn", "checkpoint": str(checkpoint), "gtn": config}
        with frozen(gtn):
            results = score(gtn)
    largest = str(max(method.steps))
    common = {**source, "network": net.model_dump(), "steps": max(method.steps), "trained_together": len(archs),
              "eval_size": method.eval_size or len(dataset.val), "ground_truth": ctx.config.nb201.ground_truth}  # fmt: skip
    return [TrialResult({"score": r.scores[largest], "seconds": r.seconds[largest]}, {**asdict(r), **common})
            for r in results]  # fmt: skip


def run_nb201_free(trial: Trial, method: NB201Free, ctx: TrialContext) -> TrialResult:
    scores = training_free(trial.arch, method.proxies, ctx.dataset, method.batch_size, method.network.channels,
                           method.network.cells, trial.seed, ctx.device)  # fmt: skip
    details = {**asdict(scores), "network": method.network.model_dump(), "batch_size": method.batch_size,
               "ground_truth": ctx.config.nb201.ground_truth}  # fmt: skip
    return TrialResult({f"{k}_seconds": v for k, v in scores.seconds.items()}, details)


def run_nb201_table(trial: Trial, method: NB201Table, ctx: TrialContext) -> TrialResult:
    table = load_table()
    archs = sampled_architectures(ctx.config)
    steps = method.epochs * math.ceil(50_000 / NB201_BATCH)
    details = {"column": method.column, "column_means": describe_column(method.column), "steps": steps,
               "scores": {str(a): table.value(method.column, a) for a in archs}, "table_sha256": table.sha256,
               "ground_truth": ctx.config.nb201.ground_truth}  # fmt: skip
    return TrialResult({}, details)
