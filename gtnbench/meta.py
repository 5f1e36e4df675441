"""GTN meta-training: the outer loop around the shared, differentiable inner loop.

Each outer iteration trains a freshly initialised learner for T steps on the GTN's lesson
(keeping the graph), scores it on a real training batch, and takes one Adam step on the
generator, the curriculum and the per-step learning rates and momenta: the exact
second-order meta-gradient through all T steps. Checkpoints hold everything needed to
continue bit-for-bit (on the CPU); divergence ends the run with a reason instead of a result.
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from gtnbench.data.augment import random_crop_flip
from gtnbench.data.datasets import ImageDataset
from gtnbench.device import synchronize
from gtnbench.errors import GtnbenchError, TrialFailed
from gtnbench.models.generator import GeneratorSpec
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.seeds import role_seed
from gtnbench.teachers.gtn import GTN, GTNSpec
from gtnbench.train import (
    LearnerState,
    accuracy,
    backpropagate_through_training,
    curve_points,
    initial_params,
    loss_on,
    step_loss_points,
    train,
)

CHECKPOINT_FORMAT = "gtnbench-gtn-2"


@dataclass(frozen=True)
class MetaConfig:
    outer_iterations: int = 2000
    outer_lr: float = 0.02
    adam_betas: tuple[float, float] = (0.9, 0.999)
    final_lr_fraction: float = 0.1  # cosine decay of the outer lr down to this fraction
    meta_batch_size: int = 128
    step_loss_every: int = 0  # also add real-data losses after steps k, 2k, ... below T (0: final loss only)
    block_size: int = 0  # gradient checkpointing: steps per recomputed block (0: store everything)
    augment: bool = False  # random crop + flip of the real meta-training batches
    grad_clip: float = 0.0  # max global norm of the meta-gradient (0: no clipping)
    validate_every: int = 100
    checkpoint_every: int = 100
    collapse_fraction: float = 0.5  # fail when validation accuracy falls below this fraction of its best
    validation_learners: int = 1  # fresh learners averaged at each validation (C3a reads their mean)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MetaState:
    """What a checkpoint holds besides the tensors: progress and history."""

    iteration: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # one entry per validation
    losses: list[float] = field(default_factory=list)  # meta-loss of every iteration
    seconds: float = 0.0  # meta-training wall time so far (validation excluded)
    validation_seconds: float = 0.0  # meta-validation wall time so far (part of what meta-training costs)
    best_val: float = 0.0
    resumed_at: list[int] = field(default_factory=list)  # iterations at which a checkpoint was restored


def cosine_factor(iteration: int, total: int, final_fraction: float) -> float:
    return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * iteration / max(1, total)))


def peak_memory_mb(device: str) -> float:
    """Peak device memory (CUDA) or peak resident set size of the process (CPU), in MiB."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Evaluation:
    val_acc: float  # mean over the learners
    test_acc: float
    seconds: list[float]  # training time of each learner (synchronised wall clock)


