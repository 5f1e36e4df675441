"""How long a suite takes, before running it (`gtnbench plan`), and the budget a run must fit (`--budget`).

A trial's work is counted in units whose cost is measured on the device, at the suite's own sizes
(learner widths, batch sizes, generator, search-space network): a plain training step of a learner,
a plain step on a GTN's lesson (generation included), one inner step of a differentiable outer
iteration (measured at min(T, 4) inner steps, so per step), a NAS-Bench-201 or NAS-Bench-Macro
network's training step (the mean over sampled architectures), a generated step of a GTN teaching a
NAS proxy, an augmented (crop and flip) batch, an evaluated image, a training-free scoring, one DM or
DC iteration, a coreset's embedding of an image and its selection in a class. `calibrate` measures
them in a few seconds (a warm-up call, then a timed one); `save_costs` / `load_costs` keep them, so
that a plan for a GPU can be made anywhere from costs measured on it once.

What the model leaves out is said: transfer learners, sample grids, data loading, the saving of
sets and their pictures; a kind it does not know is listed as not estimated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtnbench.perf.costs import Costs, Key
from gtnbench.run.budget import format_seconds
from gtnbench.suite.bounds import SPLIT_SIZES
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.methods import (
    SET_METHODS,
    CoresetMethod,
    DCMethod,
    DMMethod,
    FileSetMethod,
    GTNMethod,
    GTNSetMethod,
    NB201Free,
    NB201Table,
    NB201Train,
    RealMethod,
    SizedSet,
)
from gtnbench.suite.trials import CALIBRATE, Trial, protocol_of, set_budgets

IMAGE_SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "cifar10-jpeg": (3, 32, 32)}
LEFT_OUT = "data loading, sample grids, transfer learners, saving sets and pictures"


@dataclass
class TrialWork:
    """A trial's work: units of each key, or why it has no estimate."""

    units: dict[Key, float] = field(default_factory=dict)
    unmodelled: str | None = None

    def add(self, key: Key, count: float) -> None:
        if count:
            self.units[key] = self.units.get(key, 0.0) + count

    def add_training(self, key: Key, steps: float, augment: bool, shape: tuple, batch: int) -> None:
        """`steps` training steps of `key`, each on a crop-and-flip batch when `augment`."""
        self.add(key, steps)
        if augment:
            self.add(("augment", shape, batch), steps)


@dataclass
class Sizes:
    train: int
    val: int
    test: int
    image_shape: tuple[int, int, int]
    classes: int = 10


def split_sizes(config: SuiteConfig, data_root: Path | None = None, device: str = "cpu") -> tuple[Sizes, str]:
    """The data set's split sizes and image shape: loaded when the data is there, else the standard ones."""
    if data_root is not None:
        from gtnbench.data.datasets import load_dataset
        from gtnbench.errors import DataError

        try:
            data = load_dataset(config.dataset, data_root, device, config.split_seed).scored_on(config.scored_images)
            sizes = Sizes(len(data.train), len(data.val), len(data.test), data.image_shape, data.num_classes)
            return sizes, f"{data.label} at {data_root}"
        except DataError:
            pass
    train, val, test = SPLIT_SIZES[config.dataset]
    return Sizes(
        train, val, test, IMAGE_SHAPES[config.dataset]
    ), f"standard {config.dataset} split sizes (no data loaded)"


def _learner_key(learner: Any) -> tuple:
    """A learner configuration (suite.LearnerConfig) as part of a key."""
    return (
        learner.name,
        tuple(learner.widths or ()),
        bool(learner.weight_norm),
        bool(learner.randomize_widths),
        getattr(learner, "arch", None),
        getattr(learner, "bn_eval", None),
    )


def _generator_key(method: GTNMethod) -> tuple:
    g = method.generator
    return (method.batch_size, g.noise_dim, g.hidden, tuple(g.channels), method.curriculum[0], method.weight_norm[0])


def _cell_key(config: SuiteConfig, method: NB201Train | NB201Free, shape: tuple[int, int, int], batch: int) -> tuple:
    """A search space's network at the proxy's widths (every width option, the benchmark's where unset)."""
    from gtnbench.nas.spaces import get_space

    space = _space(config)
    widths = {**get_space(space).widths, **method.network.widths()}
    return (space, tuple(sorted(widths.items())), batch, tuple(shape), method.network.bn_eval)


