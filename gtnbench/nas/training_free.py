"""Training-free proxies: scores of an untrained network that predict how well it will train.

Higher means "predicted better" for every proxy here. Baselines any proxy must beat on
NAS-Bench-201 are the parameter count and FLOPs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from gtnbench.models.nb201 import CellNetwork
from gtnbench.models.norm import statistics_pass
from gtnbench.nas.table import load_table


def param_count_score(arch: str | Sequence[str], num_classes: int = 10) -> float:
    """Parameters of the C=16, N=5 network of `arch` (built on the meta device: no memory, no compute)."""
    net = CellNetwork(arch, num_classes=num_classes, device="meta")
    return float(sum(p.numel() for p in net.parameters()))


def flops_score(index: int) -> float:
    """FLOPs (millions) of the CIFAR-10 network of architecture `index`: the table's cifar10_flops_M."""
    return load_table().value("cifar10_flops_M", index)


@torch.no_grad()
def naswot_score(net: nn.Module, x: torch.Tensor) -> float:
    """NASWOT: Mellor et al., "Neural Architecture Search without Training", ICML 2021.

    One forward pass of the minibatch `x`. Each input gets a binary code: for every unit of
    every nn.ReLU module, whether it is active (input > 0). With N_A units in all,
    K[i, j] = N_A - Hamming(code_i, code_j), and the score is log|det K| (slogdet). It is
    -inf when two inputs share a code (K singular), as for a cell whose output is always
    zero. The network runs in its current train/eval mode; ReLUs applied as functions
    (F.relu) are not seen.
    """
    kernel = torch.zeros(x.shape[0], x.shape[0], dtype=torch.float64, device=x.device)

    def add_codes(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        codes = (inputs[0] > 0).flatten(1).to(torch.float64)
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError("naswot_score needs a network with nn.ReLU modules")
    handles = [m.register_forward_hook(add_codes) for m in relus]
    try:
        net(x)
    finally:
        for handle in handles:
            handle.remove()
    return float(torch.linalg.slogdet(kernel).logabsdet)


def synflow_score(net: nn.Module, input_shape: Sequence[int]) -> float:
    """SynFlow: Tanaka et al., "Pruning neural networks without any data by iteratively conserving
    synaptic flow", NeurIPS 2020, as a NAS proxy (Abdelfattah et al., "Zero-Cost Proxies for
    Lightweight NAS", ICLR 2021).

    On a float64 deep copy of `net` (the caller's network is left as it is) whose parameters
    are replaced by their absolute values: R = sum of the outputs for one all-ones input of
    shape `input_shape` (C, H, W); score = sum over all parameters theta (BN and biases
    included) of theta * dR/dtheta. Batch-norm layers act as their affine part only (an
    evaluation pass with no statistics: mean 0, variance 1), so the score depends on the
    parameters alone and no batch statistics re-centre the all-positive signal.
    """
    model = copy.deepcopy(net).double()
    params = list(model.parameters())
    if not params:
        raise ValueError("synflow_score needs a network with parameters")
    with torch.no_grad():
        for p in params:
            p.abs_().requires_grad_()
    ones = torch.ones((1, *input_shape), dtype=torch.float64, device=params[0].device)
    with statistics_pass(training=False, exact=True):
        total = model(ones).sum()
    grads = torch.autograd.grad(total, params, allow_unused=True)
    with torch.no_grad():
        return float(sum((p * g).sum() for p, g in zip(params, grads) if g is not None))
