"""Batch normalisation whose statistics are explicit training state: the evaluation protocol.

How a learner normalises when it is evaluated is a protocol choice (`BN_PROTOCOLS`):

- "last-batch": the official GTN code's batch norm (momentum 0 under its lerp convention): every
  training step stores the statistics of its own batch, and evaluation (the meta-loss, the step
  losses, validation and test) normalises with the statistics of the last *training* batch,
  which the meta-gradient flows through. Evaluation is per image.
- "running": exponential running averages, weight 0.1 on each new batch (PyTorch's and
  NAS-Bench-201's convention), starting from mean 0 and variance 1. Evaluation is per image.
- "batch": every batch is normalised with its own statistics, in evaluation too. Transductive:
  an image's prediction depends on the other images of its evaluation batch.

The layers here take what to do from the *pass* that `statistics_pass` opens around one forward
call: in a training pass they normalise with the batch's statistics and append the updated
statistics to the pass, in order; in an evaluation pass they consume the given statistics in the
same order. Outside a pass they normalise with the batch's statistics and keep nothing (the
"batch" protocol). So the statistics thread through an unrolled inner loop like the parameters,
as plain tensors, and no module holds state between calls.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

BN_PROTOCOLS = ("last-batch", "running", "batch")
# Weight of the previous statistics when a training batch updates them (official lerp convention).
KEEP = {"last-batch": 0.0, "running": 0.9}
EPS = 1e-5

Stats = tuple[torch.Tensor, ...]


def check_protocol(protocol: str) -> str:
    if protocol not in BN_PROTOCOLS:
        raise ValueError(f"unknown batch-norm protocol {protocol!r}; known: {', '.join(BN_PROTOCOLS)}")
    return protocol


@dataclass
class _Pass:
    """One forward call's view of the statistics: what to consume and what was produced."""

    training: bool
    keep: float  # training: weight of the previous statistics in the update
    given: Stats
    exact: bool  # differentiable arithmetic (through the statistics) instead of fused kernels
    produced: list[torch.Tensor] = field(default_factory=list)
    position: int = 0

    def take(self, count: int) -> Sequence[torch.Tensor] | None:
        """The next `count` given tensors; None before any training step has produced statistics."""
        if not self.given:
            return None
        chunk = self.given[self.position : self.position + count]
        if len(chunk) != count:
            raise RuntimeError("batch-norm statistics do not match the network (another architecture's state?)")
        self.position += count
        return chunk


_CURRENT: ContextVar[_Pass | None] = ContextVar("gtnbench_batch_norm_pass", default=None)


@contextmanager
def statistics_pass(training: bool, given: Stats = (), keep: float = 0.0, exact: bool = False) -> Iterator[_Pass]:
    """Open a pass around one forward call; after it, `pass.produced` holds a training pass's new statistics."""
    current = _Pass(training, keep, tuple(given), exact)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)


def _channel_dims(x: torch.Tensor) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Reduction dims (all but channels) and the broadcast shape of a per-channel vector."""
    return (0, *range(2, x.dim())), (1, -1, *([1] * (x.dim() - 2)))


def _update(old: torch.Tensor | None, new: torch.Tensor, keep: float, initial: float) -> torch.Tensor:
    if keep == 0.0:
        return new
    previous = old if old is not None else torch.full_like(new, initial)
    return torch.lerp(new, previous, keep)


class MeanOnlyBatchNorm(nn.Module):
    """Subtract a per-channel mean and add a learned bias; no variance scaling (the GTN learners' norm)."""

    def __init__(self, channels: int, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims, shape = _channel_dims(x)
        current = _CURRENT.get()
        if current is None or current.training:
            mean = x.mean(dim=dims)
            if current is not None:
                old = current.take(1)
                current.produced.append(_update(old[0] if old else None, mean, current.keep, 0.0))
        else:
            given = current.take(1)
            mean = given[0] if given else torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
        return x - mean.view(shape) + self.bias.view(shape)


class BatchNorm(nn.Module):
    """Affine batch norm over channels (NAS-Bench-201's), same parameters as nn.BatchNorm2d.

    Normalises with the biased batch variance; the statistics it stores are the mean and the
    unbiased variance (PyTorch's convention), so "running" matches nn.BatchNorm2d's running
    estimates and "last-batch" is nn.BatchNorm2d with momentum 1.
    """

    def __init__(self, channels: int, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, device=device))
        self.bias = nn.Parameter(torch.zeros(channels, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = _CURRENT.get()
        if current is None:
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, EPS)
        stored = current.take(2)
        channels = x.shape[1]
        if stored is None:
            stored = (
                torch.zeros(channels, dtype=x.dtype, device=x.device),
                torch.ones(channels, dtype=x.dtype, device=x.device),
            )
        if not current.training:
            mean, var = stored
            if not current.exact:
                return F.batch_norm(x, mean, var, self.weight, self.bias, False, 0.0, EPS)
            return self._affine(x, mean, var)
        if not current.exact:  # fused kernel; it updates the (cloned) statistics in place
            mean, var = stored[0].clone(), stored[1].clone()
            out = F.batch_norm(x, mean, var, self.weight, self.bias, True, 1.0 - current.keep, EPS)
            current.produced += [mean, var]
            return out
        dims, _ = _channel_dims(x)
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        count = x.numel() // channels
        unbiased = var * (count / max(count - 1, 1))
        current.produced += [
            _update(stored[0], mean, current.keep, 0.0),
            _update(stored[1], unbiased, current.keep, 1.0),
        ]
        return self._affine(x, mean, var)

    def _affine(self, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        _, shape = _channel_dims(x)
        scale = (self.weight * torch.rsqrt(var + EPS)).view(shape)
        return (x - mean.view(shape)) * scale + self.bias.view(shape)
