"""The real-data baselines: few-step training with lr/momentum/schedule tuned on validation,
and truncated (N-epoch) training."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

import torch

from gtnbench.data.datasets import ImageDataset
from gtnbench.device import synchronize
from gtnbench.methods.base import TrialContext, TrialResult
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.suite import RealMethod, Trial
from gtnbench.teachers.real import RealDataTeacher
from gtnbench.train import accuracy, curve_points, initial_params, train


def training_steps(method: RealMethod, trial: Trial, train_size: int) -> int:
    budget = dict(trial.budget)
    if "steps" in budget:
        return budget["steps"]
    return math.ceil(budget["epochs"] * train_size / method.batch_size)


@dataclass
class TunedTraining:
    val_acc: float
    test_acc: float
    seconds: float  # training time of the chosen configuration
    chosen: dict[str, Any]
    grid: list[dict[str, Any]]
    curve: list[dict[str, float]]


def tuned_training(learner_spec: LearnerSpec, dataset: ImageDataset, steps: int, batch_size: int,
                   grid: list[tuple[float, float, str]], seed: int, device: str, augment: bool = False,
                   observe_at: tuple[int, ...] = ()) -> TunedTraining:  # fmt: skip
    """Train one learner per (lr, momentum, schedule) of the grid on real data; keep the best on validation.

    All configurations see the same initial weights and batches (common random numbers); the
    test split is scored only for the chosen one.
    """

    evaluating = [0.0]  # time spent in curve evaluations, which training time excludes

    def observe(_: int, params) -> tuple[torch.Tensor, torch.Tensor]:
        synchronize(device)
        start = time.perf_counter()
        scores = (accuracy(learner, params, dataset.val.x, dataset.val.y),
                  accuracy(learner, params, dataset.test.x, dataset.test.y))  # fmt: skip
        synchronize(device)
        evaluating[0] += time.perf_counter() - start
        return scores

    tried, best = [], None
    for lr, momentum, schedule in grid:
        learner = build_learner(learner_spec, dataset.image_shape, dataset.num_classes, seed, device)
        teacher = RealDataTeacher(dataset.train, batch_size, lr, momentum, schedule, augment)
        lesson = teacher.lesson(steps, torch.Generator(device=device).manual_seed(seed))
        evaluating[0] = 0.0
        synchronize(device)
        start = time.perf_counter()
        outcome = train(learner, initial_params(learner), lesson, observe=observe, observe_at=observe_at)
        synchronize(device)
        seconds = time.perf_counter() - start - evaluating[0]
        val_acc = accuracy(learner, outcome.params, dataset.val.x, dataset.val.y).item()
        tried.append({"lr": lr, "momentum": momentum, "schedule": schedule, "val_acc": val_acc})
        if best is None or val_acc > best[0]:
            best = (val_acc, learner, outcome, tried[-1], seconds)

    val_acc, learner, outcome, chosen, seconds = best
    test_acc = accuracy(learner, outcome.params, dataset.test.x, dataset.test.y).item()
    curve = [{"step": t, "val_acc": v.item(), "test_acc": s.item()} for t, (v, s) in sorted(outcome.observed.items())]
    chosen = {k: chosen[k] for k in ("lr", "momentum", "schedule")}
    return TunedTraining(val_acc, test_acc, seconds, chosen, tried, curve)


def run_real(trial: Trial, method: RealMethod, ctx: TrialContext) -> TrialResult:
    dataset = ctx.dataset
    steps = training_steps(method, trial, len(dataset.train))
    grid = list(itertools.product(method.lr, method.momentum, method.schedule))
    observe_at = curve_points(steps, math.ceil(len(dataset.train) / method.batch_size)) if method.curve else ()  # epoch ends
    result = tuned_training(ctx.learner_spec, dataset, steps, method.batch_size, grid, trial.seed, ctx.device,
                            method.augment, observe_at)  # fmt: skip
    details = {
        "steps": steps,
        "batch_size": method.batch_size,
        "chosen": result.chosen,
        "tuned_on": "val",
        "grid": result.grid,
        "chosen_at_grid_edge": _at_edge(result.chosen, method),
    }
    if observe_at:
        details["curve"] = result.curve
    metrics = {"val_acc": result.val_acc, "test_acc": result.test_acc, "train_seconds": result.seconds}
    return TrialResult(metrics, details)


def _at_edge(chosen: dict, method: RealMethod) -> bool:
    """True when the chosen lr or momentum is the smallest or largest of a grid of several values."""
    edges = [(chosen["lr"], method.lr), (chosen["momentum"], method.momentum)]
    return any(len(values) > 1 and value in (min(values), max(values)) for value, values in edges)
