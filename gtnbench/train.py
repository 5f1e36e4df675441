"""The shared inner loop: train any learner on any teacher's lesson with SGD + momentum.

Plain mode is for evaluation and NAS proxies. Differentiable mode keeps the graph of
every step (create_graph=True), so the loss after training can be differentiated exactly,
to second order, with respect to whatever produced the lesson (GTN meta-training).
`backpropagate_through_training` does that backward pass, optionally with gradient
checkpointing: only the states between blocks of steps are stored, and each block's graph is
rebuilt, used and freed in turn, trading compute for memory.

A learner's state is its parameters and the batch-norm statistics it evaluates with
(models/norm.py): every training step updates both, so under the official GTN protocol
("last-batch") the meta-loss sees real data centred with the last synthetic batch's mean and
the meta-gradient flows through it. Evaluation (`logits`, `accuracy`, `loss_on`) uses the
state's statistics, so it is per image unless the learner runs the transductive "batch" protocol.

A lesson's labels are class indices or, for sets with soft labels or per-image learning rates, one
target row per image (teachers/fixed_set.py): the same cross-entropy takes both, and a one-hot row
gives bit for bit the gradient of its class index. A lesson may add weight decay (torch SGD's, coupled
into the gradient before momentum); such lessons, and lessons whose batches differ in size, run eagerly
(no CUDA graph).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from gtnbench.device import current_precision, plain_autocast
from gtnbench.graphs import STEPS, cuda_graphs_enabled
from gtnbench.graphs import capture as capture_graph
from gtnbench.models.norm import KEEP, Stats, statistics_pass
from gtnbench.teachers.base import Lesson

Params = dict[str, torch.Tensor]
EVAL_BATCH = 1000  # chunk size of evaluation (memory); under the "batch" protocol it also fixes the statistics


@dataclass(frozen=True)
class LearnerState:
    """What a (partly) trained learner is: its parameters and its batch-norm statistics."""

    params: Params
    stats: Stats = ()

    def detached(self) -> LearnerState:
        return LearnerState({n: p.detach() for n, p in self.params.items()}, tuple(s.detach() for s in self.stats))


def bn_protocol(learner: nn.Module) -> str:
    """The learner's batch-norm evaluation protocol (models/norm.py); modules without one normalise per batch."""
    return getattr(learner, "bn_eval", "batch")


def curve_points(steps: int, every: int | None = None) -> tuple[int, ...]:
    """Where to record an accuracy-vs-steps curve: powers of two up to `steps`, every `every`-th step, the last."""
    points = {2**i for i in range(int(math.log2(steps)) + 1)} | {steps}
    if every:
        points |= set(range(every, steps + 1, every))
    return tuple(sorted(points))


def initial_params(learner: nn.Module) -> Params:
    """The learner's current parameters as fresh leaves that require grad (the inner loop's start)."""
    return {name: p.detach().clone().requires_grad_() for name, p in learner.named_parameters()}


def logits(learner: nn.Module, state: LearnerState, x: torch.Tensor, exact: bool = True) -> torch.Tensor:
    """Evaluation-mode outputs. `exact`: differentiable through the statistics (meta-losses); else fused kernels."""
    if bn_protocol(learner) == "batch":
        return functional_call(learner, state.params, (x,))
    with statistics_pass(training=False, given=state.stats, exact=exact):
        return functional_call(learner, state.params, (x,))


def training_logits(
    learner: nn.Module, params: Params, stats: Stats, x: torch.Tensor, exact: bool
) -> tuple[torch.Tensor, Stats]:
    """Training-mode outputs (batch statistics) and the statistics this batch leaves behind."""
    protocol = bn_protocol(learner)
    if protocol == "batch":
        return functional_call(learner, params, (x,)), ()
    with statistics_pass(training=True, given=stats, keep=KEEP[protocol], exact=exact) as current:
        out = functional_call(learner, params, (x,))
    return out, tuple(current.produced)


