"""Batched data augmentation on the device: random crop with zero padding, horizontal flip."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class CropFlip:
    """Per-image crop offsets and flips, [n, 1, 1] each: drawn once, applicable any number of times."""

    dy: torch.Tensor
    dx: torch.Tensor
    flip: torch.Tensor
    padding: int

    def __getitem__(self, rows) -> CropFlip:
        return CropFlip(self.dy[rows], self.dx[rows], self.flip[rows], self.padding)


def draw_crop_flip(n: int, generator: torch.Generator, device, padding: int = 4) -> CropFlip:
    """Offsets in [0, 2 * padding] and fair-coin flips for n images, from `generator` (no host sync)."""
    dy = torch.randint(0, 2 * padding + 1, (n, 1, 1), generator=generator, device=device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1, 1), generator=generator, device=device)
    flip = torch.rand((n, 1, 1), generator=generator, device=device) < 0.5
    return CropFlip(dy, dx, flip, padding)


def crop_flip(x: torch.Tensor, params: CropFlip) -> torch.Tensor:
    """Each image of `x` cropped (after zero padding) and flipped as `params` says."""
    n, _, h, w = x.shape
    p = params.padding
    padded = F.pad(x, (p, p, p, p))
    rows = torch.arange(h, device=x.device).view(1, h, 1) + params.dy
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    cols = torch.where(params.flip, w - 1 - cols, cols) + params.dx
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Each image gets its own crop offset and flip, drawn from `generator` (no host sync)."""
    return crop_flip(x, draw_crop_flip(x.shape[0], generator, x.device, padding))
