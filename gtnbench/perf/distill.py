"""Benchmarks of dataset distillation: the cost of one DM and one DC synthesis iteration at the
papers' sizes (for `gtnbench bench distill`), on random images of the data set's shape.

What is measured is compute, not quality: the images are random, the networks are the learners
at their paper widths (the reference ConvNet, `convnet`, at 128 x 3), each with the data set's image
shape. One DM iteration is one fresh network, real batches of `real_per_class`
images of every class (DSA on) and one image update. One DC iteration is the reference's whole
trajectory for `images_per_class`: outer_loop image updates (each: per-class gradients of
`real_per_class` real and the synthetic images, the match loss, its gradient) with inner_loop
epochs of network training on the synthetic set between them (10 and 50 at 10 images per class).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from gtnbench.data.datasets import ImageDataset, Split
from gtnbench.data.image_set import ImageSet
from gtnbench.distill.dc import DCConfig, GradientMatching
from gtnbench.distill.dm import DistributionMatching, DMConfig
from gtnbench.models.learners import LearnerSpec
from gtnbench.perf.bench import LEARNER_INPUTS, time_call

METHODS = ("dm", "dc")


def random_class_balanced(shape: tuple[int, int, int], per_class: int, device: str, classes: int = 10) -> ImageDataset:
    """Random images, `per_class` of each class, as every split."""
    generator = torch.Generator(device=device).manual_seed(0)
    count = per_class * classes
    split = Split(
        torch.randn((count, *shape), generator=generator, device=device), torch.arange(count, device=device) % classes
    )
    return ImageDataset("mnist" if shape[0] == 1 else "cifar10", split, split, split, classes, 0)


def _dm_rows(
    data: ImageDataset,
    learner: str,
    images_per_class: int,
    real_per_class: int,
    device: str,
    repeats: int,
    warmup: bool,
) -> Iterator[dict[str, Any]]:
    config = DMConfig(images_per_class=images_per_class, real_per_class=real_per_class)
    matcher = DistributionMatching(data, _spec(learner), config, seed=0)
    times = time_call(matcher.step, device, repeats, warmup)
    yield {
        "benchmark": "distill-dm-iteration",
        "learner": learner,
        "images_per_class": images_per_class,
        "real_per_class": real_per_class,
        "dsa": list(config.dsa),
        "embedding": config.embedding,
        "seconds_median": statistics.median(times),
        "seconds_all": times,
    }


def _dc_rows(
    data: ImageDataset,
    learner: str,
    images_per_class: int,
    real_per_class: int,
    device: str,
    repeats: int,
    warmup: bool,
    full_iteration: bool,
) -> Iterator[dict[str, Any]]:
    """The two parts of a DC iteration timed apart (one image update; `inner_loop` epochs of network
    training), the iteration's cost derived from them, and with `full_iteration` a whole iteration timed."""
    config = DCConfig(images_per_class=images_per_class, real_per_class=real_per_class)
    matcher = GradientMatching(data, _spec(learner), config, seed=0)
    outer, inner = config.loops()
    network, params = matcher.fresh_network()
    common = {
        "learner": learner,
        "images_per_class": images_per_class,
        "real_per_class": real_per_class,
        "outer_loop": outer,
        "inner_loop": inner,
        "batch_train": config.batch_train,
        "match": config.match,
        "bn_stats": config.bn_stats,
    }
    medians = {}
    for part, call in (
        ("image-update", lambda: matcher.update_images(network, params)),
        ("network-epochs", lambda: matcher.train_network(network, params, inner)),
    ):
        times = time_call(call, device, repeats, warmup)
        medians[part] = statistics.median(times)
        yield {"benchmark": f"distill-dc-{part}", **common, "seconds_median": medians[part], "seconds_all": times}
    derived = outer * medians["image-update"] + (outer - 1) * medians["network-epochs"]
    yield {
        "benchmark": "distill-dc-iteration-derived",
        **common,
        "seconds": derived,
        "derivation": "outer_loop x image-update + (outer_loop - 1) x network-epochs",
    }
    if full_iteration:
        times = time_call(matcher.step, device, repeats, warmup)
        yield {
            "benchmark": "distill-dc-iteration",
            **common,
            "seconds_median": statistics.median(times),
            "seconds_all": times,
        }


def _spec(learner: str) -> LearnerSpec:
    """A learner at its paper widths (the ConvNet is never weight-normalised)."""
    return LearnerSpec(learner, weight_norm=learner != "convnet")


