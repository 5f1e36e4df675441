"""Embeddings of the learners: what distribution matching and the coresets work in.

Two embeddings, each called in functional form with the learner's parameters (the learner itself is
not changed):

- "feature-map": the flattened output of the last convolutional block, before any pooling to a
  vector or hidden fully-connected layer: the DC/DM reference's `ConvNet.embed` (128 x 4 x 4 = 2,048
  values for its ConvNet on CIFAR-10). For the CIFAR-10 learner the map before its global average
  pooling (256 x 8 x 8), for the MNIST learner the map before its Flatten (128 x 4 x 4 at the paper's
  widths); DM's default (the reference's).
- "penultimate": the activations the classifier reads: the MNIST learner's FC-BN-LReLU block (fc
  width), the CIFAR-10 learner's globally average-pooled last block (last conv width), the ConvNet's
  flattened feature map (it has no hidden layer). What the coresets select in.

The paper learners are one nn.Sequential (`features`) whose last layer is the classifier; an embedding
is a prefix of it. Mean-only batch norm centres with the statistics of the batch at hand, so an
embedding of those learners depends on the batch it is computed in.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from gtnbench.errors import GtnbenchError
from gtnbench.models.learners import CifarLearner, ConvNet, MnistLearner

PREFIX = "features."
EMBEDDINGS = ("feature-map", "penultimate")


def _paper_prefix(learner: nn.Module, embedding: str) -> int:
    """How many layers of a paper learner's `features` an embedding runs."""
    layers = list(learner.features)
    if embedding == "penultimate":
        return len(layers) - 1
    stop = nn.Flatten if isinstance(learner, MnistLearner) else nn.AdaptiveAvgPool2d
    return next(i for i, layer in enumerate(layers) if isinstance(layer, stop))


def _check(learner: nn.Module, embedding: str) -> None:
    if embedding not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {embedding!r}; known: {', '.join(EMBEDDINGS)}")
    if not isinstance(learner, (MnistLearner, CifarLearner, ConvNet)):
        raise GtnbenchError(
            f"embeddings are defined for the mnist-paper, cifar10-paper and convnet learners, "
            f"not {type(learner).__name__}"
        )


def embed(
    learner: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor, embedding: str = "penultimate"
) -> torch.Tensor:
    """Embeddings [N, D] of images x under `params` (a dict named like learner.named_parameters())."""
    _check(learner, embedding)
    if isinstance(learner, ConvNet):
        inner = {name[len(PREFIX) :]: value for name, value in params.items() if name.startswith(PREFIX)}
        return functional_call(learner.features, inner, (x,)).flatten(1)
    count = _paper_prefix(learner, embedding)
    body = learner.features[:count]
    inner = {
        name[len(PREFIX) :]: value
        for name, value in params.items()
        if name.startswith(PREFIX) and int(name[len(PREFIX) :].split(".")[0]) < count
    }
    return functional_call(body, inner, (x,)).flatten(1)


def penultimate_features(learner: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Features [N, D] the classifier reads, of images x under `params`."""
    return embed(learner, params, x, "penultimate")
