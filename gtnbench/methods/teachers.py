"""Small-set teachers (subset, coreset, DM, DC, a GTN's lesson as a set, a set brought in a file) as suite
methods, all scored by one protocol ([set_evaluation]), one trial per protocol and seed:

- (a) "equal-steps": a learner trains as many steps, in batches as large, as on the GTN's lesson (the
  suite's T and B), the budget ("steps", T);
- (b) "own-recipe": the distillation papers' evaluation tuned, `epochs` passes over the set, the budget
  ("epochs", E);
- (b) "reference": the DC/DM reference evaluation as it is (teachers/reference.py): its ConvNet, its
  epochs, augmentation, weight decay and step decay, nothing tuned; the budget ("reference_epochs", E).

All go through the shared inner loop. (a) and own-recipe tune lr / momentum / schedule on the
validation split (methods/real.py's tuned_training with the set as teacher: every configuration from
the same initial weights, on the same batches), and only the chosen configuration is scored on test.
The trial of the first protocol makes the set (or loads its `checkpoint`, or reads the brought file),
saves it as artifacts/<trial>/set.pt with a picture, and records how it was made, what that cost
(seconds here and FLOPs where torch counts them, on the recorded device) and its label regime; the
others load that file. A NAS proxy taught by a set (`teacher = "set"`) loads it the same way.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path
from typing import Any

from gtnbench.data.image_set import ImageSet, save_image_set
from gtnbench.device import synchronize
from gtnbench.errors import TrialFailed
from gtnbench.methods.base import TrialContext, TrialResult, learner_spec
from gtnbench.methods.real import TunedTraining, tuned_training
from gtnbench.methods.sets import load_set_file, make_image_set
from gtnbench.models.learners import LearnerSpec
from gtnbench.store import artifact_path
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.methods import (
    EqualSteps,
    FileSetMethod,
    GTNSetMethod,
    NB201Train,
    OwnRecipe,
    Reference,
    SetEvaluation,
    SizedSet,
)
from gtnbench.suite.trials import Trial, prerequisites, protocol_of, reference_plan, set_maker
from gtnbench.teachers.fixed_set import FixedSetTeacher, set_targets
from gtnbench.teachers.pictures import save_set_grid
from gtnbench.teachers.reference import ReferenceRecipe, ReferenceSetTeacher

SET_FILE = "set.pt"
GRID_FILE = "set.png"
LOSS_POINTS = 100  # points of a synthesis loss curve kept in the record (set.pt keeps every iteration's)
PROTOCOL_NAMES = {
    "equal-steps": "(a) equal steps",
    "own-recipe": "(b) own recipe, tuned",
    "reference": "(b) reference recipe",
}
REFERENCE_SCHEDULE = "reference"  # the schedule a reference trial records: lr / 10 after half the epochs


def protocol_settings(evaluation: SetEvaluation, protocol: str) -> EqualSteps | OwnRecipe | Reference:
    return {
        "equal-steps": evaluation.equal_steps,
        "own-recipe": evaluation.own_recipe,
        "reference": evaluation.reference,
    }[protocol]


def reference_recipe(config: SuiteConfig, method: str) -> ReferenceRecipe:
    """The reference recipe for the sets of `method` (its epochs and augmentation resolved)."""
    settings, plan = config.set_evaluation.reference, reference_plan(config, method)
    return ReferenceRecipe(
        plan.epochs, plan.augment, plan.dsa, settings.batch_size, settings.lr, settings.momentum, settings.weight_decay
    )


def protocol_steps(protocol: str, settings: EqualSteps | OwnRecipe | ReferenceRecipe, set_size: int) -> int:
    """Training steps: (a) the suite's T; (b) `epochs` passes over the set in batches of
    min(batch_size, set size); reference: its epochs + 1 epochs, the last batch of each smaller."""
    if protocol == "equal-steps":
        return settings.steps
    if protocol == "reference":
        return settings.steps(set_size)
    return math.ceil(settings.epochs * set_size / min(settings.batch_size, set_size))


def protocol_label(protocol: str, settings: EqualSteps | OwnRecipe | ReferenceRecipe, steps: int, batch: int) -> str:
    if protocol == "equal-steps":
        return f"{PROTOCOL_NAMES[protocol]}: {steps} steps x batch {batch}, as on the GTN's lesson"
    if protocol == "reference":
        augment = {
            "dsa": f"DSA ({', '.join(settings.dsa)})",
            "crop-scale-rotate": "crop, scale or rotate",
            "none": "no augmentation",
        }[settings.augment]
        return (
            f"{PROTOCOL_NAMES[protocol]}: {settings.epochs} epochs in batches of {batch} ({steps} steps), "
            f"{augment}, SGD lr {settings.lr:g} / 10 at half, momentum {settings.momentum:g}, weight decay "
            f"{settings.weight_decay:g}"
        )
    return f"{PROTOCOL_NAMES[protocol]}: {settings.epochs} epochs on the set in batches of {batch} ({steps} steps)"


def at_grid_edge(chosen: dict[str, Any], settings: EqualSteps | OwnRecipe) -> bool:
    """True when the chosen lr or momentum is the smallest or largest of a grid of several values."""
    edges = [(chosen["lr"], settings.lr), (chosen["momentum"], settings.momentum)]
    return any(len(values) > 1 and value in (min(values), max(values)) for value, values in edges)


def _reference(image_set: ImageSet, ctx: TrialContext, method: str, seed: int) -> tuple[TunedTraining, dict[str, Any]]:
    """The reference evaluation: a fresh reference learner, the reference recipe, nothing tuned."""
    recipe = reference_recipe(ctx.config, method)
    learner = learner_spec(ctx.config.set_evaluation.reference.learner)
    teacher = ReferenceSetTeacher(image_set.images, set_targets(image_set), recipe)
    steps = teacher.steps()
    result = tuned_training(
        learner,
        ctx.dataset,
        steps,
        recipe.batch_size,
        [(recipe.lr, recipe.momentum, REFERENCE_SCHEDULE)],
        seed,
        ctx.device,
        teacher_for=lambda _: teacher,
    )
    batch = min(recipe.batch_size, len(image_set))
    details = {
        "protocol": "reference",
        "protocol_label": protocol_label("reference", recipe, steps, batch),
        "steps": steps,
        "batch_size": batch,
        "epochs": recipe.epochs,
        "epochs_trained": recipe.epochs + 1,
        "augment": recipe.augment,
        "dsa": list(recipe.dsa),
        "weight_decay": recipe.weight_decay,
        "chosen": result.chosen,
        "tuned_on": None,
        "grid": result.grid,
        "chosen_at_grid_edge": False,
        "bn_eval": learner.protocol(),
        "reference_learner": {"name": learner.name, "widths": learner.widths},
        "protocol_config": ctx.config.set_evaluation.reference.model_dump(mode="json"),
    }
    return result, details


def evaluate_set(
    image_set: ImageSet, learner: LearnerSpec, ctx: TrialContext, protocol: str, seed: int, method: str
) -> tuple[TunedTraining, dict[str, Any]]:
    """A fresh learner trained on the set under `protocol` (the sets of `method`), its grid tuned on
    validation (reference: the reference learner and recipe, nothing tuned); the result and what the
    record says about the protocol."""
    placed = image_set.to(ctx.dataset.device)
    if protocol == "reference":
        return _reference(placed, ctx, method, seed)
    settings = protocol_settings(ctx.config.set_evaluation, protocol)
    steps = protocol_steps(protocol, settings, len(placed))
    grid = list(itertools.product(settings.lr, settings.momentum, settings.schedule))

    def teacher_for(config: tuple[float, float, str]) -> FixedSetTeacher:
        return FixedSetTeacher.from_set(placed, settings.batch_size, *config, augment=settings.augment)

    result = tuned_training(
        learner,
        ctx.dataset,
        steps,
        settings.batch_size,
        grid,
        seed,
        ctx.device,
        settings.augment,
        teacher_for=teacher_for,
    )
    batch = min(settings.batch_size, len(placed))
    details = {
        "protocol": protocol,
        "protocol_label": protocol_label(protocol, settings, steps, batch),
        "steps": steps,
        "batch_size": batch,
        "augment": settings.augment,
        "chosen": result.chosen,
        "tuned_on": "val",
        "grid": result.grid,
        "chosen_at_grid_edge": at_grid_edge(result.chosen, settings),
        "bn_eval": learner.protocol(),
        "protocol_config": settings.model_dump(mode="json"),
    }
    if protocol == "own-recipe":
        details["epochs"] = settings.epochs
    if result.trained_together > 1:
        details["trained_together"] = result.trained_together
    return result, details


def _loss_curve(losses: list[float]) -> list[list[float]]:
    """[iteration, loss] at most LOSS_POINTS times, evenly spaced, the last iteration included."""
    every = max(1, math.ceil(len(losses) / LOSS_POINTS))
    kept = sorted({*range(every - 1, len(losses), every), len(losses) - 1})
    return [[i + 1, losses[i]] for i in kept]


def made_details(image_set: ImageSet) -> dict[str, Any]:
    """How a set was made, for its record: its provenance with the loss curve thinned, and the chosen indices."""
    provenance = dict(image_set.provenance)
    losses = provenance.pop("losses", None)
    if losses:
        provenance.update(loss_curve=_loss_curve(losses), final_loss=losses[-1])
    if image_set.indices is not None:
        provenance["indices"] = image_set.indices.tolist()
    return provenance


def construction_cost(image_set: ImageSet, source: str, seconds: float, device: str) -> dict[str, Any]:
    """What making the set cost, for the making trial's record: seconds and FLOPs on `device` where it was
    made here; a loaded set.pt costs nothing here; a brought file's cost is what the file declares."""
    provenance = image_set.provenance
    if source == "file":
        declared = provenance.get("declared", {})
        return {
            "source": "declared by the file",
            "seconds": declared.get("seconds"),
            "flops": declared.get("flops"),
            "device": declared.get("device"),
        }
    if source == "checkpoint":
        return {"source": "loaded (made before)", "seconds": None, "flops": None, "device": None}
    cost = {
        "source": "made here",
        "seconds": seconds,
        "flops": provenance.get("flops"),
        "device": device,
        "flops_how": provenance.get("flops_how"),
    }
    if image_set.method == "gtn-set":
        cost["note"] = "drawing the lesson only; the GTN's meta-training is its gtn trial's meta_seconds"
    return cost


