"""Building blocks of the paper's learners: weight-normalised layers and Kaiming init (batch norm: models/norm.py)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

LEAKY_SLOPE = 0.1


class WeightNorm(nn.Module):
    """w = g * v / ||v|| (norm over all but the output dimension), as a parametrization.

    Composed from primitive ops on purpose: torch.nn.utils.parametrizations.weight_norm
    calls the fused torch._weight_norm, whose backward treats the saved norms as constants,
    so gradients of gradients (GTN's exact meta-gradient through the inner loop) come out
    slightly wrong (about 2e-5 relative; tests/test_meta.py checks against finite differences).
    """

    def forward(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return v * (g / v.flatten(1).norm(dim=1).view(g.shape))

    def right_inverse(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (-1,) + (1,) * (weight.dim() - 1)
        return weight.flatten(1).norm(dim=1).view(shape), weight


def weight_norm(layer: nn.Module) -> nn.Module:
    """Weight-normalise `layer.weight` (parameters: `original0` = g, `original1` = v, as torch names them)."""
    parametrize.register_parametrization(layer, "weight", WeightNorm(), unsafe=True)
    return layer


def kaiming_(layer: nn.Conv2d | nn.Linear, generator: torch.Generator | None) -> None:
    """Kaiming-normal weights for LeakyReLU(0.1) and zero bias, drawn from `generator`."""
    with torch.no_grad():
        nn.init.kaiming_normal_(layer.weight, a=LEAKY_SLOPE, nonlinearity="leaky_relu", generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()


def initialised(layer: nn.Conv2d | nn.Linear, generator: torch.Generator | None, normalise: bool) -> nn.Module:
    """Kaiming-initialise `layer`, then (optionally) weight-normalise it so that g = ||v|| at start."""
    kaiming_(layer, generator)
    return weight_norm(layer) if normalise else layer


def conv3x3(cin: int, cout: int, stride: int, generator, normalise: bool, device) -> nn.Module:
    layer = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False, device=device)
    return initialised(layer, generator, normalise)


def linear(cin: int, cout: int, generator, normalise: bool, device, bias: bool = True) -> nn.Module:
    return initialised(nn.Linear(cin, cout, bias=bias, device=device), generator, normalise)


def initialise_search_network(network: nn.Module, classifier: nn.Linear, generator: torch.Generator | None) -> None:
    """A search space's network as its benchmark initialises it: Kaiming-normal convolutions and a
    uniform(+-1/sqrt(fan_in)) classifier, drawn from `generator`; nothing on the meta device (shapes only)."""
    if classifier.weight.is_meta:
        return
    with torch.no_grad():
        for m in network.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=generator)
        bound = 1 / math.sqrt(classifier.in_features)
        nn.init.uniform_(classifier.weight, -bound, bound, generator=generator)
        nn.init.uniform_(classifier.bias, -bound, bound, generator=generator)