def bench_distill(
    device: str,
    learners: tuple[str, ...] = tuple(LEARNER_INPUTS),
    methods: tuple[str, ...] = METHODS,
    images_per_class: int = 10,
    real_per_class: int = 256,
    repeats: int = 3,
    warmup: bool = True,
    full_dc_iteration: bool = False,
    image_shape: tuple[int, int, int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Seconds per synthesis iteration of each method with each learner at its paper widths, one row
    at a time, on images of `image_shape` (default: each paper learner's data set's). DC is timed in its
    two parts (an iteration takes minutes on a CPU); `full_dc_iteration` also times whole iterations."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown distillation method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    for learner in learners:
        data = random_class_balanced(image_shape or LEARNER_INPUTS[learner], real_per_class, device)
        if "dm" in methods:
            yield from _dm_rows(data, learner, images_per_class, real_per_class, device, repeats, warmup)
        if "dc" in methods:
            yield from _dc_rows(
                data, learner, images_per_class, real_per_class, device, repeats, warmup, full_dc_iteration
            )


def evaluate_set(
    image_set: ImageSet,
    dataset: ImageDataset,
    learner: LearnerSpec,
    steps: int,
    lrs: tuple[float, ...],
    momentum: float = 0.9,
    schedule: str = "cosine",
    batch_size: int = 256,
    seeds: tuple[int, ...] = (0, 1, 2),
) -> dict[str, Any]:
    """Fresh learners trained `steps` steps on the set through the shared inner loop: the lr is chosen
    on the validation split (first seed), then test accuracy for every seed at that lr."""
    from gtnbench.models.learners import build_learner
    from gtnbench.teachers.fixed_set import FixedSetTeacher
    from gtnbench.train import accuracy, initial_params, train

    def trained(lr: float, seed: int):
        teacher = FixedSetTeacher.from_set(image_set, batch_size, lr, momentum, schedule, device=dataset.device)
        network = build_learner(learner, dataset.image_shape, dataset.num_classes, seed, dataset.device)
        lesson = teacher.lesson(steps, torch.Generator(dataset.device).manual_seed(seed))
        return network, train(network, initial_params(network), lesson).state

    validation = {}
    for lr in lrs:
        network, state = trained(lr, seeds[0])
        validation[lr] = float(accuracy(network, state, dataset.val.x, dataset.val.y))
    best = max(lrs, key=lambda lr: validation[lr])
    test = []
    for seed in seeds:
        network, state = trained(best, seed)
        test.append(float(accuracy(network, state, dataset.test.x, dataset.test.y)))
    return {
        "steps": steps,
        "batch_size": min(batch_size, len(image_set)),
        "momentum": momentum,
        "schedule": schedule,
        "val_accuracy_by_lr": {str(lr): acc for lr, acc in validation.items()},
        "lr": best,
        "seeds": list(seeds),
        "test_accuracy": test,
        "test_accuracy_mean": statistics.mean(test),
    }


def dc_recipe_measurement(
    root: Path,
    out: Path,
    widths: tuple[int, ...] = (16, 32, 64),
    seconds: float = 900,
    seed: int = 0,
    eval_steps: int = 300,
    eval_lrs: tuple[float, ...] = (0.01, 0.03, 0.1),
    log=print,
) -> dict[str, Any]:
    """DC on MNIST at 10 images per class under the reference's recipe (noise init, 10 x 50 loops, 256
    real images per class) with the MNIST learner at `widths`, for as many whole iterations as fit in
    `seconds` (the set saved to out/dc.pt after each); then fresh learners of the same widths trained on
    it, on its noise initialisation and on a random 10-per-class subset (`evaluate_set`)."""
    import time

    from gtnbench.data.datasets import load_dataset
    from gtnbench.data.image_set import save_image_set
    from gtnbench.distill.subset import random_subset

    dataset = load_dataset("mnist", root)
    learner = LearnerSpec("mnist-paper", widths)
    matcher = GradientMatching(dataset, learner, DCConfig(images_per_class=10), seed)
    start_set = matcher.result()
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        loss = matcher.step()
        save_image_set(matcher.result(), out / "dc.pt")
        log(f"DC iteration {matcher.iteration}: match loss {loss:.3f}, {time.perf_counter() - began:.0f} s")
    synthesis_seconds = time.perf_counter() - began
    sets = {"dc": matcher.result(), "dc-initialisation": start_set, "subset": random_subset(dataset, [10] * 10, seed)}
    summary = {
        "dataset": dataset.name,
        "learner": {"name": learner.name, "widths": list(widths)},
        "dc_iterations": matcher.iteration,
        "dc_synthesis_seconds": synthesis_seconds,
        "threads": torch.get_num_threads(),
        "evaluation": {},
    }
    for name, image_set in sets.items():
        summary["evaluation"][name] = evaluate_set(image_set, dataset, learner, eval_steps, eval_lrs)
        log(f"{name}: test accuracy {summary['evaluation'][name]['test_accuracy_mean']:.4f}")
    return summary
