"""The NAS-Bench-201 network (topology search space) built from an architecture string.

Our own implementation of the benchmark's network: a stem, three stages of N identical
cells separated by residual reduction blocks, and a classifier. At C=16, N=5 its parameter
count equals the benchmark's for every one of the 15,625 cells.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gtnbench.models.layers import initialise_search_network
from gtnbench.models.norm import BatchNorm, check_protocol

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (target node, source node) of each edge, in arch-string order.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

Device = torch.device | str | None


def parse_arch(arch_str: str) -> tuple[str, ...]:
    """The six ops of `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, in edge order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2."""
    nodes = arch_str.split("+")
    if len(nodes) != 3:
        raise ValueError(f"arch string {arch_str!r}: expected 3 nodes joined by '+', got {len(nodes)}")
    ops = []
    for target, node in enumerate(nodes, start=1):
        parts = node[1:-1].split("|")
        if len(node) < 2 or node[0] != "|" or node[-1] != "|" or len(parts) != target:
            raise ValueError(f"arch string {arch_str!r}: node {target} {node!r} must be |op~0|...|op~{target - 1}|")
        for source, part in enumerate(parts):
            op, _, origin = part.partition("~")
            if op not in OPS:
                raise ValueError(f"arch string {arch_str!r}: unknown op {op!r} in {part!r}; known: {', '.join(OPS)}")
            if origin != str(source):
                raise ValueError(f"arch string {arch_str!r}: edge {part!r} of node {target} should be op~{source}")
            ops.append(op)
    return tuple(ops)


def check_ops(ops: Sequence[str]) -> tuple[str, ...]:
    """`ops` as a tuple, after checking that it names six known ops."""
    ops = tuple(ops)
    if len(ops) != len(EDGES) or any(op not in OPS for op in ops):
        raise ValueError(f"expected {len(EDGES)} ops from {', '.join(OPS)}; got {ops!r}")
    return ops


def arch_str(ops: Sequence[str]) -> str:
    """The arch string of six ops in edge order (the inverse of parse_arch)."""
    ops = check_ops(ops)
    nodes: list[list[str]] = [[], [], []]
    for (target, source), op in zip(EDGES, ops):
        nodes[target - 1].append(f"{op}~{source}")
    return "+".join("|" + "|".join(node) + "|" for node in nodes)


def active_edges(ops: Sequence[str]) -> frozenset[int]:
    """Positions of the edges that carry signal from the cell input to its output.

    An edge is active when its op is not `none`, its source depends on the input and its
    target feeds the output. No active edge means a disconnected cell (its output does not
    depend on its input).
    """
    ops = check_ops(ops)
    live = {0}
    for target in (1, 2, 3):
        if any(t == target and s in live and op != "none" for (t, s), op in zip(EDGES, ops)):
            live.add(target)
    return frozenset(p for p in computed_edges(ops) if EDGES[p][1] in live) if 3 in live else frozenset()


def computed_edges(ops: Sequence[str]) -> frozenset[int]:
    """Positions of the edges that affect the cell's output: not `none`, and their target feeds the output.

    Unlike `active_edges`, an edge whose source does not depend on the input counts: its
    ReLU-conv-BN outputs batch norm's learned shift (beta), a constant NAS-Bench-201's own
    network trains too.
    """
    ops = check_ops(ops)
    useful, computed = {3}, set()
    for position in reversed(range(len(EDGES))):
        target, source = EDGES[position]
        if target in useful and ops[position] != "none":
            computed.add(position)
            useful.add(source)
    return frozenset(computed)


def random_cell(generator: torch.Generator) -> tuple[str, ...]:
    """Six ops drawn uniformly from OPS (redrawn while the cell is disconnected): a uniform draw
    from the connected cells of the space, without the table."""
    while True:
        drawn = torch.randint(0, len(OPS), (len(EDGES),), generator=generator, device=generator.device)
        ops = tuple(OPS[int(i)] for i in drawn)
        if active_edges(ops):
            return ops


def relu_conv_bn(cin: int, cout: int, kernel: int, stride: int, device: Device) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False, device=device),
        BatchNorm(cout, device),
    )


def edge_key(position: int) -> str:
    """The module name of an edge: "2_1" for the edge into node 2 from node 1."""
    target, source = EDGES[position]
    return f"{target}_{source}"


class AveragePool3x3(nn.Module):
    """The benchmark's 3x3 average pool (stride 1, padding 1, padding not counted) as a depthwise
    convolution of ones divided by each pixel's number of in-image neighbours: the same numbers, and
    on a CPU forward and backward take a quarter of AvgPool2d's time at NAS-proxy sizes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels, height, width = x.shape[-3:]
        total = F.conv2d(x, x.new_ones(channels, 1, 3, 3), padding=1, groups=channels)
        return total / neighbour_counts(height, width, x.device, x.dtype)


@functools.lru_cache(maxsize=64)
def neighbour_counts(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """In-image pixels of each pixel's 3x3 neighbourhood [1, 1, H, W], made once per size and device
    (not on every forward pass of every pooling edge)."""
    ones = torch.ones(1, 1, height, width, device=device, dtype=dtype)
    return F.conv2d(ones, torch.ones(1, 1, 3, 3, device=device, dtype=dtype), padding=1)


def edge_op(op: str, channels: int, device: Device) -> nn.Module:
    if op == "skip_connect":
        return nn.Identity()
    if op == "avg_pool_3x3":
        return AveragePool3x3()
    return relu_conv_bn(channels, channels, 1 if op == "nor_conv_1x1" else 3, 1, device)


class Cell(nn.Module):
    """A four-node DAG cell; a node is the sum of its incoming edges. Only edges that affect the output run."""

    def __init__(self, ops: Sequence[str], channels: int, device: Device) -> None:
        super().__init__()
        self.ops = check_ops(ops)
        self.edges = nn.ModuleDict(
            {edge_key(position): edge_op(op, channels, device) for position, op in enumerate(self.ops) if op != "none"}
        )
        computed = computed_edges(self.ops)
        self.incoming = {
            node: [(edge_key(p), EDGES[p][1]) for p in sorted(computed) if EDGES[p][0] == node] for node in (1, 2, 3)
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = {0: x}
        for node, incoming in self.incoming.items():
            if incoming:
                nodes[node] = sum(self.edges[key](nodes.get(source, torch.zeros_like(x))) for key, source in incoming)
        return nodes[3] if 3 in nodes else torch.zeros_like(x)


class ResidualReduction(nn.Module):
    """Halve the resolution, widen cin -> cout: ReLU-conv3x3/2-BN, ReLU-conv3x3-BN, plus AvgPool(2)+conv1x1."""

    def __init__(self, cin: int, cout: int, device: Device) -> None:
        super().__init__()
        self.conv_a = relu_conv_bn(cin, cout, 3, 2, device)
        self.conv_b = relu_conv_bn(cout, cout, 3, 1, device)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class CellNetwork(nn.Module):
    """NAS-Bench-201's network for one cell: stem, N cells at C, reduction, N at 2C, reduction, N at 4C, head.

    `arch` is an arch string or six ops in edge order. BatchNorm is affine (models/norm.py);
    `bn_eval` is the protocol it is evaluated under ("running": the running averages the
    benchmark's own training keeps; "batch": each batch's own statistics). Weights are drawn from `generator` (on `device`) when given, so they
    are reproducible: Kaiming normal for convolutions, PyTorch's default uniform scheme for
    the classifier. On device="meta" nothing is drawn (shapes only, for counting).
    """

    def __init__(
        self,
        arch: str | Sequence[str],
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        in_channels: int = 3,
        device: Device = None,
        generator: torch.Generator | None = None,
        bn_eval: str = "running",
    ) -> None:
        super().__init__()
        self.ops = parse_arch(arch) if isinstance(arch, str) else check_ops(arch)
        self.bn_eval = check_protocol(bn_eval)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, 3, padding=1, bias=False, device=device),
            BatchNorm(C, device),
        )
        layers: list[nn.Module] = []
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage:
                layers.append(ResidualReduction(width // 2, width, device))
            layers += [Cell(self.ops, width, device) for _ in range(N)]
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(
            BatchNorm(4 * C, device),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(4 * C, num_classes, device=device)
        initialise_search_network(self, self.classifier, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.cells(self.stem(x))))
