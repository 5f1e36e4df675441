"""A Generative Teaching Network as a teacher: generator, curriculum and learned step sizes.

Curricula (the paper's ablation):
- full: a learned noise tensor [T, batch, noise]; inner step t uses slice t, in order;
- shuffled-batch: the same T learned batches, in a random order each lesson;
- all-shuffled: the T x batch learned vectors (with their labels) drawn individually at random;
- none: fresh noise z ~ N(0, I) at every step.
Labels are fixed and balanced (row i of every batch has label i mod num_classes).
Past T steps the curriculum and the step sizes repeat cyclically.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from gtnbench.models.generator import Generator, GeneratorSpec
from gtnbench.teachers.base import Lesson, Teacher

CURRICULA = ("full", "shuffled-batch", "all-shuffled", "none")


@dataclass(frozen=True)
class GTNSpec:
    inner_steps: int = 32
    batch_size: int = 128
    curriculum: str = "full"
    init_lr: float = 0.02
    init_momentum: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


class GTN(Teacher, nn.Module):
    def __init__(self, spec: GTNSpec, generator_spec: GeneratorSpec, seed: int = 0, device=None) -> None:
        nn.Module.__init__(self)
        if spec.curriculum not in CURRICULA:
            raise ValueError(f"unknown curriculum {spec.curriculum!r}; known: {', '.join(CURRICULA)}")
        self.spec, self.generator_spec = spec, generator_spec
        init = torch.Generator(device=device).manual_seed(seed)
        self.generator = Generator(generator_spec, init, device)
        steps, batch = spec.inner_steps, spec.batch_size
        if spec.curriculum != "none":
            noise = torch.randn(steps, batch, generator_spec.noise_dim, generator=init, device=device)
            self.noise = nn.Parameter(noise)
        self.log_lr = nn.Parameter(torch.full((steps,), math.log(spec.init_lr), device=device))
        self.log_momentum = nn.Parameter(torch.full((steps,), math.log(spec.init_momentum), device=device))
        labels = torch.arange(batch, device=device) % generator_spec.num_classes
        self.register_buffer("labels", labels.repeat(steps, 1))

    def _noise_and_labels(self, steps: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise [steps, batch, dim] and labels [steps, batch] for one lesson, drawn up front so that
        recomputation (gradient checkpointing) sees the same batches."""
        T, batch, dim = self.spec.inner_steps, self.spec.batch_size, self.generator_spec.noise_dim
        device = self.log_lr.device
        cycle = torch.arange(steps, device=device) % T
        curriculum = self.spec.curriculum
        if curriculum == "none":
            return torch.randn(steps, batch, dim, generator=rng, device=device), self.labels[cycle]
        if curriculum == "full":
            return self.noise[cycle], self.labels[cycle]
        if curriculum == "shuffled-batch":
            order = torch.randperm(T, generator=rng, device=device)[cycle]
            return self.noise[order], self.labels[order]
        order = torch.randperm(T * batch, generator=rng, device=device)
        rows = order[(torch.arange(steps * batch, device=device) % (T * batch))].view(steps, batch)
        return self.noise.reshape(T * batch, dim)[rows], self.labels.reshape(-1)[rows]

    def lesson(self, steps: int, generator: torch.Generator) -> Lesson:
        noise, labels = self._noise_and_labels(steps, generator)
        cycle = torch.arange(steps, device=noise.device) % self.spec.inner_steps

        def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
            return self.generator(noise[t], labels[t]), labels[t]

        return Lesson(steps, batch, self.log_lr.exp()[cycle], self.log_momentum.exp()[cycle])

    @torch.no_grad()
    def samples(self, steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [steps, batch, C, H, W] and labels of the curriculum in order (seeded for `none`)."""
        lesson = self.lesson(steps or self.spec.inner_steps, torch.Generator(self.log_lr.device).manual_seed(0))
        pairs = [lesson.batch(t) for t in range(lesson.steps)]
        return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])