def _gtn_file(trial: Trial, method: GTNSetMethod, ctx: TrialContext) -> Path:
    if method.gtn_checkpoint:
        return Path(method.gtn_checkpoint)
    source = next(t for t in prerequisites(ctx.config, trial) if t.kind == "gtn")
    path = artifact_path(ctx.run_dir, source.id) / "gtn.pt"
    if not path.is_file():
        raise TrialFailed(f"{path} is missing: {source.id} must finish first, in this run directory")
    return path


def _obtain(
    trial: Trial, method: SizedSet | GTNSetMethod | FileSetMethod, learner: LearnerSpec, ctx: TrialContext
) -> tuple[ImageSet, dict[str, Any], float]:
    """The set of the making trial: loaded from `checkpoint`, read from a brought file, or made; how, and
    the seconds it took."""
    if isinstance(method, FileSetMethod):
        image_set = make_image_set(method, ctx.dataset, learner, trial.seed, ctx.config.set_evaluation)
        return image_set, {"source": "file", "file": method.path, "sha256": image_set.provenance["sha256"]}, 0.0
    if method.checkpoint:
        image_set = load_set_file(Path(method.checkpoint), ctx.dataset, method.kind)
        return image_set, {"source": "checkpoint", "checkpoint": method.checkpoint}, 0.0
    gtn = _gtn_file(trial, method, ctx) if isinstance(method, GTNSetMethod) else None
    synchronize(ctx.device)
    start = time.perf_counter()
    image_set = make_image_set(method, ctx.dataset, learner, trial.seed, ctx.config.set_evaluation, gtn)
    synchronize(ctx.device)
    return image_set, {"source": "made"}, time.perf_counter() - start


