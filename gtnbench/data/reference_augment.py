"""The DC reference's evaluation augmentation "crop_scale_rotate" (VICO-UoE/DatasetCondensation, utils.py
`augment` with `get_daparam`'s parameters), which the reference applies when it evaluates a DC set on MNIST.

Each image of a batch gets one of the three transforms, chosen uniformly:

- crop: the image padded by 4 pixels filled with the batch's mean of each channel, then a 28x28 (HxW)
  window at an offset drawn from 0..7 in each direction (a shift of -4..+3 pixels);
- scale: resized (nearest neighbour) to int(s_h H) x int(s_w H) with s_h, s_w uniform in [0.8, 1.2),
  centred on a zero canvas of the larger side and cut back to H x W at the centre;
- rotate: rotated by an integer angle uniform in [-45, 44] degrees by scipy.ndimage.rotate (cubic
  spline, the canvas enlarged to hold the whole image, filled with the mean of the channel means), then
  cut back to H x W at the centre. This one runs on the CPU (scipy), as in the reference.

The draws are made ahead (`draw_crop_scale_rotate`), so applying them is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

CROP = 4
SCALE = 0.2
ROTATE = 45
KINDS = ("crop", "scale", "rotate")


@dataclass(frozen=True)
class CropScaleRotate:
    """Per-image draws, each a CPU tensor with one row per image: which transform (an index of KINDS), the
    crop's window offsets [n, 2], the scale factors [n, 2] and the rotation angle in degrees."""

    kind: torch.Tensor
    offset: torch.Tensor
    factor: torch.Tensor
    angle: torch.Tensor

    def __getitem__(self, rows: slice | torch.Tensor) -> CropScaleRotate:
        return CropScaleRotate(self.kind[rows], self.offset[rows], self.factor[rows], self.angle[rows])


def draw_crop_scale_rotate(count: int, generator: torch.Generator) -> CropScaleRotate:
    """The draws for `count` images from a CPU generator."""
    kind = torch.randint(len(KINDS), (count,), generator=generator)
    offset = torch.randint(2 * CROP, (count, 2), generator=generator)
    factor = 1 - SCALE + 2 * SCALE * torch.rand((count, 2), generator=generator, dtype=torch.float64)
    angle = torch.randint(-ROTATE, ROTATE, (count,), generator=generator)
    return CropScaleRotate(kind, offset, factor, angle)


def _crop(image: torch.Tensor, offset: tuple[int, int], fill: torch.Tensor) -> torch.Tensor:
    channels, height, width = image.shape
    canvas = fill.view(channels, 1, 1).expand(channels, height + 2 * CROP, width + 2 * CROP).clone()
    canvas[:, CROP : CROP + height, CROP : CROP + width] = image
    top, left = offset
    return canvas[:, top : top + height, left : left + width]


def _scale(image: torch.Tensor, factor: tuple[float, float]) -> torch.Tensor:
    channels, height, width = image.shape
    h, w = int(factor[0] * height), int(factor[1] * height)  # the reference scales both sides from the height
    resized = F.interpolate(image[None], [h, w])[0]
    side = max(h, w, height, width)
    canvas = torch.zeros(channels, side, side, dtype=image.dtype, device=image.device)
    top, left = int((side - h) / 2), int((side - w) / 2)
    canvas[:, top : top + h, left : left + w] = resized
    top, left = int((side - height) / 2), int((side - width) / 2)
    return canvas[:, top : top + height, left : left + width]


def _rotate(image: torch.Tensor, angle: int, fill: float) -> torch.Tensor:
    from scipy.ndimage import rotate

    height, width = image.shape[1:]
    turned = rotate(image.detach().cpu().numpy(), angle=angle, axes=(-2, -1), cval=fill)
    top, left = int((turned.shape[-2] - height) / 2), int((turned.shape[-1] - width) / 2)
    window = np.ascontiguousarray(turned[:, top : top + height, left : left + width])
    return torch.from_numpy(window).to(image.device, image.dtype)


def crop_scale_rotate(x: torch.Tensor, draws: CropScaleRotate) -> torch.Tensor:
    """The batch x [N, C, H, W] with each image transformed as its draw says."""
    means = x.mean(dim=(0, 2, 3))
    fill = float(means.mean())
    out = []
    for i, image in enumerate(x):
        kind = KINDS[int(draws.kind[i])]
        if kind == "crop":
            out.append(_crop(image, tuple(draws.offset[i].tolist()), means))
        elif kind == "scale":
            out.append(_scale(image, tuple(draws.factor[i].tolist())))
        else:
            out.append(_rotate(image, int(draws.angle[i]), fill))
    return torch.stack(out)
