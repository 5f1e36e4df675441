"""The file format in which anyone brings a small training set to `gtnbench score`, and in which
`gtnbench export-set` writes gtnbench's own sets: one .pt (torch.save of a dict; loadable with
weights_only=True) or .npz (numpy.savez) with these keys.

- `images` (required): float [N, C, H, W], channels first, the data set's shape (MNIST [N, 1, 28, 28],
  CIFAR-10 [N, 3, 32, 32]). Pixel values normalised as gtnbench and the DC/DM reference store sets:
  (x - mean) / std per channel with x in [0, 1] and the data set's mean and std (NORMALISATION), so
  that distilled sets, whose values leave the pixel range, keep them; or, with `pixels = "unit"`,
  x in [0, 1] (normalised on reading).
- `labels` (required): int [N], class indices 0..classes-1 (hard labels); or float [N, classes], one
  distribution over the classes per image, rows of non-negative values summing to 1 (soft labels).
- `lrs` (optional): float [N], positive: a learning rate per image, a factor on the recipe's learning
  rate for that image's loss (teachers/fixed_set.py).
- optional, what a report shows beside the numbers: `method` (what made the set, e.g. "dm"), `dsa`
  (the DSA transforms it was made with: the reference protocol then evaluates it with DSA, as the
  reference evaluates DM and DSA sets), `dataset`, `seed`, `seconds` and `flops` (what making it cost),
  `device` (where), `pixels`, `format` (FORMAT).

Reading checks everything against the data set and refuses a bad file with one line naming the file
and the problem: wrong layout or shape, a non-float image tensor, NaN or infinite values, values out
of range, a label count or class count that does not fit, a class without images, more images than
the training split, non-positive learning rates.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gtnbench.data.datasets import MEAN_STD, ImageDataset
from gtnbench.data.image_set import ImageSet
from gtnbench.data.names import DSA_TRANSFORMS
from gtnbench.errors import DataError

FORMAT = "gtnbench-set-file-1"
SUFFIXES = (".pt", ".npz")
PIXELS = ("normalised", "unit")
NORMALISED_BOUND = 30.0  # |value| above this is not a normalised pixel (0-255 pixels are the usual cause)
SOFT_TOLERANCE = 1e-3  # how far a soft label's row may sum from 1
TEXT_KEYS = ("method", "dataset", "device", "pixels", "format", "name")
NUMBER_KEYS = ("seed", "seconds", "flops")
KNOWN_KEYS = ("images", "labels", "lrs", "dsa", *TEXT_KEYS, *NUMBER_KEYS)


@dataclass
class BroughtSet:
    """A set read from a set file: the images and labels as gtnbench teaches them, and what the file
    declares about itself (method, dsa, dataset, seed, seconds, flops, device, name)."""

    image_set: ImageSet
    declared: dict[str, Any] = field(default_factory=dict)


def family(dataset: str) -> str:
    return "mnist" if dataset == "mnist" else "cifar10"


def normalisation_text(dataset: str) -> str:
    mean, std = MEAN_STD[family(dataset)]
    return f"mean {', '.join(f'{m:g}' for m in mean)}, std {', '.join(f'{s:g}' for s in std)}"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """A value of an .npz (numpy arrays) or .pt (tensors, Python values) as a tensor or a Python value."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":
            return str(value) if value.ndim == 0 else [str(v) for v in value.tolist()]
        if value.dtype == object:
            raise TypeError("object arrays are not read (save plain arrays)")
        scalar = value.ndim == 0 and value.dtype.kind in "iuf"
        return value.item() if scalar else torch.from_numpy(value)
    return value


