import math

import pytest
import torch
from torch import nn

from gtnbench.models.nb201 import CellNetwork
from gtnbench.nas.training_free import flops_score, naswot_score, param_count_score, synflow_score

CONNECTED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"  # index 1
DISCONNECTED = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"  # index 10
SHAPE = (3, 8, 8)


def tiny(arch, seed=0):
    return CellNetwork(arch, C=4, N=1, generator=torch.Generator().manual_seed(seed))


def batch(seed=0, n=8):
    return torch.randn(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


def test_cost_proxies_match_the_table():
    assert param_count_score(CONNECTED) == 802426.0
    assert param_count_score("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|") < param_count_score(CONNECTED)
    assert param_count_score(CONNECTED, num_classes=100) == 808276.0
    assert flops_score(1) == pytest.approx(113.95137)


def test_naswot_is_deterministic_and_finite_for_a_connected_cell():
    net, x = tiny(CONNECTED), batch()
    score = naswot_score(net, x)
    assert math.isfinite(score) and score == naswot_score(net, x) == naswot_score(tiny(CONNECTED), batch())
    assert not any(m._forward_hooks for m in net.modules())


def test_naswot_of_a_disconnected_cell_is_minus_infinity():
    assert naswot_score(tiny(DISCONNECTED), batch()) == -math.inf < naswot_score(tiny(CONNECTED), batch())


def test_naswot_kernel_on_a_hand_checked_case():
    # One ReLU over 2 units; codes [1, 0] and [1, 1]: K = [[2, 1], [1, 2]], det 3.
    net = nn.Sequential(nn.ReLU())
    assert naswot_score(net, torch.tensor([[1.0, -1.0], [2.0, 3.0]])) == pytest.approx(math.log(3))
    with pytest.raises(ValueError, match="nn.ReLU"):
        naswot_score(nn.Linear(2, 2), torch.zeros(2, 2))


def test_synflow_is_deterministic_positive_and_leaves_the_network_alone():
    net = tiny(CONNECTED)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    score = synflow_score(net, SHAPE)
    assert score > 0 and math.isfinite(score)
    assert score == synflow_score(net, SHAPE) == synflow_score(tiny(CONNECTED), SHAPE)
    assert net.training and all(p.dtype == torch.float32 for p in net.parameters())
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_synflow_of_a_disconnected_cell_is_lower():
    assert synflow_score(tiny(DISCONNECTED), SHAPE) < synflow_score(tiny(CONNECTED), SHAPE)


def test_synflow_on_a_hand_checked_case():
    # R = |w2| * |w1| * 1 summed; theta * dR/dtheta is R for each of the two weights: score 2R.
    net = nn.Sequential(nn.Linear(1, 1, bias=False), nn.ReLU(), nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(-2.0)
        net[2].weight.fill_(3.0)
    assert synflow_score(net, (1,)) == pytest.approx(12.0)
