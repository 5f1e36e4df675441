"""The GTN generator: noise + one-hot label -> image in [-2, 2] (the range of normalised data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gtnbench.models.layers import LEAKY_SLOPE, initialised


@dataclass(frozen=True)
class GeneratorSpec:
    """Architecture of a generator. The defaults are the official code's (about 6.7 M parameters
    for 28x28x1, 8.6 M for 32x32x3); smaller values make CPU-sized generators for tests and smoke runs."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10
    noise_dim: int = 128
    hidden: int = 1024
    channels: tuple[int, int] = (128, 64)
    weight_norm: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


class Generator(nn.Module):
    """Linear-BN-LReLU twice, reshape to (channels[0], H/4, W/4), then twice nearest-upsample x2,
    reflection-pad and conv3x3 (BN-LReLU between), tanh x 2. Batch norm always uses the statistics
    of the batch being generated (no running estimates), as the generator only ever runs in training mode."""

    def __init__(self, spec: GeneratorSpec, generator: torch.Generator | None = None, device=None) -> None:
        super().__init__()
        self.spec = spec
        channels, height, width = spec.image_shape
        if height % 4 or width % 4:
            raise ValueError(f"generator needs image sides divisible by 4, got {height}x{width}")
        c1, c2 = spec.channels
        self.seed_shape = (c1, height // 4, width // 4)
        wn = spec.weight_norm
        in_features = spec.noise_dim + spec.num_classes
        self.fc1 = initialised(nn.Linear(in_features, spec.hidden, device=device), generator, wn)
        self.bn1 = nn.BatchNorm1d(spec.hidden, track_running_stats=False, device=device)
        self.fc2 = initialised(nn.Linear(spec.hidden, c1 * height * width // 16, device=device), generator, wn)
        self.bn2 = nn.BatchNorm1d(c1 * height * width // 16, track_running_stats=False, device=device)
        self.conv1 = initialised(nn.Conv2d(c1, c2, 3, device=device), generator, wn)
        self.bn3 = nn.BatchNorm2d(c2, track_running_stats=False, device=device)
        self.conv2 = initialised(nn.Conv2d(c2, channels, 3, device=device), generator, wn)

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = torch.cat([noise, F.one_hot(labels, self.spec.num_classes).to(noise.dtype)], dim=1)
        x = F.leaky_relu(self.bn1(self.fc1(x)), LEAKY_SLOPE)
        x = F.leaky_relu(self.bn2(self.fc2(x)), LEAKY_SLOPE).view(-1, *self.seed_shape)
        x = self.conv1(F.pad(F.interpolate(x, scale_factor=2, mode="nearest"), (1, 1, 1, 1), mode="reflect"))
        x = F.leaky_relu(self.bn3(x), LEAKY_SLOPE)
        x = self.conv2(F.pad(F.interpolate(x, scale_factor=2, mode="nearest"), (1, 1, 1, 1), mode="reflect"))
        return 2 * torch.tanh(x)
