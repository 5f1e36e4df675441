"""Benchmarks: how fast the shared inner loop trains each learner on the current device.

Timings live here, never in tests. Every result names its device and library versions.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from gtnbench.environment import code_version, device_name, library_versions
from gtnbench.methods.base import synchronize
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.teachers.base import Lesson
from gtnbench.train import initial_params, train

LEARNER_INPUTS = {"mnist-paper": (1, 28, 28), "cifar10-paper": (3, 32, 32)}


def fixed_lesson(x: torch.Tensor, y: torch.Tensor, steps: int) -> Lesson:
    """A lesson that hands the same resident batch at every step (isolates the loop's own cost)."""
    device = x.device
    return Lesson(steps, lambda t: (x, y), torch.full((steps,), 0.02, device=device),
                  torch.full((steps,), 0.5, device=device))  # fmt: skip


def time_call(fn, device: str, repeats: int) -> list[float]:
    """Wall-clock seconds of `repeats` calls of fn after one warm-up call, synchronised."""
    fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def bench_learners(device: str, steps: int = 32, batch_size: int = 128, repeats: int = 5) -> list[dict[str, Any]]:
    rows = []
    for name, shape in LEARNER_INPUTS.items():
        generator = torch.Generator(device=device).manual_seed(0)
        x = torch.randn((batch_size, *shape), generator=generator, device=device)
        y = torch.randint(0, 10, (batch_size,), generator=generator, device=device)
        learner = build_learner(LearnerSpec(name), shape, 10, seed=0, device=device)
        lesson = fixed_lesson(x, y, steps)
        times = time_call(lambda: train(learner, initial_params(learner), lesson), device, repeats)
        median = statistics.median(times)
        rows.append({
            "benchmark": "learner-train",
            "learner": name,
            "steps": steps,
            "batch_size": batch_size,
            "seconds_median": median,
            "seconds_all": times,
            "steps_per_second": steps / median,
        })  # fmt: skip
    return rows


def environment(device: str) -> dict[str, Any]:
    return {"device": device, "device_name": device_name(device), "code_version": code_version(),
            "versions": library_versions(), "threads": torch.get_num_threads()}  # fmt: skip
