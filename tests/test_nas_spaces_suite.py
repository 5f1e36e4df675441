"""The NAS machinery on both search spaces: suites that choose the space, proxies built through it, records and
reports that name it; a tiny NAS-Bench-Macro suite end to end on fixture data."""

import json
from pathlib import Path

import pytest
import torch
from rich.console import Console

from gtnbench.analysis.rankcorr import collect, ground_truth_of, space_of
from gtnbench.analysis.validate import validate_run
from gtnbench.cli import main
from gtnbench.errors import GtnbenchError, SuiteError
from gtnbench.models.learners import LearnerSpec, MacroLearner, build_learner
from gtnbench.models.macro import MacroNetwork
from gtnbench.models.macro_codes import canonical_code, canonical_codes, random_code
from gtnbench.nas import proxies
from gtnbench.nas.spaces import SPACES
from gtnbench.report.summary import write_report
from gtnbench.run import runner
from gtnbench.store import read_run
from gtnbench.suite.files import parse_suite
from gtnbench.suite.trials import calibration_architectures, expand, sampled_architectures
from gtnbench.teachers.real import RealDataTeacher
from tests.conftest import make_cifar10_jpeg

MACRO_SUITE = """
name = "tiny-macro"
dataset = "cifar10"
seeds = [0]

[learner]
name = "macro-net"
widths = [2, 4]

[nas]
space = "macro"
architectures = { count = 4, seed = 3 }
search_seeds = 10
bootstrap = 100

[methods.gtn]
kind = "gtn"
inner_steps = 2
batch_size = 10
outer_iterations = 2
meta_batch_size = 8
validate_every = 1
eval_learners = 1
generator = { noise_dim = 4, hidden = 8, channels = [4, 2] }

[methods.real]
kind = "nb201-train"
steps = [1, 2]
batch_size = 8
lr = [0.05, 0.2]
calibration = { count = 2, seed = 5 }
network = { channels = 2, head_channels = 4 }

[methods.gtn-proxy]
kind = "nb201-train"
teacher = "gtn"
gtn = "gtn"
steps = [2]
network = { channels = 2, head_channels = 4 }

[methods.free]
kind = "nb201-free"
batch_size = 4
network = { channels = 2, head_channels = 4 }

[scales.smoke]
"""
PATH = Path("s.toml")


@pytest.fixture
def cifar(tmp_path, fixture_env):
    return make_cifar10_jpeg(tmp_path / "data", train=120, test=20)


