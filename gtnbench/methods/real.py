"""The real-data baselines: few-step training with lr/momentum/schedule tuned on validation,
and truncated (N-epoch) training."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.func import grad, vmap

from gtnbench.data.datasets import ImageDataset
from gtnbench.device import synchronize
from gtnbench.methods.base import TrialContext, TrialResult
from gtnbench.models.learners import LearnerSpec, build_learner, vmappable
from gtnbench.models.norm import Stats
from gtnbench.suite.methods import RealMethod
from gtnbench.suite.trials import Trial
from gtnbench.teachers.base import Lesson, Teacher
from gtnbench.teachers.real import RealDataTeacher
from gtnbench.train import (
    LearnerState,
    ParamLayout,
    Params,
    accuracy,
    curve_points,
    initial_params,
    lesson_batches,
    train,
    training_logits,
)


def training_steps(method: RealMethod, trial: Trial, train_size: int) -> int:
    budget = dict(trial.budget)
    if "steps" in budget:
        return budget["steps"]
    return math.ceil(budget["epochs"] * train_size / method.batch_size)


@dataclass
class TunedTraining:
    val_acc: float
    test_acc: float
    seconds: float  # training time of the chosen configuration (amortised when trained with others)
    chosen: dict[str, Any]
    grid: list[dict[str, Any]]
    curve: list[dict[str, float]]
    trained_together: int = 1  # configurations that trained at once (batched grids), 1: one after another


GRID_GROUP = 16  # configurations a batched grid trains at once (memory: one learner's activations each)
_grids = {"batched": False}


def batch_grids(enabled: bool = True) -> None:
    """Train the configurations of a tuned grid together (vmap over configurations) in this process."""
    _grids["batched"] = enabled


@dataclass
class _Trained:
    config: tuple[float, float, str]
    learner: torch.nn.Module
    state: LearnerState
    observed: dict[int, tuple[torch.Tensor, torch.Tensor]]
    seconds: float


TeacherFor = Callable[[tuple[float, float, str]], Teacher]  # the teacher of one (lr, momentum, schedule)


def _lesson(
    dataset: ImageDataset,
    batch_size: int,
    config: tuple[float, float, str],
    steps: int,
    seed: int,
    augment: bool,
    device: str,
    teacher_for: TeacherFor | None = None,
) -> Lesson:
    lr, momentum, schedule = config
    teacher = (
        teacher_for(config)
        if teacher_for
        else RealDataTeacher(dataset.train, batch_size, lr, momentum, schedule, augment)
    )
    return teacher.lesson(steps, torch.Generator(device=device).manual_seed(seed))


class _Evaluations:
    """Curve readouts (val and test accuracy), timed apart so that training time excludes them."""

    def __init__(self, dataset: ImageDataset, device: str) -> None:
        self.dataset, self.device, self.seconds = dataset, device, 0.0

    def __call__(self, learner: torch.nn.Module, state: LearnerState) -> tuple[torch.Tensor, torch.Tensor]:
        synchronize(self.device)
        start = time.perf_counter()
        scores = (
            accuracy(learner, state, self.dataset.val.x, self.dataset.val.y),
            accuracy(learner, state, self.dataset.test.x, self.dataset.test.y),
        )
        synchronize(self.device)
        self.seconds += time.perf_counter() - start
        return scores


def _one_after_another(
    learner_spec: LearnerSpec,
    dataset: ImageDataset,
    steps: int,
    batch_size: int,
    grid: list[tuple[float, float, str]],
    seed: int,
    device: str,
    augment: bool,
    observe_at: tuple[int, ...],
    teacher_for: TeacherFor | None = None,
) -> list[_Trained]:
    trained = []
    for config in grid:
        learner = build_learner(learner_spec, dataset.image_shape, dataset.num_classes, seed, device)
        lesson = _lesson(dataset, batch_size, config, steps, seed, augment, device, teacher_for)
        evaluations = _Evaluations(dataset, device)
        synchronize(device)
        start = time.perf_counter()
        outcome = train(
            learner,
            initial_params(learner),
            lesson,
            observe_at=observe_at,
            observe=lambda _, state, learner=learner: evaluations(learner, state),
        )
        synchronize(device)
        trained.append(
            _Trained(
                config, learner, outcome.state, outcome.observed, time.perf_counter() - start - evaluations.seconds
            )
        )
    return trained


def train_configurations(
    learner: torch.nn.Module,
    params: Params,
    lessons: list[Lesson],
    observe: Callable[[int, list[LearnerState]], object] | None = None,
    observe_at: tuple[int, ...] = (),
) -> list[LearnerState]:
    """`train` for several lessons that hand the same batches with their own step sizes (the
    configurations of a tuned grid), all at once from the same `params`: the parameters are stacked
    along a configuration dimension and `vmap(grad)` computes every configuration's gradient in one
    pass (a convolution with stacked weights becomes one grouped convolution). The same SGD +
    momentum as `train`, hence the same numbers up to the order in which batched kernels add."""
    layout = ParamLayout.of(params)
    count = len(lessons)
    flat = layout.flatten(params).detach().expand(count, -1).clone()
    momenta = torch.zeros_like(flat)
    lrs = torch.stack([lesson.lrs for lesson in lessons])[:, :, None]  # [configs, steps, 1]
    steps_momenta = torch.stack([lesson.momenta for lesson in lessons])[:, :, None]

    def loss(p: torch.Tensor, stats: Stats, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        out, new = training_logits(learner, layout.views(p), stats, x, exact=True)
        return F.cross_entropy(out, y), new

    gradients = vmap(grad(loss, has_aux=True), in_dims=(0, 0, None, None))
    stats: Stats = ()
    with torch.no_grad():
        batch = lesson_batches(lessons[0], 0, lessons[0].steps)
    for t in range(lessons[0].steps):
        with torch.no_grad():
            x, y = batch(t)
        with vmappable(learner):
            gradient, stats = gradients(flat, stats, x, y)
        momenta = steps_momenta[:, t] * momenta + gradient
        flat = flat - lrs[:, t] * momenta
        if observe is not None and t + 1 in observe_at:
            observe(t + 1, _unstack(layout, flat, stats))
    return _unstack(layout, flat, stats)


def _unstack(layout: ParamLayout, flat: torch.Tensor, stats: Stats) -> list[LearnerState]:
    return [LearnerState(layout.views(flat[k]), tuple(s[k] for s in stats)) for k in range(flat.shape[0])]


def _together(
    learner_spec: LearnerSpec,
    dataset: ImageDataset,
    steps: int,
    batch_size: int,
    grid: list[tuple[float, float, str]],
    seed: int,
    device: str,
    augment: bool,
    observe_at: tuple[int, ...],
    teacher_for: TeacherFor | None = None,
) -> list[_Trained]:
    trained = []
    for first in range(0, len(grid), GRID_GROUP):
        group = grid[first : first + GRID_GROUP]
        learner = build_learner(learner_spec, dataset.image_shape, dataset.num_classes, seed, device)
        lessons = [_lesson(dataset, batch_size, config, steps, seed, augment, device, teacher_for) for config in group]
        observed: list[dict] = [{} for _ in group]
        evaluations = _Evaluations(dataset, device)

        def observe(t: int, states: list[LearnerState]) -> None:
            for k, state in enumerate(states):
                observed[k][t] = evaluations(learner, state)

        synchronize(device)
        start = time.perf_counter()
        states = train_configurations(learner, initial_params(learner), lessons, observe, observe_at)
        synchronize(device)
        seconds = (time.perf_counter() - start - evaluations.seconds) / len(group)
        trained += [
            _Trained(config, learner, state, seen, seconds) for config, state, seen in zip(group, states, observed)
        ]
    return trained


def tuned_training(
    learner_spec: LearnerSpec,
    dataset: ImageDataset,
    steps: int,
    batch_size: int,
    grid: list[tuple[float, float, str]],
    seed: int,
    device: str,
    augment: bool = False,
    observe_at: tuple[int, ...] = (),
    teacher_for: TeacherFor | None = None,
) -> TunedTraining:
    """Train one learner per (lr, momentum, schedule) of the grid on real data (or on the teacher
    `teacher_for(config)` gives, e.g. a small set); keep the best on validation.

    All configurations see the same initial weights and batches (common random numbers); the
    test split is scored only for the chosen one. With batched grids (`batch_grids`) they train
    GRID_GROUP at a time (`train_configurations`), and each is charged its share of the group's time.
    """
    together = _grids["batched"] and len(grid) > 1
    run = _together if together else _one_after_another
    trained = run(learner_spec, dataset, steps, batch_size, grid, seed, device, augment, observe_at, teacher_for)
    vals = torch.stack([accuracy(t.learner, t.state, dataset.val.x, dataset.val.y) for t in trained]).tolist()
    tried = [
        {"lr": t.config[0], "momentum": t.config[1], "schedule": t.config[2], "val_acc": val}
        for t, val in zip(trained, vals)
    ]
    best = max(range(len(trained)), key=lambda k: (vals[k], -k))  # the first of equals, as one after another
    chosen = trained[best]
    test_acc = accuracy(chosen.learner, chosen.state, dataset.test.x, dataset.test.y).item()
    curve = [{"step": t, "val_acc": v.item(), "test_acc": s.item()} for t, (v, s) in sorted(chosen.observed.items())]
    config = dict(zip(("lr", "momentum", "schedule"), chosen.config))
    return TunedTraining(
        vals[best], test_acc, chosen.seconds, config, tried, curve, min(GRID_GROUP, len(grid)) if together else 1
    )


def run_real(trial: Trial, method: RealMethod, ctx: TrialContext) -> TrialResult:
    dataset = ctx.dataset
    steps = training_steps(method, trial, len(dataset.train))
    grid = list(itertools.product(method.lr, method.momentum, method.schedule))
    observe_at = (
        curve_points(steps, math.ceil(len(dataset.train) / method.batch_size)) if method.curve else ()
    )  # epoch ends
    result = tuned_training(
        ctx.learner_spec, dataset, steps, method.batch_size, grid, trial.seed, ctx.device, method.augment, observe_at
    )
    details = {
        "steps": steps,
        "batch_size": method.batch_size,
        "chosen": result.chosen,
        "tuned_on": "val",
        "grid": result.grid,
        "chosen_at_grid_edge": _at_edge(result.chosen, method),
        "bn_eval": ctx.learner_spec.protocol(),
    }
    if observe_at:
        details["curve"] = result.curve
    if result.trained_together > 1:  # train_seconds is then each configuration's share of its group's time
        details["trained_together"] = result.trained_together
    metrics = {"val_acc": result.val_acc, "test_acc": result.test_acc, "train_seconds": result.seconds}
    return TrialResult(metrics, details)


def _at_edge(chosen: dict, method: RealMethod) -> bool:
    """True when the chosen lr or momentum is the smallest or largest of a grid of several values."""
    edges = [(chosen["lr"], method.lr), (chosen["momentum"], method.momentum)]
    return any(len(values) > 1 and value in (min(values), max(values)) for value, values in edges)
