"""A fixed small image set as a teacher: random subsets, coresets and distilled sets (DM, DC).

The set is cycled in minibatches over the step budget exactly as the real-data teacher cycles the
training split: consecutive epochs, each a fresh seeded permutation of the set, cut into batches
of `batch_size` (a batch may straddle two epochs). A set smaller than `batch_size` is handed out
whole at every step (batches of len(set), in a fresh order each step), as a data loader with
that batch size would do. All randomness (order, augmentation) is drawn when the lesson is made,
so `lesson.batch(t)` returns the same batch every time it is called (the checkpointed backward
pass calls it twice).
"""

from __future__ import annotations

import torch

from gtnbench.data.datasets import Split
from gtnbench.data.image_set import ImageSet
from gtnbench.teachers.real import RealDataTeacher


class FixedSetTeacher(RealDataTeacher):
    """The real-data teacher's lessons over a fixed set of images and labels, in batches of at most
    the set's size."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, lr: float, momentum: float,
                 schedule: str = "constant", augment: bool = False) -> None:  # fmt: skip
        if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
            raise ValueError(f"a fixed set needs as many labels as images, and at least one (got {images.shape[0]} "
                             f"images, {labels.shape[0]} labels)")  # fmt: skip
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        super().__init__(Split(images.detach(), labels), min(batch_size, images.shape[0]), lr, momentum, schedule,
                         augment)  # fmt: skip

    @classmethod
    def from_set(cls, image_set: ImageSet, batch_size: int, lr: float, momentum: float, schedule: str = "constant",
                 augment: bool = False, device: torch.device | str | None = None) -> FixedSetTeacher:  # fmt: skip
        placed = image_set.to(device) if device is not None else image_set
        return cls(placed.images, placed.labels, batch_size, lr, momentum, schedule, augment)

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size
