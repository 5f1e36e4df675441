"""The hot loops as small, seeded workloads on any device: what the sync audit, the default-device
check, `gtnbench bench` (ops per step) and `gtnbench doctor` run.

Each workload is prepared outside the region it measures (learners, lessons, a meta-trainer, a
checkpoint to resume from) and returns the hot call alone, with the number of inner steps it runs,
so that what an audit counts divides into per-step figures. Op counts depend on the structure of a
network, not on its widths, so CPU-sized widths give the paper's counts per step.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gtnbench.data.datasets import ImageDataset, Split
from gtnbench.meta import MetaConfig, MetaTrainer, frozen
from gtnbench.models.generator import GeneratorSpec
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.nas.proxies import build_network
from gtnbench.nas.spaces import SPACES
from gtnbench.nas.training_free import naswot_score, synflow_score
from gtnbench.teachers.base import Lesson
from gtnbench.teachers.gtn import GTNSpec
from gtnbench.teachers.real import RealDataTeacher
from gtnbench.train import initial_params, train

MNIST = (1, 28, 28)
CIFAR = (3, 32, 32)
NB201_ARCH = 6111  # a cell of both convolutions and a skip (a pooled cell: tests/test_audit.py)


def random_dataset(shape: tuple[int, int, int], count: int, device: str, seed: int = 0) -> ImageDataset:
    """Random images and labels on the device: for timing and auditing, where accuracy does not matter."""
    generator = torch.Generator(device=device).manual_seed(seed)

    def split() -> Split:
        return Split(
            torch.randn((count, *shape), generator=generator, device=device),
            torch.randint(0, 10, (count,), generator=generator, device=device),
        )

    return ImageDataset("mnist" if shape[0] == 1 else "cifar10", split(), split(), split(), 10, 0)


@dataclass(frozen=True)
class Sizes:
    """Widths of the audited networks (structure, hence op counts, does not depend on them)."""

    learner: tuple[int, ...] = (4, 8, 16)
    batch: int = 16
    noise: int = 8
    hidden: int = 16
    channels: tuple[int, int] = (8, 4)
    cell: tuple[int, int] = (4, 1)  # NB201 C, N


TINY = Sizes()
PAPER = Sizes(learner=(64, 128, 256), batch=128, noise=128, hidden=1024, channels=(128, 64), cell=(16, 5))


@dataclass
class Workload:
    name: str
    steps: int  # inner steps one call runs
    call: Callable[[], object]
    subject: object = None  # what the call exercises (a meta-trainer, a learner), for inspection
    keep: list = field(default_factory=list)  # what must outlive preparation (temporary folders)


def plain_learner(device: str, steps: int = 4, sizes: Sizes = TINY) -> Workload:
    """The plain inner loop: the MNIST learner on real-data batches (evaluation, real-data baselines)."""
    data = random_dataset(MNIST, 4 * sizes.batch, device)
    learner = build_learner(LearnerSpec("mnist-paper", sizes.learner), MNIST, 10, seed=0, device=device)
    lesson = RealDataTeacher(data.train, sizes.batch, 0.1, 0.5).lesson(steps, torch.Generator(device).manual_seed(0))
    return Workload("plain-learner", steps, lambda: train(learner, initial_params(learner), lesson))


def _meta_trainer(device: str, steps: int, sizes: Sizes, config: MetaConfig, curriculum: str = "full") -> MetaTrainer:
    data = random_dataset(MNIST, 4 * sizes.batch, device)
    generator = GeneratorSpec(MNIST, 10, sizes.noise, sizes.hidden, sizes.channels)
    return MetaTrainer(
        GTNSpec(steps, sizes.batch, curriculum),
        generator,
        config,
        LearnerSpec("mnist-paper", sizes.learner),
        data,
        0,
        device,
    )


def learner_on_gtn(device: str, steps: int = 4, sizes: Sizes = TINY, curriculum: str = "full") -> Workload:
    """The plain inner loop on a GTN's lesson (evaluation learners, GTN proxies), generation included."""
    meta = _meta_trainer(device, steps, sizes, MetaConfig(), curriculum)
    learner = build_learner(LearnerSpec("mnist-paper", sizes.learner), MNIST, 10, seed=0, device=device)
    rng = torch.Generator(device).manual_seed(0)

    def call() -> None:
        with frozen(meta.gtn):
            train(learner, initial_params(learner), meta.gtn.lesson(steps, rng))

    return Workload(f"learner-on-gtn-{curriculum}", steps, call)


