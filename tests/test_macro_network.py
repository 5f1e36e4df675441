import random

import pytest
import torch
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from gtnbench.models.macro import Downsample, InvertedResidual, MacroNetwork
from gtnbench.models.macro_codes import canonical_code, code_str, parse_code
from gtnbench.nas.macro_table import load_table
from gtnbench.nas.training_free import naswot_score

BEST = "22212202"


def count(net):
    return sum(p.numel() for p in net.parameters())


def table_value(column, code):
    t = load_table()
    return round(t.value(column, t.index_of(code)) * 1e6)


def sample_codes(size, seed=0):
    return random.Random(seed).sample(load_table().arch_strs, size)


def tiny(code, seed=0, **kwargs):
    return MacroNetwork(code, channels=4, head_channels=16, generator=torch.Generator().manual_seed(seed), **kwargs)


def test_parse_and_format_are_inverse():
    assert parse_code("02012100") == (0, 2, 0, 1, 2, 1, 0, 0)
    assert code_str(parse_code(BEST)) == BEST
    for bad in ("0201210", "020121003", "0201210a", 20121000):
        with pytest.raises(ValueError, match="expected 8 digits from 0, 1, 2"):
            parse_code(bad)
    with pytest.raises(ValueError, match="layer digits"):
        code_str([0, 1, 2])


def test_canonical_code_moves_later_identities_to_the_end_of_their_stage():
    assert canonical_code("00000001") == "00000010"
    assert canonical_code("10201012") == "10210012"  # stages 10|201|012: first layers never move
    assert canonical_code(BEST) == "22212220"  # the best row is a copy of the code the benchmark trained


def test_parameter_count_equals_the_table_on_a_seeded_sample():
    wrong = [c for c in sample_codes(30) if count(MacroNetwork(c, device="meta")) != table_value("cifar10_params_M", c)]
    assert wrong == []


def test_multiply_accumulates_equal_the_table_flops_on_a_seeded_sample():
    """The table's FLOPs are conv and linear multiply-accumulates at 32x32: a check of strides and placement."""
    wrong = []
    for code in sample_codes(20, seed=1):
        with FlopCounterMode(display=False) as counter:
            MacroNetwork(code, device="meta")(torch.empty(1, 3, 32, 32, device="meta"))
        if counter.get_total_flops() // 2 != table_value("cifar10_flops_M", code):
            wrong.append(code)
    assert wrong == []


@pytest.mark.exhaustive
def test_parameter_count_equals_the_table_for_all_architectures():
    t = load_table()
    wrong = [c for c in t.arch_strs if count(MacroNetwork(c, device="meta")) != table_value("cifar10_params_M", c)]
    assert wrong == []


def test_structure_and_forward_shapes():
    net = tiny("12010120")  # stages 12|010|120
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert len(net.layers) == 8 and net.code == "12010120" and net.bn_eval == "running"
    blocks = [m for m in net.layers if isinstance(m, InvertedResidual)]
    assert [b.residual for b in blocks] == [False, True, True, False, True]
    assert isinstance(net.layers[2], Downsample) and count(net.layers[2]) == 8 * 16 + 2 * 16
    assert isinstance(net.layers[4], torch.nn.Identity) and isinstance(net.layers[7], torch.nn.Identity)
    assert not list(net.buffers())
    assert count(MacroNetwork(BEST, in_channels=1, num_classes=3, device="meta")) < table_value(
        "cifar10_params_M", BEST
    )
    with pytest.raises(ValueError, match="batch-norm protocol"):
        MacroNetwork(BEST, device="meta", bn_eval="frozen")


def test_same_generator_seed_same_weights():
    a, b, c = tiny(BEST, 0), tiny(BEST, 0), tiny(BEST, 1)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(pa, pb), name
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_equivalent_codes_build_the_same_function():
    """Why the benchmark trains one code per class: a true identity's place does not matter."""
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(tiny("00000001")(x), tiny("00000010")(x))
    assert not torch.allclose(tiny("00000012")(x), tiny("00000021")(x))


def test_functional_call_matches_forward_and_naswot_sees_every_relu():
    net = tiny(BEST)
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    params = {n: p.detach().clone() for n, p in net.named_parameters()}
    assert torch.allclose(functional_call(net, params, (x,)), net(x))
    relus = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 1 + 2 * sum(d != 0 for d in parse_code(BEST)) + 1  # stem, two per block, head
    assert naswot_score(net, x) > float("-inf")
