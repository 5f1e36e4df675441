"""The NAS-Bench-Macro network built from an architecture code.

Our own implementation of the benchmark's chain network (its README and model definition):
a stem, three stages of 2, 3 and 3 searchable layers, a 1x1 head and a classifier. Each
layer is one digit of the 8-character code: 0 = identity, 1 = inverted residual with kernel 3
and expansion 3, 2 = inverted residual with kernel 5 and expansion 6. The first layer of a
stage has stride 2 and doubles the channels; an identity there is a 1x1 strided conv + BN.
At the default widths its parameter count (and its convolution/linear multiply-accumulates)
equal the benchmark's for every one of the 6,561 codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gtnbench.models.layers import initialise_search_network
from gtnbench.models.macro_codes import BLOCKS, STAGES, check_digits, code_str, parse_code
from gtnbench.models.norm import BatchNorm, check_protocol

Device = torch.device | str | None


def batch_norm(channels: int, device: Device) -> nn.Module:
    """The normalisation layer of every block (the one place to swap the BN class)."""
    return BatchNorm(channels, device)


class Downsample(nn.Module):
    """The identity of a stage's first layer: 1x1 conv with stride 2 to the wider channels, BN.

    The strided 1x1 conv is computed as every second pixel, then a 1x1 conv (the same function and
    parameters): on a CPU, oneDNN's second derivative of a strided 1x1 conv of a channels_last input
    (the data sets load as channels_last; GTN meta-training takes that derivative) corrupts the heap
    (torch 2.14.1).
    """

    def __init__(self, cin: int, cout: int, device: Device) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False, device=device)
        self.bn = batch_norm(cout, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x[:, :, ::2, ::2]))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand to round(cin * t), BN, ReLU; depthwise k x k, BN, ReLU; 1x1 project, BN.

    Adds its input when the shapes agree (stride 1, cin == cout).
    """

    def __init__(self, cin: int, cout: int, stride: int, kernel: int, expansion: int, device: Device) -> None:
        super().__init__()
        hidden = round(cin * expansion)
        self.body = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False, device=device),
            batch_norm(hidden, device),
            nn.ReLU(),
            nn.Conv2d(
                hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False, device=device
            ),
            batch_norm(hidden, device),
            nn.ReLU(),
            nn.Conv2d(hidden, cout, 1, bias=False, device=device),
            batch_norm(cout, device),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


def layer(digit: int, cin: int, cout: int, stride: int, device: Device) -> nn.Module:
    if digit == 0:
        return Downsample(cin, cout, device) if stride != 1 else nn.Identity()
    kernel, expansion = BLOCKS[digit]
    return InvertedResidual(cin, cout, stride, kernel, expansion, device)


class MacroNetwork(nn.Module):
    """NAS-Bench-Macro's network for one code: stem, 2 + 3 + 3 layers, head, classifier.

    `arch` is a code ("02012100") or eight digits. `channels` is the stem width (the stages
    have 2x, 4x and 8x it) and `head_channels` the 1x1 head's; the benchmark's are 32 and
    1280. BatchNorm is affine (models/norm.py, as in models.nb201); `bn_eval` is the protocol
    it is evaluated under ("running", "batch" or "last-batch"). Weights are drawn from
    `generator` (on `device`) when given, so they are reproducible: Kaiming normal for
    convolutions, PyTorch's default uniform scheme for the classifier. On device="meta"
    nothing is drawn (shapes only, for counting).
    """

    def __init__(
        self,
        arch: str | Sequence[int],
        channels: int = 32,
        head_channels: int = 1280,
        num_classes: int = 10,
        in_channels: int = 3,
        device: Device = None,
        generator: torch.Generator | None = None,
        bn_eval: str = "running",
    ) -> None:
        super().__init__()
        self.digits = parse_code(arch) if isinstance(arch, str) else check_digits(arch)
        self.code = code_str(self.digits)
        self.bn_eval = check_protocol(bn_eval)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False, device=device),
            batch_norm(channels, device),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        digits = iter(self.digits)
        width = channels
        for length in STAGES:
            for position in range(length):
                stride, cout = (2, 2 * width) if position == 0 else (1, width)
                layers.append(layer(next(digits), width, cout, stride, device))
                width = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Conv2d(width, head_channels, 1, bias=False, device=device),
            batch_norm(head_channels, device),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(head_channels, num_classes, device=device)
        initialise_search_network(self, self.classifier, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.layers(self.stem(x))))
