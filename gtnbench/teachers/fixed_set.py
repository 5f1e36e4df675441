"""A fixed small image set as a teacher: random subsets, coresets and distilled sets (DM, DC).

The set is cycled in minibatches over the step budget exactly as the real-data teacher cycles the
training split: consecutive epochs, each a fresh seeded permutation of the set, cut into batches
of `batch_size` (a batch may straddle two epochs). A set smaller than `batch_size` is handed out
whole at every step (batches of len(set), in a fresh order each step), as a data loader with
that batch size would do. All randomness (order, augmentation) is drawn when the lesson is made,
so `lesson.batch(t)` returns the same batch every time it is called (the checkpointed backward
pass calls it twice).

What a batch's labels are (`set_targets`): a hard-label set hands out class indices (the real-data
path, unchanged); a set with soft labels hands out its rows of class probabilities; a set with
per-image learning rates hands out each image's target row (soft, or one-hot) times its rate.
Cross-entropy against a row t is -sum_c t_c log p_c, whose gradient is sum(t) p - t: a row scaled by
r scales that image's loss and gradient by r, so the step is theta - lr_t (1/B) sum_i r_i grad l_i
(the recipe's lr times each image's own), and a one-hot row gives bit for bit the class index's
gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gtnbench.data.datasets import Split
from gtnbench.data.image_set import ImageSet
from gtnbench.teachers.real import RealDataTeacher


def set_targets(image_set: ImageSet) -> torch.Tensor:
    """What the set's lessons hand out as labels: class indices [N] for hard labels without learning
    rates, else one target row [N, classes] per image (soft labels or one-hot, times the image's lr)."""
    if image_set.soft_labels is None and image_set.lrs is None:
        return image_set.labels
    rows = image_set.soft_labels
    if rows is None:
        rows = F.one_hot(image_set.labels, image_set.num_classes).to(image_set.images.dtype)
    if image_set.lrs is not None:
        rows = rows * image_set.lrs.to(rows.dtype).unsqueeze(1)
    return rows


class FixedSetTeacher(RealDataTeacher):
    """The real-data teacher's lessons over a fixed set of images and labels, in batches of at most
    the set's size."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        lr: float,
        momentum: float,
        schedule: str = "constant",
        augment: bool = False,
    ) -> None:
        if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
            raise ValueError(
                f"a fixed set needs as many labels as images, and at least one (got {images.shape[0]} "
                f"images, {labels.shape[0]} labels)"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        super().__init__(
            Split(images.detach(), labels), min(batch_size, images.shape[0]), lr, momentum, schedule, augment
        )

    @classmethod
    def from_set(
        cls,
        image_set: ImageSet,
        batch_size: int,
        lr: float,
        momentum: float,
        schedule: str = "constant",
        augment: bool = False,
        device: torch.device | str | None = None,
    ) -> FixedSetTeacher:
        placed = image_set.to(device) if device is not None else image_set
        return cls(placed.images, set_targets(placed), batch_size, lr, momentum, schedule, augment)

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size
