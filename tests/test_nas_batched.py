"""The batched train-based proxy (masked super-network, vmap over architectures) equals one-at-a-time training."""

import pytest
import torch

from gtnbench.data.datasets import ImageDataset, Split
from gtnbench.nas.batched import (
    SuperNetwork,
    arch_mask,
    batch_logits,
    stack_params,
    super_name,
    train_based_batch,
    train_batch,
    unstack_params,
)
from gtnbench.nas.proxies import build_network, train_based
from gtnbench.nas.spaces import SPACES
from gtnbench.nas.table import load_table
from gtnbench.teachers.real import RealDataTeacher
from gtnbench.train import LearnerState, initial_params, logits, train

CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",  # index 1: mixed
    "|skip_connect~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|skip_connect~1|avg_pool_3x3~2|",  # no parameters
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_1x1~2|",  # all convs
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|",  # index 10: disconnected
    "|none~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|",  # a conv fed by a dead node
]
C, N, SEED, STEPS = 4, 1, 3, 6
NB201, WIDTHS = SPACES["nb201"], {"channels": C, "cells": N}


@pytest.fixture(scope="module")
def archs() -> list[int]:
    return [load_table().index_of(cell) for cell in CELLS]


@pytest.fixture(scope="module")
def dataset() -> ImageDataset:
    generator = torch.Generator().manual_seed(0)

    def split(count: int) -> Split:
        return Split(
            torch.randn((count, 3, 8, 8), generator=generator), torch.randint(0, 10, (count,), generator=generator)
        )

    return ImageDataset("cifar10", split(48), split(40), split(8), 10, 0)


@pytest.fixture(scope="module")
def teacher(dataset) -> RealDataTeacher:
    return RealDataTeacher(dataset.train, 16, lr=0.1, momentum=0.9, augment=True)  # augment: the lesson draws per step


def test_scores_equal_one_at_a_time_in_the_order_of_archs(archs, dataset, teacher):
    order = archs[::-1]
    batched = train_based_batch(order, teacher, [2, STEPS], dataset, C, N, SEED, "cpu", eval_size=32)
    assert [s.arch for s in batched] == order
    for scores in batched:
        alone = train_based(NB201, scores.arch, teacher, [2, STEPS], dataset, WIDTHS, SEED, "cpu", eval_size=32)
        assert scores.arch_str == alone.arch_str == load_table().arch(scores.arch)
        assert scores.scores.keys() == alone.scores.keys() == {"2", str(STEPS)}
        for k, value in alone.scores.items():
            assert scores.scores[k] == pytest.approx(value, abs=1 / 32 + 1e-9)
    seconds = batched[0].seconds
    assert 0 < seconds["2"] <= seconds[str(STEPS)] and all(s.seconds == seconds for s in batched)


def test_final_parameters_and_logits_match_one_at_a_time(archs, dataset, teacher):
    nets = [build_network(NB201, arch, WIDTHS, dataset, SEED, "cpu") for arch in archs]
    supernet = SuperNetwork(C, N, dataset.num_classes, dataset.image_shape[0])
    params = stack_params(supernet, nets, "cpu")
    masks = torch.stack([arch_mask(net.ops) for net in nets])
    x = dataset.val.x
    start_logits = batch_logits(supernet, LearnerState(params), masks, x)
    final = train_batch(supernet, params, masks, teacher.lesson(STEPS, torch.Generator().manual_seed(SEED)))
    final_logits = batch_logits(supernet, final, masks, x)
    for a, net in enumerate(nets):
        own = dict(net.named_parameters())
        torch.testing.assert_close(unstack_params(params, a, net), {n: p.detach() for n, p in own.items()})
        with torch.no_grad():
            torch.testing.assert_close(start_logits[a], logits(net, LearnerState(own), x), atol=1e-5, rtol=1e-5)
        alone = train(net, initial_params(net), teacher.lesson(STEPS, torch.Generator().manual_seed(SEED))).state
        torch.testing.assert_close(unstack_params(final.params, a, net), alone.params, atol=1e-5, rtol=1e-4)
        with torch.no_grad():
            torch.testing.assert_close(final_logits[a], logits(net, alone, x), atol=1e-4, rtol=1e-4)
        touched = {super_name(name, net.ops) for name in own}
        for name in params.keys() - touched:  # ops the architecture lacks: zero, and never trained
            assert not final.params[name][a].any()


def test_a_disconnected_cell_keeps_its_initial_weights_and_outputs_a_constant(archs, dataset, teacher):
    net = build_network(NB201, archs[3], WIDTHS, dataset, SEED, "cpu")
    supernet = SuperNetwork(C, N, dataset.num_classes, dataset.image_shape[0])
    params, masks = stack_params(supernet, [net], "cpu"), arch_mask(net.ops)[None]
    assert not masks.any()
    final = train_batch(supernet, params, masks, teacher.lesson(STEPS, torch.Generator().manual_seed(SEED)))
    for name, p in params.items():
        if name.startswith(("stem.", "cells.0.")):  # before the first (disconnected) cell: zero gradient
            assert torch.equal(final.params[name], p), name
    out = batch_logits(supernet, final, masks, dataset.val.x)[0]
    torch.testing.assert_close(out, out[:1].expand_as(out))
