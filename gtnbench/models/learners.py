"""The paper's MNIST and CIFAR-10 learners, the DC/DM reference ConvNet and the search spaces' networks, built
on a device from a seeded generator.

Learners are plain nn.Modules; the inner loop trains them in functional form, with the
parameters as a dict of tensors passed to torch.func.functional_call.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from gtnbench.models.layers import LEAKY_SLOPE, conv3x3, linear
from gtnbench.models.macro import MacroNetwork
from gtnbench.models.macro_codes import random_code
from gtnbench.models.nb201 import CellNetwork, random_cell
from gtnbench.models.norm import MeanOnlyBatchNorm, check_protocol


class MnistLearner(nn.Module):
    """conv3x3-maxpool-BN-LReLU blocks, then FC-BN-LReLU and FC. widths = (*conv widths, fc width):
    the paper's learner is (64, 128, 256); more or fewer conv widths give deeper or shallower learners."""

    default_widths = (64, 128, 256)
    default_bn_eval = "last-batch"
    # Width randomisation ranges [low, high) at the default widths (GTN_FACTS.md).
    default_width_ranges = ((32, 128), (64, 256), (64, 256))

    def __init__(
        self, widths, in_shape, num_classes, generator=None, weight_norm=True, device=None, bn_eval="last-batch"
    ):
        super().__init__()
        self.bn_eval = check_protocol(bn_eval)
        *convs, fc = widths
        channels, height, width = in_shape
        layers = []
        for cout in convs:
            layers += [
                conv3x3(channels, cout, 1, generator, weight_norm, device),
                nn.MaxPool2d(3, 2, 1),
                MeanOnlyBatchNorm(cout, device),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
            channels, height, width = cout, (height + 1) // 2, (width + 1) // 2
        layers += [
            nn.Flatten(),
            linear(channels * height * width, fc, generator, weight_norm, device, bias=False),
            MeanOnlyBatchNorm(fc, device),
            nn.LeakyReLU(LEAKY_SLOPE),
            linear(fc, num_classes, generator, weight_norm, device),
        ]
        self.features = nn.Sequential(*layers)
        self.channels_last = True  # off under vmap (see vmappable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One-channel images give the first convolution nothing to lay out channels-last; its output,
        # converted, makes the pooling and the next convolution about twice as fast on a CPU.
        first, *rest = self.features
        x = first(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for layer in rest:
            x = layer(x)
        return x


@contextmanager
def vmappable(learner: nn.Module) -> Iterator[nn.Module]:
    """The learner with its channels-last conversion off for the duration (vmap cannot clone into
    channels-last); a learner without one is left as it is."""
    before = getattr(learner, "channels_last", None)
    if before is not None:
        learner.channels_last = False
    try:
        yield learner
    finally:
        if before is not None:
            learner.channels_last = before


class CifarLearner(nn.Module):
    """Five conv3x3-BN-LReLU blocks (strides 1, 2, 1, 2, 1), global average pool, FC."""

    default_widths = (64, 128, 128, 256, 256)
    default_width_ranges = tuple((w // 2, 2 * w) for w in default_widths)
    strides = (1, 2, 1, 2, 1)
    default_bn_eval = "last-batch"

    def __init__(
        self, widths, in_shape, num_classes, generator=None, weight_norm=True, device=None, bn_eval="last-batch"
    ):
        super().__init__()
        self.bn_eval = check_protocol(bn_eval)
        layers, cin = [], in_shape[0]
        for cout, stride in zip(widths, self.strides, strict=True):
            layers += [
                conv3x3(cin, cout, stride, generator, weight_norm, device),
                MeanOnlyBatchNorm(cout, device),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
            cin = cout
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear(cin, num_classes, generator, weight_norm, device)]
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class ConvNet(nn.Module):
    """The DC/DM reference ConvNet (VICO-UoE/DatasetCondensation, networks.py, its default setting): per
    width a block of conv3x3 (with bias), instance norm (GroupNorm with one group per channel, affine),
    ReLU and 2x2 average pooling; then the flattened feature map and one linear classifier. widths =
    (128, 128, 128): depth 3, width 128. One-channel images (MNIST, 28x28) get padding 3 in the first
    convolution, so that the map is 32x32 as for CIFAR-10 (the reference's). PyTorch's default
    initialisation (Kaiming-uniform weights, uniform biases), drawn from the seeded generator. No batch
    norm and no weight normalisation: every batch-norm protocol is the same, and it is recorded as
    "batch" (the direct path of the inner loop)."""

    default_widths = (128, 128, 128)
    default_width_ranges = ((64, 256),) * 3
    default_bn_eval = "batch"

    def __init__(self, widths, in_shape, num_classes, generator=None, weight_norm=False, device=None, bn_eval="batch"):
        super().__init__()
        if weight_norm:
            raise ValueError("the reference ConvNet is not weight-normalised: build it with weight_norm = false")
        self.bn_eval = check_protocol(bn_eval)
        channels, height, width = in_shape
        blocks = []
        for depth, cout in enumerate(widths):
            padding = 3 if channels == 1 and depth == 0 else 1
            blocks += [
                nn.Conv2d(channels, cout, 3, padding=padding, device=device),
                nn.GroupNorm(cout, cout, affine=True, device=device),
                nn.ReLU(),
                nn.AvgPool2d(2, 2),
            ]
            height, width = (height + 2 * padding - 2) // 2, (width + 2 * padding - 2) // 2
            channels = cout
        self.features = nn.Sequential(*blocks)
        self.feature_shape = (channels, height, width)
        self.classifier = nn.Linear(channels * height * width, num_classes, device=device)
        reference_init_(self, generator)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened last feature map (the reference's `embed`: 128 x 4 x 4 = 2,048 values an image)."""
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def reference_init_(network: nn.Module, generator: torch.Generator | None) -> None:
    """PyTorch's default initialisation of every conv and linear layer (Kaiming-uniform with a = sqrt(5),
    biases uniform in +-1/sqrt(fan_in)), drawn from `generator`; norms keep weight 1, bias 0."""
    with torch.no_grad():
        for layer in network.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(layer.weight[0].numel())
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class CellLearner(CellNetwork):
    """A NAS-Bench-201 cell network as a learner: widths = (C, N); the cell is `arch`, or drawn at
    random from the learner's seed (so that a GTN meta-trained on them is not tuned to one architecture).
    Its layers are not weight-normalised: it is the benchmark's own network, batch norm included."""

    default_widths = (16, 5)
    default_bn_eval = "running"

    def __init__(
        self,
        widths,
        in_shape,
        num_classes,
        generator=None,
        weight_norm=True,
        device=None,
        arch=None,
        seed=0,
        bn_eval="running",
    ):
        channels, cells = widths
        cell = arch or random_cell(torch.Generator(device="cpu").manual_seed(seed))
        super().__init__(cell, channels, cells, num_classes, in_shape[0], device, generator, bn_eval)


class MacroLearner(MacroNetwork):
    """A NAS-Bench-Macro network as a learner: widths = (channels, head_channels); the code is `arch`, or
    drawn at random from the learner's seed among the 3,969 distinct networks (models.macro_codes), so that
    a GTN meta-trained on them is not tuned to one architecture. Not weight-normalised, like CellLearner."""

    default_widths = (32, 1280)
    default_bn_eval = "running"

    def __init__(
        self,
        widths,
        in_shape,
        num_classes,
        generator=None,
        weight_norm=True,
        device=None,
        arch=None,
        seed=0,
        bn_eval="running",
    ):
        channels, head_channels = widths
        super().__init__(
            arch or random_code(seed), channels, head_channels, num_classes, in_shape[0], device, generator, bn_eval
        )


LEARNERS: dict[str, type[nn.Module]] = {
    "mnist-paper": MnistLearner,
    "cifar10-paper": CifarLearner,
    "nb201-cell": CellLearner,
    "macro-net": MacroLearner,
    "convnet": ConvNet,
}
# Learners that are a search space's network: their architecture is `arch`, else drawn from the seed.
SPACE_LEARNERS = {"nb201-cell": CellLearner, "macro-net": MacroLearner}


@dataclass(frozen=True)
class LearnerSpec:
    """Which learner to build: registry name, widths (None: the paper's), weight norm, width randomisation,
    for `nb201-cell` the cell and for `macro-net` the code (None: a random one per seed), and the batch-norm
    evaluation protocol (models/norm.py; None: the learner's default, "last-batch" for the paper's learners as
    in the official GTN code, "running" for the search spaces' networks as their benchmarks train them)."""

    name: str
    widths: tuple[int, ...] | None = None
    weight_norm: bool = True
    randomize_widths: bool = False
    arch: str | None = None
    bn_eval: str | None = None

    def base_widths(self) -> tuple[int, ...]:
        return tuple(self.widths) if self.widths else LEARNERS[self.name].default_widths

    def protocol(self) -> str:
        """The batch-norm evaluation protocol this learner runs under."""
        return self.bn_eval or LEARNERS[self.name].default_bn_eval


def sample_widths(spec: LearnerSpec, generator: torch.Generator) -> tuple[int, ...]:
    """Widths for one learner: the spec's, or with randomisation one draw per layer from a range
    that scales with its width (the paper's ranges at the default widths, else [w/2, 2w))."""
    widths = spec.base_widths()
    if not spec.randomize_widths:
        return widths
    cls = LEARNERS[spec.name]
    if len(widths) == len(cls.default_widths):
        ranges = [
            (low * w / d, high * w / d)
            for w, d, (low, high) in zip(widths, cls.default_widths, cls.default_width_ranges)
        ]
    else:
        ranges = [(w / 2, 2 * w) for w in widths]
    drawn = []
    for low, high in ranges:
        low, high = max(1, round(low)), max(2, round(high))
        drawn.append(int(torch.randint(low, high, (1,), generator=generator, device="cpu").item()))
    return tuple(drawn)


def build_learner(
    spec: LearnerSpec,
    in_shape: tuple[int, int, int],
    num_classes: int,
    seed: int,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """A freshly initialised learner. Same seed and device: same widths and weights."""
    if spec.name not in LEARNERS:
        raise ValueError(f"unknown learner {spec.name!r}; known: {', '.join(LEARNERS)}")
    init = torch.Generator(device=device).manual_seed(seed)
    if spec.name in SPACE_LEARNERS:
        return SPACE_LEARNERS[spec.name](
            spec.base_widths(),
            in_shape,
            num_classes,
            init,
            device=device,
            arch=spec.arch,
            seed=seed,
            bn_eval=spec.protocol(),
        )
    widths = sample_widths(spec, torch.Generator(device="cpu").manual_seed(seed))
    return LEARNERS[spec.name](widths, in_shape, num_classes, init, spec.weight_norm, device, spec.protocol())
