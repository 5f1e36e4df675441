"""A small labelled image set as an artifact on disk: a random subset, a coreset or a distilled set.

The file is a torch .pt of plain types (loadable with weights_only=True): a format tag, the images
(normalised like the data set they come from), their labels, the method and seed that made them,
`provenance` (the method's settings, the learner, per-iteration losses: whatever says how it was
made) and, for sets selected from the training split, the chosen indices into that split. A set
may also teach with soft labels (`soft_labels`, a distribution over the classes per image; `labels`
is then each row's most likely class) and per-image learning rates (`lrs`, a factor on the
recipe's learning rate for each image's loss; teachers/fixed_set.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gtnbench.errors import DataError

SET_FORMAT = "gtnbench-image-set-1"


@dataclass
class ImageSet:
    images: torch.Tensor  # float32 [N, C, H, W], normalised like `dataset`
    labels: torch.Tensor  # int64 [N]
    method: str  # subset, herding, kmeans, dm, dc
    dataset: str  # the resolved data set name (e.g. mnist, cifar10-jpeg)
    seed: int
    provenance: dict[str, Any] = field(default_factory=dict)
    indices: torch.Tensor | None = None  # int64 [N] into the training split, for selected (not learned) sets
    soft_labels: torch.Tensor | None = None  # float32 [N, classes], rows summing to 1; None: hard labels
    lrs: torch.Tensor | None = None  # float32 [N], positive: per-image learning rates (factors); None: all 1

    def __len__(self) -> int:
        return self.labels.shape[0]

    @property
    def num_classes(self) -> int:
        if self.soft_labels is not None:
            return self.soft_labels.shape[1]
        return int(self.labels.max()) + 1 if len(self) else 0

    @property
    def label_regime(self) -> str:
        """ "hard" or "soft" labels, "+ per-image lr" when the set carries learning rates."""
        regime = "hard" if self.soft_labels is None else "soft"
        return regime + (" + per-image lr" if self.lrs is not None else "")

    def per_class(self) -> list[int]:
        """How many images each class has, classes 0..max label."""
        return torch.bincount(self.labels.cpu(), minlength=self.num_classes).tolist()

    def to(self, device: torch.device | str) -> ImageSet:
        def moved(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return ImageSet(
            self.images.to(device),
            self.labels.to(device),
            self.method,
            self.dataset,
            self.seed,
            self.provenance,
            moved(self.indices),
            moved(self.soft_labels),
            moved(self.lrs),
        )


def plain(value: Any) -> Any:
    """`value` as JSON types only (tuples become lists; dataclasses go through dataclasses.asdict first)."""
    return json.loads(json.dumps(value))


def save_image_set(image_set: ImageSet, path: Path) -> Path:
    """Write the set to `path` (atomically: a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": SET_FORMAT,
        "images": image_set.images.detach().cpu().float().contiguous(),
        "labels": image_set.labels.detach().cpu().long(),
        "method": image_set.method,
        "dataset": image_set.dataset,
        "seed": int(image_set.seed),
        "provenance": image_set.provenance,
        "indices": None if image_set.indices is None else image_set.indices.detach().cpu().long(),
    }
    for key in ("soft_labels", "lrs"):  # only where present: files of hard-label sets stay as they were
        value = getattr(image_set, key)
        if value is not None:
            payload[key] = value.detach().cpu().float().contiguous()
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)
    return path


def _check_payload(payload: Any, path: Path) -> None:
    if not isinstance(payload, dict) or payload.get("format") != SET_FORMAT:
        raise DataError(f"{path}: not a gtnbench image set (expected format {SET_FORMAT})")
    images, labels, indices = payload.get("images"), payload.get("labels"), payload.get("indices")
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise DataError(f"{path}: field 'images' must be a float tensor [N, C, H, W]")
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
        raise DataError(f"{path}: field 'labels' must be an int64 tensor of {images.shape[0]} labels")
    if len(labels) and int(labels.min()) < 0:
        raise DataError(f"{path}: field 'labels' holds a negative label")
    if indices is not None and (not isinstance(indices, torch.Tensor) or indices.shape != labels.shape):
        raise DataError(f"{path}: field 'indices' must be absent or a tensor of {labels.shape[0]} indices")
    soft, lrs = payload.get("soft_labels"), payload.get("lrs")
    if soft is not None and (not isinstance(soft, torch.Tensor) or soft.dim() != 2 or soft.shape[0] != len(labels)):
        raise DataError(f"{path}: field 'soft_labels' must be absent or a float tensor [{len(labels)}, classes]")
    if lrs is not None and (not isinstance(lrs, torch.Tensor) or lrs.shape != labels.shape):
        raise DataError(f"{path}: field 'lrs' must be absent or a float tensor of {len(labels)} learning rates")
    if not all(
        isinstance(payload.get(key), kind)
        for key, kind in (("method", str), ("dataset", str), ("seed", int), ("provenance", dict))
    ):
        raise DataError(f"{path}: fields 'method', 'dataset', 'seed' and 'provenance' must be str, str, int, dict")


def load_image_set(path: Path, device: torch.device | str = "cpu") -> ImageSet:
    """Read a set written by `save_image_set` (onto the CPU first, then `device`)."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: image set not found") from None
    except Exception as error:
        first_line = (str(error).splitlines() or [""])[0]
        raise DataError(f"{path}: not a readable image set ({type(error).__name__}: {first_line})") from None
    _check_payload(payload, path)
    image_set = ImageSet(
        payload["images"],
        payload["labels"],
        payload["method"],
        payload["dataset"],
        payload["seed"],
        payload["provenance"],
        payload["indices"],
        payload.get("soft_labels"),
        payload.get("lrs"),
    )
    return image_set.to(device)
