"""Per-unit costs measured on a device, at a suite's own sizes (`gtnbench plan` prices a suite with them;
`--save-costs` keeps them and `--costs` reuses them, so that a plan for a GPU can be made anywhere from costs
measured on it once): a plain training step of a learner, a plain step on a GTN's lesson (generation
included), one inner step of a differentiable outer iteration (measured at min(T, 4) inner steps, so per
step), a search-space network's training step (the mean over sampled architectures), a generated step of a
GTN teaching a NAS proxy, an augmented batch, an evaluated image, a training-free scoring, one DM or DC
iteration, a coreset's embedding of an image and its selection in a class. Each is a warm-up call, then a
timed one; `describe_unit` says what a unit is in words."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gtnbench.device import synchronize
from gtnbench.errors import GtnbenchError

COSTS_FORMAT = "gtnbench-costs-1"
CALIBRATION_STEPS = 4  # inner steps of a calibrated outer iteration and of a calibrated plain run
CALIBRATION_CELLS = 2  # search-space networks whose step cost is averaged

Key = tuple  # a unit of work: (what, its sizes...), JSON-able


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
    from gtnbench.meta import MetaConfig, MetaTrainer, frozen
    from gtnbench.models.generator import GeneratorSpec
    from gtnbench.models.learners import build_learner
    from gtnbench.perf.hotpaths import fixed_lesson, random_dataset
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
        meta_batch, block, step_loss = (
            (key[4], min(key[5], steps), min(key[6], steps)) if what == "outer" else (1, 0, 0)
        )
        generator = GeneratorSpec(shape, 10, noise, hidden, tuple(channels), weight_norm)
        data = random_dataset(shape, max(meta_batch, batch), device)
        trainer = MetaTrainer(
            GTNSpec(steps, batch, curriculum),
            generator,
            MetaConfig(meta_batch_size=meta_batch, block_size=block, step_loss_every=step_loss),
            _learner_spec(learner_key),
            data,
            0,
            device,
        )
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
    from gtnbench.perf.hotpaths import random_dataset
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
    gtn = GTN(
        GTNSpec(steps, batch, curriculum),
        GeneratorSpec(shape, 10, noise, hidden, tuple(channels), weight_norm),
        0,
        device,
    )
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
    from gtnbench.perf.hotpaths import random_dataset

    what, learner, shape, per_class, *rest = key
    if what == "dm":
        real_per_class, dsa, init, embedding = rest
        config = DMConfig(per_class, 1, real_per_class=real_per_class, init=init, dsa=tuple(dsa), embedding=embedding)
        matcher_type = DistributionMatching
    else:
        outer, inner, real_per_class, batch_train, dsa, init = rest
        config = DCConfig(
            per_class,
            1,
            outer,
            inner,
            real_per_class=real_per_class,
            batch_train=batch_train,
            init=init,
            dsa=tuple(dsa),
        )
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
        return {
            "format": COSTS_FORMAT,
            "device": self.device,
            "device_name": self.device_name,
            "precision": self.precision,
            "date": time.strftime("%Y-%m-%d"),
            "costs": [{"key": _jsonable(k), "seconds_per_unit": v} for k, v in self.seconds.items()],
        }


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
        raise GtnbenchError(
            f"{path}: not a gtnbench costs file (expected format {COSTS_FORMAT}; "
            "write one with `gtnbench plan SUITE --save-costs FILE`)"
        )
    seconds = {_hashable(row["key"]): float(row["seconds_per_unit"]) for row in payload.get("costs", [])}
    return Costs(payload.get("device", "?"), payload.get("device_name", "?"), payload.get("precision"), seconds)


def calibrate(
    keys: list[Key],
    device: str,
    known: Costs | None = None,
    log: Callable[[str], None] = lambda message: None,
    measured: Callable[[Costs], None] = lambda costs: None,
) -> Costs:
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
            log(
                f"measured {what}: {costs.seconds[key] * 1000:.3f} ms per {unit} "
                f"({time.perf_counter() - start:.1f} s to measure)"
            )
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
    return (
        f"a GTN (batch {batch}, noise {noise}, hidden {hidden}, channels {channels}, {curriculum} curriculum"
        + ("" if weight_norm else ", no weight norm")
        + ")"
    )


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
            f", a step loss every {key[6]} steps" if key[6] else ""
        )
        return (
            f"an inner step of meta-training {_generator_text(key[1])} with the {_learner_text(key[2])}, "
            f"meta-batch {key[4]}{extra}"
        ), "inner step"
    if what == "augment":
        return f"cropping and flipping a batch of {key[2]} {_shape_text(key[1])}", "batch"
    if what in ("cell", "cell-eval", "free"):
        from gtnbench.nas.spaces import get_space

        space, widths, batch, shape, bn_eval = key[1:6]
        network = f"{get_space(space).title} network ({', '.join(f'{k}={v}' for k, v in widths)}, batch norm {bn_eval})"
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
        return (
            f"a {what.upper()} iteration at {key[3]} images per class with the {_learner_text(key[1])} on "
            f"{_shape_text(key[2])}"
        ), "iteration"
    return f"{what} {' '.join(str(part) for part in _jsonable(key[1:]))}", "unit"
