"""What making a set costs in floating-point operations, counted by torch (torch.utils.flop_counter).

A set maker repeats one unit of work (a DM or DC iteration, a feature learner's training step, an
embedding chunk) whose shapes do not change; `count_flops` runs one unit under FlopCounterMode, which
passes every op through unchanged (the result is the same as without it) and counts the FLOPs of the
ops it knows (matrix products, convolutions and their backward passes: nearly all of a network's
work; elementwise ops are not counted). The cost of the whole making is that unit's count times the
number of units.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch.utils.flop_counter import FlopCounterMode

R = TypeVar("R")
FLOPS_HOW = "torch.utils.flop_counter.FlopCounterMode on one unit of work, times the units (matmuls and convolutions)"


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose module hooks do not support the
    torch.autograd.grad calls on leaves that set makers make: every count goes to the total ("Global")."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *args: object) -> None:
        return None


class TotalFlops(FlopCounterMode):
    """torch's FLOP counter, totals only (no per-module attribution)."""

    def __init__(self) -> None:
        super().__init__(display=False)
        self.mod_tracker = _GlobalOnly()


def count_flops(fn: Callable[[], R]) -> tuple[R, int]:
    """fn() and the FLOPs it ran."""
    with TotalFlops() as counter:
        result = fn()
    return result, int(counter.get_total_flops())
