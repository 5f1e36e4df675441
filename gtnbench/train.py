"""The shared inner loop: train any learner on any teacher's lesson with SGD + momentum.

Plain mode is for evaluation and NAS proxies. Differentiable mode keeps the graph of
every step (create_graph=True), so the loss after training can be differentiated exactly,
to second order, with respect to whatever produced the lesson (GTN meta-training).
`backpropagate_through_training` does that backward pass, optionally with gradient
checkpointing: only the states between blocks of steps are stored, and each block's graph is
rebuilt, used and freed in turn, trading compute for memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

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


def _run_steps(learner: nn.Module, names: list[str], current: list[torch.Tensor], momenta: list[torch.Tensor],
               lesson: Lesson, start: int, stop: int, differentiable: bool, outcome: TrainOutcome,
               step_loss: Callable[[int, Params], torch.Tensor] | None = None, step_loss_every: int = 0,
               observe: Callable[[int, Params], object] | None = None, observe_at: tuple[int, ...] = ()):  # fmt: skip
    """Steps start..stop-1 of a lesson from (current, momenta); returns the new state and the sum
    of the step losses taken in between."""
    added = torch.zeros((), device=current[0].device)
    for t in range(start, stop):
        with torch.set_grad_enabled(differentiable):  # plain mode needs no graph through the teacher
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
    return current, momenta, added


def train(
    learner: nn.Module,
    params: Params,
    lesson: Lesson,
    *,
    differentiable: bool = False,
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
    outcome = TrainOutcome(params)
    state, _, total = _run_steps(learner, names, state, [torch.zeros_like(p) for p in state], lesson, 0,
                                 lesson.steps, differentiable, outcome, step_loss, step_loss_every, observe,
                                 observe_at)  # fmt: skip
    final = state if differentiable else [p.detach() for p in state]
    outcome.params = dict(zip(names, final))
    outcome.step_loss_total = total if step_loss is not None else None
    return outcome


def _leaves(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return [t.detach().requires_grad_() for t in tensors]


def _grads(leaves: list[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.zeros_like(t) if t.grad is None else t.grad for t in leaves]


def backpropagate_through_training(
    learner: nn.Module,
    params: Params,
    lesson: Lesson,
    final_loss: Callable[[Params], torch.Tensor],
    *,
    weight: float = 1.0,
    block_size: int = 0,
    step_loss: Callable[[int, Params], torch.Tensor] | None = None,
    step_loss_every: int = 0,
) -> torch.Tensor:
    """Train differentiably on `lesson`, then backpropagate weight x (final_loss(trained params) +
    the step losses) into every leaf the lesson depends on (their .grad accumulates, as after
    `loss.backward()`). Returns that objective, detached.

    With block_size > 0 (gradient checkpointing) a first pass stores only the state (parameters
    and momentum buffers) at each block boundary; the reverse pass rebuilds one block's graph
    from its stored state, backpropagates through it and frees it before the previous block.
    The gradient is the same as without checkpointing; the memory is that of one block.
    (torch.utils.checkpoint cannot serve here: each step itself calls autograd.grad, which its
    non-reentrant mode answers by recomputing and holding more, not less.)
    """
    names = list(params)
    if not block_size or block_size >= lesson.steps:
        outcome = train(learner, params, lesson, differentiable=True, step_loss=step_loss,
                        step_loss_every=step_loss_every)  # fmt: skip
        objective = final_loss(outcome.params)
        if outcome.step_loss_total is not None:
            objective = objective + outcome.step_loss_total
        (weight * objective).backward()
        return objective.detach()

    unused = TrainOutcome(params)
    state, momenta = [params[n].detach() for n in names], [torch.zeros_like(params[n]) for n in names]
    boundaries = []
    for start in range(0, lesson.steps, block_size):
        boundaries.append((start, state, momenta))
        state, momenta, _ = _run_steps(learner, names, _leaves(state), momenta, lesson, start,
                                       min(start + block_size, lesson.steps), False, unused)  # fmt: skip
        state = [p.detach() for p in state]

    end = _leaves(state)
    objective = final_loss(dict(zip(names, end)))
    (weight * objective).backward()
    objective = objective.detach()
    state_grads, momentum_grads = _grads(end), [torch.zeros_like(p) for p in end]
    for start, state, momenta in reversed(boundaries):
        state, momenta = _leaves(state), _leaves(momenta)
        new_state, new_momenta, added = _run_steps(learner, names, state, momenta, lesson, start,
                                                   min(start + block_size, lesson.steps), True, unused, step_loss,
                                                   step_loss_every)  # fmt: skip
        outputs, grads = [*new_state, *new_momenta], [*state_grads, *momentum_grads]
        if added.requires_grad:
            outputs.append(added)
            grads.append(torch.full_like(added, weight))
            objective = objective + added.detach()
        # retain_graph: the lesson's own graph (learned step sizes, curriculum) is shared by every
        # block; this block's graph is freed when its outputs go out of scope.
        torch.autograd.backward(outputs, grads, retain_graph=True)
        state_grads, momentum_grads = _grads(state), _grads(momenta)
        del outputs, new_state, new_momenta, added  # free this block's graph before building the previous one

    start_params = [params[n] for n in names]
    if any(p.requires_grad for p in start_params):  # a learned initialisation gets its gradient too
        torch.autograd.backward(start_params, state_grads)
    return objective
