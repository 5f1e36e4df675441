"""The train-based proxy for many NAS-Bench-201 architectures at once: one masked super-network, vmapped.

NAS-Bench-201 only (SearchSpace.batched): its cells share one layout an op mask can select from;
NAS-Bench-Macro's chains differ in depth and width per code, so its suites refuse batch_archs > 1.

Every edge of the super-network computes every op and combines them with the architecture's
one-hot mask, so an unused op is multiplied by an exact zero. Each architecture keeps its own
parameters, stacked along a leading architecture dimension and initialised by copying the
network `build_network` gives it, and `torch.func.vmap` of `torch.func.grad` trains them all in
one pass over the shared lesson. Batch-norm statistics are threaded per architecture as in the
shared inner loop (train.py). The results are those of `train_based` one architecture at a time,
up to floating-point rounding (batched convolutions add in another order, and batch norm runs
as differentiable arithmetic rather than fused kernels here).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from gtnbench.data.datasets import ImageDataset
from gtnbench.device import synchronize
from gtnbench.models.nb201 import (
    EDGES,
    OPS,
    AveragePool3x3,
    CellNetwork,
    ResidualReduction,
    arch_str,
    computed_edges,
    edge_key,
    relu_conv_bn,
)
from gtnbench.models.norm import KEEP, Stats, statistics_pass
from gtnbench.nas.proxies import ProxyScores, build_network, pregenerated
from gtnbench.nas.spaces import SPACES
from gtnbench.teachers.base import Lesson, Teacher
from gtnbench.train import EVAL_BATCH, LearnerState, Params, sgd_momentum_step

CONV_OPS = ("nor_conv_1x1", "nor_conv_3x3")
_POOL = AveragePool3x3()


def arch_mask(ops: Sequence[str]) -> torch.Tensor:
    """[edges, ops] one-hot rows (columns in OPS order) for the edges CellNetwork computes; the others are
    all zeros, so that, as in CellNetwork's pruned forward, only edges that affect the output carry signal."""
    mask = torch.zeros(len(EDGES), len(OPS), device="cpu")
    for position in computed_edges(ops):
        mask[position, OPS.index(ops[position])] = 1.0
    return mask


