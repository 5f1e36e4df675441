"""Upper bounds on every size and count a suite can set, stated in one place.

A suite is checked against them when it is loaded (gtnbench.suite), so that a size no data set or
device can hold is one line naming the file and the key, before anything runs, rather than an
out-of-memory kill minutes into a run. Where each bound comes from:

- the data (SPLIT_SIZES, the paper's splits): a batch is drawn without replacement within an epoch,
  so it holds at most the training split; scored and evaluated images at most the held-out splits;
  a set at most the training split (images per class: a tenth of it).
- the memory of the device: a training run draws every batch's indices (and crops) when its lesson
  is made, 16 bytes or more per drawn image, so steps x batch size of one run is at most
  MAX_LESSON_IMAGES (about 1.6 GB of indices); a GTN generates and differentiates its whole lesson,
  so T x B is at most MAX_GTN_LESSON_IMAGES (sixteen times the paper's CIFAR-10 lesson, 128 x 128);
  widths at most MAX_WIDTH channels or units, NAS-Bench-201 cells per stage at most MAX_CELLS.
- time: the images one trial trains on, over a grid's configurations or a meta-training's outer
  iterations, at most MAX_TRIAL_IMAGES (days on a GPU at 10^5 images/s); synthesis iterations at most
  MAX_ITERATIONS; learners per trial at most MAX_LEARNERS; bootstrap resamples and search seeds at
  most MAX_BOOTSTRAP and MAX_SEARCH_SEEDS (`check` and `report` compute them).
- seeds: distinct, at most MAX_SEEDS of them, each in 0..MAX_SEED, what the narrowest seeding code
  accepts (scikit-learn's random_state is below 2**32 and k-means adds the class to it); the
  architecture sample at most the search space's architectures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gtnbench.nas import macro_table
from gtnbench.nas import table as nb201_table
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.methods import SET_METHODS, GTNMethod, NB201Free, NB201Train, RealMethod

SPLIT_SIZES = {
    "mnist": (50_000, 10_000, 10_000),
    "cifar10": (45_000, 5_000, 10_000),
    "cifar10-jpeg": (45_000, 5_000, 10_000),
}  # train, validation, test
CLASSES = 10
MAX_SEED = 2**31 - 1
MAX_SEEDS = 1_000
MAX_LESSON_IMAGES = 10**8
MAX_GTN_LESSON_IMAGES = 2**18
MAX_TRIAL_IMAGES = 10**10
MAX_WIDTH = 4096
MAX_CELLS = 64
MAX_ITERATIONS = 10**6
MAX_LEARNERS = 1_000
MAX_EPOCHS = 10**4
MAX_BOOTSTRAP = 100_000
MAX_SEARCH_SEEDS = 10_000

Violation = tuple[tuple[str | int, ...], str]  # the key as written in the file, and what is wrong with it


def _over(value: int, limit: int, what: str) -> str | None:
    return f"{value:,} is more than {limit:,} ({what})" if value > limit else None


def _product(factors: str, value: int, limit: int, what: str) -> str | None:
    return f"{factors} = {value:,} images, more than {limit:,} ({what})" if value > limit else None


LESSON = "a training run draws all its batches when it starts: bounds.MAX_LESSON_IMAGES"
TRIAL = "the images one trial trains on: bounds.MAX_TRIAL_IMAGES"


def _widths(where: tuple[str | int, ...], learner: Any) -> Iterator[Violation]:
    if learner is None:
        return
    for i, width in enumerate(learner.widths or ()):
        limit, what = (
            (MAX_CELLS, "cells per stage")
            if learner.name == "nb201-cell" and i == 1
            else (MAX_WIDTH, "channels or units")
        )
        if width > limit:
            yield (*where, "widths"), f"{width:,} is more than {limit:,} ({what})"


def _network(where: tuple[str, ...], network: Any) -> Iterator[Violation]:
    for key, limit, what in (
        ("channels", MAX_WIDTH, "channels"),
        ("head_channels", MAX_WIDTH, "channels"),
        ("cells", MAX_CELLS, "cells per stage"),
    ):
        value = getattr(network, key, None)
        if value is not None and value > limit:
            yield (*where, "network", key), f"{value:,} is more than {limit:,} ({what})"


def _set_size(method: Any, evaluation: Any) -> int | None:
    """Images of a sized set (None: loaded from a checkpoint, or a GTN's lesson)."""
    if getattr(method, "images_per_class", None):
        return method.images_per_class * CLASSES
    total = getattr(method, "total", None)
    if total == "equal-steps":
        return evaluation.equal_steps.steps * evaluation.equal_steps.batch_size
    return total


def _run(where: tuple[str, ...], images: int, factors: str, configurations: int) -> Iterator[Violation]:
    """A training run of `images` drawn images (`factors` says how), once per grid configuration."""
    for problem in (
        _product(factors, images, MAX_LESSON_IMAGES, LESSON),
        _product(f"{configurations} configurations x {factors}", configurations * images, MAX_TRIAL_IMAGES, TRIAL),
    ):
        if problem:
            yield where, problem


def _steps(steps: int, batch: int) -> tuple[int, str]:
    return steps * batch, f"{steps:,} steps x batch {batch:,}"


def violations(config: SuiteConfig) -> list[Violation]:
    """Every bound a resolved suite breaks, as (key as written, why)."""

    train, val, test = SPLIT_SIZES[config.dataset]
    found: list[Violation] = []

    def check(where: tuple[str, ...], problem: str | None) -> None:
        if problem:
            found.append((where, problem))

    repeated = sorted({s for s in config.seeds if config.seeds.count(s) > 1})
    if repeated:
        found.append(
            (("seeds",), f"{repeated[0]} appears more than once; each seed is one repetition, give distinct seeds")
        )
    check(("seeds",), _over(len(config.seeds), MAX_SEEDS, "seeds: bounds.MAX_SEEDS"))
    for seed in config.seeds:
        check(("seeds",), _over(seed, MAX_SEED, "a seed: bounds.MAX_SEED"))
    check(("split_seed",), _over(config.split_seed, MAX_SEED, "a seed: bounds.MAX_SEED"))
    if config.scored_images is not None:
        check(
            ("scored_images",),
            _over(config.scored_images, min(val, test), f"the images of {config.dataset}'s validation and test splits"),
        )
    found += _widths(("learner",), config.learner)

    split = f"the images of {config.dataset}'s training split"
    evaluation = config.set_evaluation
    for name, method in config.methods.items():
        at = ("methods", name)
        batch = getattr(method, "batch_size", None)
        if batch is not None:
            check((*at, "batch_size"), _over(batch, train, split))
        if isinstance(method, RealMethod):
            configurations = len(method.lr) * len(method.momentum) * len(method.schedule)
            for steps in method.steps or ():
                found += _run((*at, "steps"), *_steps(steps, method.batch_size), configurations)
            for epochs in method.epochs or ():
                check((*at, "epochs"), _over(epochs, MAX_EPOCHS, "epochs: bounds.MAX_EPOCHS"))
                found += _run((*at, "epochs"), epochs * train, f"{epochs:,} epochs x {train:,} images", configurations)
        elif isinstance(method, GTNMethod):
            lesson = method.inner_steps * method.batch_size
            check(
                (*at, "inner_steps"),
                _product(
                    f"{method.inner_steps:,} inner steps x batch {method.batch_size:,}",
                    lesson,
                    MAX_GTN_LESSON_IMAGES,
                    "a GTN's lesson is generated and differentiated at once: bounds.MAX_GTN_LESSON_IMAGES",
                ),
            )
            check(
                (*at, "outer_iterations"),
                _product(
                    f"{method.outer_iterations:,} outer iterations x {lesson:,}",
                    method.outer_iterations * lesson,
                    MAX_TRIAL_IMAGES,
                    TRIAL,
                ),
            )
            check((*at, "meta_batch_size"), _over(method.meta_batch_size, train, split))
            for key in ("eval_learners", "validation_learners"):
                check((*at, key), _over(getattr(method, key), MAX_LEARNERS, "learners: bounds.MAX_LEARNERS"))
            generator = method.generator
            for key, values in (
                ("noise_dim", [generator.noise_dim]),
                ("hidden", [generator.hidden]),
                ("channels", generator.channels),
            ):
                for value in values:
                    check((*at, "generator", key), _over(value, MAX_WIDTH, "units or channels: bounds.MAX_WIDTH"))
            found += _widths((*at, "learner"), method.learner)
            for i, learner in enumerate(method.transfer):
                found += _widths((*at, "transfer", i), learner)
        elif isinstance(method, NB201Train):
            found += _run((*at, "steps"), *_steps(max(method.steps), method.batch_size), method.grid_size())
            if method.eval_size is not None:
                check(
                    (*at, "eval_size"),
                    _over(method.eval_size, val, f"the images of {config.dataset}'s validation split"),
                )
            found += _network(at, method.network)
        elif isinstance(method, NB201Free):
            found += _network(at, method.network)
        elif isinstance(method, SET_METHODS):
            found += _widths((*at, "learner"), getattr(method, "learner", None))
            size = _set_size(method, evaluation)
            if size is not None:
                key = "images_per_class" if getattr(method, "images_per_class", None) else "total"
                check((*at, key), _over(size, train, f"a set's images: {split}"))
                recipe = evaluation.own_recipe
                if "own-recipe" in evaluation.protocols:
                    check(
                        (*at, key),
                        _product(
                            f"{recipe.epochs:,} epochs x {size:,} images",
                            recipe.epochs * size,
                            MAX_LESSON_IMAGES,
                            LESSON,
                        ),
                    )
            limits = {
                "iterations": (MAX_ITERATIONS, "synthesis iterations: bounds.MAX_ITERATIONS"),
                "outer_loop": (MAX_LEARNERS, "bounds.MAX_LEARNERS"),
                "inner_loop": (MAX_LEARNERS, "bounds.MAX_LEARNERS"),
                "real_per_class": (train // CLASSES, f"a class's images: {split}"),
                "batch_train": (train, split),
            }
            for key, (limit, what) in limits.items():
                if hasattr(method, key):
                    check((*at, key), _over(getattr(method, key), limit, what))
            features = getattr(method, "features", None)
            if features is not None:
                check((*at, "features", "batch_size"), _over(features.batch_size, train, split))
                found += _run((*at, "features", "steps"), *_steps(features.steps, features.batch_size), 1)

    for protocol, settings in (("equal_steps", evaluation.equal_steps), ("own_recipe", evaluation.own_recipe)):
        check(("set_evaluation", protocol, "batch_size"), _over(settings.batch_size, train, split))
    equal = evaluation.equal_steps
    configurations = len(equal.lr) * len(equal.momentum) * len(equal.schedule)
    if any(isinstance(m, SET_METHODS) for m in config.methods.values()):
        found += _run(
            ("set_evaluation", "equal_steps", "steps"), *_steps(equal.steps, equal.batch_size), configurations
        )
    check(
        ("set_evaluation", "own_recipe", "epochs"),
        _over(evaluation.own_recipe.epochs, MAX_EPOCHS, "epochs: bounds.MAX_EPOCHS"),
    )

    nas = config.nas
    if nas is not None:
        archs = {"nb201": nb201_table.NUM_ARCHS, "macro": macro_table.NUM_ARCHS}[nas.space]
        sample = nas.architectures
        check(("nas", "architectures", "count"), _over(sample.count, archs, f"the architectures of {nas.space}"))
        check(("nas", "architectures", "seed"), _over(sample.seed, MAX_SEED, "a seed: bounds.MAX_SEED"))
        check(("nas", "bootstrap"), _over(nas.bootstrap, MAX_BOOTSTRAP, "resamples: bounds.MAX_BOOTSTRAP"))
        check(("nas", "search_seeds"), _over(nas.search_seeds, MAX_SEARCH_SEEDS, "bounds.MAX_SEARCH_SEEDS"))
        for name, method in config.methods.items():
            calibration = getattr(method, "calibration", None)
            if calibration is not None:
                at = ("methods", name, "calibration")
                check(
                    (*at, "count"),
                    _over(
                        calibration.count + sample.count,
                        archs,
                        f"with the judged sample, the architectures of {nas.space}",
                    ),
                )
                check((*at, "seed"), _over(calibration.seed, MAX_SEED, "a seed: bounds.MAX_SEED"))
    return found
