"""Small-set makers: random subsets, coresets (herding, k-means), DSA, distribution matching (DM) and
gradient matching (DC), on tiny data (8x8 images, 3 classes) and tiny learners."""

import pytest
import torch
from torch.func import functional_call

from gtnbench.data.datasets import ImageDataset, Split
from gtnbench.data.dsa import Augmentation, augment, draw_augmentation
from gtnbench.data.image_set import load_image_set, save_image_set
from gtnbench.data.names import DSA_TRANSFORMS as TRANSFORMS
from gtnbench.distill.classes import class_counts
from gtnbench.distill.coreset import FeatureLearner, coreset, herding_order, kmeans_representatives
from gtnbench.distill.dc import DCConfig, GradientMatching, gradient_match_loss, layer_distance
from gtnbench.distill.dm import DistributionMatching, DMConfig, mean_embedding_loss
from gtnbench.distill.network import fresh_network
from gtnbench.errors import GtnbenchError
from gtnbench.models.features import penultimate_features
from gtnbench.models.learners import LearnerSpec
from gtnbench.teachers.fixed_set import FixedSetTeacher

TINY_MNIST = LearnerSpec("mnist-paper", (3, 6))
TINY_CIFAR = LearnerSpec("cifar10-paper", (2, 3, 3, 4, 4))


def tiny_dataset(per_class=16, dtype=torch.float32, channels=1, seed=0) -> ImageDataset:
    """Three classes of 8x8 images: a bright row at a class-dependent height, plus noise."""
    g = torch.Generator().manual_seed(seed)

    def split(count):
        y = torch.arange(count) % 3
        x = 0.3 * torch.randn(count, channels, 8, 8, generator=g)
        x[torch.arange(count), :, 1 + 3 * y] += 2.0
        return Split(x.to(dtype), y)

    return ImageDataset("mnist", split(3 * per_class), split(12), split(12), 3, 0)


def test_class_counts_spread_a_total_evenly():
    assert class_counts(10, per_class=5) == [5] * 10
    assert class_counts(10, total=4096) == [410] * 6 + [409] * 4
    with pytest.raises(GtnbenchError):
        class_counts(10, per_class=5, total=50)


def test_random_subset_is_class_balanced_seeded_and_indexes_the_training_split():
    from gtnbench.distill.subset import random_subset

    dataset = tiny_dataset()
    subset = random_subset(dataset, [4, 4, 4], seed=1)
    assert subset.per_class() == [4, 4, 4] and len(set(subset.indices.tolist())) == 12
    assert torch.equal(subset.images, dataset.train.x[subset.indices])
    assert torch.equal(subset.labels, dataset.train.y[subset.indices])
    assert torch.equal(random_subset(dataset, [4, 4, 4], seed=1).indices, subset.indices)
    assert not torch.equal(random_subset(dataset, [4, 4, 4], seed=2).indices, subset.indices)
    with pytest.raises(GtnbenchError, match="class 0 has 16 training images"):
        random_subset(dataset, [17, 4, 4], seed=1)


def test_herding_picks_greedily_bring_the_running_mean_to_the_class_mean():
    points = torch.randn(40, 5, generator=torch.Generator().manual_seed(0)).double()
    order = herding_order(points, 10)
    mean = points.mean(0)
    assert len(set(order.tolist())) == 10
    for k in range(10):  # each pick is the best available one for the running mean
        chosen = points[order[:k]].sum(0)
        errors = [((chosen + points[i]) / (k + 1) - mean).norm() for i in range(40) if i not in order[:k].tolist()]
        assert ((chosen + points[order[k]]) / (k + 1) - mean).norm() <= min(errors) + 1e-12
    herded = (points[order].mean(0) - mean).norm()
    generator = torch.Generator().manual_seed(1)
    random = [(points[torch.randperm(40, generator=generator)[:10]].mean(0) - mean).norm() for _ in range(200)]
    assert herded < min(random)


