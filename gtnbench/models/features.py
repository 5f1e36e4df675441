"""Penultimate-layer features of the MNIST and CIFAR-10 learners: the embedding that distribution
matching and the coresets work in.

Both learners are one nn.Sequential (`features`) whose last layer is the classifier, so the
features are that Sequential without its last layer, called in functional form with the
learner's parameters (the learner itself is not changed). The MNIST learner's features are the
activations after its FC-BN-LReLU block (fc width); the CIFAR-10 learner's are the globally
average-pooled activations of its last conv block (last conv width). Mean-only batch norm centres
with the statistics of the batch at hand, so a feature depends on the batch it is computed in.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from gtnbench.errors import GtnbenchError
from gtnbench.models.learners import CifarLearner, MnistLearner

PREFIX = "features."


def feature_body(learner: nn.Module) -> nn.Sequential:
    """The learner's layers up to, not including, the classifier (same modules, same parameter names
    without the `features.` prefix)."""
    if not isinstance(learner, (MnistLearner, CifarLearner)):
        raise GtnbenchError(f"penultimate features are defined for the mnist-paper and cifar10-paper learners, "
                            f"not {type(learner).__name__}")  # fmt: skip
    return learner.features[:-1]


def penultimate_features(learner: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Features [N, D] of images x under `params` (a dict named like learner.named_parameters())."""
    body = feature_body(learner)
    classifier = f"{PREFIX}{len(learner.features) - 1}."
    inner = {name[len(PREFIX):]: value for name, value in params.items()
             if name.startswith(PREFIX) and not name.startswith(classifier)}  # fmt: skip
    return functional_call(body, inner, (x,))

