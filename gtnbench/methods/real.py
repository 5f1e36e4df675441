"""The real-data baselines: few-step training with lr/momentum/schedule tuned on validation,
and truncated (N-epoch) training."""

from __future__ import annotations

import itertools
import math
import time

import torch

from gtnbench.methods.base import TrialContext, TrialResult, synchronize
from gtnbench.models.learners import build_learner
from gtnbench.suite import RealMethod, Trial
from gtnbench.teachers.real import RealDataTeacher
from gtnbench.train import accuracy, initial_params, train


def training_steps(method: RealMethod, trial: Trial, train_size: int) -> int:
    budget = dict(trial.budget)
    if "steps" in budget:
        return budget["steps"]
    return math.ceil(budget["epochs"] * train_size / method.batch_size)


def curve_points(steps: int, steps_per_epoch: int) -> tuple[int, ...]:
    """Powers of two up to `steps`, every epoch's end, and the last step."""
    powers = {2**i for i in range(int(math.log2(steps)) + 1)}
    epochs = set(range(steps_per_epoch, steps + 1, steps_per_epoch))
    return tuple(sorted(powers | epochs | {steps}))


def run_real(trial: Trial, method: RealMethod, ctx: TrialContext) -> TrialResult:
    dataset = ctx.dataset
    steps = training_steps(method, trial, len(dataset.train))
    grid = list(itertools.product(method.lr, method.momentum, method.schedule))
    observe_at = curve_points(steps, math.ceil(len(dataset.train) / method.batch_size)) if method.curve else ()

    def observe(_: int, params) -> tuple[torch.Tensor, torch.Tensor]:
        return (accuracy(learner, params, dataset.val.x, dataset.val.y),
                accuracy(learner, params, dataset.test.x, dataset.test.y))  # fmt: skip

    tried, best = [], None
    for lr, momentum, schedule in grid:
        learner = build_learner(ctx.learner_spec, dataset.image_shape, dataset.num_classes, trial.seed, ctx.device)
        teacher = RealDataTeacher(dataset.train, method.batch_size, lr, momentum, schedule, method.augment)
        lesson = teacher.lesson(steps, ctx.generator(trial.seed))
        synchronize(ctx.device)
        start = time.perf_counter()
        outcome = train(learner, initial_params(learner), lesson, observe=observe, observe_at=observe_at)
        synchronize(ctx.device)
        seconds = time.perf_counter() - start
        val_acc = accuracy(learner, outcome.params, dataset.val.x, dataset.val.y).item()
        tried.append({"lr": lr, "momentum": momentum, "schedule": schedule, "val_acc": val_acc})
        if best is None or val_acc > best[0]:
            best = (val_acc, learner, outcome, tried[-1], seconds)

    val_acc, learner, outcome, chosen, seconds = best
    test_acc = accuracy(learner, outcome.params, dataset.test.x, dataset.test.y).item()
    details = {
        "steps": steps,
        "batch_size": method.batch_size,
        "chosen": {k: chosen[k] for k in ("lr", "momentum", "schedule")},
        "tuned_on": "val",
        "grid": tried,
        "chosen_at_grid_edge": _at_edge(chosen, method),
    }
    if observe_at:
        details["curve"] = [
            {"step": t, "val_acc": v.item(), "test_acc": s.item()} for t, (v, s) in sorted(outcome.observed.items())
        ]
    metrics = {"val_acc": val_acc, "test_acc": test_acc, "train_seconds": seconds}
    return TrialResult(metrics, details)


def _at_edge(chosen: dict, method: RealMethod) -> bool:
    """True when the chosen lr or momentum is the smallest or largest of a grid of several values."""
    edges = [(chosen["lr"], method.lr), (chosen["momentum"], method.momentum)]
    return any(len(values) > 1 and value in (min(values), max(values)) for value, values in edges)
