"""The launch-saving paths give the numbers of the plain ones: flat SGD updates, foreach updates, one
generator call per lesson, tuned grids trained together, static (CUDA-graph) steps."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from gtnbench import graphs
from gtnbench.meta import frozen
from gtnbench.methods import real
from gtnbench.models.generator import GeneratorSpec
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.perf.hotpaths import MNIST, random_dataset
from gtnbench.teachers import gtn as gtn_teacher
from gtnbench.teachers.gtn import GTN, GTNSpec
from gtnbench.teachers.real import RealDataTeacher
from gtnbench.train import (
    LearnerState,
    ParamLayout,
    TrainOutcome,
    _Trajectory,
    backpropagate_through_training,
    graphed_plain_steps,
    initial_params,
    loss_on,
    sgd_momentum_step,
    train,
    training_logits,
)

CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"


def reference_train(learner, params, lesson, differentiable=False):
    """The inner loop as it was: one update per parameter tensor (the yardstick for the flat update)."""
    names = list(params)
    current = [params[n] if differentiable else params[n].detach().requires_grad_() for n in names]
    momenta, stats = [torch.zeros_like(p) for p in current], ()
    for t in range(lesson.steps):
        with torch.set_grad_enabled(differentiable):
            x, y = lesson.batch(t)
        out, stats = training_logits(learner, dict(zip(names, current)), stats, x, differentiable)
        grads = torch.autograd.grad(
            F.cross_entropy(out, y), current, create_graph=differentiable, allow_unused=True, materialize_grads=True
        )
        with torch.set_grad_enabled(differentiable):
            momenta = [lesson.momenta[t] * b + g for b, g in zip(momenta, grads)]
            current = [p - lesson.lrs[t] * b for p, b in zip(current, momenta)]
        if not differentiable:
            current, stats = [p.requires_grad_() for p in current], tuple(s.detach() for s in stats)
    return LearnerState(dict(zip(names, current)), stats)


def learner_and_lesson(kind, steps=5, seed=0):
    if kind == "cell":
        data = random_dataset((3, 8, 8), 64, "cpu", seed)
        learner = build_learner(LearnerSpec("nb201-cell", (2, 1), arch=CELL), (3, 8, 8), 10, seed=0)
    else:
        data = random_dataset(MNIST, 64, "cpu", seed)
        learner = build_learner(LearnerSpec("mnist-paper", (3, 4, 8), bn_eval=kind), MNIST, 10, seed=0)
    lesson = RealDataTeacher(data.train, 16, 0.1, 0.9, "linear").lesson(steps, torch.Generator().manual_seed(seed))
    return learner, lesson, data


@pytest.mark.parametrize("kind", ["last-batch", "running", "batch", "cell"])
def test_the_flat_update_gives_the_per_tensor_update_bit_for_bit(kind):
    learner, lesson, _ = learner_and_lesson(kind)
    ours = train(learner, initial_params(learner), lesson).state
    theirs = reference_train(learner, initial_params(learner), lesson)
    assert all(torch.equal(ours.params[n], theirs.params[n].detach()) for n in theirs.params)
    assert all(torch.equal(a, b) for a, b in zip(ours.stats, theirs.stats, strict=True))


@pytest.mark.parametrize("kind", ["last-batch", "cell"])
def test_the_flat_update_gives_the_per_tensor_meta_gradient(kind):
    """Differentiably, the meta-gradient agrees to float rounding (reductions over one vector instead
    of per tensor add in another order): 1e-5 relative in float32."""
    learner, lesson, data = learner_and_lesson(kind)
    lrs = lesson.lrs.clone().requires_grad_()
    grads = []
    for run in (train, reference_train):
        lesson.lrs = lrs
        params = initial_params(learner)
        state = run(learner, params, lesson, differentiable=True)
        state = state.state if hasattr(state, "state") else state
        loss = loss_on(learner, state, data.val.x, data.val.y)
        grads.append(torch.autograd.grad(loss, [lrs, *params.values()]))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_foreach_sgd_momentum_matches_the_elementwise_update():
    g = torch.Generator().manual_seed(0)
    params, buffers, grads = ([torch.randn(3, 4, generator=g), torch.randn(5, generator=g)] for _ in range(3))
    lr, momentum = torch.tensor(0.1), torch.tensor(0.9)
    new, moved = sgd_momentum_step(params, buffers, grads, lr, momentum)
    for p, b, d, n, m in zip(params, buffers, grads, new, moved):
        assert torch.equal(m, momentum * b + d) and torch.equal(n, p - lr * m)
    lr.requires_grad_()
    new, _ = sgd_momentum_step(params, buffers, grads, lr, momentum)  # through autograd: the list form
    (gradient,) = torch.autograd.grad(sum(t.sum() for t in new), lr)
    torch.testing.assert_close(gradient, -sum((momentum * b + d).sum() for b, d in zip(buffers, grads)))


def tiny_gtn(curriculum="full", steps=4, batch=6):
    spec = GeneratorSpec(MNIST, 10, 4, 8, (4, 2))
    return GTN(GTNSpec(steps, batch, curriculum), spec, seed=0)


@pytest.mark.parametrize("curriculum", ["full", "shuffled-batch", "all-shuffled", "none"])
def test_one_generator_call_per_lesson_gives_the_batches_of_one_call_per_step(curriculum, monkeypatch):
    """vmap over steps keeps batch norm per step: the same images (1e-6) as one generator call per step,
    also when a lesson is generated in several chunks."""
    gtn = tiny_gtn(curriculum)
    lesson = gtn.lesson(7, torch.Generator().manual_seed(1))
    one_by_one = torch.stack([lesson.batch(t)[0] for t in range(7)])
    for per_call in (6, 12, 4096):  # one step per call (a CPU's default), two, the whole lesson (CUDA's)
        monkeypatch.setitem(gtn_teacher.GENERATED_PER_CALL, "cpu", per_call)
        for start, stop in ((0, 7), (2, 5)):
            images, labels = lesson.batches(start, stop)
            torch.testing.assert_close(images, one_by_one[start:stop], rtol=1e-6, atol=1e-6)
            assert torch.equal(labels, torch.stack([lesson.batch(t)[1] for t in range(start, stop)]))


def test_one_generator_call_per_lesson_gives_the_per_step_meta_gradient(monkeypatch):
    monkeypatch.setitem(gtn_teacher.GENERATED_PER_CALL, "cpu", 4096)
    gtn = tiny_gtn()
    learner = build_learner(LearnerSpec("mnist-paper", (3, 4, 8)), MNIST, 10, seed=0)
    data = random_dataset(MNIST, 32, "cpu")
    grads = []
    for batched in (True, False):
        lesson = gtn.lesson(4, torch.Generator().manual_seed(0))
        if not batched:
            lesson = gtn_teacher.Lesson(lesson.steps, lesson.batch, lesson.lrs, lesson.momenta)
        gtn.zero_grad()
        backpropagate_through_training(
            learner,
            initial_params(learner),
            lesson,
            lambda state: loss_on(learner, state, data.val.x, data.val.y),
            block_size=2,
        )
        grads.append([p.grad.clone() for p in gtn.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_a_grid_trained_together_gives_the_grid_trained_one_after_another():
    """Same validation accuracies (1e-6), same choice, same curve, and parameters within 1e-4."""
    data = random_dataset(MNIST, 96, "cpu")
    spec = LearnerSpec("mnist-paper", (3, 4, 8))
    grid = list(itertools.product([0.05, 0.2], [0.5, 0.9], ["constant", "cosine"]))
    results = []
    for together in (False, True):
        real.batch_grids(together)
        try:
            results.append(real.tuned_training(spec, data, 6, 16, grid, 0, "cpu", observe_at=(2, 6)))
        finally:
            real.batch_grids(False)
    alone, together = results
    assert alone.chosen == together.chosen and together.trained_together == len(grid)
    for a, b in zip(alone.grid, together.grid):
        assert a["lr"] == b["lr"] and abs(a["val_acc"] - b["val_acc"]) < 1e-6
    assert [p["step"] for p in together.curve] == [2, 6]
    learner = build_learner(spec, MNIST, 10, seed=0)
    lessons = [
        RealDataTeacher(data.train, 16, lr, m, s).lesson(6, torch.Generator().manual_seed(0)) for lr, m, s in grid
    ]
    states = real.train_configurations(learner, initial_params(learner), lessons)
    assert learner.channels_last  # switched off under vmap only, and back
    for lesson, state in zip(lessons, states):
        expected = train(learner, initial_params(learner), lesson).state
        for name, value in expected.params.items():
            torch.testing.assert_close(state.params[name], value, rtol=1e-4, atol=1e-5)


def static_run(learner, lesson, observe_at=()):
    params = initial_params(learner)
    layout = ParamLayout.of(params)
    flat = layout.flatten(params).detach().requires_grad_()
    outcome = TrainOutcome(LearnerState(params))
    end = graphed_plain_steps(
        learner,
        layout,
        _Trajectory(flat, torch.zeros_like(flat), ()),
        lesson,
        outcome,
        lambda t, state: state,
        observe_at,
        capture=False,
    )
    return LearnerState(layout.views(end.params), end.stats), outcome.observed


@pytest.mark.parametrize("kind", ["last-batch", "running", "cell"])
def test_static_buffer_steps_give_the_eager_steps_bit_for_bit(kind):
    """What a CUDA graph replays (in-place updates of static buffers, batches and step sizes copied in,
    0-d step sizes on the device), run eagerly on the CPU: the same numbers as the plain loop."""
    learner, lesson, _ = learner_and_lesson(kind)
    ours, observed = static_run(learner, lesson, observe_at=(3,))
    expected = train(learner, initial_params(learner), lesson, observe=lambda t, state: state, observe_at=(3,))
    for name, value in expected.state.params.items():
        assert torch.equal(ours.params[name], value)
    assert all(torch.equal(a, b) for a, b in zip(ours.stats, expected.state.stats, strict=True))
    assert all(torch.equal(observed[3].params[n], expected.observed[3].params[n]) for n in ours.params)


def test_a_gtn_lesson_runs_on_static_buffers_too():
    gtn = tiny_gtn()
    learner = build_learner(LearnerSpec("mnist-paper", (3, 4, 8)), MNIST, 10, seed=0)
    with frozen(gtn):
        lesson = gtn.lesson(4, torch.Generator().manual_seed(0))
        ours, _ = static_run(learner, lesson)
        expected = train(learner, initial_params(learner), lesson).state
    assert all(torch.equal(ours.params[n], v) for n, v in expected.params.items())


def test_the_graph_cache_keeps_the_most_recent_shapes():
    cache = graphs.GraphCache(capacity=2)
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.get("a") is None and cache.get("b") == "B" and len(cache) == 2
    cache.put("d", "D")  # "c" is now the least recently used
    assert cache.get("c") is None and cache.get("b") == "B"
    assert not graphs.cuda_graphs_enabled("cpu")
    graphs.enable_cuda_graphs(True)
    try:
        assert not graphs.cuda_graphs_enabled("cpu") and graphs.cuda_graphs_enabled("cuda:0")
    finally:
        graphs.enable_cuda_graphs(False)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("kind", ["last-batch", "cell"])
def test_cuda_graph_replay_gives_the_eager_steps(kind):
    from gtnbench.device import set_precision

    set_precision("ieee")
    learner, lesson, data = learner_and_lesson(kind)
    learner = learner.cuda()
    lesson = RealDataTeacher(type(data.train)(data.train.x.cuda(), data.train.y.cuda()), 16, 0.1, 0.9, "linear").lesson(
        5, torch.Generator("cuda").manual_seed(0)
    )
    eager = train(learner, initial_params(learner), lesson).state
    graphs.enable_cuda_graphs(True)
    try:
        replayed = [train(learner, initial_params(learner), lesson).state for _ in range(2)]  # capture, then reuse
    finally:
        graphs.enable_cuda_graphs(False)
    for state in replayed:
        for name, value in eager.params.items():
            torch.testing.assert_close(state.params[name], value, rtol=1e-5, atol=1e-6)