def test_kmeans_picks_one_real_point_near_each_cluster():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = torch.cat([c + 0.1 * torch.randn(8, 2, generator=generator) for c in centres])
    picked = kmeans_representatives(points, 3, seed=0)
    assert sorted(int(i) // 8 for i in picked) == [0, 1, 2]  # one member of each cluster
    assert torch.equal(kmeans_representatives(points, 3, seed=0), picked)


@pytest.mark.parametrize("selection, steps", [("herding", 0), ("kmeans", 0), ("herding", 3)])
def test_coresets_choose_members_of_each_class(selection, steps):
    dataset = tiny_dataset()
    chosen = coreset(dataset, [3, 2, 3], selection, FeatureLearner(TINY_MNIST, steps=steps, batch_size=8), seed=0)
    assert chosen.per_class() == [3, 2, 3] and chosen.method == selection
    assert torch.equal(dataset.train.y[chosen.indices], chosen.labels) and len(set(chosen.indices.tolist())) == 8
    assert torch.equal(chosen.images, dataset.train.x[chosen.indices])
    assert chosen.provenance["feature_learner"]["steps"] == steps


@pytest.mark.parametrize("spec, channels", [(TINY_MNIST, 1), (TINY_CIFAR, 3)])
def test_penultimate_features_feed_the_classifier(spec, channels):
    network, params = fresh_network(spec, (channels, 8, 8), 3, seed=0, device="cpu")
    x = torch.randn(5, channels, 8, 8, generator=torch.Generator().manual_seed(0))
    features = penultimate_features(network, params, x)
    classifier = network.features[-1]
    last = f"features.{len(network.features) - 1}."
    head = {name[len(last) :]: p for name, p in params.items() if name.startswith(last)}
    assert torch.allclose(functional_call(classifier, head, (features,)), functional_call(network, params, (x,)))
    assert features.shape == (5, spec.widths[-1])


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_siamese_augmentation_is_one_transform_for_the_whole_batch(kind):
    generator = torch.Generator().manual_seed(0)
    strategy = (kind,)
    a, b = torch.randn(4, 3, 8, 8, generator=generator), torch.randn(2, 3, 8, 8, generator=generator)
    draws = [draw_augmentation(strategy, 1, (8, 8), generator) for _ in range(5)]
    assert all(d.kind == kind for d in draws)
    for draw in draws:  # applying one draw to real and synthetic apart = applying it to both at once
        assert torch.allclose(torch.cat([augment(a, draw), augment(b, draw)]), augment(torch.cat([a, b]), draw))
    per_image = draw_augmentation(strategy, 6, (8, 8), generator)
    assert augment(torch.cat([a, b]), per_image).shape == (6, 3, 8, 8)


def test_augmentations_at_their_identity_leave_images_alone():
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    no_shift = torch.zeros(1, dtype=torch.long)
    for augmentation in (
        Augmentation("crop", {"dy": no_shift, "dx": no_shift}),
        Augmentation("flip", {"flip": torch.zeros(1, dtype=torch.bool)}),
        Augmentation("scale", {"sx": one, "sy": one}),
        Augmentation("rotate", {"angle": zero}),
        Augmentation("color", {"brightness": zero, "saturation": one, "contrast": one}),
    ):
        assert torch.allclose(augment(x, augmentation), x, atol=1e-6), augmentation.kind
    shifted = augment(x, Augmentation("crop", {"dy": torch.tensor([1]), "dx": torch.tensor([-2])}))
    assert torch.equal(shifted[:, :, :7, 2:], x[:, :, 1:, :6]) and shifted[:, :, 7].abs().sum() == 0


def with_float64(test):
    def wrapped(*args, **kwargs):
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            return test(*args, **kwargs)
        finally:
            torch.set_default_dtype(previous)

    wrapped.__name__ = test.__name__
    return wrapped


@with_float64
def test_dm_gradient_matches_central_finite_differences():
    dataset = tiny_dataset(dtype=torch.float64)
    network, params = fresh_network(TINY_MNIST, (1, 8, 8), 3, seed=0, device="cpu")
    generator = torch.Generator().manual_seed(0)
    real = [dataset.train.x[dataset.train.y == c][:6] for c in range(3)]
    synthetic = torch.randn(6, 1, 8, 8, generator=generator, requires_grad=True)
    augmentations = [draw_augmentation(("color", "scale", "crop"), 1, (8, 8), generator) for _ in range(3)]

    def loss(images):
        return mean_embedding_loss(
            lambda x: penultimate_features(network, params, x), real, list(images.split(2)), augmentations
        )

    (exact,) = torch.autograd.grad(loss(synthetic), [synthetic])
    direction = torch.randn(synthetic.shape, generator=generator)
    eps = 1e-6
    with torch.no_grad():
        numeric = (loss(synthetic + eps * direction) - loss(synthetic - eps * direction)) / (2 * eps)
    assert torch.allclose((exact * direction).sum(), numeric, rtol=1e-6, atol=1e-9)


def test_dm_lowers_the_mean_embedding_distance():
    dataset = tiny_dataset()
    # lr 0.3: at the reference's 1.0 the images of this tiny learner grow and the loss diverges
    config = DMConfig(images_per_class=2, iterations=30, lr_images=0.3, real_per_class=16, init="noise", dsa=())
    matcher = DistributionMatching(dataset, TINY_MNIST, config, seed=0)
    real = [dataset.train.x[dataset.train.y == c] for c in range(3)]
    networks = [fresh_network(TINY_MNIST, (1, 8, 8), 3, seed=100 + k, device="cpu") for k in range(4)]

    def loss() -> float:  # over fixed networks and all real images: no sampling noise
        with torch.no_grad():
            return sum(
                float(
                    mean_embedding_loss(
                        lambda x, n=n, p=p: penultimate_features(n, p, x), real, matcher.synthetic_batches()
                    )
                )
                for n, p in networks
            )

    before = loss()
    for _ in range(config.iterations):
        matcher.step()
    assert loss() < 0.7 * before
    result = matcher.result()
    assert result.method == "dm" and result.per_class() == [2, 2, 2] and result.provenance["iterations_done"] == 30


def test_dm_with_dsa_and_real_init_is_seeded():
    dataset = tiny_dataset()
    config = DMConfig(images_per_class=2, iterations=2, real_per_class=8)

    def run(seed):
        matcher = DistributionMatching(dataset, TINY_MNIST, config, seed)
        matcher.step(), matcher.step()
        return matcher.result()

    first, again, other = run(0), run(0), run(1)
    assert torch.equal(first.images, again.images) and not torch.equal(first.images, other.images)
    start = dataset.train.x[torch.tensor(first.provenance["init_indices"])]
    assert torch.equal(dataset.train.y[torch.tensor(first.provenance["init_indices"])], first.labels)
    assert not torch.equal(first.images, start)  # the images moved from their real starting points


def test_dc_layer_distance_is_the_sum_over_output_nodes_of_one_minus_cosine():
    real = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    synthetic = torch.tensor([[2.0, 0.0], [1.0, 0.0], [-3.0, -4.0]])
    # rows: same direction (0), orthogonal (1), opposite (2), up to the reference's eps in the denominator
    assert torch.isclose(layer_distance(real, synthetic), torch.tensor(3.0), atol=1e-5)
    conv = torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    assert torch.isclose(layer_distance(conv, 5 * conv), torch.tensor(0.0), atol=1e-5)
    assert torch.isclose(layer_distance(conv, -conv), torch.tensor(8.0), atol=1e-5)
    skipped = [torch.ones(4), torch.ones(4, 1, 1, 1), torch.ones(4, 1)]  # biases, weight-norm gains
    assert all(layer_distance(t, -t) == 0 for t in skipped)
    total = gradient_match_loss([real, conv, skipped[0]], [synthetic, -conv, -skipped[0]])
    assert torch.isclose(total, torch.tensor(11.0), atol=1e-4)


@pytest.mark.parametrize("match, bn_stats", [("weight", "running"), ("direction", "batch-mean")])
def test_dc_lowers_the_gradient_distance(match, bn_stats):
    from gtnbench.distill.network import RunningStatistics

    dataset = tiny_dataset()
    config = DCConfig(
        images_per_class=2,
        iterations=20,
        outer_loop=2,
        inner_loop=2,
        real_per_class=16,
        init="noise",
        match=match,
        bn_stats=bn_stats,
    )
    matcher = GradientMatching(dataset, TINY_MNIST, config, seed=0)
    networks = [fresh_network(TINY_MNIST, (1, 8, 8), 3, seed=100 + k, device="cpu") for k in range(4)]

    def loss() -> float:  # at fixed networks, each with the running estimates of a fresh one
        total = 0.0
        for network, params in networks:
            matcher.running = RunningStatistics()
            total += float(matcher.match_loss(network, params).detach())
        return total

    before = loss()
    for _ in range(config.iterations):
        matcher.step()
    assert loss() < 0.8 * before
    result = matcher.result()
    assert result.method == "dc" and result.per_class() == [2, 2, 2] and result.provenance["loops"] == [2, 2]


def test_dc_with_dsa_runs_and_its_set_teaches(tmp_path):
    dataset = tiny_dataset()
    config = DCConfig(images_per_class=1, iterations=2, real_per_class=8, batch_train=2, init="real", dsa=TRANSFORMS)
    matcher = GradientMatching(dataset, TINY_MNIST, config, seed=0)
    matcher.step(), matcher.step()
    loaded = load_image_set(save_image_set(matcher.result(), tmp_path / "dc.pt"))
    assert loaded.provenance["loops"] == [1, 1] and len(loaded.provenance["losses"]) == 2
    lesson = FixedSetTeacher.from_set(loaded, 128, 0.1, 0.5).lesson(2, torch.Generator().manual_seed(0))
    assert lesson.batch(1)[0].shape == (3, 1, 8, 8)


def test_dc_needs_loops_where_the_reference_gives_none():
    with pytest.raises(GtnbenchError, match="give both"):
        DCConfig(images_per_class=7)
    assert DCConfig(images_per_class=7, outer_loop=3, inner_loop=4).loops() == (3, 4)
    assert DCConfig(images_per_class=10).loops() == (10, 50)


def test_dc_per_class_gradients_see_the_statistics_of_the_mixed_batch():
    from gtnbench.distill.dc import class_loss, frozen_statistics

    dataset = tiny_dataset()
    network, params = fresh_network(TINY_MNIST, (1, 8, 8), 3, seed=0, device="cpu")
    mixed, y = dataset.train.x[:12], dataset.train.y[:12]
    stats = frozen_statistics(network, params, mixed)
    in_the_mix = torch.nn.functional.cross_entropy(functional_call(network, params, (mixed,))[y == 1], y[y == 1])
    assert torch.allclose(class_loss(network, params, stats, mixed[y == 1], 1), in_the_mix)
    alone = torch.nn.functional.cross_entropy(functional_call(network, params, (mixed[y == 1],)), y[y == 1])
    assert not torch.allclose(alone, in_the_mix)  # a one-class batch centred by itself would differ