def _read(path: Path) -> dict[str, Any]:
    if path.suffix not in SUFFIXES:
        raise DataError(f"{path}: a set file ends in .pt or .npz, not {path.suffix or '(no suffix)'!r}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                payload = {key: _plain(archive[key]) for key in archive.files}
        else:
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first = (str(error).splitlines() or [""])[0]
        raise DataError(f"{path}: not a readable {path.suffix} set file ({type(error).__name__}: {first})") from None
    if not isinstance(payload, dict):
        raise DataError(
            f"{path}: a set file holds a dict of named fields (images, labels, ...), not a {type(payload).__name__}"
        )
    payload = {key: _plain(value) for key, value in payload.items()}
    unknown = sorted(set(payload) - set(KNOWN_KEYS))
    if unknown:
        raise DataError(f"{path}: unknown field(s) {', '.join(unknown)}; known: {', '.join(KNOWN_KEYS)}")
    return payload


def _images(path: Path, value: Any, dataset: ImageDataset, pixels: str) -> torch.Tensor:
    expected = tuple(dataset.image_shape)
    shape = f"[N, {', '.join(map(str, expected))}]"
    if not isinstance(value, torch.Tensor):
        raise DataError(f"{path}: images: required, a float tensor {shape}")
    if not value.is_floating_point():
        raise DataError(f"{path}: images: {value.dtype} values; a set file holds float images ({pixels} pixels)")
    if value.dim() != 4:
        raise DataError(f"{path}: images: {value.dim()}-d {list(value.shape)}, expected {shape} (NCHW)")
    got = tuple(value.shape[1:])
    if got != expected:
        channels_last = (got[2], got[0], got[1]) == expected
        hint = " (channels last: permute to channels first, NCHW)" if channels_last else ""
        raise DataError(f"{path}: images: shape {list(value.shape)}, expected {shape} for {dataset.label}{hint}")
    images = value.float()
    if not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).any(dim=(1, 2, 3)).nonzero()[0])
        raise DataError(f"{path}: images: NaN or infinite values (first in image {bad})")
    low, high = float(images.min()), float(images.max())
    if pixels == "unit":
        if low < 0 or high > 1:
            raise DataError(f"{path}: images: values in [{low:.3g}, {high:.3g}], but pixels = 'unit' means [0, 1]")
        mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in MEAN_STD[family(dataset.name)])
        return (images - mean) / std
    if max(-low, high) > NORMALISED_BOUND:
        raise DataError(
            f"{path}: images: values in [{low:.3g}, {high:.3g}] are not normalised pixels (0-255 "
            f"values?); store (x / 255 - mean) / std with {normalisation_text(dataset.name)}, or "
            "x / 255 with pixels = 'unit'"
        )
    if low >= 0 and high <= 1:
        raise DataError(
            f"{path}: images: every value lies in [0, 1], as un-normalised pixels do; store normalised "
            f"pixels ({normalisation_text(dataset.name)}) or say pixels = 'unit'"
        )
    return images


