"""Real data as a teacher: seeded minibatches of the training split (the real-data baselines)."""

from __future__ import annotations

import math

import torch

from gtnbench.data.augment import crop_flip, draw_crop_flip
from gtnbench.data.datasets import Split
from gtnbench.teachers.base import Lesson, Teacher
from gtnbench.teachers.schedules import learning_rates


def epoch_batches(count: int, batch_size: int, steps: int, generator: torch.Generator, device) -> torch.Tensor:
    """Indices [steps, batch_size]: consecutive epochs, each a fresh permutation of range(count)."""
    epochs = math.ceil(steps * batch_size / count)
    order = torch.cat([torch.randperm(count, generator=generator, device=device) for _ in range(epochs)])
    return order[: steps * batch_size].view(steps, batch_size)


class RealDataTeacher(Teacher):
    """Minibatches without replacement within each epoch, a fixed schedule, optional crop+flip.
    Every draw (batches, crops, flips) is made with the lesson, so `lesson.batch(t)` is pure."""

    def __init__(
        self,
        split: Split,
        batch_size: int,
        lr: float,
        momentum: float,
        schedule: str = "constant",
        augment: bool = False,
    ) -> None:
        self.split, self.batch_size, self.augment = split, batch_size, augment
        self.lr, self.momentum, self.schedule = lr, momentum, schedule

    def lesson(self, steps: int, generator: torch.Generator) -> Lesson:
        device = self.split.x.device
        indices = epoch_batches(len(self.split), self.batch_size, steps, generator, device)
        crops = draw_crop_flip(steps * self.batch_size, generator, device) if self.augment else None

        def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
            x, y = self.split.x[indices[t]], self.split.y[indices[t]]
            if crops is not None:
                x = crop_flip(x, crops[slice(t * self.batch_size, (t + 1) * self.batch_size)])
            return x, y

        lrs = learning_rates(self.schedule, self.lr, steps, device)
        return Lesson(steps, batch, lrs, torch.full((steps,), self.momentum, device=device))