def test_a_suite_chooses_its_space_and_nb201_is_the_older_name_of_the_nas_table():
    macro = parse_suite(PATH, MACRO_SUITE).at()
    assert macro.nas.space == "macro" and macro.nas.ground_truth == "cifar10_test_acc_mean"  # the space's default
    table = SPACES["macro"].table()
    judged = sampled_architectures(macro)
    assert judged == SPACES["macro"].sample(4, 3) and all(table.iso_class[a] == a for a in judged)
    tuned = calibration_architectures(macro, macro.methods["real"])
    assert len(tuned) == 2 and not set(tuned) & set(judged)
    assert {t.arch for t in expand(macro) if t.method == "free"} == set(judged)
    nb201 = MACRO_SUITE.replace('space = "macro"\n', "").replace("head_channels = 4", "cells = 1")
    old = parse_suite(PATH, nb201.replace("[nas]", "[nb201]")).at()
    new = parse_suite(PATH, nb201).at()
    assert old.nas == new.nas and old.config_hash() == new.config_hash()
    assert old.nas.ground_truth == "cifar10_test_acc_hp200_mean" and "nas" in old.model_dump()
    exclude = frozenset(sampled_architectures(new))
    tuned = calibration_architectures(new, new.methods["real"])
    assert tuned == SPACES["nb201"].sample(2, 5, exclude) and not set(tuned) & exclude


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("head_channels = 4 }\n\n[methods.gtn-proxy]", "head_channels = 4, cells = 1 }\n\n[methods.gtn-proxy]"),
            "s.toml: methods.real.network.cells: not a width of NAS-Bench-Macro (CIFAR-10) networks; theirs: channels, "
            "head_channels",
        ),
        (
            ("steps = [1, 2]\n", "steps = [1, 2]\nbatch_archs = 2\n"),
            "s.toml: methods.real.batch_archs: the vmapped super-network (nas/batched.py) trains NAS-Bench-201 cells only",
        ),
        (
            ("count = 4, seed = 3", "count = 4, seed = 3, exclude_disconnected = true"),
            "s.toml: nas.architectures: exclude_disconnected is not an option of NAS-Bench-Macro (CIFAR-10)'s sampling",
        ),
        (
            ('space = "macro"', 'space = "macro"\nground_truth = "cifar10_test_acc_hp200_mean"'),
            "s.toml: nas.ground_truth: 'cifar10_test_acc_hp200_mean' is not a column of NAS-Bench-Macro (CIFAR-10)",
        ),
        (
            ("[methods.free]", '[methods.hp12]\nkind = "nb201-table"\n\n[methods.free]'),
            "s.toml: methods.hp12.column: 'cifar10_test_acc_hp12' is not a column of NAS-Bench-Macro (CIFAR-10) (it has no "
            "shorter schedule than its ground truth)",
        ),
        (
            ("[scales.smoke]", "[nb201]\narchitectures = { count = 4 }\n\n[scales.smoke]"),
            "s.toml: give [nas] or its older name [nb201], not both",
        ),
        (('space = "macro"', 'space = "nb101"'), "s.toml: nas.space: Input should be 'nb201' or 'macro'"),
        (("widths = [2, 4]", "widths = [2, 4, 8]"), "s.toml: learner: macro-net widths are [channels, head_channels]"),
        (
            ("widths = [2, 4]", 'widths = [2, 4]\narch = "0120"'),
            "s.toml: learner: architecture code '0120': expected 8",
        ),
    ],
)
def test_options_foreign_to_the_space_are_refused_in_one_line(edit, message):
    with pytest.raises(SuiteError) as error:
        parse_suite(PATH, MACRO_SUITE.replace(*edit))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_the_bundled_macro_suite_needs_no_gpu_at_smoke_scale():
    from gtnbench.suite.files import find_suite

    suite = find_suite("macro-rankcorr")
    assert suite.scales == ("smoke", "quick", "paper") and suite.default_scale == "smoke"
    paper, smoke = suite.at("paper"), suite.at("smoke")
    assert paper.nas.space == "macro" and paper.nas.architectures.count == 1000 and not paper.claims
    assert not any(m.kind == "nb201-table" for m in paper.methods.values())  # no short-schedule column
    assert smoke.methods["real"].network.widths() == {"channels": 4, "head_channels": 16}
    assert smoke.learner.name == "macro-net" and smoke.methods["gtn-proxy"].gtn == "gtn-macro"


@pytest.mark.parametrize(
    ("space", "widths"), [("nb201", {"channels": 2, "cells": 1}), ("macro", {"channels": 2, "head_channels": 4})]
)
def test_proxies_build_through_the_space_and_take_costs_from_its_table(cifar, space, widths):
    from gtnbench.data.datasets import load_dataset

    dataset, space = load_dataset("cifar10", cifar), SPACES[space]
    arch = space.sample(1, seed=4)[0]
    table = space.table()
    free = proxies.training_free(space, arch, ["params", "flops", "synflow"], dataset, 4, widths, 0, "cpu")
    assert free.arch_str == table.arch(arch) and free.scores["synflow"] > 0
    assert free.scores["params"] == table.value(space.params_column, arch)  # the benchmark's network, not the
    assert free.scores["flops"] == table.value(space.flops_column, arch)  # reduced one that was scored
    teacher = RealDataTeacher(dataset.train, 8, 0.05, 0.9)
    trained = proxies.train_based(space, arch, teacher, [1, 2], dataset, widths, 0, "cpu", eval_size=8)
    assert trained.arch_str == table.arch(arch) and set(trained.scores) == {"1", "2"}


