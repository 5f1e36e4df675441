"""Benchmarks: how fast the shared inner loop trains each learner on the current device.

Timings live here, never in tests. Every result names its device and library versions. Each
benchmark yields its rows one at a time, so that a long run shows (and keeps) what it has
measured when a later measurement fails or runs out of memory.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.func import functional_call

from gtnbench.device import synchronize
from gtnbench.meta import MetaConfig, MetaTrainer, frozen, peak_memory_mb
from gtnbench.models.generator import GeneratorSpec
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.perf.audit import OpAudit
from gtnbench.perf.hotpaths import HOT_LOOPS, PAPER, TINY, Sizes, fixed_lesson, hot_loops, random_dataset
from gtnbench.teachers.base import Lesson
from gtnbench.teachers.gtn import GTN, GTNSpec
from gtnbench.train import initial_params, train

LEARNER_INPUTS = {"mnist-paper": (1, 28, 28), "cifar10-paper": (3, 32, 32)}


def time_call(fn, device: str, repeats: int, warmup: bool = True, audit: OpAudit | None = None) -> list[float]:
    """Wall-clock seconds of `repeats` calls of fn, synchronised, after one untimed warm-up call
    (allocator, cuDNN autotuning, lazy initialisation) unless `warmup` is False. `audit`: count the
    warm-up call's ops (the audit slows what it watches, so it never watches a timed call)."""
    if warmup:
        with audit if audit is not None else contextlib.nullcontext():
            fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def reference_plain_training(learner: torch.nn.Module, lesson: Lesson) -> None:
    """Plain training written as a bare loop, one SGD update per parameter tensor (no flat vector, no
    statistics threading): the yardstick for the overhead of the shared inner loop."""
    names = [n for n, _ in learner.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in learner.named_parameters()]
    buffers = [torch.zeros_like(p) for p in params]
    for t in range(lesson.steps):
        x, y = lesson.batch(t)
        loss = F.cross_entropy(functional_call(learner, dict(zip(names, params)), (x,)), y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            buffers = [lesson.momenta[t] * b + g for b, g in zip(buffers, grads)]
            params = [(p - lesson.lrs[t] * b).requires_grad_() for p, b in zip(params, buffers)]


def bench_learners(
    device: str,
    steps: int = 32,
    batch_size: int = 128,
    repeats: int = 5,
    warmup: bool = True,
    widths: tuple[int, ...] | None = None,
) -> Iterator[dict[str, Any]]:
    """Each paper learner (or, with `widths`, the learners with that many widths, at those widths) trained
    `steps` steps on one resident batch by the shared loop, then by the bare reference loop."""
    for name, shape in LEARNER_INPUTS.items():
        if widths and len(widths) != len(LearnerSpec(name).base_widths()):
            continue  # widths for another learner
        spec = LearnerSpec(name, widths)
        generator = torch.Generator(device=device).manual_seed(0)
        x = torch.randn((batch_size, *shape), generator=generator, device=device)
        y = torch.randint(0, 10, (batch_size,), generator=generator, device=device)
        learner = build_learner(spec, shape, 10, seed=0, device=device)
        lesson = fixed_lesson(x, y, steps)
        ours = None
        for kind, fn in (
            ("learner-train", lambda: train(learner, initial_params(learner), lesson)),
            ("learner-train-reference-loop", lambda: reference_plain_training(learner, lesson)),
        ):
            counted = OpAudit()
            times = time_call(fn, device, repeats, warmup, counted)
            median = statistics.median(times)
            row = {
                "benchmark": kind,
                "learner": name,
                "widths": list(spec.base_widths()),
                "steps": steps,
                "batch_size": batch_size,
                "seconds_median": median,
                "seconds_all": times,
                "steps_per_second": steps / median,
                **op_figures(counted, steps, warmup),
            }
            if ours is None:
                ours = median
            else:
                row["ratio_ours_to_reference"] = ours / median
            yield row


def op_figures(counted: OpAudit, steps: int, counted_at_all: bool) -> dict[str, Any]:
    """Launches (non-view aten ops) per inner step and device syncs of an audited call, for a bench row."""
    if not counted_at_all:
        return {}
    return {"launches_per_step": counted.launches / steps, "device_syncs": len(counted.device_syncs())}


def bench_loops(
    device: str, steps: int = 8, paper: bool = False, repeats: int = 5, warmup: bool = True
) -> Iterator[dict[str, Any]]:
    """Every hot loop (hotpaths.HOT_LOOPS) timed, at tiny widths (where launches dominate, as on a GPU)
    or the paper's; one call runs `steps` inner steps (an outer iteration: one iteration of T = steps)."""
    sizes: Sizes = PAPER if paper else TINY
    for name, make in HOT_LOOPS.items():
        workload = make(device, steps, sizes)
        counted = OpAudit()
        times = time_call(workload.call, device, repeats, warmup, counted)
        median = statistics.median(times)
        yield {
            "benchmark": f"loop-{name}",
            "steps": steps,
            "widths": "paper" if paper else "tiny",
            "seconds_median": median,
            "seconds_all": times,
            "steps_per_second": steps / median,
            **op_figures(counted, steps, warmup),
        }


def bench_ops(device: str, steps: int = 4, paper: bool = False) -> Iterator[dict[str, Any]]:
    """Aten ops of every hot loop (hotpaths.hot_loops), counted at `steps` and 2 x `steps` inner steps:
    the difference is the per-step count, the rest the fixed cost of a call; and its device syncs.
    No timing. Counts depend on the networks' structure, not their widths (paper: the paper's widths).
    GTN lessons are generated as on CUDA (one generator call per lesson), whatever the device: the
    counts stand for CUDA kernel launches."""
    from gtnbench.teachers.gtn import GENERATED_PER_CALL

    sizes: Sizes = PAPER if paper else TINY
    short, long = hot_loops(device, steps, sizes), hot_loops(device, 2 * steps, sizes)
    kind = torch.device(device).type
    as_cuda = {**GENERATED_PER_CALL, kind: GENERATED_PER_CALL["cuda"]}  # GTN lessons generated as on CUDA
    for a, b in zip(short, long, strict=True):
        counts = []
        for workload in (a, b):
            workload.call()  # lazy initialisation outside the count
            previous = dict(GENERATED_PER_CALL)
            GENERATED_PER_CALL.update(as_cuda)
            try:
                with OpAudit() as counted:
                    workload.call()
            finally:
                GENERATED_PER_CALL.clear()
                GENERATED_PER_CALL.update(previous)
            counts.append(counted)
        per_step = (counts[1].launches - counts[0].launches) / steps
        yield {
            "benchmark": f"ops-{a.name}",
            "steps": steps,
            "launches_per_step": per_step,
            "ops_per_step": (counts[1].ops - counts[0].ops) / steps,
            "launches_fixed": counts[0].launches - per_step * steps,
            "device_syncs": len(counts[1].device_syncs()),
            "sync_sites": sorted({str(e) for e in counts[1].device_syncs()}),
            "host_reads_by_construction": len(counts[1].counts.syncs) - len(counts[1].device_syncs()),
            "widths": "paper" if paper else "tiny",
            "lesson_generation": f"as on CUDA: up to {GENERATED_PER_CALL['cuda']} images per generator call",
        }


def reference_outer_iteration(gtn: GTN, learner: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """The same meta-gradient written as a bare loop (full curriculum, no teacher/lesson abstractions):
    the yardstick for the overhead of gtnbench's shared inner loop."""
    names = [n for n, _ in learner.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in learner.named_parameters()]
    buffers = [torch.zeros_like(p) for p in params]
    lrs, momenta = gtn.log_lr.exp(), gtn.log_momentum.exp()
    for t in range(gtn.spec.inner_steps):
        images = gtn.generator(gtn.noise[t], gtn.labels[t])
        loss = F.cross_entropy(functional_call(learner, dict(zip(names, params)), (images,)), gtn.labels[t])
        grads = torch.autograd.grad(loss, params, create_graph=True)
        buffers = [momenta[t] * b + g for b, g in zip(buffers, grads)]
        params = [p - lrs[t] * b for p, b in zip(params, buffers)]
    F.cross_entropy(functional_call(learner, dict(zip(names, params)), (x,)), y).backward()


def bench_gtn(
    device: str,
    dataset: str = "mnist",
    inner_steps: int = 32,
    batch_size: int = 128,
    block_size: int = 0,
    repeats: int = 3,
    warmup: bool = True,
) -> Iterator[dict[str, Any]]:
    """Learner training on a GTN (plain loop), one outer iteration (differentiable loop), and, without
    gradient checkpointing, the same outer iteration written as a bare reference loop; paper sizes of
    generator and learner. The reference keeps the whole unrolled graph, so it is only a fair yardstick
    (and only fits in memory) where our loop does the same: block_size 0."""
    shape, learner_name = ((1, 28, 28), "mnist-paper") if dataset == "mnist" else ((3, 32, 32), "cifar10-paper")
    data = random_dataset(shape, 4 * batch_size, device)
    meta = MetaTrainer(
        GTNSpec(inner_steps, batch_size),
        GeneratorSpec(shape),
        MetaConfig(block_size=block_size),
        LearnerSpec(learner_name),
        data,
        0,
        device,
    )
    learner = build_learner(LearnerSpec(learner_name), shape, 10, seed=0, device=device)
    lesson_rng = torch.Generator(device=device).manual_seed(0)

    def learner_on_gtn() -> None:
        with frozen(meta.gtn):
            train(learner, initial_params(learner), meta.gtn.lesson(inner_steps, lesson_rng))

    def outer_iteration() -> None:
        meta.optimizer.zero_grad(set_to_none=True)
        meta.meta_gradient(0)
        meta.optimizer.step()

    x, y = data.train.x[:batch_size], data.train.y[:batch_size]

    def reference() -> None:
        meta.optimizer.zero_grad(set_to_none=True)
        reference_outer_iteration(meta.gtn, learner, x, y)
        meta.optimizer.step()

    runs = [("learner-on-gtn", learner_on_gtn), ("outer-iteration", outer_iteration)]
    if block_size == 0:
        runs.append(("outer-iteration-reference-loop", reference))
    ours = None
    for name, fn in runs:
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(device)
        counted = OpAudit()
        times = time_call(fn, device, repeats, warmup, counted)
        row = {
            "benchmark": f"gtn-{name}",
            "dataset": dataset,
            "inner_steps": inner_steps,
            "batch_size": batch_size,
            "block_size": block_size,
            "seconds_median": statistics.median(times),
            "seconds_all": times,
            "peak_memory_mb": peak_memory_mb(device),
            **op_figures(counted, inner_steps, warmup),
        }
        if name == "outer-iteration":
            ours = row["seconds_median"]
        elif name == "outer-iteration-reference-loop":
            row["ratio_ours_to_reference"] = ours / row["seconds_median"]
        yield row


def bench_nb201(
    device: str,
    archs: int = 8,
    steps: int = 128,
    batch_size: int = 128,
    channels: int = 16,
    cells: int = 5,
    repeats: int = 1,
    seed: int = 0,
    warmup: bool = True,
    batched: bool = True,
) -> Iterator[dict[str, Any]]:
    """Train-based NAS-Bench-201 proxy throughput: `archs` sampled architectures trained `steps` steps on
    random CIFAR-shaped data resident on the device, one at a time (train_based) and all at once
    (train_based_batch: masked super-network, vmap over architectures).

    A call covers the whole set: building the networks, training, and one evaluation on the
    validation split (4 x batch_size images) after the last step; `training_seconds` is the
    training time alone (evaluation and set-up excluded) of the last call.
    """
    from gtnbench.nas.batched import train_based_batch
    from gtnbench.nas.proxies import train_based
    from gtnbench.nas.sampling import sample_architectures
    from gtnbench.nas.spaces import SPACES
    from gtnbench.teachers.real import RealDataTeacher

    data = random_dataset((3, 32, 32), 4 * batch_size, device)
    teacher = RealDataTeacher(data.train, batch_size, lr=0.05, momentum=0.9)
    chosen = sample_architectures(archs, seed)
    runs = {
        "nb201-one-at-a-time": lambda: [
            train_based(
                SPACES["nb201"], arch, teacher, [steps], data, {"channels": channels, "cells": cells}, seed, device
            )
            for arch in chosen
        ],
        "nb201-batched": lambda: train_based_batch(chosen, teacher, [steps], data, channels, cells, seed, device),
    }
    if not batched:
        del runs["nb201-batched"]
    one_at_a_time = None
    for name, run in runs.items():
        last: list = []

        def call(run=run, last=last) -> None:
            last[:] = run()  # the scores of the last call, for its training time

        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(device)
        counted = OpAudit()
        times = time_call(call, device, repeats, warmup, counted)
        median = statistics.median(times)
        row = {
            "benchmark": name,
            "archs": archs,
            "steps": steps,
            "batch_size": batch_size,
            "channels": channels,
            "cells": cells,
            "seconds_median": median,
            "seconds_all": times,
            "archs_per_second": archs / median,
            "training_seconds": sum(scores.seconds[str(steps)] for scores in last),
            "peak_memory_mb": peak_memory_mb(device),
            **op_figures(counted, steps * archs, warmup),
        }
        if one_at_a_time is None:
            one_at_a_time = median
        else:
            row["ratio_batched_to_one_at_a_time"] = one_at_a_time / median
        yield row


def bench_executors(
    suite_name: str, scale: str, data_root: Path, workers: tuple[int, ...] = (1, 2, 4), device: str = "cpu"
) -> Iterator[dict[str, Any]]:
    """A whole suite run in-process and on local Ray clusters of 1, 2, 4 ... worker CPUs: seconds,
    trials per second, and the ratio to in-process (the executor's overhead and scaling)."""
    import tempfile

    import ray
    from rich.console import Console

    from gtnbench.run.executors import RayExecutor, RayOptions
    from gtnbench.run.runner import run_suite
    from gtnbench.suite.files import find_suite

    suite = find_suite(suite_name)
    quiet = Console(quiet=True)
    in_process = None
    with tempfile.TemporaryDirectory() as scratch:
        runs = [("in-process", None, None)] + [(f"ray-{n}-workers", n, RayExecutor(RayOptions())) for n in workers]
        for name, cpus, executor in runs:
            if cpus:
                ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
            start = time.perf_counter()
            summary = run_suite(suite, scale, device, data_root, Path(scratch) / name, console=quiet, executor=executor)
            seconds = time.perf_counter() - start
            if cpus:
                ray.shutdown()
            row = {
                "benchmark": f"executor-{name}",
                "suite": suite_name,
                "scale": scale,
                "trials": summary.total,
                "seconds_median": seconds,
                "seconds_all": [seconds],
                "trials_per_second": summary.total / seconds,
            }
            if in_process is None:
                in_process = seconds
            else:
                row["ratio_to_in_process"] = seconds / in_process
            yield row


def bench_grid(
    device: str,
    learner: str = "mnist-paper",
    steps: int = 32,
    batch_size: int = 128,
    configurations: int = 8,
    repeats: int = 3,
    warmup: bool = True,
    widths: tuple[int, ...] | None = None,
) -> Iterator[dict[str, Any]]:
    """A tuned real-data grid of `configurations` (lr x momentum x schedule) trained one after another
    and together (methods/real.py: vmap over configurations), on random data resident on the device;
    the largest difference between the two's validation accuracies comes with the second row."""
    import itertools

    from gtnbench.methods import real

    shape = LEARNER_INPUTS[learner]
    data = random_dataset(shape, 4 * batch_size, device)
    lrs, momenta, schedules = (0.02, 0.05, 0.1, 0.2), (0.5, 0.9), ("constant", "linear", "cosine")
    grid = list(itertools.islice(itertools.product(lrs, momenta, schedules), configurations))
    spec = LearnerSpec(learner, widths)
    results, one_after_another = {}, None
    for name, together in (("grid-one-after-another", False), ("grid-together", True)):
        real.batch_grids(together)
        counted = OpAudit()
        last: list = []

        def call(last=last) -> None:
            last[:] = [real.tuned_training(spec, data, steps, batch_size, grid, 0, device)]

        try:
            times = time_call(call, device, repeats, warmup, counted)
        finally:
            real.batch_grids(False)
        results[name] = last[0]
        median = statistics.median(times)
        row = {
            "benchmark": name,
            "learner": learner,
            "steps": steps,
            "batch_size": batch_size,
            "configurations": len(grid),
            "widths": list(spec.base_widths()),
            "seconds_median": median,
            "seconds_all": times,
            "peak_memory_mb": peak_memory_mb(device),
            **op_figures(counted, steps * len(grid), warmup),
        }
        if together:
            alone = results["grid-one-after-another"]
            row["ratio_together_to_one_after_another"] = one_after_another / median
            row["max_val_acc_difference"] = max(
                abs(a["val_acc"] - b["val_acc"]) for a, b in zip(alone.grid, last[0].grid)
            )
            row["same_choice"] = alone.chosen == last[0].chosen
        else:
            one_after_another = median
        yield row
