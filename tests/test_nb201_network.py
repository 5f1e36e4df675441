import random

import pytest
import torch
from torch.func import functional_call

from gtnbench.models.nb201 import (
    OPS,
    AveragePool3x3,
    Cell,
    CellNetwork,
    active_edges,
    arch_str,
    computed_edges,
    parse_arch,
)
from gtnbench.nas.table import load_table
from gtnbench.teachers.base import Lesson
from gtnbench.train import initial_params, train

INDEX_1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
DISCONNECTED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"  # index 10
DANGLING = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"  # node 2 unused
DEAD_SOURCE = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"  # node 1 is zero


def count(net):
    return sum(p.numel() for p in net.parameters())


def table_params(index, dataset="cifar10"):
    return round(load_table().value(f"{dataset}_params_M", index) * 1e6)


def tiny(arch, seed=0, **kwargs):
    return CellNetwork(arch, C=8, N=1, generator=torch.Generator().manual_seed(seed), **kwargs)


def test_parse_and_format_are_inverse_on_every_cell():
    assert parse_arch(INDEX_1) == (
        "nor_conv_3x3",
        "nor_conv_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "nor_conv_3x3",
        "skip_connect",
    )
    for arch in load_table().arch_strs:
        ops = parse_arch(arch)
        assert len(ops) == 6 and set(ops) <= set(OPS) and arch_str(ops) == arch


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "expected 3 nodes"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5' in 'conv_5x5~0'"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "edge 'none~2' of node 2"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 '|none~0|'"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1 'none~0|'"),
    ],
)
def test_malformed_arch_strings_name_the_bad_part(bad, names):
    with pytest.raises(ValueError, match=names.replace("|", r"\|")):
        parse_arch(bad)


def test_arch_str_rejects_bad_op_lists():
    with pytest.raises(ValueError, match="expected 6 ops"):
        arch_str(["none"] * 5)
    with pytest.raises(ValueError, match="conv"):
        arch_str(["conv"] * 6)


def test_parameter_count_equals_the_table_on_a_seeded_sample():
    table = load_table()
    sample = random.Random(0).sample(range(len(table)), 300)
    wrong = [i for i in sample if count(CellNetwork(table.arch(i), device="meta")) != table_params(i)]
    assert wrong == []


@pytest.mark.parametrize("index", [0, 1, 10, 284, 6111])
def test_parameter_count_for_cifar100_and_imagenet16(index):
    arch = load_table().arch(index)
    assert count(CellNetwork(arch, num_classes=100, device="meta")) == table_params(index, "cifar100")
    assert count(CellNetwork(arch, num_classes=120, device="meta")) == table_params(index, "imagenet16")


@pytest.mark.exhaustive
def test_parameter_count_equals_the_table_for_all_cells():
    table = load_table()
    wrong = [i for i in range(len(table)) if count(CellNetwork(table.arch(i), device="meta")) != table_params(i)]
    assert wrong == []


def test_structure_and_forward_shapes():
    net = tiny(INDEX_1)
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    assert len(net.cells) == 5  # N cells, reduction, N cells, reduction, N cells
    assert not list(net.buffers())  # batch-norm statistics are training state (models/norm.py), not buffers
    assert net.bn_eval == "running" and tiny(INDEX_1, bn_eval="batch").bn_eval == "batch"
    assert count(CellNetwork(INDEX_1, in_channels=1, num_classes=3, device="meta")) < table_params(1)


def test_same_generator_seed_same_weights():
    a, b, c = tiny(INDEX_1, 0), tiny(INDEX_1, 0), tiny(INDEX_1, 1)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(pa, pb), name
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_functional_call_matches_forward_and_leaves_parameters_alone():
    net = tiny(INDEX_1)
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    before = {n: p.clone() for n, p in net.named_parameters()}
    params = {n: p.detach().clone() for n, p in net.named_parameters()}
    assert torch.allclose(functional_call(net, params, (x,)), net(x))
    doubled = {n: 2 * p for n, p in params.items()}
    assert not torch.allclose(functional_call(net, doubled, (x,)), net(x))
    assert all(torch.equal(p, before[n]) for n, p in net.named_parameters())


def test_active_edges_prune_none_dead_and_dangling_edges():
    assert active_edges(parse_arch(INDEX_1)) == frozenset(range(6))
    assert active_edges(parse_arch(DISCONNECTED)) == frozenset()
    assert active_edges(parse_arch(DANGLING)) == {0, 3, 4}
    assert active_edges(parse_arch(DEAD_SOURCE)) == {1, 3, 5}
    # Output fed only through a dead node: disconnected as well.
    assert active_edges(("none", "none", "nor_conv_3x3", "none", "none", "nor_conv_3x3")) == frozenset()


def test_computed_edges_keep_convolutions_from_dead_nodes_as_the_benchmark_does():
    assert computed_edges(parse_arch(DEAD_SOURCE)) == {1, 2, 3, 5}  # 2<-1 reads the zero node 1
    assert computed_edges(parse_arch(DANGLING)) == {0, 3, 4}
    assert computed_edges(("none", "none", "nor_conv_3x3", "none", "none", "nor_conv_3x3")) == {2, 5}


def test_a_convolution_from_a_dead_node_outputs_batch_norms_shift():
    """ReLU-conv-BN of the zero tensor is BN's beta: a learned constant NAS-Bench-201's network trains."""
    cell = Cell(("none", "none", "nor_conv_3x3", "none", "none", "skip_connect"), 4, None)
    with torch.no_grad():
        cell.edges["2_1"][2].bias.copy_(torch.arange(4.0))
    out = cell(torch.randn(2, 4, 5, 5))
    assert torch.allclose(out, torch.arange(4.0).view(1, 4, 1, 1).expand_as(out))


def test_disconnected_cell_outputs_zeros_and_the_network_a_constant():
    cell = Cell(parse_arch(DISCONNECTED), 4, None)
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(cell(x), torch.zeros_like(x))
    logits = tiny(DISCONNECTED)(torch.randn(3, 3, 8, 8))
    assert torch.allclose(logits, logits[:1].expand_as(logits))


@pytest.mark.parametrize(
    ("arch", "idle_edges"),
    [(INDEX_1, ()), (DANGLING, ("2_0", "2_1")), (DEAD_SOURCE, ("2_1.1", "2_1.2.weight")), (DISCONNECTED, None)],
)
def test_the_inner_loop_trains_every_kind_of_cell(arch, idle_edges):
    """Pruned edges leave parameters out of the forward; the inner loop must still run, leaving them as they are.
    A convolution from a dead node trains only its batch norm's shift (beta)."""
    net = tiny(arch)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g)
    lesson = Lesson(steps=2, batch=lambda t: (x, y), lrs=torch.full((2,), 0.1), momenta=torch.full((2,), 0.9))
    start = initial_params(net)
    end = train(net, start, lesson).params
    moved = {name for name in start if not torch.equal(start[name], end[name])}
    if idle_edges is None:  # disconnected: only the head and the classifier can learn
        idle = {name for name in start if not name.startswith(("head.", "classifier."))}
    else:
        idle = {name for name in start if any(f".edges.{edge}" in name for edge in idle_edges)}
        assert "stem.0.weight" in moved
    assert "classifier.bias" in moved
    assert not moved & idle


def test_the_average_pool_is_the_benchmarks_avgpool2d_without_padding_counted():
    x = torch.randn(2, 3, 7, 5, generator=torch.Generator().manual_seed(0))
    expected = torch.nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)(x)
    torch.testing.assert_close(AveragePool3x3()(x), expected, rtol=0, atol=1e-6)
