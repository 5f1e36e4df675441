"""Batch-norm statistics as training state: the official "last-batch" protocol, running averages, batch."""

import pytest
import torch
from torch import nn

from gtnbench.data.datasets import Split
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.models.norm import BatchNorm, MeanOnlyBatchNorm, statistics_pass
from gtnbench.teachers.real import RealDataTeacher
from gtnbench.train import LearnerState, accuracy, initial_params, logits, train


def test_mean_only_batch_norm_centres_with_the_batch_in_training_and_stores_its_mean():
    bn = MeanOnlyBatchNorm(3)
    with torch.no_grad():
        bn.bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
    x = torch.randn(8, 3, 5, 5) * 7 + 4
    with statistics_pass(training=True) as current:
        out = bn(x)
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.tensor([1.0, 2.0, 3.0]), atol=1e-5)
    assert torch.allclose(out.std(dim=(0, 2, 3)), x.std(dim=(0, 2, 3)), atol=1e-5)
    (stored,) = current.produced
    assert torch.allclose(stored, x.mean(dim=(0, 2, 3)))
    other = torch.randn(4, 3, 5, 5)
    with statistics_pass(training=False, given=(stored,)):
        evaluated = bn(other)  # centred with the *stored* mean, not the batch's own
    assert torch.allclose(evaluated, other - stored.view(1, 3, 1, 1) + bn.bias.view(1, 3, 1, 1))


def test_running_protocol_is_nn_batchnorm2d_running_estimates():
    ours, theirs = BatchNorm(4), nn.BatchNorm2d(4, momentum=0.1)
    stats = ()
    for seed in range(3):
        x = torch.randn(6, 4, 3, 3, generator=torch.Generator().manual_seed(seed)) * 3 + 1
        with statistics_pass(training=True, given=stats, keep=0.9, exact=seed % 2 == 0) as current:
            out = ours(x)
        stats = tuple(current.produced)
        torch.testing.assert_close(out, theirs.train()(x))
    torch.testing.assert_close(stats, (theirs.running_mean, theirs.running_var))
    x = torch.randn(5, 4, 3, 3)
    for exact in (True, False):
        with statistics_pass(training=False, given=stats, exact=exact):
            torch.testing.assert_close(ours(x), theirs.eval()(x))


def test_last_batch_protocol_equals_momentum_one_and_outside_a_pass_normalises_per_batch():
    ours, theirs = BatchNorm(4), nn.BatchNorm2d(4, momentum=1.0)
    x = torch.randn(6, 4, 3, 3) * 2 - 1
    for exact in (True, False):
        with statistics_pass(training=True, exact=exact) as current:
            ours(x)
        torch.testing.assert_close(tuple(current.produced), (x.mean((0, 2, 3)), x.var((0, 2, 3))))
    theirs.train()(x)
    torch.testing.assert_close(ours(x), nn.BatchNorm2d(4, track_running_stats=False)(x))


@pytest.mark.parametrize(
    "name, widths, shape",
    [
        ("mnist-paper", (4, 8, 16), (1, 28, 28)),
        ("cifar10-paper", (4, 4, 8, 8, 8), (3, 16, 16)),
        ("nb201-cell", (4, 1), (3, 16, 16)),
    ],
)
def test_official_protocol_evaluates_each_image_on_its_own(name, widths, shape):
    """Shuffling, sorting or splitting the test set does not change any image's prediction."""
    spec = LearnerSpec(
        name,
        widths,
        arch="|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
        if name == "nb201-cell"
        else None,
    )
    learner = build_learner(spec, shape, 10, seed=0)
    assert learner.bn_eval == ("running" if name == "nb201-cell" else "last-batch")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, *shape, generator=g), torch.arange(64) % 10
    state = train(
        learner,
        initial_params(learner),
        RealDataTeacher(Split(x, y), 16, 0.05, 0.9).lesson(4, torch.Generator().manual_seed(1)),
    ).state
    assert state.stats, "training stores batch-norm statistics"
    test = torch.randn(30, *shape, generator=g)
    with torch.no_grad():
        whole = logits(learner, state, test)
        order = torch.argsort(whole[:, 0])  # sorted by a score: the most skewed batches
        torch.testing.assert_close(logits(learner, state, test[order]), whole[order], atol=1e-5, rtol=1e-5)
        one_by_one = torch.cat([logits(learner, state, test[i : i + 1]) for i in range(len(test))])
        torch.testing.assert_close(one_by_one, whole, atol=1e-5, rtol=1e-5)


def test_batch_protocol_stays_transductive():
    learner = build_learner(LearnerSpec("mnist-paper", (4, 8, 16), bn_eval="batch"), (1, 28, 28), 10, seed=0)
    state = LearnerState(initial_params(learner))
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        assert not torch.allclose(logits(learner, state, x[:4]), logits(learner, state, x)[:4], atol=1e-4)


def test_untrained_state_evaluates_with_the_initial_statistics():
    learner = build_learner(LearnerSpec("mnist-paper", (4, 8, 16)), (1, 28, 28), 10, seed=0)
    x = torch.randn(8, 1, 28, 28)
    value = accuracy(learner, LearnerState(initial_params(learner)), x, torch.zeros(8, dtype=torch.long))
    assert 0 <= value.item() <= 1
