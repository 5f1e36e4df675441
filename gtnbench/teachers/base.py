"""The interface every method shares: a teacher hands a learner its batches and step sizes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Lesson:
    """One training run's worth of teaching: the batch of inner step t, and per-step lr and momentum."""

    steps: int
    batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]]
    lrs: torch.Tensor  # [steps]
    momenta: torch.Tensor  # [steps]
    # keyword-only (lessons of subclasses add positional fields): an L2 penalty coupled into every gradient
    # (grad + wd * params, as torch's SGD), and whether every batch has the same shape (a CUDA graph of one
    # step can then replay them all)
    weight_decay: float = field(default=0.0, kw_only=True)
    uniform: bool = field(default=True, kw_only=True)


class Teacher(ABC):
    """Something that can teach a learner for a given number of inner steps."""

    @abstractmethod
    def lesson(self, steps: int, generator: torch.Generator) -> Lesson:
        """The lesson for one learner; randomness (sampling, shuffling) comes from `generator`."""
