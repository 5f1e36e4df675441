"""NAS-Bench-201 suites end to end on fixture data: sampling, proxies, rank correlations, report."""

from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from gtnbench.analysis.rankcorr import collect, rank_rows, speedups
from gtnbench.errors import GtnbenchError, SuiteError, TrialFailed
from gtnbench.methods.nb201 import check_pairing
from gtnbench.nas import proxies
from gtnbench.nas.sampling import disconnected, sample_architectures
from gtnbench.nas.spaces import SPACES
from gtnbench.nas.table import load_table
from gtnbench.report.summary import write_report
from gtnbench.run import runner
from gtnbench.store import read_run
from gtnbench.suite.files import load_suite, parse_suite
from gtnbench.suite.trials import Trial, expand
from tests.conftest import make_cifar10_jpeg

SUITE = """
name = "tiny-nas"
dataset = "cifar10"
seeds = [0]

[learner]
name = "cifar10-paper"
widths = [2, 2, 2, 2, 2]

[nb201]
architectures = { count = 6, seed = 3 }
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
steps = [1, 2, 4]
batch_size = 8
network = { channels = 2, cells = 1 }

[methods.gtn-proxy]
kind = "nb201-train"
teacher = "gtn"
gtn = "gtn"
steps = [2]
network = { channels = 2, cells = 1 }

[methods.hp12]
kind = "nb201-table"

[methods.free]
kind = "nb201-free"
batch_size = 4
network = { channels = 2, cells = 1 }

[scales.smoke]
"""


@pytest.fixture
def cifar(tmp_path, fixture_env):
    return make_cifar10_jpeg(tmp_path / "data", train=120, test=20)


def test_samples_are_seeded_distinct_representatives_without_disconnected_cells():
    table = load_table()
    sample = sample_architectures(300, seed=1)
    assert sample == sample_architectures(300, seed=1) != sample_architectures(300, seed=2)
    assert len(set(sample)) == 300 and not set(sample) & disconnected()
    assert all(table.iso_class[table.row(a)] == a for a in sample)  # one per isomorphism class
    assert len(disconnected()) == 341  # the table's cells at exactly 10 %
    with pytest.raises(GtnbenchError, match="nb201.architectures.count"):
        sample_architectures(7000)


def test_nas_methods_need_the_nb201_table_and_gtn_sources_in_order():
    without = SUITE.replace("[nb201]\narchitectures = { count = 6, seed = 3 }", "[other]\nx = 1")
    with pytest.raises(SuiteError, match="other: unknown key"):
        parse_suite(Path("s.toml"), without)
    no_table = SUITE.replace(
        "[nb201]\narchitectures = { count = 6, seed = 3 }\nsearch_seeds = 10\nbootstrap = 100\n", ""
    )
    with pytest.raises(SuiteError, match="need a \\[nas\\] table"):
        parse_suite(Path("s.toml"), no_table)
    with pytest.raises(SuiteError, match="exactly one of `gtn`"):
        parse_suite(Path("s.toml"), SUITE.replace('gtn = "gtn"\n', ""))
    with pytest.raises(SuiteError, match="is not a gtn method"):
        parse_suite(Path("s.toml"), SUITE.replace('gtn = "gtn"', 'gtn = "real"'))


def test_trials_carry_their_architecture():
    config = parse_suite(Path("s.toml"), SUITE).at()
    trials = expand(config)
    archs = sample_architectures(6, seed=3)
    assert [t.arch for t in trials if t.method == "real"] == archs
    assert f"real/arch={archs[0]}/seed=0" in [t.id for t in trials]
    assert [t.id for t in trials if t.method == "hp12"] == ["hp12/seed=0"]


def test_a_score_is_never_attached_to_another_architecture(cifar, monkeypatch):
    from gtnbench.data.datasets import load_dataset

    dataset = load_dataset("cifar10", cifar)
    nb201, widths = SPACES["nb201"], {"channels": 2, "cells": 1}
    trial = Trial("free", "nb201-free", 0, (), (), 0)
    scores = proxies.training_free(nb201, 0, ["params"], dataset, 4, widths, 0, "cpu")
    assert scores.arch == 0 and scores.arch_str == load_table().arch(0)
    check_pairing([trial], [scores], nb201)
    wrong = proxies.ProxyScores(0, load_table().arch(1), {"params": 1.0})  # the official code's: one net scored,
    with pytest.raises(TrialFailed, match="refusing to record it"):  # another logged
        check_pairing([trial], [wrong], nb201)
    other = Trial("free", "nb201-free", 0, (), (), 1)
    with pytest.raises(TrialFailed, match="refusing to record it"):  # results in another order than the trials
        check_pairing(
            [other, trial], [scores, proxies.training_free(nb201, 1, ["params"], dataset, 4, widths, 0, "cpu")], nb201
        )
    built = type(nb201)._network
    monkeypatch.setattr(type(nb201), "_network", lambda self, arch, *rest: built(self, load_table().arch(1), *rest))
    with pytest.raises(TrialFailed, match="nb201 architecture 0 is not"):  # a network of another cell is never scored
        proxies.training_free(nb201, 0, ["params"], dataset, 4, widths, 0, "cpu")


