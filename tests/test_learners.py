import pytest
import torch
from torch.func import functional_call

from gtnbench.models.learners import CifarLearner, LearnerSpec, MnistLearner, build_learner, sample_widths


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_mnist_learner_shape_and_parameter_count():
    net = build_learner(LearnerSpec("mnist-paper"), (1, 28, 28), 10, seed=0)
    assert net(torch.randn(5, 1, 28, 28)).shape == (5, 10)
    # weight-normalised: v (the weights) + g (one per output unit); BN biases; last layer bias
    weights = 9 * 64 + 9 * 64 * 128 + 6272 * 256 + 256 * 10
    gains = 64 + 128 + 256 + 10
    biases = 64 + 128 + 256 + 10
    assert count(net) == weights + gains + biases


def test_cifar_learner_shape_and_parameter_count():
    net = build_learner(LearnerSpec("cifar10-paper", weight_norm=False), (3, 32, 32), 10, seed=0)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    convs = 9 * (3 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 256 * 256)
    assert count(net) == convs + (64 + 128 + 128 + 256 + 256) + 256 * 10 + 10


def test_same_seed_same_weights_other_seed_other_weights():
    spec = LearnerSpec("mnist-paper", (8, 16, 32))
    a, b, c = (build_learner(spec, (1, 28, 28), 10, seed=s) for s in (1, 1, 2))
    pa, pb, pc = (dict(m.named_parameters()) for m in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)


def test_weight_norm_starts_at_the_kaiming_weights():
    net = build_learner(LearnerSpec("mnist-paper", (8, 16, 32)), (1, 28, 28), 10, seed=0)
    conv = net.features[0]
    g, v = conv.parametrizations.weight.original0, conv.parametrizations.weight.original1
    assert torch.allclose(g.flatten(), v.flatten(1).norm(dim=1))
    assert torch.allclose(conv.weight, v)


def test_width_randomisation_is_seeded_and_in_range():
    spec = LearnerSpec("mnist-paper", randomize_widths=True)
    draws = [sample_widths(spec, torch.Generator().manual_seed(s)) for s in range(50)]
    assert draws[3] == sample_widths(spec, torch.Generator().manual_seed(3))
    for c1, c2, fc in draws:
        assert 32 <= c1 < 128 and 64 <= c2 < 256 and 64 <= fc < 256
    assert len(set(draws)) > 40
    scaled = [
        sample_widths(LearnerSpec("mnist-paper", (16, 32, 64), randomize_widths=True), torch.Generator().manual_seed(s))
        for s in range(20)
    ]
    assert all(8 <= c1 < 32 and 16 <= c2 < 64 and 16 <= fc < 64 for c1, c2, fc in scaled)


def test_functional_call_matches_the_module():
    net = build_learner(LearnerSpec("cifar10-paper", (8, 8, 8, 16, 16)), (3, 32, 32), 10, seed=0)
    x = torch.randn(4, 3, 32, 32)
    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    assert torch.allclose(functional_call(net, params, (x,)), net(x))


def test_unknown_learner_is_rejected():
    with pytest.raises(ValueError, match="unknown learner"):
        build_learner(LearnerSpec("resnet"), (1, 28, 28), 10, seed=0)


def test_learner_classes_accept_other_input_sizes():
    assert MnistLearner((4, 8, 16), (1, 30, 30), 10)(torch.randn(2, 1, 30, 30)).shape == (2, 10)
    assert CifarLearner((4, 4, 4, 8, 8), (3, 16, 16), 7)(torch.randn(2, 3, 16, 16)).shape == (2, 7)


def test_mnist_learner_depth_follows_the_widths():
    shallow = build_learner(LearnerSpec("mnist-paper", (8, 32)), (1, 28, 28), 10, seed=0)
    deep = build_learner(LearnerSpec("mnist-paper", (8, 8, 8, 32)), (1, 28, 28), 10, seed=0)
    x = torch.randn(3, 1, 28, 28)
    assert shallow(x).shape == deep(x).shape == (3, 10)
    convs = lambda m: sum(isinstance(layer, torch.nn.Conv2d) for layer in m.modules())  # noqa: E731
    assert (convs(shallow), convs(deep)) == (1, 3)
    # 28 -> 14 -> 7 -> 4: the deep learner's FC sees 8 * 4 * 4 inputs
    assert deep.features[-4].parametrizations.weight.original1.shape == (32, 8 * 4 * 4)
