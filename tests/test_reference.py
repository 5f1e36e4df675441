"""The DC/DM reference, part by part against small hand-computed cases: its ConvNet, its evaluation recipe
(batches, epochs, step decay, momentum restart, weight decay, augmentation), DM's flattened feature-map
embedding, DC's full weight gradient and running batch-norm estimates; and sets with soft labels and
per-image learning rates through the shared inner loop."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from gtnbench.data.datasets import ImageDataset, Split
from gtnbench.data.image_set import ImageSet
from gtnbench.data.reference_augment import CropScaleRotate, crop_scale_rotate
from gtnbench.distill.network import fresh_network
from gtnbench.models.features import embed, penultimate_features
from gtnbench.models.learners import LearnerSpec, build_learner
from gtnbench.teachers.base import Lesson
from gtnbench.teachers.fixed_set import FixedSetTeacher
from gtnbench.teachers.reference import ReferenceRecipe, ReferenceSetTeacher, reference_step_sizes
from gtnbench.train import initial_params, train

CONVNET = LearnerSpec("convnet", weight_norm=False)


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_the_reference_convnet_has_the_reference_layers_and_parameter_count(shape):
    channels = shape[0]
    net = build_learner(CONVNET, shape, 10, seed=0)
    # networks.py ConvNet(net_width=128, net_depth=3, instancenorm, avgpooling): conv3x3 with bias, GroupNorm(128,
    # 128) (a weight and a bias per channel) three times; MNIST's first conv pads by 3, so the map is 32x32 for both
    # data sets and 4x4 after three 2x2 poolings; the classifier reads the flattened 128 x 4 x 4 map.
    convs = (128 * channels * 9 + 128) + 2 * (128 * 128 * 9 + 128)
    norms = 3 * (128 + 128)
    classifier = 128 * 4 * 4 * 10 + 10
    assert count(net) == convs + norms + classifier == {1: 317_706, 3: 320_010}[channels]
    assert isinstance(net.features[1], nn.GroupNorm) and net.features[1].num_groups == 128
    assert isinstance(net.features[2], nn.ReLU) and isinstance(net.features[3], nn.AvgPool2d)
    assert net.features[0].padding == ((3, 3) if channels == 1 else (1, 1))
    x = torch.randn(2, *shape)
    assert net(x).shape == (2, 10) and embed(net, dict(net.named_parameters()), x, "feature-map").shape == (2, 2048)
    with pytest.raises(ValueError, match="not weight-normalised"):
        build_learner(LearnerSpec("convnet"), shape, 10, seed=0)


def test_the_convnet_starts_from_pytorch_default_initialisation_drawn_from_its_seed():
    a, b = (build_learner(CONVNET, (3, 32, 32), 10, seed=3) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    conv = a.features[0]
    bound = 1 / math.sqrt(3 * 9)  # kaiming_uniform(a=sqrt(5)) and the bias both give U(-1/sqrt(fan_in), ...)
    assert conv.weight.abs().max() <= bound and conv.bias.abs().max() <= bound
    assert torch.equal(a.features[1].weight, torch.ones(128)) and torch.equal(a.features[1].bias, torch.zeros(128))


def test_the_reference_schedule_divides_the_lr_by_ten_after_half_and_restarts_momentum():
    # evaluate_synset: `for ep in range(Epoch + 1)`, lr * 0.1 and a new optimiser after epoch Epoch // 2 + 1. With
    # Epoch = 4 and 10 images in batches of 4 (4 + 4 + 2): 5 epochs of 3 steps; epochs 0..3 at lr, epoch 4 at lr / 10.
    recipe = ReferenceRecipe(epochs=4, batch_size=4)
    assert recipe.steps(10) == 15 and recipe.drop_step(10) == 12
    lrs, momenta = reference_step_sizes(recipe, 10)
    assert torch.allclose(lrs, torch.tensor([0.01] * 12 + [0.001] * 3))
    assert momenta[12] == 0 and (momenta[:12] == 0.9).all() and (momenta[13:] == 0.9).all()
    lesson = ReferenceSetTeacher(torch.randn(10, 1, 4, 4), torch.arange(10) % 3, recipe).lesson(
        15, torch.Generator().manual_seed(0)
    )
    sizes = [lesson.batch(t)[0].shape[0] for t in range(15)]
    assert sizes == [4, 4, 2] * 5 and not lesson.uniform and lesson.weight_decay == 5e-4
    assert ReferenceRecipe(epochs=1).drop_step(10) >= ReferenceRecipe(epochs=1).steps(10)  # 2 epochs: no drop


def test_the_reference_lesson_trains_as_torch_sgd_with_weight_decay_and_a_new_optimiser_at_the_drop():
    torch.manual_seed(0)
    images, labels = torch.randn(10, 1, 4, 4), torch.arange(10) % 3
    recipe = ReferenceRecipe(epochs=4, batch_size=4, lr=0.1)
    lesson = ReferenceSetTeacher(images, labels, recipe).lesson(15, torch.Generator().manual_seed(1))
    learner = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    start = initial_params(learner)
    ours = train(learner, start, lesson).params

    reference = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    reference.load_state_dict({k: v.detach() for k, v in start.items()})
    lr, optimiser = recipe.lr, torch.optim.SGD(reference.parameters(), lr=recipe.lr, momentum=0.9, weight_decay=5e-4)
    for t in range(15):
        if t == recipe.drop_step(10):
            lr *= 0.1
            optimiser = torch.optim.SGD(reference.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
        x, y = lesson.batch(t)
        optimiser.zero_grad()
        F.cross_entropy(reference(x), y).backward()
        optimiser.step()
    for name, value in reference.named_parameters():
        assert torch.allclose(ours[name], value, atol=1e-6), name


def test_reference_dsa_is_one_transform_per_batch_with_parameters_per_image_and_pure():
    images = torch.randn(6, 3, 8, 8)
    recipe = ReferenceRecipe(epochs=1, augment="dsa", dsa=("crop", "scale"), batch_size=6)
    lesson = ReferenceSetTeacher(images, torch.arange(6) % 2, recipe).lesson(2, torch.Generator().manual_seed(0))
    first, again = lesson.batch(0)[0], lesson.batch(0)[0]
    assert torch.equal(first, again) and not torch.equal(first, images[torch.randperm(6)])
    with pytest.raises(ValueError, match="needs its transforms"):
        ReferenceRecipe(epochs=1, augment="dsa")


def test_crop_scale_rotate_at_hand_computed_draws():
    image = torch.arange(2 * 28 * 28, dtype=torch.float32).view(1, 2, 28, 28) / 100

    def draws(kind, offset=(4, 4), factor=(1.0, 1.0), angle=0):
        factors = torch.tensor([factor], dtype=torch.float64)
        return CropScaleRotate(torch.tensor([kind]), torch.tensor([offset]), factors, torch.tensor([angle]))

    assert torch.equal(crop_scale_rotate(image, draws(0)), image)  # window at the pad: no shift
    shifted = crop_scale_rotate(image, draws(0, offset=(0, 1)))  # 4 rows down, 3 columns right, mean fill
    means = image.mean(dim=(0, 2, 3))
    assert torch.equal(shifted[0, :, 4:, 3:], image[0, :, :24, :25])
    assert torch.equal(shifted[0, 0, :4], torch.full((4, 28), float(means[0])))
    assert torch.equal(crop_scale_rotate(image, draws(1)), image)  # scale 1: the same size, nearest: the same
    smaller = crop_scale_rotate(image, draws(1, factor=(0.5, 0.5)))  # 14 x 14 centred on a zero canvas
    assert torch.equal(smaller[0, :, 7:21, 7:21], F.interpolate(image, [14, 14])[0]) and smaller[0, :, :7].eq(0).all()
    assert torch.allclose(crop_scale_rotate(image, draws(2, angle=0)), image, atol=1e-4)  # scipy, 0 degrees
    quarter = crop_scale_rotate(image, draws(2, angle=90))
    assert torch.allclose(quarter[0], torch.rot90(image[0], 1, dims=(1, 2)), atol=1e-3)


def test_dm_embeds_the_flattened_last_feature_map_and_penultimate_is_its_pooled_mean():
    spec = LearnerSpec("cifar10-paper", (2, 3, 3, 4, 5), weight_norm=False)
    network, params = fresh_network(spec, (3, 32, 32), 10, seed=0, device="cpu")
    x = torch.randn(3, 3, 32, 32)
    feature_map = embed(network, params, x, "feature-map")
    assert feature_map.shape == (3, 5 * 8 * 8)  # strides 1, 2, 1, 2, 1: 32 -> 8; the last width is 5
    pooled = penultimate_features(network, params, x)
    assert torch.allclose(pooled, feature_map.view(3, 5, 64).mean(-1), atol=1e-6)
    mnist, mnist_params = fresh_network(LearnerSpec("mnist-paper", (3, 4, 6)), (1, 28, 28), 10, 0, "cpu")
    assert embed(mnist, mnist_params, torch.randn(2, 1, 28, 28), "feature-map").shape == (2, 4 * 7 * 7)
    convnet, convnet_params = fresh_network(CONVNET, (3, 32, 32), 10, 0, "cpu")
    assert torch.equal(embed(convnet, convnet_params, x, "penultimate"), convnet.embed(x))


def test_dc_matches_the_gradient_of_the_weights_of_a_weight_normalised_layer():
    from gtnbench.distill.dc import weight_gradients
    from gtnbench.models.layers import linear

    torch.manual_seed(0)
    layer = linear(5, 3, None, True, "cpu")
    params = {n: p.detach().clone().requires_grad_() for n, p in layer.named_parameters()}
    x, y = torch.randn(7, 5), torch.randint(0, 3, (7,))
    names = list(params)
    grads = torch.autograd.grad(F.cross_entropy(functional_call(layer, params, (x,)), y), list(params.values()))
    recovered = dict(zip(names, weight_gradients(names, grads, params)))
    g, v = params["parametrizations.weight.original0"], params["parametrizations.weight.original1"]
    w = (v * (g / v.norm(dim=1, keepdim=True))).detach().requires_grad_()
    (direct,) = torch.autograd.grad(F.cross_entropy(F.linear(x, w, params["bias"]), y), [w])
    assert torch.allclose(recovered["parametrizations.weight.original1"], direct, atol=1e-6)
    # v's own gradient is only the part orthogonal to each row: no radial component
    tangential = grads[names.index("parametrizations.weight.original1")]
    assert torch.allclose((tangential * v).sum(1), torch.zeros(3), atol=1e-6)
    assert not torch.allclose((direct * v).sum(1), torch.zeros(3), atol=1e-3)


def tiny_dataset() -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(48) % 3
    x = 0.3 * torch.randn(48, 1, 8, 8, generator=g)
    x[torch.arange(48), :, 1 + 3 * y] += 2.0
    split = Split(x, y)
    return ImageDataset("mnist", split, split, split, 3, 0)


def test_dc_freezes_the_running_estimates_of_batch_norm_and_skips_them_without_batch_norm():
    from gtnbench.distill.dc import NORM_PER_CLASS, DCConfig, GradientMatching

    dataset = tiny_dataset()
    config = DCConfig(images_per_class=1, iterations=1, real_per_class=8)
    matcher = GradientMatching(dataset, LearnerSpec("mnist-paper", (3, 6)), config, seed=0)
    network, params = matcher.fresh_network()
    state = matcher.rng.get_state()
    stats = matcher.frozen(network, params)
    matcher.rng.set_state(state)  # the same mixed batch, drawn again
    mixed = torch.cat([m[torch.randperm(len(m), generator=matcher.rng)[:NORM_PER_CLASS]] for m in matcher.by_class])
    first = dataset.train.x[mixed]
    block = {k[len("features.") :]: v for k, v in params.items() if k.startswith(("features.0.", "features.1."))}
    conv = functional_call(network.features[:2], block, (first,))
    assert torch.allclose(stats[0], 0.1 * conv.mean(dim=(0, 2, 3)), atol=1e-6)  # from 0, weight 0.1 on the batch
    matcher.train_network(network, params, 1)  # training steps move the estimates too
    assert not torch.equal(matcher.running.stats[0], stats[0])
    exact = GradientMatching(
        dataset,
        LearnerSpec("mnist-paper", (3, 6)),
        DCConfig(images_per_class=1, real_per_class=8, bn_stats="batch-mean"),
        seed=0,
    )
    net, p = exact.fresh_network()
    assert torch.allclose(exact.frozen(net, p)[0], 10 * stats[0], atol=1e-5)  # the mixed batch's own mean
    plain = GradientMatching(dataset, CONVNET, config, seed=0)
    convnet, convnet_params = plain.fresh_network()
    before = plain.rng.get_state()
    assert plain.frozen(convnet, convnet_params) == () and torch.equal(plain.rng.get_state(), before)


def tiny_set(soft=None, lrs=None, count=6) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(count) % 3
    return ImageSet(torch.randn(count, 1, 8, 8, generator=g), labels, "file", "mnist", 0, {}, None, soft, lrs)


def trained(image_set: ImageSet, lr: float = 0.1, steps: int = 4, spec=CONVNET, batch=256):
    learner = build_learner(spec, (1, 8, 8), 3, seed=0)
    lesson = FixedSetTeacher.from_set(image_set, batch, lr, 0.9).lesson(steps, torch.Generator().manual_seed(0))
    return train(learner, initial_params(learner), lesson).params


def test_one_hot_soft_labels_train_exactly_as_hard_labels():
    hard = tiny_set()
    one_hot = tiny_set(soft=F.one_hot(hard.labels, 3).float())
    spec = LearnerSpec("mnist-paper", (3, 6))  # batch norm and weight norm: the whole inner loop
    a, b = trained(hard, spec=spec, batch=4), trained(one_hot, spec=spec, batch=4)
    assert all(torch.equal(a[name], b[name]) for name in a)
    softer = tiny_set(soft=0.8 * F.one_hot(hard.labels, 3).float() + 0.2 / 3)
    assert not all(torch.equal(a[name], trained(softer, spec=spec, batch=4)[name]) for name in a)
    recipe = ReferenceRecipe(epochs=1, batch_size=4)
    lessons = [
        ReferenceSetTeacher(s.images, t, recipe).lesson(4, torch.Generator().manual_seed(0))
        for s, t in ((hard, hard.labels), (one_hot, one_hot.soft_labels))
    ]
    learner = build_learner(CONVNET, (1, 8, 8), 3, seed=0)
    ref_a, ref_b = (train(learner, initial_params(learner), lesson).params for lesson in lessons)
    assert all(torch.equal(ref_a[name], ref_b[name]) for name in ref_a)


def test_per_image_learning_rates_weight_each_image_of_the_step():
    plain = trained(tiny_set())
    uniform = trained(tiny_set(lrs=torch.full((6,), 0.5)), lr=0.2)  # every image at half: lr 0.2 is lr 0.1
    assert all(torch.allclose(plain[name], uniform[name], atol=1e-6) for name in plain)
    # lrs (2, 1, 1, ...) on a whole-set batch is image 0 counted twice: the set with image 0 doubled, at lr x 7/6
    base = tiny_set()
    weighted = tiny_set(lrs=torch.tensor([2.0, 1, 1, 1, 1, 1]))
    doubled = ImageSet(
        torch.cat([base.images[:1], base.images]), torch.cat([base.labels[:1], base.labels]), "file", "mnist", 0
    )
    a = trained(weighted, lr=0.1, steps=1)
    b = trained(doubled, lr=0.1 * 7 / 6, steps=1)
    assert all(torch.allclose(a[name], b[name], atol=1e-6) for name in a)


def test_a_lesson_without_weight_decay_trains_as_before():
    learner = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    x, y = torch.randn(3, 1, 2, 2), torch.tensor([0, 1, 0])
    make = lambda **kw: Lesson(2, lambda t: (x, y), torch.full((2,), 0.1), torch.full((2,), 0.9), **kw)  # noqa: E731
    start = initial_params(learner)
    none, zero = train(learner, start, make()).params, train(learner, start, make(weight_decay=0.0)).params
    decayed = train(learner, start, make(weight_decay=0.5)).params
    assert all(torch.equal(none[n], zero[n]) for n in none) and not torch.equal(none["1.weight"], decayed["1.weight"])