def test_tiny_nas_suite_runs_and_reports(cifar, tmp_path):
    path = tmp_path / "tiny-nas.toml"
    path.write_text(SUITE)
    summary = runner.run_suite(load_suite(path), "smoke", "cpu", cifar, tmp_path / "run", console=Console(quiet=True))
    assert summary.failed == 0
    contents = read_run(summary.path)
    assert contents.manifest["ground_truth"]["column"] == "cifar10_test_acc_hp200_mean"
    assert contents.manifest["ground_truth"]["table_sha256"] == load_table().sha256
    assert (
        contents.manifest["ground_truth"]["space"] == "nb201" and contents.manifest["config"]["nas"]["space"] == "nb201"
    )
    table = load_table()
    for record in contents.records:
        if record["arch"] is not None:
            assert record["details"]["arch_str"] == table.arch(record["arch"])
    gtn_proxy = next(r for r in contents.records if r["method"] == "gtn-proxy")
    assert gtn_proxy["details"]["teacher"] == "gtn" and gtn_proxy["details"]["checkpoint"].endswith("gtn.pt")

    names = list(collect(contents.records))
    assert names == [
        "real@1",
        "real@2",
        "real@4",
        "gtn-proxy@2",
        "hp12",
        "free:flops",
        "free:naswot",
        "free:params",
        "free:synflow",
    ]
    report = write_report([contents], tmp_path / "report")
    produced = {f.name for f in report.files}
    assert {"nb201_proxies.csv", "nb201_scatter.png", "nb201_frontier.png", "nb201_search.png"} <= produced
    assert "NAS-Bench-201 (NATS-Bench tss) proxies" in report.markdown
    assert "cifar10 test accuracy, 200-epoch schedule" in report.markdown
    assert "(claim C6)" not in report.markdown and "Speed-up against real-data proxies (descriptive)" in report.markdown


TUNED = SUITE.replace(
    """[methods.real]
kind = "nb201-train"
steps = [1, 2, 4]
batch_size = 8
network = { channels = 2, cells = 1 }""",
    """[methods.real]
kind = "nb201-train"
steps = [1, 2, 4]
batch_size = 8
lr = [0.05, 0.2]
schedule = ["constant", "cosine"]
calibration = { count = 2, seed = 5 }
network = { channels = 2, cells = 1 }""",
)


def test_a_tuned_real_proxy_is_calibrated_on_other_cells_and_records_its_choice(cifar, tmp_path):
    path = tmp_path / "tuned.toml"
    path.write_text(TUNED)
    suite = load_suite(path)
    config = suite.at()
    trials = expand(config)
    calibration = [t for t in trials if t.kind == "nb201-calibrate"]
    assert [t.id for t in calibration] == ["real/calibrate=true/seed=0"] and trials.index(calibration[0]) < min(
        i for i, t in enumerate(trials) if t.method == "real" and t.kind == "nb201-train"
    )
    summary = runner.run_suite(suite, "smoke", "cpu", cifar, tmp_path / "run", console=Console(quiet=True))
    assert summary.failed == 0
    records = read_run(summary.path).records
    [tuned] = [r for r in records if r["kind"] == "nb201-calibrate"]
    judged = {r["arch"] for r in records if r["method"] == "real" and r["kind"] == "nb201-train"}
    assert len(tuned["details"]["calibration_archs"]) == 2 and not set(tuned["details"]["calibration_archs"]) & judged
    assert len(tuned["details"]["grid"]) == 4 * 3  # 2 lr x 2 schedules, at each of 3 budgets
    chosen = tuned["details"]["chosen"]
    for r in records:
        if r["method"] == "real" and r["kind"] == "nb201-train":
            assert r["details"]["tuned"] and r["details"]["chosen"] == {
                k: {n: v[n] for n in ("lr", "momentum", "schedule")} for k, v in chosen.items()
            }
            assert set(r["details"]["scores"]) == {"1", "2", "4"}
    assert "real@4" in collect(records) and "real@4" not in [p for p in collect(records) if "calibrate" in p]


def test_a_grid_without_calibration_or_on_a_gtn_teacher_is_refused():
    with pytest.raises(SuiteError, match="needs `calibration"):
        parse_suite(Path("s.toml"), TUNED.replace("calibration = { count = 2, seed = 5 }\n", ""))


def nas_records(proxy_scores: dict[str, dict[int, float]], seconds: dict[str, float]):
    """Synthetic nb201-train records: proxy name 'teacher@steps' -> arch -> score."""
    records = []
    for name, scores in proxy_scores.items():
        teacher, steps = name.split("@")
        for arch, score in scores.items():
            records.append(
                {
                    "status": "ok",
                    "kind": "nb201-train",
                    "method": teacher,
                    "seed": 0,
                    "arch": arch,
                    "details": {"teacher": teacher, "scores": {steps: score}, "seconds": {steps: seconds[name]}},
                }
            )
    return records


def test_rank_rows_and_speedups_from_records():
    table = load_table()
    archs = sample_architectures(60, seed=0)
    truth = np.array([table.value("cifar10_test_acc_hp200_mean", a) for a in archs])
    rng = np.random.default_rng(0)
    noisy = {s: truth + rng.normal(0, scale, len(archs)) for s, scale in ((32, 8.0), (128, 3.0), (512, 0.5))}
    scores = {f"real@{s}": dict(zip(archs, v)) for s, v in noisy.items()}
    scores["gtn@64"] = dict(zip(archs, truth + rng.normal(0, 3.0, len(archs))))
    seconds = {"real@32": 0.32, "real@128": 1.28, "real@512": 5.12, "gtn@64": 0.64}
    rows = rank_rows(collect(nas_records(scores, seconds)), table, "cifar10_test_acc_hp200_mean", resamples=200)
    by_name = {r.name: r for r in rows}
    assert (
        by_name["real@32"].metrics["spearman"]
        < by_name["real@128"].metrics["spearman"]
        < by_name["real@512"].metrics["spearman"]
    )
    low, high = by_name["real@128"].spearman_ci
    assert low <= by_name["real@128"].metrics["spearman"] <= high
    [found] = speedups(rows)
    assert found.proxy == "gtn@64" and 32 <= found.real_steps_needed <= 512
    assert found.factor == pytest.approx(found.real_steps_needed / 64)
