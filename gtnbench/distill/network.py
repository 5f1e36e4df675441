"""The set makers' view of a learner: a freshly initialised network in functional form (its
parameters as a dict of tensors, the module only supplying the computation), its loss, a few
plain SGD steps (optionally keeping batch-norm running estimates, as a PyTorch module in training
mode does), and penultimate features of many images in fixed chunks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from gtnbench.models.features import penultimate_features
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.models.norm import KEEP, Stats, statistics_pass

Params = dict[str, torch.Tensor]
FEATURE_CHUNK = 1000  # images per forward pass; batch-statistics normalisation makes features depend on it


def fresh_network(
    spec: LearnerSpec, image_shape: tuple[int, int, int], num_classes: int, seed: int, device: torch.device | str
) -> tuple[nn.Module, Params]:
    """A learner built from `seed` and a detached copy of its initial parameters."""
    learner = build_learner(spec, image_shape, num_classes, seed, device)
    return learner, {name: p.detach().clone() for name, p in learner.named_parameters()}


def loss_of(learner: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(functional_call(learner, params, (x,)), y)


@dataclass
class RunningStatistics:
    """Batch-norm running estimates a network keeps from one training-mode forward call to the next, as a
    PyTorch module in training mode keeps them: each call normalises with its batch's statistics and
    moves the estimates towards them (weight 0.1 on the new batch, from mean 0 and variance 1)."""

    stats: Stats = ()
    keep: float = KEEP["running"]

    def forward(self, learner: nn.Module, params: Params, x: torch.Tensor) -> torch.Tensor:
        """A training-mode forward call that updates the estimates."""
        with statistics_pass(training=True, given=self.stats, keep=self.keep) as current:
            out = functional_call(learner, params, (x,))
        self.stats = tuple(s.detach() for s in current.produced)
        return out


def sgd_steps(
    learner: nn.Module,
    params: Params,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    lr: float,
    momentum: float = 0.0,
    running: RunningStatistics | None = None,
) -> Params:
    """Plain (heavy-ball) SGD on `batches`, outside any graph: returns the new parameters, detached. With
    `running`, every step's forward call also updates those batch-norm running estimates."""
    names = list(params)
    current = [params[n].detach() for n in names]
    buffers = [torch.zeros_like(p) for p in current]
    for x, y in batches:
        leaves = [p.requires_grad_() for p in current]
        named = dict(zip(names, leaves))
        if running is None:
            loss = loss_of(learner, named, x, y)
        else:
            loss = F.cross_entropy(running.forward(learner, named, x), y)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True, materialize_grads=True)
        with torch.no_grad():
            buffers = [momentum * b + g for b, g in zip(buffers, grads)]
            current = [p - lr * b for p, b in zip(leaves, buffers)]
    return dict(zip(names, current))


@torch.no_grad()
def features_of(learner: nn.Module, params: Params, x: torch.Tensor) -> torch.Tensor:
    """Penultimate features [N, D] of all of x, in consecutive chunks of FEATURE_CHUNK images."""
    return torch.cat(
        [
            penultimate_features(learner, params, x[start : start + FEATURE_CHUNK])
            for start in range(0, x.shape[0], FEATURE_CHUNK)
        ]
    )