class frozen:
    """Plain training on a GTN: no graph into the teacher's parameters while it teaches."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def __enter__(self) -> None:
        self.flags = [p.requires_grad for p in self.module.parameters()]
        for p in self.module.parameters():
            p.requires_grad_(False)

    def __exit__(self, *exc: object) -> None:
        for p, flag in zip(self.module.parameters(), self.flags):
            p.requires_grad_(flag)


def evaluate_teacher(
    gtn: GTN,
    learner_spec: LearnerSpec,
    dataset: ImageDataset,
    seeds: list[int],
    device: str,
    steps: int | None = None,
    test: bool = True,
) -> Evaluation:
    """Train one fresh learner per seed for `steps` (default T) on the GTN; mean val and (unless not asked,
    as in meta-validation) test accuracy."""
    steps = steps or gtn.spec.inner_steps
    vals, tests, seconds = [], [], []
    with frozen(gtn):
        for seed in seeds:
            learner = build_learner(learner_spec, dataset.image_shape, dataset.num_classes, seed, device)
            lesson = gtn.lesson(steps, torch.Generator(device=device).manual_seed(seed))
            synchronize(device)
            start = time.perf_counter()
            outcome = train(learner, initial_params(learner), lesson)
            synchronize(device)
            seconds.append(time.perf_counter() - start)
            vals.append(accuracy(learner, outcome.state, dataset.val.x, dataset.val.y))
            if test:
                tests.append(accuracy(learner, outcome.state, dataset.test.x, dataset.test.y))
    test_acc = torch.stack(tests).mean().item() if tests else math.nan
    return Evaluation(torch.stack(vals).mean().item(), test_acc, seconds)


def teacher_curve(
    gtn: GTN, learner_spec: LearnerSpec, dataset: ImageDataset, seed: int, device: str, steps: int | None = None
) -> list[dict[str, float]]:
    """Test accuracy of one learner after 1, 2, 4, ... and `steps` inner steps on the GTN (a curve to plot;
    nothing is chosen on it)."""
    steps = steps or gtn.spec.inner_steps
    learner = build_learner(learner_spec, dataset.image_shape, dataset.num_classes, seed, device)

    def observe(t: int, state: LearnerState) -> torch.Tensor:
        return accuracy(learner, state, dataset.test.x, dataset.test.y)

    with frozen(gtn):
        lesson = gtn.lesson(steps, torch.Generator(device=device).manual_seed(seed))
        outcome = train(learner, initial_params(learner), lesson, observe=observe, observe_at=curve_points(steps))
    return [{"step": t, "test_acc": acc.item()} for t, acc in sorted(outcome.observed.items())]


def _real_batch(
    dataset: ImageDataset, size: int, rng: torch.Generator, augment: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.randint(0, len(dataset.train), (size,), generator=rng, device=dataset.device)
    x = dataset.train.x[idx]
    return (random_crop_flip(x, rng) if augment else x), dataset.train.y[idx]


class MetaTrainer:
    """Meta-trains one GTN; `run()` resumes from `checkpoint_path` when a checkpoint is there."""

    def __init__(
        self,
        gtn_spec: GTNSpec,
        generator_spec: GeneratorSpec,
        config: MetaConfig,
        learner_spec: LearnerSpec,
        dataset: ImageDataset,
        seed: int,
        device: str,
        checkpoint_path: Path | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.gtn_spec, self.generator_spec, self.config = gtn_spec, generator_spec, config
        self.learner_spec, self.dataset, self.seed, self.device = learner_spec, dataset, seed, device
        self.checkpoint_path, self.log = checkpoint_path, log or (lambda message: None)
        self.gtn = GTN(gtn_spec, generator_spec, seed, device)
        betas = tuple(config.adam_betas)
        self.optimizer = torch.optim.Adam(self.gtn.parameters(), lr=config.outer_lr, betas=betas)
        total = config.outer_iterations
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda i: cosine_factor(i, total, config.final_lr_fraction)
        )
        self.rng = torch.Generator(device=device).manual_seed(seed)
        self.state = MetaState()
        self.validation_seeds = [role_seed("validation", seed, i) for i in range(config.validation_learners)]
        self.validation_spec = replace(learner_spec, randomize_widths=False)  # the same learner at every validation

    # -- checkpoints ------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "gtn": self.gtn_spec.to_dict(),
            "generator": self.generator_spec.to_dict(),
            "meta": self.config.to_dict(),
            "learner": asdict(self.learner_spec),
            "dataset": self.dataset.name,
            "seed": self.seed,
        }

    def save(self, path: Path) -> None:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "config": self.describe(),
            "gtn": self.gtn.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": self.rng.get_state(),
            "state": asdict(self.state),
        }
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(payload, partial)
        os.replace(partial, path)

    def restore(self, path: Path) -> None:
        payload = load_checkpoint(path)  # on the CPU: Adam's step counters must stay host tensors
        if payload["config"] != self.describe():
            raise GtnbenchError(
                f"{path}: checkpoint was written with another configuration; remove it or use another run"
            )
        self.gtn.load_state_dict(payload["gtn"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.rng.set_state(payload["rng"].cpu())
        self.state = MetaState(**payload["state"])

    # -- the outer loop ---------------------------------------------------------------------------
    def meta_gradient(self, iteration: int) -> torch.Tensor:
        """One outer iteration's meta-loss, backpropagated into the GTN's parameters (their .grad
        accumulates); returns the loss, detached.

        As in the official code, the objective is the final loss plus, with step losses, the losses
        after steps k, 2k, ... below T, each on a fresh real batch (drawn up front, so that the
        checkpointed recomputation sees the same ones); every loss is taken in evaluation mode.
        """
        dataset, config = self.dataset, self.config
        learner = build_learner(
            self.learner_spec,
            dataset.image_shape,
            dataset.num_classes,
            role_seed("meta-train", self.seed, iteration),
            self.device,
        )
        lesson = self.gtn.lesson(self.gtn_spec.inner_steps, self.rng)
        x, y = _real_batch(dataset, config.meta_batch_size, self.rng, config.augment)
        fresh = {
            t: _real_batch(dataset, config.meta_batch_size, self.rng, config.augment)
            for t in step_loss_points(self.gtn_spec.inner_steps, config.step_loss_every)
        }

        def step_loss(t: int, state: LearnerState) -> torch.Tensor:
            return loss_on(learner, state, *fresh[t])

        return backpropagate_through_training(
            learner,
            initial_params(learner),
            lesson,
            lambda state: loss_on(learner, state, x, y),
            block_size=config.block_size,
            step_loss=step_loss if fresh else None,
            step_loss_every=config.step_loss_every,
        )

    def validate(self, iteration: int) -> dict[str, Any]:
        evaluation = evaluate_teacher(
            self.gtn, self.validation_spec, self.dataset, self.validation_seeds, self.device, test=False
        )
        entry = {"iteration": iteration, "val_acc": evaluation.val_acc}
        self.state.history.append(entry)
        return entry

    def run(self) -> MetaState:
        config = self.config
        if self.checkpoint_path is not None and self.checkpoint_path.is_file():
            self.restore(self.checkpoint_path)
            self.state.resumed_at.append(self.state.iteration)
            self.log(f"resumed meta-training at iteration {self.state.iteration}")
        if self.state.iteration == 0 and not self.state.history:
            self._timed_validation(0)  # the untrained GTN: the baseline meta-training must beat
        pending: list[torch.Tensor] = []
        while self.state.iteration < config.outer_iterations:
            start = time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.meta_gradient(self.state.iteration)
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.gtn.parameters(), config.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            pending.append(loss)
            self.state.iteration += 1
            it = self.state.iteration
            boundary = it % config.validate_every == 0 or it % config.checkpoint_every == 0
            if boundary or it == config.outer_iterations:
                synchronize(self.device)
            self.state.seconds += time.perf_counter() - start
            if boundary or it == config.outer_iterations:
                self._flush(pending)
                pending = []
                if it % config.validate_every == 0 or it == config.outer_iterations:
                    self._check_validation(self._timed_validation(it))
                if self.checkpoint_path is not None and (
                    it % config.checkpoint_every == 0 or it == config.outer_iterations
                ):
                    self.save(self.checkpoint_path)
        return self.state

    def _timed_validation(self, iteration: int) -> dict[str, Any]:
        start = time.perf_counter()
        entry = self.validate(iteration)
        self.state.validation_seconds += time.perf_counter() - start
        return entry

    def _flush(self, pending: list[torch.Tensor]) -> None:
        """Move the iterations' losses to the host (one sync) and stop on a non-finite one."""
        if not pending:
            return
        values = torch.stack(pending).tolist()
        first = len(self.state.losses)
        self.state.losses.extend(values)
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        if bad is not None:
            raise TrialFailed(f"diverged: meta-loss {values[bad]} at outer iteration {first + bad + 1}")
        self.log(f"iteration {self.state.iteration}: meta-loss {values[-1]:.4f}")

    def _check_validation(self, entry: dict[str, Any]) -> None:
        val = entry["val_acc"]
        self.log(f"iteration {entry['iteration']}: validation accuracy {val:.4f}")
        best = self.state.best_val
        if best > 0.5 and val < self.config.collapse_fraction * best:
            raise TrialFailed(
                f"accuracy collapse: validation accuracy {val:.4f} at outer iteration "
                f"{entry['iteration']} after a best of {best:.4f}"
            )
        self.state.best_val = max(best, val)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's contents, on the CPU (callers copy tensors to their device with load_state_dict)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise GtnbenchError(f"{path}: GTN checkpoint not found") from None
    except Exception as error:
        raise GtnbenchError(f"{path}: not a readable GTN checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise GtnbenchError(f"{path}: not a gtnbench GTN checkpoint (expected format {CHECKPOINT_FORMAT})")
    return payload


def load_gtn(path: Path, device: str = "cpu") -> tuple[GTN, dict[str, Any]]:
    """A trained GTN (as a teacher) and its configuration, from a checkpoint file."""
    payload = load_checkpoint(path)
    config = payload["config"]
    generator = config["generator"]
    generator_spec = GeneratorSpec(
        **{**generator, "image_shape": tuple(generator["image_shape"]), "channels": tuple(generator["channels"])}
    )
    gtn = GTN(GTNSpec(**config["gtn"]), generator_spec, config["seed"], device)
    gtn.load_state_dict(payload["gtn"])
    return gtn, config
