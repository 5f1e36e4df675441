"""CUDA graphs for the plain inner loop (`--cuda-graphs`): one training step captured once per shape
and replayed at every later step, so that a step costs one graph launch instead of hundreds of
kernel launches.

What makes a step capturable lives in train.py (`StaticPlainStep`): parameters, momenta, batch-norm
statistics, the batch and the step sizes are static buffers the step updates in place; every draw
(batch indices, crops, GTN noise) is made by the lesson before training, outside the graph, and
copied into the static batch; the SGD update takes its learning rate and momentum from 0-d device
tensors (a capturable optimiser: no host scalar). This module holds the switch, the capture and
the cache of captured steps (keyed by everything that shapes the kernels: learner structure,
parameter and batch shapes, protocol, precision). Off by default: no GPU has measured it yet.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import torch

GRAPH_CAPACITY = 8  # captured steps kept (each holds its own memory pool); random widths mean many shapes
_state = {"enabled": False}


def enable_cuda_graphs(enabled: bool = True) -> None:
    """Switch CUDA-graph replay of plain training steps on or off for this process."""
    _state["enabled"] = enabled


def cuda_graphs_enabled(device: torch.device | str) -> bool:
    """Whether plain training on `device` replays captured steps (CUDA devices only)."""
    return _state["enabled"] and torch.device(device).type == "cuda"


def capture(step: Callable[[], None], state: Sequence[torch.Tensor], warmup: int = 3) -> torch.cuda.CUDAGraph:
    """A CUDA graph of `step`, which updates the static tensors `state` in place. The warm-up calls
    (on a side stream, as capture requires) change `state`; it is restored before returning."""
    saved = [t.clone() for t in state]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    with torch.no_grad():
        for tensor, value in zip(state, saved):
            tensor.copy_(value)
    return graph


class GraphCache:
    """The most recently used captured steps, by key (least recently used dropped beyond `capacity`)."""

    def __init__(self, capacity: int = GRAPH_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: Any) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


STEPS = GraphCache()
