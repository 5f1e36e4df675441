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
import json
import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gtnbench.bounds import SPLIT_SIZES
from gtnbench.device import synchronize
from gtnbench.errors import GtnbenchError
from gtnbench.suite import (
    CALIBRATE,
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
    SuiteConfig,
    Trial,
    protocol_of,
    set_budgets,
)

COSTS_FORMAT = "gtnbench-costs-1"
IMAGE_SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "cifar10-jpeg": (3, 32, 32)}
CALIBRATION_STEPS = 4  # inner steps of a calibrated outer iteration and of a calibrated plain run
CALIBRATION_CELLS = 2  # search-space networks whose step cost is averaged
LEFT_OUT = "data loading, sample grids, transfer learners, saving sets and pictures"

Key = tuple  # a unit of work: (what, its sizes...), JSON-able


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
    return Sizes(train, val, test, IMAGE_SHAPES[config.dataset]), f"standard {config.dataset} split sizes (no data loaded)"


def _learner_key(learner: Any) -> tuple:
    """A learner configuration (suite.LearnerConfig) as part of a key."""
    return (learner.name, tuple(learner.widths or ()), bool(learner.weight_norm), bool(learner.randomize_widths),
            getattr(learner, "arch", None), getattr(learner, "bn_eval", None))  # fmt: skip


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
        work.add_training(("plain", learner, shape, method.batch_size), configurations * steps, method.augment, shape,
                          method.batch_size)  # fmt: skip
        readouts = len(_curve_points(steps)) + steps * method.batch_size // sizes.train if method.curve else 0
        work.add(("eval", learner, shape), configurations * (sizes.val + readouts * (sizes.val + sizes.test))
                 + sizes.test)  # fmt: skip
    elif trial.kind == "gtn" and isinstance(method, GTNMethod):
        meta = _learner_key(method.learner) if method.learner else learner
        generator, T = _generator_key(method), method.inner_steps
        lesson_step = ("gtn-plain", generator, meta, shape)
        evaluations = 2 * method.eval_learners + 1  # final, untrained, the curve's learner
        if not method.checkpoint:
            work.add(("outer", generator, meta, shape, method.meta_batch_size, method.block_size,
                      method.step_loss_every), method.outer_iterations * T)  # fmt: skip
            if method.augment:  # the meta-batch and each step loss's fresh batch
                every = method.step_loss_every
                losses = 1 + (len(range(every, T, every)) if every else 0)
                work.add(("augment", shape, method.meta_batch_size), method.outer_iterations * losses)
            validations = (method.outer_iterations // method.validate_every + 1) * method.validation_learners
            evaluations += validations
        work.add(lesson_step, evaluations * T)
        work.add(("eval", meta, shape), evaluations * (sizes.val + sizes.test)
                 + len(_curve_points(T)) * (sizes.val + sizes.test))  # fmt: skip
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


def set_counts_of(config: SuiteConfig, method: SizedSet | GTNSetMethod | NB201Train,
                  sizes: Sizes) -> list[int] | None:  # fmt: skip
    """Images per class of the set a method makes (a GTN's lesson: T x B in one count) or loads from its
    `checkpoint` (read from the file); None when that is not known before the run (a GTN checkpoint, a
    set file not there yet)."""
    from gtnbench.methods.sets import learned_per_class, set_counts

    if isinstance(method, FileSetMethod):
        from gtnbench.set_file import brought_counts

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


def small_set_work(config: SuiteConfig, trial: Trial, method: SizedSet | GTNSetMethod | FileSetMethod, sizes: Sizes,
                   work: TrialWork) -> None:  # fmt: skip
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
        work.add(("select", method.selection, learner, shape, sizes.train // sizes.classes, max(counts)),
                  sizes.classes)  # fmt: skip
    elif isinstance(method, DMMethod):
        work.add(("dm", maker, shape, counts[0], method.real_per_class, tuple(method.dsa), method.init,
                  method.embedding), method.iterations)  # fmt: skip
    elif isinstance(method, DCMethod):
        per_class = counts[0]
        outer, inner = DCConfig(images_per_class=per_class, outer_loop=method.outer_loop,
                                inner_loop=method.inner_loop).loops()  # fmt: skip
        work.add(("dc", maker, shape, per_class, outer, inner, method.real_per_class, method.batch_train,
                  tuple(method.dsa), method.init), method.iterations)  # fmt: skip


def _space(config: SuiteConfig) -> str:
    nas = getattr(config, "nas", None) or getattr(config, "nb201", None)
    return getattr(nas, "space", "nb201")


def _curve_points(steps: int) -> tuple[int, ...]:
    from gtnbench.train import curve_points

    return curve_points(steps)


# -- calibration -------------------------------------------------------------------------------------
def _timed(fn: Callable[[], object], device: str) -> float:
    fn()  # warm-up: allocator, autotuning, lazy initialisation
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def _learner_spec(key: tuple):
    from gtnbench.models.learners import LearnerSpec

    name, widths, weight_norm, randomize, arch, bn_eval = key
    return LearnerSpec(name, tuple(widths) or None, weight_norm, randomize, arch, bn_eval)


def measure(key: Key, device: str) -> float:
    """Seconds per unit of `key` on `device`, measured now."""
    from gtnbench.bench import fixed_lesson
    from gtnbench.hotpaths import random_dataset
    from gtnbench.meta import MetaConfig, MetaTrainer, frozen
    from gtnbench.models.generator import GeneratorSpec
    from gtnbench.models.learners import build_learner
    from gtnbench.teachers.gtn import GTNSpec
    from gtnbench.train import LearnerState, accuracy, initial_params, train

    what = key[0]
    if what in ("plain", "eval"):
        shape, batch = tuple(key[2]), key[3] if what == "plain" else 256
        learner = build_learner(_learner_spec(key[1]), shape, 10, 0, device)
        data = random_dataset(shape, batch, device)
        if what == "plain":
            lesson = fixed_lesson(data.train.x, data.train.y, CALIBRATION_STEPS)
            return _timed(lambda: train(learner, initial_params(learner), lesson), device) / CALIBRATION_STEPS
        state = LearnerState(initial_params(learner))
        return _timed(lambda: accuracy(learner, state, data.train.x, data.train.y), device) / batch
    if what in ("gtn-plain", "outer"):
        (batch, noise, hidden, channels, curriculum, weight_norm), learner_key, shape = key[1], key[2], tuple(key[3])
        steps = CALIBRATION_STEPS
        meta_batch, block, step_loss = (key[4], min(key[5], steps), min(key[6], steps)) if what == "outer" else (1, 0, 0)
        generator = GeneratorSpec(shape, 10, noise, hidden, tuple(channels), weight_norm)
        data = random_dataset(shape, max(meta_batch, batch), device)
        trainer = MetaTrainer(GTNSpec(steps, batch, curriculum), generator,
                              MetaConfig(meta_batch_size=meta_batch, block_size=block, step_loss_every=step_loss),
                              _learner_spec(learner_key), data, 0, device)  # fmt: skip
        if what == "outer":
            def iteration() -> None:
                trainer.optimizer.zero_grad(set_to_none=True)
                trainer.meta_gradient(0)
                trainer.optimizer.step()

            return _timed(iteration, device) / steps
        learner = build_learner(_learner_spec(learner_key), shape, 10, 0, device)
        rng = torch.Generator(device).manual_seed(0)

        def lesson_run() -> None:
            with frozen(trainer.gtn):
                train(learner, initial_params(learner), trainer.gtn.lesson(steps, rng))

        return _timed(lesson_run, device) / steps
    if what in ("cell", "cell-eval", "free"):
        from gtnbench.nas.proxies import build_network
        from gtnbench.nas.spaces import get_space
        from gtnbench.nas.training_free import naswot_score, synflow_score

        space, widths, batch, shape, bn_eval = get_space(key[1]), dict(key[2]), key[3], tuple(key[4]), key[5]
        data = random_dataset(shape, batch, device)
        costs = []
        for arch in space.sample(CALIBRATION_CELLS, 0):
            net = build_network(space, arch, widths, data, 0, device, bn_eval)
            if what == "cell":
                lesson = fixed_lesson(data.train.x, data.train.y, CALIBRATION_STEPS)
                costs.append(_timed(lambda: train(net, initial_params(net), lesson), device) / CALIBRATION_STEPS)
            elif what == "cell-eval":
                state = LearnerState(initial_params(net))
                costs.append(_timed(lambda: accuracy(net, state, data.train.x, data.train.y), device) / batch)
            else:
                costs.append(_timed(lambda: (naswot_score(net, data.train.x), synflow_score(net, shape)), device))
        return statistics.fmean(costs)
    if what == "augment":
        from gtnbench.teachers.real import RealDataTeacher

        shape, batch = tuple(key[1]), key[2]
        data = random_dataset(shape, batch, device)
        teacher = RealDataTeacher(data.train, batch, 0.1, 0.9, augment=True)
        rng = torch.Generator(device).manual_seed(0)

        def draw() -> None:
            lesson = teacher.lesson(CALIBRATION_STEPS, rng)
            for t in range(CALIBRATION_STEPS):
                lesson.batch(t)

        return _timed(draw, device) / CALIBRATION_STEPS
    if what == "generate":
        return _generation(key, device)
    if what in ("embed", "select"):
        return _coreset_unit(key, device)
    if what in ("dm", "dc"):
        return _set_iteration(key, device)
    if what == "reference-augment":
        return _reference_augmentation(key, device)
    raise ValueError(f"unknown unit of work {what!r}")


def _reference_augmentation(key: Key, device: str) -> float:
    """Seconds per batch of the reference recipe's augmentation (DSA or crop-scale-rotate)."""
    from gtnbench.hotpaths import random_dataset
    from gtnbench.teachers.reference import ReferenceRecipe, ReferenceSetTeacher

    _, augment, dsa, shape, batch = key
    data = random_dataset(tuple(shape), batch, device)
    recipe = ReferenceRecipe(CALIBRATION_STEPS - 1, augment, tuple(dsa), batch_size=batch)
    teacher = ReferenceSetTeacher(data.train.x, data.train.y, recipe)
    rng = torch.Generator(device).manual_seed(0)

    def draw() -> None:
        lesson = teacher.lesson(teacher.steps(), rng)
        for t in range(lesson.steps):
            lesson.batch(t)

    return _timed(draw, device) / teacher.steps()


def _generation(key: Key, device: str) -> float:
    """Seconds per step of generating a GTN's lesson (no gradient), as a NAS proxy taught by it does."""
    from gtnbench.models.generator import GeneratorSpec
    from gtnbench.teachers.gtn import GTN, GTNSpec

    (batch, noise, hidden, channels, curriculum, weight_norm), shape = key[1], tuple(key[2])
    steps = CALIBRATION_STEPS
    gtn = GTN(GTNSpec(steps, batch, curriculum), GeneratorSpec(shape, 10, noise, hidden, tuple(channels), weight_norm),
              0, device)  # fmt: skip
    rng = torch.Generator(device).manual_seed(0)

    @torch.no_grad()
    def generate() -> None:
        lesson = gtn.lesson(steps, rng)
        lesson.batches(0, steps)

    return _timed(generate, device) / steps


def _coreset_unit(key: Key, device: str) -> float:
    """Seconds per training image of a coreset's embedding, or per class of its selection."""
    from gtnbench.distill.coreset import herding_order, kmeans_representatives
    from gtnbench.distill.network import FEATURE_CHUNK, features_of, fresh_network

    if key[0] == "embed":
        learner, shape = _learner_spec(key[1]), tuple(key[2])
    else:
        selection, learner, shape, class_size, count = key[1], _learner_spec(key[2]), tuple(key[3]), key[4], key[5]
    network, params = fresh_network(learner, shape, 10, 0, device)
    if key[0] == "embed":
        x = torch.randn(FEATURE_CHUNK, *shape, device=device)
        return _timed(lambda: features_of(network, params, x), device) / FEATURE_CHUNK
    dim = features_of(network, params, torch.randn(2, *shape, device=device)).shape[1]
    points = torch.randn(class_size, dim, generator=torch.Generator().manual_seed(0))  # selection runs on the CPU
    if selection == "herding":
        return _timed(lambda: herding_order(points, count), device)
    return _timed(lambda: kmeans_representatives(points, count, 0), device)


def _set_iteration(key: Key, device: str) -> float:
    """Seconds of one DM or DC iteration at the key's sizes, on random images with enough of every class."""
    from gtnbench.distill.dc import DCConfig, GradientMatching
    from gtnbench.distill.dm import DistributionMatching, DMConfig
    from gtnbench.hotpaths import random_dataset

    what, learner, shape, per_class, *rest = key
    if what == "dm":
        real_per_class, dsa, init, embedding = rest
        config = DMConfig(per_class, 1, real_per_class=real_per_class, init=init, dsa=tuple(dsa), embedding=embedding)
        matcher_type = DistributionMatching
    else:
        outer, inner, real_per_class, batch_train, dsa, init = rest
        config = DCConfig(per_class, 1, outer, inner, real_per_class=real_per_class, batch_train=batch_train,
                          init=init, dsa=tuple(dsa))  # fmt: skip
        matcher_type = GradientMatching
    data = random_dataset(tuple(shape), 20 * max(per_class, real_per_class), device)
    matcher = matcher_type(data, _learner_spec(learner), config, 0)
    if what == "dm":
        return _timed(matcher.step, device)
    # A DC iteration is `outer` image updates with `inner` epochs of network training between them: timed
    # apart (one of each) and composed, as a whole iteration can take minutes.
    network, params = matcher.fresh_network()
    update = _timed(lambda: matcher.update_images(network, params), device)
    epoch = _timed(lambda: matcher.train_network(network, params, 1), device)
    return outer * update + (outer - 1) * inner * epoch


@dataclass
class Costs:
    """Measured seconds per unit, on one device."""

    device: str
    device_name: str
    precision: dict[str, Any] | str | None
    seconds: dict[Key, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": COSTS_FORMAT, "device": self.device, "device_name": self.device_name,
                "precision": self.precision, "date": time.strftime("%Y-%m-%d"),
                "costs": [{"key": _jsonable(k), "seconds_per_unit": v} for k, v in self.seconds.items()]}  # fmt: skip


def _jsonable(value: Any) -> Any:
    return [_jsonable(v) for v in value] if isinstance(value, (tuple, list)) else value


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, (tuple, list)) else value


def save_costs(costs: Costs, path: Path) -> None:
    from gtnbench.store import save_json

    save_json(path, costs.to_json())


def load_costs(path: Path) -> Costs:
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise GtnbenchError(f"{path}: not a readable costs file ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != COSTS_FORMAT:
        raise GtnbenchError(f"{path}: not a gtnbench costs file (expected format {COSTS_FORMAT}; "
                            "write one with `gtnbench plan SUITE --save-costs FILE`)")  # fmt: skip
    seconds = {_hashable(row["key"]): float(row["seconds_per_unit"]) for row in payload.get("costs", [])}
    return Costs(payload.get("device", "?"), payload.get("device_name", "?"), payload.get("precision"), seconds)


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


def calibrate(keys: list[Key], device: str, known: Costs | None = None,
              log: Callable[[str], None] = lambda message: None,
              measured: Callable[[Costs], None] = lambda costs: None) -> Costs:  # fmt: skip
    """Measure every key `known` does not hold yet (each a warm-up and a timed call); `measured` is
    called after each one (to save what an interruption would otherwise lose)."""
    from gtnbench.device import precision_settings
    from gtnbench.environment import device_name

    costs = known or Costs(device, device_name(device), precision_settings())
    for key in keys:
        if key not in costs.seconds:
            start = time.perf_counter()
            costs.seconds[key] = measure(key, device)
            what, unit = describe_unit(key)
            log(f"measured {what}: {costs.seconds[key] * 1000:.3f} ms per {unit} "
                f"({time.perf_counter() - start:.1f} s to measure)")  # fmt: skip
            measured(costs)
    return costs


def _learner_text(key: Any) -> str:
    """A learner key (_learner_key) in words: 'mnist-paper learner (widths 16-32-64, no weight norm)'."""
    name, widths, weight_norm, randomize, arch, bn_eval = key
    notes = [f"widths {'-'.join(str(w) for w in widths)}" if widths else "paper widths"]
    notes += [] if weight_norm else ["no weight norm"]
    notes += ["random widths"] if randomize else []
    notes += [f"arch {arch}"] if arch else []
    notes += [f"batch norm {bn_eval}"] if bn_eval else []
    return f"{name} learner ({', '.join(notes)})"


def _shape_text(shape: Any) -> str:
    return "x".join(str(n) for n in shape) + " images"


def _generator_text(key: Any) -> str:
    batch, noise, hidden, channels, curriculum, weight_norm = key
    channels = "-".join(str(c) for c in channels)
    return (f"a GTN (batch {batch}, noise {noise}, hidden {hidden}, channels {channels}, {curriculum} curriculum"
            + ("" if weight_norm else ", no weight norm") + ")")


def describe_unit(key: Key) -> tuple[str, str]:
    """A unit of work in words, and what one unit is (for `plan`'s calibration lines)."""
    what = key[0]
    if what == "plain":
        return f"a training step of the {_learner_text(key[1])}, batch {key[3]} of {_shape_text(key[2])}", "step"
    if what == "eval":
        return f"evaluating the {_learner_text(key[1])} on {_shape_text(key[2])}", "image"
    if what == "gtn-plain":
        return f"a step of the {_learner_text(key[2])} on the lesson of {_generator_text(key[1])}", "step"
    if what == "outer":
        extra = (f", checkpointed in blocks of {key[5]}" if key[5] else "") + (
            f", a step loss every {key[6]} steps" if key[6] else "")
        return (f"an inner step of meta-training {_generator_text(key[1])} with the {_learner_text(key[2])}, "
                f"meta-batch {key[4]}{extra}"), "inner step"  # fmt: skip
    if what == "augment":
        return f"cropping and flipping a batch of {key[2]} {_shape_text(key[1])}", "batch"
    if what in ("cell", "cell-eval", "free"):
        from gtnbench.nas.spaces import get_space

        space, widths, batch, shape, bn_eval = key[1:6]
        network = (f"{get_space(space).title} network ({', '.join(f'{k}={v}' for k, v in widths)}, "
                   f"batch norm {bn_eval})")  # fmt: skip
        if what == "cell":
            return f"a training step of a {network}, batch {batch} of {_shape_text(shape)}", "step"
        if what == "cell-eval":
            return f"evaluating a {network} on {_shape_text(shape)}", "image"
        return f"the training-free scores (NASWOT, synflow) of a {network}", "network"
    if what == "generate":
        return f"generating a step of the lesson of {_generator_text(key[1])}", "step"
    if what == "embed":
        return f"embedding {_shape_text(key[2])} in the features of the {_learner_text(key[1])}", "image"
    if what == "select":
        method = "k-means" if key[1] == "kmeans" else key[1]
        return f"{method} selection of {key[5]} of {key[4]} images of one class", "class"
    if what == "reference-augment":
        return f"the reference recipe's {key[1]} augmentation of a batch of {key[4]} {_shape_text(key[3])}", "batch"
    if what in ("dm", "dc"):
        return (f"a {what.upper()} iteration at {key[3]} images per class with the {_learner_text(key[1])} on "
                f"{_shape_text(key[2])}"), "iteration"  # fmt: skip
    return f"{what} {' '.join(str(part) for part in _jsonable(key[1:]))}", "unit"


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


def parse_duration(text: str) -> float:
    """Seconds of '90', '90s', '10m', '1.5h', '1h30m'."""
    units = {"s": 1, "m": 60, "h": 3600}
    total, number = 0.0, ""
    try:
        for char in text.strip().lower():
            if char.isdigit() or char == ".":
                number += char
            elif char in units and number:
                total, number = total + float(number) * units[char], ""
            else:
                raise ValueError(char)
        total += float(number) if number else 0.0
    except ValueError:
        raise GtnbenchError(f"--budget {text!r}: expected a duration such as 600, 90s, 10m, 1.5h or 1h30m") from None
    if total <= 0:
        raise GtnbenchError(f"--budget {text!r}: must be more than 0")
    return total


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class Budget:
    """Admits a run's next batch of trials only while it fits: the time left must cover the batch's
    expected time (the mean of what such trials took in this run so far, else the plan's estimate,
    else nothing). Once a batch is refused, nothing more is admitted, and `stopped` says why."""

    def __init__(self, seconds: float, estimate: Callable[[list[Trial]], float] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.seconds, self.estimate, self.clock = seconds, estimate, clock
        self.started = clock()
        self.stopped: str | None = None
        self._taken: dict[tuple, list[float]] = {}

    @staticmethod
    def _kind(trial: Trial) -> tuple:
        return trial.method, trial.kind, trial.budget

    def expected(self, batch: list[Trial]) -> float:
        total = 0.0
        for trial in batch:
            taken = self._taken.get(self._kind(trial))
            if taken:
                total += statistics.fmean(taken)
            elif self.estimate is not None:
                total += self.estimate([trial])
        return total

    def left(self) -> float:
        return self.seconds - (self.clock() - self.started)

    def admit(self, batch: list[Trial]) -> bool:
        if self.stopped is not None:
            return False
        left, need = self.left(), self.expected(batch)
        if left <= 0:
            self.stopped = f"the budget of {format_seconds(self.seconds)} is spent"
        elif need > left:
            self.stopped = (f"the next trial, {batch[0].id}, would need about {format_seconds(need)} and "
                            f"{format_seconds(left)} are left")  # fmt: skip
        return self.stopped is None

    def took(self, records: list[dict[str, Any]]) -> None:
        """Learn from finished records (their `seconds` is the time per trial of their batch)."""
        for record in records:
            kind = (record["method"], record["kind"], tuple(tuple(p) for p in sorted(record["budget"].items())))
            self._taken.setdefault(kind, []).append(float(record.get("seconds") or 0.0))


def budget_estimator(config: SuiteConfig, costs: Costs, sizes: Sizes) -> Callable[[list[Trial]], float]:
    """Estimated seconds of a batch from measured costs (0 for what the model does not know)."""

    def estimate(batch: list[Trial]) -> float:
        return sum(0.0 if work.unmodelled else trial_seconds(work, costs)
                   for work in (trial_work(config, trial, sizes) for trial in batch))  # fmt: skip

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
    return {"format": "gtnbench-plan-1", "device": plan.costs.device, "device_name": plan.costs.device_name,
            "precision": plan.costs.precision, "sizes_from": plan.sizes_from, "seconds": plan.seconds,
            "complete": plan.complete,
            "methods": [{"method": m.method, "trials": m.trials, "seconds": m.seconds, "unmodelled": m.unmodelled}
                        for m in plan.methods]}  # fmt: skip


def rows(plan: Plan) -> Iterator[tuple[str, int, str, str, str]]:
    """Table rows: method, trials, estimate per trial, estimate in all, what is not estimated."""
    for entry in plan.methods:
        modelled = entry.trials - len(entry.unmodelled)
        per_trial = format_seconds(entry.seconds / modelled) if modelled else "–"
        note = f"{len(entry.unmodelled)} not estimated ({entry.unmodelled[0].split(': ', 1)[1]})" if entry.unmodelled else ""
        yield entry.method, entry.trials, per_trial, format_seconds(entry.seconds), note
