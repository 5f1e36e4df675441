"""Differentiable Siamese augmentation (DSA; Zhao & Bilen, ICML 2021), differentiable in the images.

As in the reference implementation (VICO-UoE/DatasetCondensation, mode "S"): each call picks one
transform of the strategy at random, and a Siamese draw is one set of parameters for the whole
batch, applied alike to a class's real and synthetic images. The transforms and their magnitudes
are the reference's: color (brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5], in turn),
crop (translation by up to 1/8 of the side, zero fill), cutout (a zeroed square of half the side),
flip (horizontal, probability 1/2), scale (x and y factors in [1/1.2, 1.2]) and rotate (+-15 degrees);
scale and rotate resample bilinearly with zero padding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gtnbench.data.names import DSA_TRANSFORMS

FLIP_PROBABILITY = 0.5
SCALE_RATIO = 1.2
ROTATE_DEGREES = 15.0
CROP_RATIO = 0.125
CUTOUT_RATIO = 0.5
BRIGHTNESS = 1.0
SATURATION = 2.0
CONTRAST = 0.5


@dataclass(frozen=True)
class Augmentation:
    """One drawn transform: its kind and parameters, each a CPU tensor [n] (n = 1: one for all images)."""

    kind: str
    values: dict[str, torch.Tensor]


def check_strategy(strategy: Sequence[str]) -> tuple[str, ...]:
    unknown = [name for name in strategy if name not in DSA_TRANSFORMS]
    if unknown:
        raise ValueError(f"unknown DSA transform(s) {', '.join(unknown)}; known: {', '.join(DSA_TRANSFORMS)}")
    return tuple(strategy)


def draw_augmentation(
    strategy: Sequence[str], count: int, image_size: tuple[int, int], generator: torch.Generator
) -> Augmentation:
    """A transform of `strategy` at random and `count` draws of its parameters (count = 1: Siamese)."""
    kind = strategy[int(torch.randint(len(strategy), (1,), generator=generator))]
    height, width = image_size

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(count, generator=generator, dtype=torch.float64)

    if kind == "color":
        values = {
            "brightness": uniform(-0.5, 0.5) * BRIGHTNESS,
            "saturation": uniform(0, SATURATION),
            "contrast": uniform(CONTRAST, CONTRAST + 1),
        }
    elif kind == "crop":
        shift_y, shift_x = int(height * CROP_RATIO + 0.5), int(width * CROP_RATIO + 0.5)
        values = {
            "dy": torch.randint(-shift_y, shift_y + 1, (count,), generator=generator),
            "dx": torch.randint(-shift_x, shift_x + 1, (count,), generator=generator),
        }
    elif kind == "cutout":
        size_y, size_x = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
        values = {
            "cy": torch.randint(0, height + (1 - size_y % 2), (count,), generator=generator),
            "cx": torch.randint(0, width + (1 - size_x % 2), (count,), generator=generator),
        }
    elif kind == "flip":
        values = {"flip": torch.rand(count, generator=generator) < FLIP_PROBABILITY}
    elif kind == "scale":
        values = {"sx": uniform(1 / SCALE_RATIO, SCALE_RATIO), "sy": uniform(1 / SCALE_RATIO, SCALE_RATIO)}
    else:
        values = {"angle": uniform(-1, 1) * math.radians(ROTATE_DEGREES)}
    return Augmentation(kind, values)


def _per_image(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    value = value.to(x.device)
    return value.expand(x.shape[0]) if value.shape[0] == 1 else value


def _affine(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Resample x at the grid [[a, b], [c, d]] (no translation), bilinear, zero padding."""
    zero = torch.zeros_like(a)
    theta = torch.stack([torch.stack([a, b, zero], 1), torch.stack([c, d, zero], 1)], 1).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _translate(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """out[i, j] = x[i + dy, j + dx], zero outside."""
    n, _, h, w = x.shape
    pad = int(max(dy.abs().max(), dx.abs().max()))
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (torch.arange(h, device=x.device) + pad).view(1, h, 1) + dy.view(n, 1, 1)
    cols = (torch.arange(w, device=x.device) + pad).view(1, 1, w) + dx.view(n, 1, 1)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
    n, _, h, w = x.shape
    size_y, size_x = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    top, left = (cy - size_y // 2).view(n, 1, 1), (cx - size_x // 2).view(n, 1, 1)
    rows, cols = torch.arange(h, device=x.device).view(1, h, 1), torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def augment(x: torch.Tensor, augmentation: Augmentation) -> torch.Tensor:
    """x [N, C, H, W] transformed by `augmentation` (parameters broadcast when drawn once)."""
    v = {name: _per_image(value, x) for name, value in augmentation.values.items()}
    kind = augmentation.kind
    if kind == "color":
        shape = (-1, 1, 1, 1)
        x = x + v["brightness"].to(x.dtype).view(shape)
        channel_mean = x.mean(dim=1, keepdim=True)
        x = (x - channel_mean) * v["saturation"].to(x.dtype).view(shape) + channel_mean
        image_mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - image_mean) * v["contrast"].to(x.dtype).view(shape) + image_mean
    if kind == "crop":
        return _translate(x, v["dy"], v["dx"])
    if kind == "cutout":
        return _cutout(x, v["cy"], v["cx"])
    if kind == "flip":
        return torch.where(v["flip"].view(-1, 1, 1, 1), x.flip(3), x)
    if kind == "scale":
        zero = torch.zeros_like(v["sx"])
        return _affine(x, v["sx"], zero, zero, v["sy"])
    cos, sin = v["angle"].cos(), v["angle"].sin()
    return _affine(x, cos, -sin, sin, cos)