def test_a_tiny_macro_suite_runs_records_its_space_and_reports(cifar, tmp_path):
    path = tmp_path / "tiny-macro.toml"
    path.write_text(MACRO_SUITE)
    from gtnbench.suite.files import load_suite

    summary = runner.run_suite(load_suite(path), "smoke", "cpu", cifar, tmp_path / "run", console=Console(quiet=True))
    assert summary.failed == 0
    contents = read_run(summary.path)
    table = SPACES["macro"].table()
    truth = contents.manifest["ground_truth"]
    assert truth == {
        "space": "macro",
        "benchmark": "NAS-Bench-Macro (CIFAR-10)",
        "table": table.source,
        "column": "cifar10_test_acc_mean",
        "means": SPACES["macro"].describe_column("cifar10_test_acc_mean"),
        "table_sha256": table.sha256,
    }
    nas = [r for r in contents.records if r["kind"].startswith("nb201")]
    assert {r["details"]["space"] for r in nas} == {"macro"}
    for record in nas:
        if record["arch"] is not None:
            assert record["details"]["arch_str"] == table.arch(record["arch"])
    real = next(r for r in nas if r["method"] == "real" and r["kind"] == "nb201-train")
    assert real["details"]["network"] == {"channels": 2, "head_channels": 4, "bn_eval": "running"}
    assert real["details"]["tuned"] and len(real["details"]["calibration_archs"]) == 2
    assert [p for p in validate_run(summary.path) if "data_verified: false" not in p] == []  # fixture data
    assert space_of(nas) == "macro" and ground_truth_of(nas) == (table, "cifar10_test_acc_mean")
    assert list(collect(nas)) == [
        "real@1",
        "real@2",
        "gtn-proxy@2",
        "free:flops",
        "free:naswot",
        "free:params",
        "free:synflow",
    ]

    report = write_report([contents], tmp_path / "report")
    produced = {f.name for f in report.files}
    assert {"macro_proxies.csv", "macro_scatter.png", "macro_frontier.png", "macro_search.png"} <= produced
    assert "## NAS-Bench-Macro (CIFAR-10) proxies" in report.markdown and "CIFAR-10 (JPEG copy)" in report.markdown
    assert "(claim C6)" not in report.markdown and "NAS-Bench-201" not in report.markdown
    assert "claim: C6" not in report.markdown and "| C6 |" not in report.markdown  # NAS-Bench-201's claims


def test_records_of_two_spaces_are_not_ranked_against_one_table():
    records = [
        {"kind": "nb201-free", "status": "ok", "details": {"space": "macro"}},
        {"kind": "nb201-free", "status": "ok", "details": {}},  # older than details["space"]: NAS-Bench-201
        {"kind": "nb201-free", "status": "failed", "details": {}},
    ]
    assert space_of(records[:1]) == "macro" and space_of(records[1:]) == "nb201" and space_of([]) == "nb201"
    assert space_of([records[0], records[2]]) == "macro"  # a failed trial names no space
    with pytest.raises(GtnbenchError, match=r"several search spaces \(macro, nb201\); report and check them"):
        ground_truth_of(records)


def test_macro_learners_draw_a_distinct_network_per_seed_or_take_their_code():
    assert len(canonical_codes()) == 3969 and all(canonical_code(c) == c for c in canonical_codes()[::97])
    assert random_code(3) == random_code(3) in canonical_codes()
    drawn = {build_learner(LearnerSpec("macro-net", (2, 4)), (3, 32, 32), 10, seed).code for seed in range(8)}
    assert len(drawn) > 4
    fixed = build_learner(LearnerSpec("macro-net", (2, 4), arch="22212202"), (3, 16, 16), 7, 0)
    assert isinstance(fixed, MacroLearner) and fixed.code == "22212202" and fixed.bn_eval == "running"
    assert fixed(torch.zeros(2, 3, 16, 16)).shape == (2, 7)


def test_second_derivatives_through_a_downsampling_identity_of_channels_last_images():
    """oneDNN corrupted the heap here (a strided 1x1 conv of channels_last input): GTN meta-training crashed."""
    net = MacroNetwork("00000000", 4, 16, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    params = dict(net.named_parameters())
    loss = torch.func.functional_call(net, params, (x,)).square().mean()
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    total = sum(g.square().sum() for g in grads)
    total.backward()
    assert torch.isfinite(total) and all(p.grad is not None for p in params.values())


def test_nas_proxies_command_writes_the_study(cifar, tmp_path, capsys):
    out = tmp_path / "study.json"
    assert (
        main(
            [
                "nas",
                "proxies",
                "macro",
                "--count",
                "3",
                "--size",
                "8",
                "--batch",
                "4",
                "--width",
                "channels=2",
                "--width",
                "head_channels=4",
                "--data-root",
                str(cifar),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    study = json.loads(out.read_text())
    assert study["space"] == "macro" and study["all_architectures"]["n"] == 6561
    assert round(study["all_architectures"]["correlations"]["flops"]["spearman"], 3) == 0.748
    sample = study["sample"]
    assert sample["n"] == 3 and sample["images_label"] == "CIFAR-10 (JPEG copy)" and sample["image_size"] == 8
    assert (
        set(sample["correlations"]) == {"flops", "params", "naswot", "synflow"}
        and study["command"][:3] == ["gtnbench", "nas", "proxies"]
        and "device_name" in study["environment"]
    )
    assert main(["nas", "proxies", "macro", "--width", "cells=2"]) == 2
    assert "--width cells=2: expected NAME=VALUE" in capsys.readouterr().err
