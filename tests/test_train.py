import pytest
import torch
from torch import nn

from gtnbench.data.datasets import Split
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.teachers.base import Lesson
from gtnbench.teachers.real import RealDataTeacher, epoch_batches
from gtnbench.teachers.schedules import learning_rates
from gtnbench.train import LearnerState, accuracy, backpropagate_through_training, initial_params, loss_on, train


def toy_problem(seed=0, n=64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def toy_learner(dtype=torch.float32):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2)).to(dtype)


def test_inner_loop_lowers_the_loss_and_raises_accuracy():
    x, y = toy_problem()
    net = toy_learner()
    params = initial_params(net)
    teacher = RealDataTeacher(Split(x, y), batch_size=16, lr=0.5, momentum=0.9)
    before = loss_on(net, LearnerState(params), x, y).item()
    out = train(net, params, teacher.lesson(60, torch.Generator().manual_seed(0)))
    assert loss_on(net, out.state, x, y).item() < 0.5 * before
    assert accuracy(net, out.state, x, y).item() > 0.9


def test_differentiable_mode_gives_the_same_trajectory_as_plain_mode():
    x, y = toy_problem()
    net = toy_learner()
    lesson = RealDataTeacher(Split(x, y), 16, 0.3, 0.5).lesson(10, torch.Generator().manual_seed(0))
    plain = train(net, initial_params(net), lesson).params
    graph = train(net, initial_params(net), lesson, differentiable=True).params
    assert all(torch.allclose(plain[k], graph[k].detach(), atol=1e-6) for k in plain)
    assert all(v.grad_fn is not None for v in graph.values())


def image_problem(seed=0, n=56):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 1, 8, 8, generator=g, dtype=torch.float64)
    x[torch.arange(n), 0, 1 + 2 * y] += 2.0
    return x.view(n, -1), y


def bn_learner(protocol):
    """A tiny learner with mean-only (MNIST learner) or full (NB201 cell) batch norm, in float64."""
    if protocol == "cell":
        arch = "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
        net = build_learner(LearnerSpec("nb201-cell", (2, 1), arch=arch), (1, 8, 8), 3, seed=0)
    else:
        net = build_learner(LearnerSpec("mnist-paper", (3, 6), bn_eval=protocol), (1, 8, 8), 3, seed=0)
    return _Flat(net.double())


class _Flat(nn.Module):
    """Reshape flat inputs to images (so the toy problems' batches can be slices of one tensor)."""

    def __init__(self, net):
        super().__init__()
        self.net, self.bn_eval = net, net.bn_eval

    def forward(self, x):
        return self.net(x.view(-1, 1, 8, 8))


@pytest.mark.parametrize("learner", ["toy", "last-batch", "running", "batch", "cell"])
@pytest.mark.parametrize("block_size, step_loss_every", [(1, 0), (3, 0), (3, 2), (10, 3)])
def test_checkpointed_meta_gradient_equals_the_stored_one(block_size, step_loss_every, learner):
    """The gradient with respect to the data, the lrs and the momenta, and the objective, are the
    same with and without checkpointing, also with step losses and a ragged last block, and with
    batch-norm statistics threaded through the checkpoint boundaries."""
    x, y = image_problem() if learner != "toy" else toy_problem()
    net = toy_learner(torch.float64) if learner == "toy" else bn_learner(learner)
    data = x.double().clone().requires_grad_()
    lrs = torch.full((7,), 0.2, dtype=torch.float64, requires_grad=True)
    moms = torch.full((7,), 0.5, dtype=torch.float64, requires_grad=True)

    def gradient(block):
        for leaf in (data, lrs, moms):
            leaf.grad = None
        lesson = Lesson(7, lambda t: (data[8 * t : 8 * t + 8] * (1 + 0.1 * t), y[8 * t : 8 * t + 8]), lrs, moms)
        step_loss = (lambda t, state: loss_on(net, state, x.double() * t, y)) if step_loss_every else None
        objective = backpropagate_through_training(
            net,
            initial_params(net),
            lesson,
            lambda state: loss_on(net, state, x.double(), y),
            weight=0.5,
            block_size=block,
            step_loss=step_loss,
            step_loss_every=step_loss_every,
        )
        return objective, [leaf.grad.clone() for leaf in (data, lrs, moms)]

    reference_objective, reference = gradient(0)
    objective, grads = gradient(block_size)
    assert torch.allclose(objective, reference_objective, atol=1e-12)
    for got, want in zip(grads, reference):
        assert torch.allclose(got, want, atol=1e-10)


def test_a_learned_initialisation_gets_its_gradient_through_checkpoints():
    x, y = toy_problem()
    net = toy_learner(torch.float64)
    lesson = Lesson(
        5,
        lambda t: (x[8 * t : 8 * t + 8].double(), y[8 * t : 8 * t + 8]),
        torch.full((5,), 0.2, dtype=torch.float64),
        torch.full((5,), 0.5, dtype=torch.float64),
    )

    def gradient(block):
        start = initial_params(net)
        backpropagate_through_training(
            net, start, lesson, lambda state: loss_on(net, state, x.double(), y), block_size=block
        )
        return [p.grad for p in start.values()]

    for got, want in zip(gradient(2), gradient(0)):
        assert torch.allclose(got, want, atol=1e-10)


def test_step_losses_and_observations():
    x, y = toy_problem()
    net = toy_learner()
    lesson = RealDataTeacher(Split(x, y), 16, 0.3, 0.5).lesson(8, torch.Generator().manual_seed(0))
    seen = []
    out = train(net, initial_params(net), lesson, observe=lambda t, p: seen.append(t) or t * 10, observe_at=(1, 4, 8))
    assert seen == [1, 4, 8] and out.observed == {1: 10, 4: 40, 8: 80}
    taken = []
    out = train(
        net,
        initial_params(net),
        lesson,
        differentiable=True,
        step_loss=lambda t, state: taken.append(t) or loss_on(net, state, x, y),
        step_loss_every=2,
    )
    assert out.step_loss_total.requires_grad and out.step_loss_total.item() > 0
    assert taken == [2, 4, 6]  # after steps k, 2k, ... below the last (the final loss is the caller's)


def test_epoch_batches_cover_each_epoch_once():
    idx = epoch_batches(10, 4, 5, torch.Generator().manual_seed(0), "cpu")
    assert idx.shape == (5, 4)
    flat = idx.flatten().tolist()
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))


@pytest.mark.parametrize("kind", ["constant", "linear", "cosine", "onecycle"])
def test_schedules_peak_and_length(kind):
    lrs = learning_rates(kind, 0.1, 50)
    assert lrs.shape == (50,) and lrs.max().item() == pytest.approx(0.1) and (lrs >= 0).all()
    if kind != "constant":
        assert lrs[-1] < 0.1 * 0.1 + 1e-6


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown schedule"):
        learning_rates("step", 0.1, 5)