def trial_work(config: SuiteConfig, trial: Trial, sizes: Sizes) -> TrialWork:
    """What one trial does, in units (see the module docstring)."""
    method = config.methods[trial.method]
    work = TrialWork()
    shape, learner = sizes.image_shape, _learner_key(config.learner)
    if trial.kind == "real" and isinstance(method, RealMethod):
        budget = dict(trial.budget)
        steps = budget.get("steps") or math.ceil(budget["epochs"] * sizes.train / method.batch_size)
        configurations = len(method.lr) * len(method.momentum) * len(method.schedule)
        work.add_training(
            ("plain", learner, shape, method.batch_size),
            configurations * steps,
            method.augment,
            shape,
            method.batch_size,
        )
        readouts = len(_curve_points(steps)) + steps * method.batch_size // sizes.train if method.curve else 0
        work.add(
            ("eval", learner, shape), configurations * (sizes.val + readouts * (sizes.val + sizes.test)) + sizes.test
        )
    elif trial.kind == "gtn" and isinstance(method, GTNMethod):
        meta = _learner_key(method.learner) if method.learner else learner
        generator, T = _generator_key(method), method.inner_steps
        lesson_step = ("gtn-plain", generator, meta, shape)
        evaluations = 2 * method.eval_learners + 1  # final, untrained, the curve's learner
        if not method.checkpoint:
            work.add(
                ("outer", generator, meta, shape, method.meta_batch_size, method.block_size, method.step_loss_every),
                method.outer_iterations * T,
            )
            if method.augment:  # the meta-batch and each step loss's fresh batch
                every = method.step_loss_every
                losses = 1 + (len(range(every, T, every)) if every else 0)
                work.add(("augment", shape, method.meta_batch_size), method.outer_iterations * losses)
            validations = (method.outer_iterations // method.validate_every + 1) * method.validation_learners
            evaluations += validations
        work.add(lesson_step, evaluations * T)
        work.add(
            ("eval", meta, shape),
            evaluations * (sizes.val + sizes.test) + len(_curve_points(T)) * (sizes.val + sizes.test),
        )
    elif trial.kind in ("nb201-train", CALIBRATE) and isinstance(method, NB201Train):
        nas_training_work(config, trial, method, sizes, work)
    elif trial.kind == "nb201-free" and isinstance(method, NB201Free):
        work.add(("free", *_cell_key(config, method, shape, method.batch_size)), 1)
    elif isinstance(method, SET_METHODS):
        small_set_work(config, trial, method, sizes, work)
    elif isinstance(method, NB201Table):
        return work
    else:
        work.unmodelled = f"kind {trial.kind}"
    return work


FROM_CHECKPOINT = "a GTN or set checkpoint whose size is not known before the run"


def nas_training_work(config: SuiteConfig, trial: Trial, method: NB201Train, sizes: Sizes, work: TrialWork) -> None:
    """A train-based NAS proxy (methods/nb201.py): each network trains on its teacher and is read out at
    every budget. A GTN teaches one run of max(steps) at its own batch size; on real data or a set, a
    constant-lr configuration trains once for max(steps) and a decaying one once per budget (for a judged
    trial, whose configuration the calibration chooses, as if the most costly were chosen)."""
    shape = sizes.image_shape
    readout = (method.eval_size or sizes.val) * len(method.steps)
    if method.teacher == "gtn":
        source = config.methods.get(method.gtn or "")
        if not isinstance(source, GTNMethod):
            work.unmodelled = FROM_CHECKPOINT
            return
        cell, steps = _cell_key(config, method, shape, source.batch_size), max(method.steps)
        work.add(("cell", *cell), steps)
        work.add(("cell-eval", *cell), readout)
        work.add(("generate", _generator_key(source), shape), steps)
        return
    batch = method.batch_size
    if method.teacher == "set":
        source = config.methods.get(method.set or "")
        counts = set_counts_of(config, method if method.checkpoint else source, sizes)
        if counts is None:
            work.unmodelled = FROM_CHECKPOINT
            return
        batch = min(batch, sum(counts))  # a set smaller than a batch is handed whole (FixedSetTeacher)
    cell = _cell_key(config, method, shape, batch)

    def run_steps(schedule: str) -> int:
        return max(method.steps) if schedule == "constant" else sum(method.steps)

    if trial.kind == CALIBRATE:
        runs = method.calibration.count * len(method.lr) * len(method.momentum)
        steps, readouts = runs * sum(run_steps(s) for s in method.schedule), runs * len(method.schedule)
    else:
        steps, readouts = max(run_steps(s) for s in method.schedule), 1
    work.add_training(("cell", *cell), steps, method.augment, shape, batch)
    work.add(("cell-eval", *cell), readouts * readout)


@functools.lru_cache(maxsize=32)
def _saved_counts(path: Path, modified: int) -> tuple[int, ...] | None:
    """Images per class of a saved set.pt, read once per version of the file (every architecture's trial
    asks), or None when it is not a readable set."""
    from gtnbench.data.image_set import load_image_set
    from gtnbench.errors import DataError

    try:
        return tuple(load_image_set(path).per_class())
    except DataError:
        return None


def set_counts_of(config: SuiteConfig, method: SizedSet | GTNSetMethod | NB201Train, sizes: Sizes) -> list[int] | None:
    """Images per class of the set a method makes (a GTN's lesson: T x B in one count) or loads from its
    `checkpoint` (read from the file); None when that is not known before the run (a GTN checkpoint, a
    set file not there yet)."""
    from gtnbench.methods.sets import learned_per_class, set_counts

    if isinstance(method, FileSetMethod):
        from gtnbench.data.set_file import brought_counts

        return brought_counts(Path(method.path))
    if method.checkpoint:
        path = Path(method.checkpoint)
        counts = _saved_counts(path, path.stat().st_mtime_ns) if path.is_file() else None
        return None if counts is None else list(counts)
    if isinstance(method, GTNSetMethod):
        source = config.methods.get(method.gtn or "")
        return [source.inner_steps * source.batch_size] if isinstance(source, GTNMethod) else None
    counts = set_counts(method, config.set_evaluation, sizes.classes)
    return [learned_per_class(counts)] * sizes.classes if isinstance(method, (DMMethod, DCMethod)) else counts


def small_set_work(
    config: SuiteConfig, trial: Trial, method: SizedSet | GTNSetMethod | FileSetMethod, sizes: Sizes, work: TrialWork
) -> None:
    """A small-set trial: its protocol's training on the set (methods/teachers.py evaluate_set: a tuned grid,
    or the reference recipe on the reference learner with its augmentation) and, for the trial that makes
    the set, the making (a coreset's feature learner and embedding of the training split, DM's or DC's
    iterations with the learner they are made with; a random subset, a GTN's lesson or a brought file
    costs next to nothing)."""
    from gtnbench.distill.dc import DCConfig
    from gtnbench.methods.teachers import protocol_settings, protocol_steps, reference_recipe

    learner = _learner_key(method.learner or config.learner)
    shape = sizes.image_shape
    protocol = protocol_of(trial.budget)
    counts = set_counts_of(config, method, sizes)
    if counts is None:
        work.unmodelled = FROM_CHECKPOINT
        return
    size = sum(counts)
    if protocol == "reference":
        recipe = reference_recipe(config, trial.method)
        reference = _learner_key(config.set_evaluation.reference.learner)
        batch, steps = min(recipe.batch_size, size), recipe.steps(size)
        work.add(("plain", reference, shape, batch), steps)
        if recipe.augment != "none":
            work.add(("reference-augment", recipe.augment, recipe.dsa, shape, batch), steps)
        work.add(("eval", reference, shape), sizes.val + sizes.test)
    else:
        settings = protocol_settings(config.set_evaluation, protocol)
        steps = protocol_steps(protocol, settings, size)
        configurations = len(settings.lr) * len(settings.momentum) * len(settings.schedule)
        batch = min(settings.batch_size, size)
        work.add_training(("plain", learner, shape, batch), configurations * steps, settings.augment, shape, batch)
        work.add(("eval", learner, shape), configurations * sizes.val + sizes.test)
    if trial.budget != set_budgets(config, trial.method)[0] or getattr(method, "checkpoint", None):
        return
    maker = _learner_key(method.make_with) if isinstance(method, (DMMethod, DCMethod)) and method.make_with else learner
    if isinstance(method, CoresetMethod):
        work.add(("plain", learner, shape, method.features.batch_size), method.features.steps)
        work.add(("embed", learner, shape), sizes.train)
        work.add(("select", method.selection, learner, shape, sizes.train // sizes.classes, max(counts)), sizes.classes)
    elif isinstance(method, DMMethod):
        work.add(
            ("dm", maker, shape, counts[0], method.real_per_class, tuple(method.dsa), method.init, method.embedding),
            method.iterations,
        )
    elif isinstance(method, DCMethod):
        per_class = counts[0]
        outer, inner = DCConfig(
            images_per_class=per_class, outer_loop=method.outer_loop, inner_loop=method.inner_loop
        ).loops()
        work.add(
            (
                "dc",
                maker,
                shape,
                per_class,
                outer,
                inner,
                method.real_per_class,
                method.batch_train,
                tuple(method.dsa),
                method.init,
            ),
            method.iterations,
        )


def _space(config: SuiteConfig) -> str:
    nas = getattr(config, "nas", None) or getattr(config, "nb201", None)
    return getattr(nas, "space", "nb201")


def _curve_points(steps: int) -> tuple[int, ...]:
    from gtnbench.train import curve_points

    return curve_points(steps)


# -- the plan ----------------------------------------------------------------------------------------
@dataclass
class MethodPlan:
    method: str
    trials: int
    seconds: float  # all its estimated trials
    unmodelled: list[str] = field(default_factory=list)  # trials without an estimate, and why


@dataclass
class Plan:
    methods: list[MethodPlan]
    sizes_from: str
    costs: Costs

    @property
    def seconds(self) -> float:
        return sum(m.seconds for m in self.methods)

    @property
    def complete(self) -> bool:
        return not any(m.unmodelled for m in self.methods)


def works(config: SuiteConfig, trials: list[Trial], sizes: Sizes) -> dict[str, TrialWork]:
    return {trial.id: trial_work(config, trial, sizes) for trial in trials}


def needed_keys(all_work: dict[str, TrialWork]) -> list[Key]:
    return list(dict.fromkeys(key for work in all_work.values() for key in work.units))


def trial_seconds(work: TrialWork, costs: Costs) -> float:
    return sum(count * costs.seconds[key] for key, count in work.units.items())


def make_plan(config: SuiteConfig, trials: list[Trial], sizes: Sizes, sizes_from: str, costs: Costs) -> Plan:
    all_work = works(config, trials, sizes)
    methods: dict[str, MethodPlan] = {}
    for trial in trials:
        entry = methods.setdefault(trial.method, MethodPlan(trial.method, 0, 0.0))
        entry.trials += 1
        work = all_work[trial.id]
        if work.unmodelled:
            entry.unmodelled.append(f"{trial.id}: {work.unmodelled}")
        else:
            entry.seconds += trial_seconds(work, costs)
    return Plan(list(methods.values()), sizes_from, costs)


def budget_estimator(config: SuiteConfig, costs: Costs, sizes: Sizes) -> Callable[[list[Trial]], float]:
    """Estimated seconds of a batch from measured costs (0 for what the model does not know)."""

    def estimate(batch: list[Trial]) -> float:
        return sum(
            0.0 if work.unmodelled else trial_seconds(work, costs)
            for work in (trial_work(config, trial, sizes) for trial in batch)
        )

    return estimate


def recorded_seconds(records: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds a run's finished trials took, per method (a trial's latest record counts: a retried
    trial's earlier failure does not)."""
    latest = {record["trial"]: record for record in records}
    seconds: dict[str, float] = {}
    for record in latest.values():
        if record.get("status") == "ok":
            seconds[record["method"]] = seconds.get(record["method"], 0.0) + float(record.get("seconds") or 0.0)
    return seconds


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as data: estimated seconds per method and in all, on which device, from which sizes."""
    return {
        "format": "gtnbench-plan-1",
        "device": plan.costs.device,
        "device_name": plan.costs.device_name,
        "precision": plan.costs.precision,
        "sizes_from": plan.sizes_from,
        "seconds": plan.seconds,
        "complete": plan.complete,
        "methods": [
            {"method": m.method, "trials": m.trials, "seconds": m.seconds, "unmodelled": m.unmodelled}
            for m in plan.methods
        ],
    }


def rows(plan: Plan) -> Iterator[tuple[str, int, str, str, str]]:
    """Table rows: method, trials, estimate per trial, estimate in all, what is not estimated."""
    for entry in plan.methods:
        modelled = entry.trials - len(entry.unmodelled)
        per_trial = format_seconds(entry.seconds / modelled) if modelled else "–"
        note = (
            f"{len(entry.unmodelled)} not estimated ({entry.unmodelled[0].split(': ', 1)[1]})"
            if entry.unmodelled
            else ""
        )
        yield entry.method, entry.trials, per_trial, format_seconds(entry.seconds), note
