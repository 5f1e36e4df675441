"""Proxies that score one architecture of a search space: train-based (K steps on a teacher) and training-free.

Every score is computed on a network the space builds for the architecture index it is returned
for (SearchSpace.build checks the network against the table's arch), and comes back with the arch
string of the network that earned it, which the caller checks against the table again before
recording it: a score can never be attached to another architecture (the defect of the official
GTN search code). `widths` are the space's network width options (unset ones: the benchmark's).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from gtnbench.data.datasets import ImageDataset
from gtnbench.device import synchronize
from gtnbench.nas.spaces import SearchSpace
from gtnbench.nas.training_free import naswot_score, synflow_score
from gtnbench.teachers.base import Lesson, Teacher
from gtnbench.train import LearnerState, accuracy, initial_params, train


@dataclass
class ProxyScores:
    arch: int
    arch_str: str
    scores: dict[str, float] = field(default_factory=dict)  # proxy (or steps, as text) -> score
    seconds: dict[str, float] = field(default_factory=dict)  # what computing each score cost


def build_network(
    space: SearchSpace,
    arch: int,
    widths: Mapping[str, int],
    dataset: ImageDataset,
    seed: int,
    device: str,
    bn_eval: str = "running",
) -> nn.Module:
    """The space's network of architecture `arch` for `dataset`'s images and classes, weights drawn from `seed`."""
    init = torch.Generator(device=device).manual_seed(seed)
    return space.build(arch, dataset.num_classes, dataset.image_shape[0], device, init, bn_eval, **widths)


def pregenerated(lesson: Lesson, device: str) -> tuple[Lesson, float]:
    """The lesson with its batches made up front, and what making them cost, when the teacher generates them
    (a GTN: one generator pass for every step); else the lesson as it is, at no separate cost. A proxy read
    out at several budgets charges each budget its share of the generation (review N12: a budget of 32
    steps must not pay for generating 256)."""
    many = getattr(lesson, "batches", None)
    if many is None:
        return lesson, 0.0
    synchronize(device)
    start = time.perf_counter()
    with torch.no_grad():
        xs, ys = many(0, lesson.steps)
    synchronize(device)
    made = Lesson(
        lesson.steps,
        lambda t: (xs[t], ys[t]),
        lesson.lrs,
        lesson.momenta,
        weight_decay=lesson.weight_decay,
        uniform=lesson.uniform,
    )
    return made, time.perf_counter() - start


def train_based(
    space: SearchSpace,
    arch: int,
    teacher: Teacher,
    steps: list[int],
    dataset: ImageDataset,
    widths: Mapping[str, int],
    seed: int,
    device: str,
    eval_size: int | None = None,
    bn_eval: str = "running",
) -> ProxyScores:
    """Validation accuracy after each of `steps` training steps on the teacher (one run, read out
    along the way); the cost of each is the training time up to it (with its share of generating the
    lesson, if the teacher generates it), evaluation excluded."""
    net = build_network(space, arch, widths, dataset, seed, device, bn_eval)
    x, y = dataset.val.x[:eval_size], dataset.val.y[:eval_size]
    lesson, generation = pregenerated(
        teacher.lesson(max(steps), torch.Generator(device=device).manual_seed(seed)), device
    )
    accuracies: dict[int, torch.Tensor] = {}
    elapsed: dict[int, float] = {}
    evaluation = [0.0]

    def observe(t: int, state: LearnerState) -> None:
        synchronize(device)
        elapsed[t] = time.perf_counter() - start - evaluation[0]
        before = time.perf_counter()
        accuracies[t] = accuracy(net, state, x, y)
        synchronize(device)
        evaluation[0] += time.perf_counter() - before

    synchronize(device)
    start = time.perf_counter()
    train(net, initial_params(net), lesson, observe=observe, observe_at=tuple(steps))
    result = ProxyScores(arch, space.arch_of(net))
    for t in sorted(steps):
        result.scores[str(t)] = accuracies[t].item()
        result.seconds[str(t)] = elapsed[t] + generation * t / lesson.steps
    return result


def training_free(
    space: SearchSpace,
    arch: int,
    proxies: list[str],
    dataset: ImageDataset,
    batch_size: int,
    widths: Mapping[str, int],
    seed: int,
    device: str,
) -> ProxyScores:
    """Parameters and FLOPs (millions, the space's cost columns: the benchmark's network), NASWOT and
    synflow of the untrained network at `widths`."""
    net = build_network(space, arch, widths, dataset, seed, device)
    result = ProxyScores(arch, space.arch_of(net))
    table = space.table()
    picks = torch.randperm(
        len(dataset.train), generator=torch.Generator(device=device).manual_seed(seed), device=device
    )[:batch_size]
    batch = dataset.train.x[picks]
    compute = {
        "params": lambda: table.value(space.params_column, arch),
        "flops": lambda: table.value(space.flops_column, arch),
        "naswot": lambda: naswot_score(net, batch),
        "synflow": lambda: synflow_score(net, dataset.image_shape),
    }
    for proxy in proxies:
        synchronize(device)
        start = time.perf_counter()
        result.scores[proxy] = compute[proxy]()
        synchronize(device)
        result.seconds[proxy] = time.perf_counter() - start
    return result