def loss_on(learner: nn.Module, state: LearnerState, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the learner in evaluation mode (the meta-loss and the step losses)."""
    return F.cross_entropy(logits(learner, state, x), y)


@torch.no_grad()
def accuracy(learner: nn.Module, state: LearnerState, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of `x` classified as `y`, as a 0-d tensor on the device (no host sync)."""
    correct = torch.zeros((), device=x.device)
    for start in range(0, x.shape[0], EVAL_BATCH):
        with plain_autocast(x.device):
            out = logits(learner, state, x[start : start + EVAL_BATCH], exact=False)
        correct += (out.argmax(1) == y[start : start + EVAL_BATCH]).sum()
    return correct / x.shape[0]


def sgd_momentum_step(params, buffers, grads, lr, momentum):
    """Heavy-ball SGD on lists of tensors: buf = momentum * buf + grad; param = param - lr * buf.
    Foreach ops (one multi-tensor kernel per op on CUDA); through autograd, the list form of the
    step sizes (the 0-d tensor form has no derivative for its scalar)."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (*params, *buffers, *grads, lr, momentum)):
        lr, momentum = [lr] * len(params), [momentum] * len(params)
    buffers = torch._foreach_add(torch._foreach_mul(buffers, momentum), grads)
    return torch._foreach_sub(params, torch._foreach_mul(buffers, lr)), buffers


@dataclass(frozen=True)
class ParamLayout:
    """Where each named parameter lives in one flat vector. The inner loop keeps a learner's parameters
    and momentum buffers flat, so that an SGD step is four elementwise ops on one vector whatever the
    number of tensors (in the forward pass and, differentiably, in every backward pass through it);
    the learner sees views of the vector under its parameter names."""

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]

    @classmethod
    def of(cls, params: Params) -> ParamLayout:
        dtypes = {p.dtype for p in params.values()}
        if len(dtypes) != 1:
            raise ValueError(f"the inner loop trains parameters of one dtype, got {sorted(map(str, dtypes))}")
        return cls(tuple(params), tuple(p.shape for p in params.values()))

    @property
    def numels(self) -> list[int]:
        return [math.prod(shape) for shape in self.shapes]

    def flatten(self, params: Params) -> torch.Tensor:
        return torch.cat([params[name].reshape(-1) for name in self.names])

    def split(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [part.view(shape) for part, shape in zip(flat.split(self.numels), self.shapes)]

    def views(self, flat: torch.Tensor) -> Params:
        return dict(zip(self.names, self.split(flat)))


def sgd_momentum_flat(
    flat: torch.Tensor, momenta: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor, momentum: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """`sgd_momentum_step` on flat vectors: the same elementwise arithmetic, hence the same numbers."""
    momenta = momentum * momenta + grad
    return flat - lr * momenta, momenta


StepLoss = Callable[[int, LearnerState], torch.Tensor]
Observer = Callable[[int, LearnerState], object]


@dataclass
class TrainOutcome:
    state: LearnerState
    step_loss_total: torch.Tensor | None = None  # sum of `step_loss` over the steps it was asked at
    observed: dict[int, object] = field(default_factory=dict)  # steps done -> what `observe` returned

    @property
    def params(self) -> Params:
        return self.state.params


def step_loss_points(steps: int, every: int) -> tuple[int, ...]:
    """After which steps an intermediate loss is taken: k, 2k, ... below `steps` (the final loss is separate)."""
    return tuple(range(every, steps, every)) if every else ()


@dataclass
class _Trajectory:
    """The state the inner loop threads from step to step: flat parameters and momenta (ParamLayout), statistics."""

    params: torch.Tensor
    momenta: torch.Tensor
    stats: Stats

    def tensors(self) -> list[torch.Tensor]:
        return [self.params, self.momenta, *self.stats]


def lesson_batches(lesson: Lesson, start: int, stop: int) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    """Step t's batch for t in start..stop-1. A lesson that can make several steps' batches in one call
    (`batches(start, stop)`, e.g. a GTN's: one generator call for them all) makes them here, up front,
    under the caller's grad mode; any other lesson makes each batch when asked."""
    many = getattr(lesson, "batches", None)
    if many is None:
        return lesson.batch
    xs, ys = many(start, stop)
    return lambda t: (xs[t - start], ys[t - start])


def _run_steps(
    learner: nn.Module,
    layout: ParamLayout,
    start_state: _Trajectory,
    lesson: Lesson,
    start: int,
    stop: int,
    differentiable: bool,
    exact: bool,
    outcome: TrainOutcome,
    step_loss: StepLoss | None = None,
    step_loss_at: tuple[int, ...] = (),
    observe: Observer | None = None,
    observe_at: tuple[int, ...] = (),
) -> tuple[_Trajectory, torch.Tensor]:
    """Steps start..stop-1 of a lesson from `start_state`; returns the new state and the sum of the
    step losses taken in between. Plain passes with fused kernels (not `exact`) run their forward
    pass under the precision policy's autocast (device.plain_autocast)."""
    flat, momenta, stats = start_state.params, start_state.momenta, start_state.stats
    added = torch.zeros((), device=flat.device)
    with torch.set_grad_enabled(differentiable):  # plain mode needs no graph through the teacher
        batch = lesson_batches(lesson, start, stop)
    cast = plain_autocast(flat.device) if not (differentiable or exact) else contextlib.nullcontext()
    for t in range(start, stop):
        with torch.set_grad_enabled(differentiable):
            x, y = batch(t)
        with cast:
            out, stats = training_logits(learner, layout.views(flat), stats, x, exact)
            loss = F.cross_entropy(out, y)
        # unused parameters (pruned edges of a NAS cell) get zero gradients
        (grad,) = torch.autograd.grad(
            loss, (flat,), create_graph=differentiable, allow_unused=True, materialize_grads=True
        )
        if lesson.weight_decay:
            grad = grad + lesson.weight_decay * (flat if differentiable else flat.detach())
        if differentiable:
            flat, momenta = sgd_momentum_flat(flat, momenta, grad, lesson.lrs[t], lesson.momenta[t])
        else:
            with torch.no_grad():
                flat, momenta = sgd_momentum_flat(flat, momenta, grad, lesson.lrs[t], lesson.momenta[t])
            flat = flat.requires_grad_()
            stats = tuple(s.detach() for s in stats)
        done = t + 1
        if step_loss is not None and done in step_loss_at:
            added = added + step_loss(done, LearnerState(layout.views(flat), stats))
        if observe is not None and done in observe_at:
            state = LearnerState(layout.views(flat.detach()), tuple(s.detach() for s in stats))
            outcome.observed[done] = observe(done, state)
    return _Trajectory(flat, momenta, stats), added


def train(
    learner: nn.Module,
    params: Params,
    lesson: Lesson,
    *,
    differentiable: bool = False,
    step_loss: StepLoss | None = None,
    step_loss_every: int = 0,
    observe: Observer | None = None,
    observe_at: tuple[int, ...] = (),
) -> TrainOutcome:
    """Run `lesson.steps` SGD+momentum steps from `params` (and no batch-norm statistics yet).

    step_loss(t, state) is added up after steps k, 2k, ... below the last, k = `step_loss_every`
    (differentiable mode: intermediate meta-losses). observe(t, state) is called after the steps
    listed in `observe_at` (plain mode: accuracy-vs-steps curves); t counts the steps done.
    The trained state's parameters are views of one flat vector (ParamLayout).
    """
    layout = ParamLayout.of(params)
    flat = layout.flatten(params)  # differentiable: the graph reaches the given parameters (a learned start)
    flat = flat if differentiable and flat.requires_grad else flat.detach().requires_grad_()
    outcome = TrainOutcome(LearnerState(params))
    start = _Trajectory(flat, torch.zeros_like(flat), ())
    if not differentiable and cuda_graphs_enabled(flat.device) and lesson.uniform and not lesson.weight_decay:
        end = graphed_plain_steps(learner, layout, start, lesson, outcome, observe, observe_at)
        total = torch.zeros((), device=flat.device)
    else:
        end, total = _run_steps(
            learner,
            layout,
            start,
            lesson,
            0,
            lesson.steps,
            differentiable,
            differentiable,
            outcome,
            step_loss,
            step_loss_points(lesson.steps, step_loss_every),
            observe,
            observe_at,
        )
    state = LearnerState(layout.views(end.params), end.stats)
    outcome.state = state if differentiable else state.detached()
    outcome.step_loss_total = total if step_loss is not None else None
    return outcome


@dataclass
class StaticPlainStep:
    """One plain SGD step on static buffers, updated in place: what a CUDA graph captures (graphs.py),
    and, without a graph, the same arithmetic run eagerly (the same numbers as `_run_steps`)."""

    learner: nn.Module
    layout: ParamLayout
    flat: torch.Tensor
    momenta: torch.Tensor
    stats: Stats
    x: torch.Tensor
    y: torch.Tensor
    lr: torch.Tensor  # 0-d, on the device: filled before every step (no host scalar in the graph)
    momentum: torch.Tensor
    graph: object | None = None

    @classmethod
    def like(
        cls,
        learner: nn.Module,
        layout: ParamLayout,
        state: _Trajectory,
        x: torch.Tensor,
        y: torch.Tensor,
        lr: torch.Tensor,
        momentum: torch.Tensor,
    ) -> StaticPlainStep:
        clone = torch.Tensor.clone
        return cls(
            learner,
            layout,
            state.params.detach().clone(),
            state.momenta.clone(),
            tuple(map(clone, state.stats)),
            x.clone(),
            y.clone(),
            lr.clone(),
            momentum.clone(),
        )

    def tensors(self) -> list[torch.Tensor]:
        return [self.flat, self.momenta, *self.stats, self.x, self.y, self.lr, self.momentum]

    def load(self, state: _Trajectory) -> None:
        with torch.no_grad():
            for buffer, value in zip([self.flat, self.momenta, *self.stats], state.tensors(), strict=True):
                buffer.copy_(value)

    def feed(self, x: torch.Tensor, y: torch.Tensor, lr: torch.Tensor, momentum: torch.Tensor) -> None:
        with torch.no_grad():
            for buffer, value in ((self.x, x), (self.y, y), (self.lr, lr), (self.momentum, momentum)):
                buffer.copy_(value)

    def step(self) -> None:
        with torch.enable_grad():
            leaf = self.flat.detach().requires_grad_()
            with plain_autocast(self.flat.device, cache=False):  # capture needs autocast's cache off
                out, stats = training_logits(self.learner, self.layout.views(leaf), self.stats, self.x, False)
                loss = F.cross_entropy(out, self.y)
            (grad,) = torch.autograd.grad(loss, (leaf,), allow_unused=True, materialize_grads=True)
        with torch.no_grad():
            self.momenta.mul_(self.momentum).add_(grad)
            self.flat.sub_(self.lr * self.momenta)
            for buffer, new in zip(self.stats, stats, strict=True):
                buffer.copy_(new)

    def run(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.step()

    def trajectory(self) -> _Trajectory:
        """A copy of the current state (the buffers belong to the step, which the next learner reuses)."""
        return _Trajectory(self.flat.clone(), self.momenta.clone(), tuple(s.clone() for s in self.stats))


def graphed_plain_steps(
    learner: nn.Module,
    layout: ParamLayout,
    start: _Trajectory,
    lesson: Lesson,
    outcome: TrainOutcome,
    observe: Observer | None = None,
    observe_at: tuple[int, ...] = (),
    capture: bool = True,
) -> _Trajectory:
    """Plain training in which steps 2..T run as a `StaticPlainStep`: replayed from a CUDA graph
    captured once per shape (`capture`), or run eagerly on the static buffers (capture=False, e.g. on
    a CPU). The first step runs as usual: it makes the batch-norm statistics the later steps consume."""
    first, _ = _run_steps(
        learner, layout, start, lesson, 0, 1, False, False, outcome, observe=observe, observe_at=observe_at
    )
    if lesson.steps == 1:
        return first
    with torch.no_grad():
        batch = lesson_batches(lesson, 1, lesson.steps)
        x, y = batch(1)
    key = (
        type(learner).__qualname__,
        repr(learner),
        bn_protocol(learner),
        layout.shapes,
        tuple(s.shape for s in first.stats),
        x.shape,
        x.dtype,
        y.shape,
        str(x.device),
        current_precision(),
    )
    static = STEPS.get(key) if capture else None
    if static is None:
        static = StaticPlainStep.like(learner, layout, first, x, y, lesson.lrs[1], lesson.momenta[1])
        if capture:
            static.graph = capture_graph(static.step, static.tensors())
            STEPS.put(key, static)
    static.learner = learner
    static.load(first)
    for t in range(1, lesson.steps):
        with torch.no_grad():
            x, y = batch(t)
        static.feed(x, y, lesson.lrs[t], lesson.momenta[t])
        static.run()
        done = t + 1
        if observe is not None and done in observe_at:
            state = static.trajectory()
            outcome.observed[done] = observe(done, LearnerState(layout.views(state.params), state.stats))
    return static.trajectory()


def _leaves(tensors) -> list[torch.Tensor]:
    return [t.detach().requires_grad_() for t in tensors]


def _grads(leaves: list[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.zeros_like(t) if t.grad is None else t.grad for t in leaves]


def _as_leaves(trajectory: _Trajectory) -> _Trajectory:
    params, momenta = _leaves([trajectory.params, trajectory.momenta])
    return _Trajectory(params, momenta, tuple(_leaves(trajectory.stats)))


def backpropagate_through_training(
    learner: nn.Module,
    params: Params,
    lesson: Lesson,
    final_loss: Callable[[LearnerState], torch.Tensor],
    *,
    weight: float = 1.0,
    block_size: int = 0,
    step_loss: StepLoss | None = None,
    step_loss_every: int = 0,
) -> torch.Tensor:
    """Train differentiably on `lesson`, then backpropagate weight x (final_loss(trained state) +
    the step losses) into every leaf the lesson depends on (their .grad accumulates, as after
    `loss.backward()`). Returns that objective, detached.

    `lesson.batch(t)` (and `lesson.batches(start, stop)` where a lesson has it) must be pure (the
    same batches at every call): the checkpointed reverse pass calls it again. With block_size > 0
    (gradient checkpointing) a first pass stores only the state (parameters, momentum buffers,
    batch-norm statistics) at each block boundary; the reverse pass rebuilds one block's graph from
    its stored state, backpropagates through it and frees it before the previous block. The gradient
    is the same as without checkpointing; the memory is that of one block. Both passes use the same
    (differentiable) arithmetic. (torch.utils.checkpoint cannot serve here: each step itself calls
    autograd.grad, which its non-reentrant mode answers by recomputing and holding more, not less.)
    """
    if not block_size or block_size >= lesson.steps:
        outcome = train(
            learner, params, lesson, differentiable=True, step_loss=step_loss, step_loss_every=step_loss_every
        )
        objective = final_loss(outcome.state)
        if outcome.step_loss_total is not None:
            objective = objective + outcome.step_loss_total
        (weight * objective).backward()
        return objective.detach()

    layout = ParamLayout.of(params)
    unused = TrainOutcome(LearnerState(params))
    losses_at = step_loss_points(lesson.steps, step_loss_every)
    flat = layout.flatten(params).detach()
    state = _Trajectory(flat, torch.zeros_like(flat), ())
    boundaries = []
    for start in range(0, lesson.steps, block_size):
        boundaries.append((start, state))
        state, _ = _run_steps(
            learner,
            layout,
            _Trajectory(_leaves([state.params])[0], state.momenta, state.stats),
            lesson,
            start,
            min(start + block_size, lesson.steps),
            False,
            True,
            unused,
        )
        state = _Trajectory(state.params.detach(), state.momenta, state.stats)

    end = _as_leaves(state)
    objective = final_loss(LearnerState(layout.views(end.params), end.stats))
    (weight * objective).backward()
    objective = objective.detach()
    grads = [*_grads([end.params]), torch.zeros_like(end.momenta), *_grads(list(end.stats))]
    for start, stored in reversed(boundaries):
        leaves = _as_leaves(stored)
        new, added = _run_steps(
            learner,
            layout,
            leaves,
            lesson,
            start,
            min(start + block_size, lesson.steps),
            True,
            True,
            unused,
            step_loss,
            losses_at,
        )
        pairs = [(out, g) for out, g in zip(new.tensors(), grads) if out.requires_grad]
        if added.requires_grad:
            pairs.append((added, torch.full_like(added, weight)))
            objective = objective + added.detach()
        # retain_graph: the lesson's own graph (learned step sizes, curriculum) is shared by every
        # block; this block's graph is freed when its outputs go out of scope.
        torch.autograd.backward([out for out, _ in pairs], [g for _, g in pairs], retain_graph=True)
        grads = _grads(leaves.tensors())
        del pairs, new, added  # free this block's graph before building the previous one

    start_params = [params[n] for n in layout.names]
    if any(p.requires_grad for p in start_params):  # a learned initialisation gets its gradient too
        torch.autograd.backward(start_params, layout.split(grads[0]))
    return objective