def set_file(ctx: TrialContext, method: str, seed: int) -> tuple[Path, Trial]:
    """The set.pt the making trial of `method` saved for `seed` (it must have finished, in this run)."""
    maker = set_maker(ctx.config, method, seed)
    path = artifact_path(ctx.run_dir, maker.id) / SET_FILE
    if not path.is_file():
        raise TrialFailed(f"{path} is missing: {maker.id} must finish first, in this run directory")
    return path, maker


def describe_set(image_set: ImageSet, path: Path, ctx: TrialContext) -> dict[str, Any]:
    inside = path.relative_to(ctx.run_dir) if path.is_relative_to(ctx.run_dir) else path
    return {
        "method": image_set.method,
        "images": len(image_set),
        "per_class": image_set.per_class(),
        "seed": image_set.seed,
        "file": str(inside),
    }


def run_small_set(trial: Trial, method: SizedSet | GTNSetMethod | FileSetMethod, ctx: TrialContext) -> TrialResult:
    """One protocol's score of a small-set teacher; the first protocol's trial also makes and saves the set,
    and records its construction cost."""
    learner = learner_spec(method.learner) if method.learner else ctx.learner_spec
    maker = set_maker(ctx.config, trial.method, trial.seed)
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {
        "kind": method.kind,
        "learner": {"name": learner.name, "widths": learner.widths, "seed": trial.seed},
    }
    if trial == maker:
        image_set, source, seconds = _obtain(trial, method, learner, ctx)
        artifacts = ctx.artifact_dir()
        path = save_image_set(image_set, artifacts / SET_FILE)
        save_set_grid(image_set, artifacts / GRID_FILE, f"{trial.method}, seed {trial.seed} ({ctx.dataset.label})")
        cost = construction_cost(image_set, source["source"], seconds, ctx.device)
        details.update(
            samples=str((artifacts / GRID_FILE).relative_to(ctx.run_dir)),
            made=made_details(image_set),
            set_config=method.model_dump(mode="json"),
            cost=cost,
            **source,
        )
        metrics["make_seconds"] = seconds
        if source["source"] == "made" and cost["flops"] is not None:
            metrics["make_flops"] = float(cost["flops"])
    else:
        path, _ = set_file(ctx, trial.method, trial.seed)
        image_set = load_set_file(path, ctx.dataset, method.kind)
    details["set"] = {**describe_set(image_set, path, ctx), "made_by": maker.id, "labels": image_set.label_regime}
    result, protocol = evaluate_set(image_set, learner, ctx, protocol_of(trial.budget), trial.seed, trial.method)
    details.update(protocol)
    metrics.update(val_acc=result.val_acc, test_acc=result.test_acc, train_seconds=result.seconds)
    return TrialResult(metrics, details)


def proxy_set(trial: Trial, method: NB201Train, ctx: TrialContext) -> tuple[ImageSet, dict[str, Any]] | None:
    """The set a NAS proxy with `teacher = "set"` trains on (its `checkpoint`, or the set this run's `set`
    method made with the same seed) and what its records say about it; None for other teachers."""
    if method.teacher != "set":
        return None
    if method.checkpoint:
        path, made_by = Path(method.checkpoint), None
    else:
        path, maker = set_file(ctx, method.set, trial.seed)
        made_by = maker.id
    image_set = load_set_file(path, ctx.dataset)
    return image_set, {**describe_set(image_set, path, ctx), "made_by": made_by}
