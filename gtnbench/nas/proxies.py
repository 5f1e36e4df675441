"""Proxies that score one NAS-Bench-201 architecture: train-based (K steps on a teacher) and training-free.

Every score is computed on a network built from the architecture index it is returned for,
and the network's own cell is checked against the table before anything is scored: a score
can never be attached to another architecture (the defect of the official GTN search code).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from gtnbench.data.datasets import ImageDataset
from gtnbench.device import synchronize
from gtnbench.errors import TrialFailed
from gtnbench.models.nb201 import CellNetwork, arch_str, parse_arch
from gtnbench.nas.table import load_table
from gtnbench.nas.training_free import naswot_score, synflow_score
from gtnbench.teachers.base import Teacher
from gtnbench.train import accuracy, initial_params, train


@dataclass
class ProxyScores:
    arch: int
    arch_str: str
    scores: dict[str, float] = field(default_factory=dict)  # proxy (or steps, as text) -> score
    seconds: dict[str, float] = field(default_factory=dict)  # what computing each score cost


def build_network(arch: int, channels: int, cells: int, dataset: ImageDataset, seed: int, device: str) -> CellNetwork:
    """The cell network of architecture `arch`, after checking that it is the one the table names."""
    expected = load_table().arch(arch)
    init = torch.Generator(device=device).manual_seed(seed)
    net = CellNetwork(expected, channels, cells, dataset.num_classes, dataset.image_shape[0], device, init)
    if net.ops != parse_arch(expected):
        raise TrialFailed(f"the network built for architecture {arch} is not {expected}; refusing to attach its score")
    return net


def train_based(arch: int, teacher: Teacher, steps: list[int], dataset: ImageDataset, channels: int, cells: int,
                seed: int, device: str, eval_size: int | None = None) -> ProxyScores:  # fmt: skip
    """Validation accuracy after each of `steps` training steps on the teacher (one run, read out
    along the way); the cost of each is the training time up to it, evaluation excluded."""
    net = build_network(arch, channels, cells, dataset, seed, device)
    x, y = dataset.val.x[:eval_size], dataset.val.y[:eval_size]
    lesson = teacher.lesson(max(steps), torch.Generator(device=device).manual_seed(seed))
    accuracies: dict[int, torch.Tensor] = {}
    elapsed: dict[int, float] = {}
    evaluation = [0.0]

    def observe(t: int, params) -> None:
        synchronize(device)
        elapsed[t] = time.perf_counter() - start - evaluation[0]
        before = time.perf_counter()
        accuracies[t] = accuracy(net, params, x, y)
        synchronize(device)
        evaluation[0] += time.perf_counter() - before

    synchronize(device)
    start = time.perf_counter()
    train(net, initial_params(net), lesson, observe=observe, observe_at=tuple(steps))
    result = ProxyScores(arch, arch_str(net.ops))
    for t in sorted(steps):
        result.scores[str(t)] = accuracies[t].item()
        result.seconds[str(t)] = elapsed[t]
    return result


def training_free(arch: int, proxies: list[str], dataset: ImageDataset, batch_size: int, channels: int, cells: int,
                  seed: int, device: str) -> ProxyScores:  # fmt: skip
    """Parameter count, FLOPs (from the table), NASWOT and synflow of the untrained network."""
    net = build_network(arch, channels, cells, dataset, seed, device)
    result = ProxyScores(arch, arch_str(net.ops))
    picks = torch.randperm(len(dataset.train), generator=torch.Generator(device=device).manual_seed(seed),
                           device=device)[:batch_size]  # fmt: skip
    batch = dataset.train.x[picks]
    compute = {
        "params": lambda: float(sum(p.numel() for p in net.parameters())),
        "flops": lambda: load_table().value("cifar10_flops_M", arch),
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