def _labels(path: Path, value: Any, count: int, classes: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(class index per image, soft labels or None)."""
    if not isinstance(value, torch.Tensor):
        raise DataError(f"{path}: labels: required, int [N] class indices or float [N, {classes}] soft labels")
    if value.dim() == 0 or value.shape[0] != count:
        raise DataError(f"{path}: labels: {value.shape[0] if value.dim() else 1} label(s) for {count} images")
    if value.dim() == 1 and not value.is_floating_point() and value.dtype != torch.bool:
        hard = value.long()
        if int(hard.min()) < 0 or int(hard.max()) >= classes:
            raise DataError(
                f"{path}: labels: class indices from {int(hard.min())} to {int(hard.max())}; the data set "
                f"has classes 0..{classes - 1}"
            )
        return hard, None
    if value.dim() != 2 or not value.is_floating_point():
        raise DataError(
            f"{path}: labels: {value.dtype} {list(value.shape)}; expected int [N] class indices or "
            f"float [N, {classes}] soft labels"
        )
    if value.shape[1] != classes:
        raise DataError(f"{path}: labels: soft labels over {value.shape[1]} classes; the data set has {classes}")
    soft = value.float()
    if not torch.isfinite(soft).all() or bool((soft < 0).any()):
        raise DataError(f"{path}: labels: soft labels must be finite and non-negative")
    sums = soft.sum(1)
    worst = int((sums - 1).abs().argmax())
    if abs(float(sums[worst]) - 1) > SOFT_TOLERANCE:
        raise DataError(f"{path}: labels: soft label rows must sum to 1; row {worst} sums to {float(sums[worst]):.4g}")
    return soft.argmax(1), soft


def _lrs(path: Path, value: Any, count: int) -> torch.Tensor | None:
    if value is None:
        return None
    if not isinstance(value, torch.Tensor) or value.dim() != 1 or value.shape[0] != count:
        raise DataError(f"{path}: lrs: a float tensor of {count} learning rates, one per image")
    lrs = value.float()
    if not torch.isfinite(lrs).all() or bool((lrs <= 0).any()):
        raise DataError(f"{path}: lrs: learning rates must be finite and positive")
    return lrs


def _declared(path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    declared: dict[str, Any] = {}
    for key in TEXT_KEYS:
        if key in payload:
            if not isinstance(payload[key], str):
                raise DataError(f"{path}: {key}: a string, got {type(payload[key]).__name__}")
            declared[key] = payload[key]
    for key in NUMBER_KEYS:
        if key in payload:
            value = payload[key]
            value = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise DataError(f"{path}: {key}: a non-negative number, got {value!r:.40}")
            declared[key] = int(value) if key in ("seed", "flops") else float(value)
    if "dsa" in payload:
        dsa = [payload["dsa"]] if isinstance(payload["dsa"], str) else payload["dsa"]
        if not isinstance(dsa, list) or any(t not in DSA_TRANSFORMS for t in dsa):
            raise DataError(
                f"{path}: dsa: a list of DSA transforms ({', '.join(DSA_TRANSFORMS)}), got {payload['dsa']!r:.60}"
            )
        declared["dsa"] = list(dsa)
    if declared.get("format", FORMAT) != FORMAT:
        raise DataError(f"{path}: format: {declared['format']!r}; this gtnbench reads {FORMAT}")
    if declared.get("pixels", "normalised") not in PIXELS:
        raise DataError(f"{path}: pixels: {declared['pixels']!r}; known: {', '.join(PIXELS)}")
    return declared


def read_set_file(path: Path, dataset: ImageDataset) -> BroughtSet:
    """The set in `path`, checked against `dataset` (one-line DataError on any problem)."""
    path = Path(path)
    payload = _read(path)
    declared = _declared(path, payload)
    if "dataset" in declared and family(declared["dataset"]) != family(dataset.name):
        raise DataError(f"{path}: dataset: made on {declared['dataset']}, not on {dataset.label}")
    images = _images(path, payload.get("images"), dataset, declared.get("pixels", "normalised"))
    count, classes = images.shape[0], dataset.num_classes
    if count > len(dataset.train):
        raise DataError(
            f"{path}: images: {count:,} images, more than the {len(dataset.train):,} of {dataset.label}'s "
            "training split"
        )
    labels, soft = _labels(path, payload.get("labels"), count, classes)
    present = torch.bincount(labels, minlength=classes)
    if bool((present == 0).any()):
        missing = ", ".join(str(c) for c in (present == 0).nonzero().flatten().tolist())
        most_likely = " (as most likely class)" if soft is not None else ""
        raise DataError(f"{path}: labels: class(es) {missing} have no image{most_likely}")
    lrs = _lrs(path, payload.get("lrs"), count)
    provenance = {"file": str(path), "sha256": sha256(path), "declared": declared}
    image_set = ImageSet(
        images.contiguous(), labels, "file", dataset.name, int(declared.get("seed", 0)), provenance, None, soft, lrs
    )
    return BroughtSet(image_set.to(dataset.device), declared)


def write_set_file(image_set: ImageSet, path: Path, declared: dict[str, Any] | None = None) -> Path:
    """`image_set` in the set file format (.pt or .npz by the name), with `declared` fields beside it."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise DataError(f"{path}: a set file ends in .pt or .npz, not {path.suffix or '(no suffix)'!r}")
    fields: dict[str, Any] = {
        "format": FORMAT,
        "images": image_set.images.detach().cpu().float().contiguous(),
        "labels": (image_set.labels if image_set.soft_labels is None else image_set.soft_labels).detach().cpu(),
    }
    if image_set.lrs is not None:
        fields["lrs"] = image_set.lrs.detach().cpu().float()
    for key, value in (declared or {}).items():
        if value is not None:
            fields[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp" + path.suffix)
    if path.suffix == ".npz":
        arrays = {
            key: value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            for key, value in fields.items()
        }
        np.savez(temporary, **arrays)
    else:
        torch.save(fields, temporary)
    os.replace(temporary, path)
    return path


def brought_counts(path: Path) -> list[int] | None:
    """Images per class of a set file (soft labels: by most likely class), unchecked, for planning; None
    when it cannot be read."""
    try:
        labels = _read(Path(path)).get("labels")
    except DataError:
        return None
    if not isinstance(labels, torch.Tensor) or labels.dim() not in (1, 2) or labels.numel() == 0:
        return None
    classes = labels.argmax(1) if labels.dim() == 2 else labels.long()
    return torch.bincount(classes.clamp(min=0)).tolist()