class MaskedCell(nn.Module):
    """A cell in which every edge computes every op; `mask` [edges, ops] picks (and zeroes) them."""

    def __init__(self, channels: int, device) -> None:
        super().__init__()
        self.edges = nn.ModuleDict(
            {
                edge_key(position): nn.ModuleDict(
                    {
                        op: relu_conv_bn(channels, channels, 1 if op == "nor_conv_1x1" else 3, 1, device)
                        for op in CONV_OPS
                    }
                )
                for position in range(len(EDGES))
            }
        )

    def edge(self, position: int, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        convs = self.edges[edge_key(position)]
        outputs = {"skip_connect": x, "avg_pool_3x3": _POOL(x), **{op: convs[op](x) for op in CONV_OPS}}
        total = torch.zeros_like(x)
        for column, op in enumerate(OPS[1:], start=1):  # "none" adds nothing
            total = total + weights[column] * outputs[op]
        return total

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            total = torch.zeros_like(x)
            for position, (target, source) in enumerate(EDGES):
                if target == node:
                    total = total + self.edge(position, nodes[source], mask[position])
            nodes.append(total)
        return nodes[3]


class GlobalAvgPool(nn.Module):
    """AdaptiveAvgPool2d(1) as the mean it computes, without the in-place restride vmap has no batching rule for."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((-2, -1), keepdim=True)


class SuperNetwork(CellNetwork):
    """CellNetwork's layout (same parameter names outside the cells) with masked cells: forward(x, mask)."""

    def __init__(
        self, C: int, N: int, num_classes: int, in_channels: int, device="meta", bn_eval: str = "running"
    ) -> None:
        super().__init__(("none",) * len(EDGES), C, N, num_classes, in_channels, device, bn_eval=bn_eval)
        self.cells = nn.Sequential(
            *[
                layer if isinstance(layer, ResidualReduction) else MaskedCell(width, device)
                for layer, width in zip(self.cells, [C] * N + [2 * C] * (N + 1) + [4 * C] * (N + 1))
            ]
        )
        self.head[2] = GlobalAvgPool()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.cells:
            x = layer(x, mask) if isinstance(layer, MaskedCell) else layer(x)
        return self.classifier(self.head(x))


def super_name(name: str, ops: Sequence[str]) -> str:
    """A CellNetwork parameter's super-network name: cells.i.edges.2_1.1.weight -> cells.i.edges.2_1.<op>.1.weight."""
    parts = name.split(".")
    if parts[0] == "cells" and parts[2] == "edges":
        position = [edge_key(p) for p in range(len(EDGES))].index(parts[3])
        parts.insert(4, ops[position])
    return ".".join(parts)


def stack_params(supernet: SuperNetwork, nets: Sequence[CellNetwork], device) -> Params:
    """Each network's parameters copied into slot a of the stacked super-network parameters [A, ...];
    the ops a network does not have stay zero (their mask is zero, so they never change)."""
    stacked = {name: torch.zeros((len(nets), *p.shape), device=device) for name, p in supernet.named_parameters()}
    for a, net in enumerate(nets):
        for name, p in net.named_parameters():
            stacked[super_name(name, net.ops)][a] = p.detach()
    return stacked


def unstack_params(params: Params, a: int, net: CellNetwork) -> Params:
    """Architecture a's parameters under `net`'s own names (the inverse of stack_params)."""
    return {name: params[super_name(name, net.ops)][a] for name, _ in net.named_parameters()}


def _forward(
    supernet: SuperNetwork, p: Params, stats: Stats, mask: torch.Tensor, x: torch.Tensor, training: bool
) -> tuple[torch.Tensor, Stats]:
    """One architecture's outputs (under vmap) and, in training, the statistics its batch leaves behind."""
    protocol = supernet.bn_eval
    if protocol == "batch":
        return functional_call(supernet, p, (x, mask)), ()
    with statistics_pass(training, given=stats, keep=KEEP.get(protocol, 0.0), exact=True) as current:
        out = functional_call(supernet, p, (x, mask))
    return out, tuple(current.produced) if training else stats


def train_batch(
    supernet: SuperNetwork,
    params: Params,
    masks: torch.Tensor,
    lesson: Lesson,
    observe=None,
    observe_at: tuple[int, ...] = (),
) -> LearnerState:
    """`train`'s SGD + momentum for every architecture at once: one shared batch per step, and per-architecture
    gradients from vmap(grad) over (stacked params, statistics, masks). observe(t, state) after the steps in
    observe_at; the state's parameters and statistics are stacked along the architecture dimension."""

    def loss(p: Params, stats: Stats, mask: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
        out, new = _forward(supernet, p, stats, mask, x, True)
        return F.cross_entropy(out, y), new

    gradients = vmap(grad(loss, has_aux=True), in_dims=(0, 0, 0, None, None))
    names = list(params)
    state, buffers, stats = [params[n] for n in names], [torch.zeros_like(params[n]) for n in names], ()
    for t in range(lesson.steps):
        x, y = lesson.batch(t)
        grads, stats = gradients(dict(zip(names, state)), stats, masks, x, y)
        state, buffers = sgd_momentum_step(state, buffers, [grads[n] for n in names], lesson.lrs[t], lesson.momenta[t])
        if observe is not None and t + 1 in observe_at:
            observe(t + 1, LearnerState(dict(zip(names, state)), stats))
    return LearnerState(dict(zip(names, state)), stats)


@torch.no_grad()
def batch_logits(supernet: SuperNetwork, state: LearnerState, masks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """[A, len(x), classes] in evaluation mode, computed in chunks of EVAL_BATCH like `accuracy`."""
    forward = vmap(
        lambda p, stats, mask, chunk: _forward(supernet, p, stats, mask, chunk, False)[0], in_dims=(0, 0, 0, None)
    )
    return torch.cat(
        [
            forward(state.params, state.stats, masks, x[start : start + EVAL_BATCH])
            for start in range(0, x.shape[0], EVAL_BATCH)
        ],
        dim=1,
    )


def batch_accuracy(
    supernet: SuperNetwork, state: LearnerState, masks: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """[A] fraction of `x` each architecture classifies as `y` (on the device, no host sync)."""
    return (batch_logits(supernet, state, masks, x).argmax(2) == y).sum(1) / x.shape[0]


def train_based_batch(
    archs: list[int],
    teacher: Teacher,
    steps: list[int],
    dataset: ImageDataset,
    channels: int,
    cells: int,
    seed: int,
    device: str,
    eval_size: int | None = None,
    bn_eval: str = "running",
) -> list[ProxyScores]:
    """`train_based` for every architecture of `archs` at once, in the order of `archs`.

    Same initial weights (build_network with `seed`), same lesson (one draw, every architecture
    sees the same batches), same SGD + momentum and readouts. The cost recorded for each
    architecture at K steps is the batch's training time up to K (evaluation excluded) divided
    by the number of architectures: the amortised cost of one architecture.
    """
    if not archs:
        return []
    widths = {"channels": channels, "cells": cells}
    nets = [build_network(SPACES["nb201"], arch, widths, dataset, seed, device, bn_eval) for arch in archs]
    supernet = SuperNetwork(channels, cells, dataset.num_classes, dataset.image_shape[0], bn_eval=bn_eval)
    params = stack_params(supernet, nets, device)
    masks = torch.stack([arch_mask(net.ops) for net in nets]).to(device)
    x, y = dataset.val.x[:eval_size], dataset.val.y[:eval_size]
    lesson, generation = pregenerated(
        teacher.lesson(max(steps), torch.Generator(device=device).manual_seed(seed)), device
    )
    accuracies: dict[int, torch.Tensor] = {}
    elapsed: dict[int, float] = {}
    evaluation = [0.0]

    def observe(t: int, current: LearnerState) -> None:
        synchronize(device)
        elapsed[t] = time.perf_counter() - start - evaluation[0]
        before = time.perf_counter()
        accuracies[t] = batch_accuracy(supernet, current, masks, x, y)
        synchronize(device)
        evaluation[0] += time.perf_counter() - before

    synchronize(device)
    start = time.perf_counter()
    train_batch(supernet, params, masks, lesson, observe, tuple(steps))
    results = [ProxyScores(arch, arch_str(net.ops)) for arch, net in zip(archs, nets)]
    for t in sorted(steps):
        for result, value in zip(results, accuracies[t].tolist()):
            result.scores[str(t)] = value
            result.seconds[str(t)] = (elapsed[t] + generation * t / lesson.steps) / len(archs)
    return results