def outer_iteration(
    device: str,
    steps: int = 4,
    sizes: Sizes = TINY,
    block_size: int = 0,
    step_loss_every: int = 0,
    resumed: bool = False,
    grad_clip: float = 0.0,
    augment: bool = False,
) -> Workload:
    """One meta-training iteration as MetaTrainer.run does it: meta-gradient, Adam step, schedule.
    `resumed`: the trainer continues from a checkpoint another trainer wrote (the state a retried or
    --resume'd trial is in)."""
    config = MetaConfig(
        outer_iterations=10,
        block_size=block_size,
        step_loss_every=step_loss_every,
        grad_clip=grad_clip,
        augment=augment,
    )
    meta = _meta_trainer(device, steps, sizes, config)
    keep = []
    if resumed:
        folder = tempfile.TemporaryDirectory()
        keep.append(folder)
        path = Path(folder.name) / "gtn.pt"
        _iterate(meta, 0)
        meta.save(path)
        meta = _meta_trainer(device, steps, sizes, config)
        meta.restore(path)
    name = f"outer-iteration-block{block_size}-steploss{step_loss_every}" + ("-resumed" if resumed else "")
    return Workload(name, steps, lambda: _iterate(meta, 1), meta, keep)


def _iterate(meta: MetaTrainer, iteration: int) -> None:
    meta.optimizer.zero_grad(set_to_none=True)
    meta.meta_gradient(iteration)
    if meta.config.grad_clip:
        torch.nn.utils.clip_grad_norm_(meta.gtn.parameters(), meta.config.grad_clip)
    meta.optimizer.step()
    meta.scheduler.step()


def nb201_proxy(device: str, steps: int = 4, sizes: Sizes = TINY, arch: int = NB201_ARCH) -> Workload:
    """The plain inner loop of a train-based NAS-Bench-201 proxy: a cell network on real-data batches."""
    data = random_dataset(CIFAR, 4 * sizes.batch, device)
    net = build_network(SPACES["nb201"], arch, dict(zip(("channels", "cells"), sizes.cell)), data, 0, device)
    lesson = RealDataTeacher(data.train, sizes.batch, 0.05, 0.9).lesson(steps, torch.Generator(device).manual_seed(0))
    return Workload("nb201-proxy", steps, lambda: train(net, initial_params(net), lesson))


def training_free(device: str, sizes: Sizes = TINY, arch: int = NB201_ARCH) -> Workload:
    """NASWOT and synflow of one untrained cell network (a host read per score, by design)."""
    data = random_dataset(CIFAR, 4 * sizes.batch, device)
    net = build_network(SPACES["nb201"], arch, dict(zip(("channels", "cells"), sizes.cell)), data, 0, device)
    batch = data.train.x[: sizes.batch]
    return Workload("training-free", 1, lambda: (naswot_score(net, batch), synflow_score(net, CIFAR)))


# Every loop that runs per inner step and must not wait for the device: name -> (device, steps, sizes) -> Workload.
HOT_LOOPS: dict[str, Callable[[str, int, Sizes], Workload]] = {
    "plain-learner": plain_learner,
    "learner-on-gtn-full": learner_on_gtn,
    "learner-on-gtn-none": lambda device, steps, sizes: learner_on_gtn(device, steps, sizes, "none"),
    "outer-iteration": outer_iteration,
    "outer-iteration-checkpointed-steploss": lambda device, steps, sizes: outer_iteration(
        device, steps, sizes, block_size=2, step_loss_every=2
    ),
    "outer-iteration-resumed": lambda device, steps, sizes: outer_iteration(device, steps, sizes, resumed=True),
    "outer-iteration-checkpointed-resumed-clipped-augmented": lambda device, steps, sizes: outer_iteration(
        device, steps, sizes, block_size=2, resumed=True, grad_clip=1.0, augment=True
    ),
    "nb201-proxy": nb201_proxy,
}


def hot_loops(device: str, steps: int = 4, sizes: Sizes = TINY) -> list[Workload]:
    return [make(device, steps, sizes) for make in HOT_LOOPS.values()]


def fixed_lesson(x: torch.Tensor, y: torch.Tensor, steps: int) -> Lesson:
    """A lesson that hands the same resident batch at every step (isolates the loop's own cost)."""
    device = x.device
    return Lesson(
        steps, lambda t: (x, y), torch.full((steps,), 0.02, device=device), torch.full((steps,), 0.5, device=device)
    )
