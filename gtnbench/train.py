"""The shared inner loop: train any learner on any teacher's lesson with SGD + momentum.

Plain mode is for evaluation and NAS proxies. Differentiable mode keeps the graph of
every step (create_graph=True), so the loss after training can be differentiated exactly,
to second order, with respect to whatever produced the lesson (GTN meta-training).
With `block_size`, blocks of steps are recomputed in the backward pass instead of being
stored (gradient checkpointing), trading compute for memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.utils.checkpoint import checkpoint

from gtnbench.teachers.base import Lesson

Params = dict[str, torch.Tensor]
EVAL_BATCH = 1000  # fixed, so that batch-statistics normalisation gives the same result on every device


def curve_points(steps: int, every: int | None = None) -> tuple[int, ...]:
    """Where to record an accuracy-vs-steps curve: powers of two up to `steps`, every `every`-th step, the last."""
    points = {2**i for i in range(int(math.log2(steps)) + 1)} | {steps}
    if every:
        points |= set(range(every, steps + 1, every))
    return tuple(sorted(points))


def initial_params(learner: nn.Module) -> Params:
    """The learner's current parameters as fresh leaves that require grad (the inner loop's start)."""
    return {name: p.detach().clone().requires_grad_() for name, p in learner.named_parameters()}


def loss_on(learner: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(functional_call(learner, params, (x,)), y)


@torch.no_grad()
def accuracy(learner: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of `x` classified as `y`, as a 0-d tensor on the device (no host sync)."""
    correct = torch.zeros((), device=x.device)
    for start in range(0, x.shape[0], EVAL_BATCH):
        logits = functional_call(learner, params, (x[start : start + EVAL_BATCH],))
        correct += (logits.argmax(1) == y[start : start + EVAL_BATCH]).sum()
    return correct / x.shape[0]


def sgd_momentum_step(params, buffers, grads, lr, momentum):
    """Heavy-ball SGD on lists of tensors: buf = momentum * buf + grad; param = param - lr * buf."""
    buffers = [momentum * b + g for b, g in zip(buffers, grads)]
    return [p - lr * b for p, b in zip(params, buffers)], buffers


@dataclass
class TrainOutcome:
    params: Params
    step_loss_total: torch.Tensor | None = None  # sum of `step_loss` over the steps it was asked at
    observed: dict[int, object] = field(default_factory=dict)  # steps done -> what `observe` returned


def train(
    learner: nn.Module,
    params: Params,
    lesson: Lesson,
    *,
    differentiable: bool = False,
    block_size: int | None = None,
    step_loss: Callable[[int, Params], torch.Tensor] | None = None,
    step_loss_every: int = 0,
    observe: Callable[[int, Params], object] | None = None,
    observe_at: tuple[int, ...] = (),
) -> TrainOutcome:
    """Run `lesson.steps` SGD+momentum steps from `params`.

    step_loss(t, params) is added up after every `step_loss_every`-th step (differentiable
    mode: intermediate meta-losses). observe(t, params) is called after the steps listed in
    `observe_at` (plain mode: accuracy-vs-steps curves); t counts the steps done.
    """
    names = list(params)
    state = [params[n] for n in names]
    if not differentiable:
        state = [p.detach().requires_grad_() for p in state]
    buffers = [torch.zeros_like(p) for p in state]
    total = None
    outcome = TrainOutcome(params)

    def run_block(start: int, stop: int, *flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        current, momenta = list(flat[: len(names)]), list(flat[len(names) :])
        added = torch.zeros((), device=current[0].device)
        for t in range(start, stop):
            x, y = lesson.batch(t)
            loss = loss_on(learner, dict(zip(names, current)), x, y)
            # unused parameters (pruned edges of a NAS cell) get zero gradients
            grads = torch.autograd.grad(loss, current, create_graph=differentiable, allow_unused=True,
                                        materialize_grads=True)  # fmt: skip
            if differentiable:
                current, momenta = sgd_momentum_step(current, momenta, grads, lesson.lrs[t], lesson.momenta[t])
            else:
                with torch.no_grad():
                    current, momenta = sgd_momentum_step(current, momenta, grads, lesson.lrs[t], lesson.momenta[t])
                current = [p.requires_grad_() for p in current]
            done = t + 1
            if step_loss is not None and step_loss_every and done % step_loss_every == 0:
                added = added + step_loss(done, dict(zip(names, current)))
            if observe is not None and done in observe_at:
                outcome.observed[done] = observe(done, {n: p.detach() for n, p in zip(names, current)})
        return (*current, *momenta, added)

    size = block_size if (differentiable and block_size) else lesson.steps
    for start in range(0, lesson.steps, size):
        stop = min(start + size, lesson.steps)
        if differentiable and block_size:
            out = checkpoint(run_block, start, stop, *state, *buffers, use_reentrant=False)
        else:
            out = run_block(start, stop, *state, *buffers)
        state, buffers = list(out[: len(names)]), list(out[len(names) : 2 * len(names)])
        total = out[-1] if total is None else total + out[-1]
    final = state if differentiable else [p.detach() for p in state]
    outcome.params = dict(zip(names, final))
    outcome.step_loss_total = total if step_loss is not None else None
    return outcome
