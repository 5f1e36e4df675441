import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gtnbench.errors import GtnbenchError, TrialFailed
from gtnbench.models.macro import MacroNetwork
from gtnbench.models.nb201 import CellNetwork
from gtnbench.nas.sampling import sample_architectures
from gtnbench.nas.space_stats import cost_correlations, image_batch, shrink, training_free_sample
from gtnbench.nas.spaces import SPACES, Task, get_space

NB201_1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def count(net):
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", ["nb201", "macro"])
def test_every_space_gives_table_columns_and_task(name):
    space = get_space(name)
    t = space.table()
    assert space.name == name and len(t) == len(t.arch_strs) > 0
    for column in (space.default_column, space.flops_column, space.params_column):
        assert column in space.columns() and space.describe_column(column)
        assert t.column(column).shape == (len(t),)
    assert space.task() == Task("cifar10", (3, 32, 32), 10)


@pytest.mark.parametrize("name", ["nb201", "macro"])
def test_sampling_is_seeded_distinct_and_checked(name):
    space = get_space(name)
    a = space.sample(50, seed=3)
    assert a == space.sample(50, seed=3) != space.sample(50, seed=4) and len(set(a)) == 50
    with pytest.raises(GtnbenchError, match="unknown sampling option 'iso'"):
        space.sample(5, iso=True)
    with pytest.raises(GtnbenchError, match=f"{name}.architectures.count: 100000 is more than"):
        space.sample(100000)


def test_nb201_sampling_is_the_existing_sampler():
    nb201 = SPACES["nb201"]
    assert nb201.sample(20, seed=1) == sample_architectures(20, seed=1)
    assert nb201.sample(20, seed=1, one_per_iso_class=False) == sample_architectures(20, 1, one_per_iso_class=False)


def test_macro_samples_one_per_class_by_default():
    macro = SPACES["macro"]
    t = macro.table()
    assert macro.sample(3969) and sorted(macro.sample(3969)) == [int(i) for i in np.unique(t.iso_class)]
    assert len(macro.sample(6561, one_per_iso_class=False)) == 6561


@pytest.mark.parametrize(("name", "index"), [("nb201", 1), ("nb201", 6111), ("macro", 0), ("macro", 6473)])
def test_built_networks_have_the_table_parameter_count(name, index):
    space = get_space(name)
    net = space.build(index, device="meta")
    assert count(net) == round(space.table().value(space.params_column, index) * 1e6)
    assert space.arch_of(net) == space.arch(index)


def test_build_options_reach_the_networks():
    g = torch.Generator().manual_seed(0)
    nb = SPACES["nb201"].build(1, generator=g, channels=4, cells=1, num_classes=3, in_channels=1)
    assert isinstance(nb, CellNetwork) and nb(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    macro = SPACES["macro"].build(6473, channels=4, head_channels=8, bn_eval="batch")
    assert isinstance(macro, MacroNetwork) and macro.bn_eval == "batch" and macro.head[0].out_channels == 8
    with pytest.raises(GtnbenchError, match="unknown width option 'cells'; known: channels, head_channels"):
        SPACES["macro"].build(0, cells=1)


def test_build_refuses_a_network_of_another_architecture(monkeypatch):
    macro = SPACES["macro"]
    monkeypatch.setattr(type(macro), "arch_of", lambda self, net: "00000000")
    with pytest.raises(TrialFailed, match="macro architecture 5 is not 00000012"):
        macro.build(5, device="meta")


def test_encodings_and_command_line_names():
    nb201, macro = SPACES["nb201"], SPACES["macro"]
    assert nb201.encoding(1) == (3, 3, 4, 1, 3, 1) and nb201.resolve(NB201_1) == nb201.resolve("1") == 1
    assert macro.encoding(5) == (0, 0, 0, 0, 0, 0, 1, 2)
    assert macro.resolve("00000012") == macro.resolve("5") == 5  # eight digits from 0-2 are a code
    assert macro.resolve("00000003") == 3
    for bad, message in (("0000002x", "neither an index"), ("7000", "index 7000")):
        with pytest.raises(GtnbenchError, match=message):
            macro.resolve(bad)
    with pytest.raises(GtnbenchError, match="unknown search space 'nb101'; known: nb201, macro"):
        get_space("nb101")


def test_cost_correlations_on_all_macro_architectures_match_the_readme():
    found = cost_correlations(SPACES["macro"])
    assert round(found["flops"]["spearman"], 3) == 0.748 and round(found["flops"]["kendall"], 3) == 0.556
    assert round(found["params"]["spearman"], 3) == 0.318
    classes = cost_correlations(SPACES["macro"], indices=SPACES["macro"].sample(3969))  # one per trained network
    assert round(classes["flops"]["spearman"], 3) == 0.738


def test_training_free_sample_scores_each_sampled_architecture():
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    result = training_free_sample(SPACES["macro"], 6, x, seed=2, channels=4, head_channels=8)
    assert result.indices == SPACES["macro"].sample(6, seed=2) and set(result.scores) == {
        "flops",
        "params",
        "naswot",
        "synflow",
    }
    assert np.all(np.isfinite(result.scores["naswot"])) and np.all(result.scores["synflow"] > 0)
    again = training_free_sample(SPACES["macro"], 6, x, seed=2, channels=4, head_channels=8)
    assert all(np.array_equal(again.scores[k], v) for k, v in result.scores.items())
    assert all(-1 <= c["spearman"] <= 1 for c in result.correlations().values())
    nb = training_free_sample(SPACES["nb201"], 4, x, seed=0, proxies=("naswot",), channels=4, cells=1)
    assert set(nb.scores) == {"flops", "params", "naswot"} and not math.isnan(nb.scores["naswot"][0])
    with pytest.raises(ValueError, match="unknown training-free proxy 'snip'"):
        training_free_sample(SPACES["macro"], 2, x, proxies=("snip",))


def test_image_batch_is_seeded_and_shrunk(tiny_cifar):
    a = image_batch(tiny_cifar, "cifar10", 4, 16, seed=1)
    assert a.shape == (4, 3, 16, 16) and torch.equal(a, image_batch(tiny_cifar, "cifar10", 4, 16, seed=1))
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert shrink(x, 4) is x and shrink(x, 2).flatten().tolist() == [2.5, 4.5, 10.5, 12.5]


def gtnbench(*args, cwd):
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "gtnbench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_nas_show_prints_arch_ground_truth_and_built_parameters(tmp_path):
    done = gtnbench("nas", "show", "macro", "22212202", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "architecture 6473" in done.stdout and "1,985,514" in done.stdout and "93.1267" in done.stdout
    assert "(default ground truth)" in done.stdout and "Apache" not in done.stdout
    done = gtnbench("nas", "show", "nb201", NB201_1, cwd=tmp_path)
    assert done.returncode == 0 and "802,426" in done.stdout and "93.6600" in done.stdout
    done = gtnbench("nas", "show", "macro", "9999", cwd=tmp_path)
    assert done.returncode == 2 and "no row for architecture index 9999" in done.stderr
    assert "802,426" in gtnbench("nb201", "show", "1", cwd=tmp_path).stdout
