import json

import numpy as np
import pytest

from gtnbench.analysis.comparison import IncomparableRuns, compare_runs, seed_difference_interval
from gtnbench.cli import main
from tests.runs import RUN_SUITE, make_run


def by_key(comparison):
    return {(m.method, m.budget, m.metric): m for m in comparison.metrics}


def test_a_shift_beyond_the_tolerance_is_flagged_and_timings_are_not_judged(tmp_path):
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b", offset=0.05, device_name="NVIDIA H100")
    result = compare_runs(a, b)
    test_acc = by_key(result)[("real-fewstep", "steps=8", "test_acc")]
    assert test_acc.paired and test_acc.n_a == test_acc.n_b == 3
    assert test_acc.difference == pytest.approx(0.05) and test_acc.interval == pytest.approx((0.05, 0.05))
    assert test_acc.tolerance == 0.02 and test_acc.exceeds
    assert by_key(result)[("real-fewstep", "steps=8", "train_seconds")].exceeds is None
    assert {m.method for m in result.exceeded} == {"real-fewstep", "gtn"}
    assert any("device: A 'CPU: test (2 threads)', B 'NVIDIA H100'" in note for note in result.notes)


def test_identical_runs_agree(tmp_path):
    result = compare_runs(make_run(tmp_path / "a"), make_run(tmp_path / "b"))
    assert not result.exceeded and all(m.difference == 0 and m.interval == (0, 0) for m in result.metrics)
    assert result.notes == []


def test_unpaired_seeds_are_resampled_independently(tmp_path):
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b", drop=1)  # B lacks gtn's seed 2
    result = compare_runs(a, b)
    gtn = by_key(result)[("gtn", "steps=8", "test_acc")]
    assert not gtn.paired and (gtn.n_a, gtn.n_b) == (3, 2)
    assert gtn.interval[0] < gtn.difference < gtn.interval[1]
    assert by_key(result)[("real-fewstep", "steps=4", "test_acc")].paired


def test_seed_intervals_are_t_intervals_paired_or_welch():
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(0.90, 0.01, 5), rng.normal(0.92, 0.01, 5)
    d = b - a
    assert seed_difference_interval(a, b, paired=True) == pytest.approx(
        stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d))
    )
    low, high = seed_difference_interval(a, b, paired=False)
    assert low < b.mean() - a.mean() < high and high - low < 0.04


def test_other_suites_and_scales_are_refused_and_a_config_change_is_noted(tmp_path):
    a = make_run(tmp_path / "a")
    other = make_run(tmp_path / "other", suite_text=RUN_SUITE.replace('name = "tiny-run"', 'name = "other"'))
    with pytest.raises(IncomparableRuns, match="only runs of one suite at one scale compare"):
        compare_runs(a, other)
    quick = make_run(tmp_path / "quick", suite_text=RUN_SUITE + "\n[scales.quick]\n", scale="quick")
    with pytest.raises(IncomparableRuns, match="scale 'smoke'.*scale 'quick'"):
        compare_runs(a, quick)
    edited = make_run(tmp_path / "edited", suite_text=RUN_SUITE.replace("lr = [0.05, 0.1]", "lr = [0.05, 0.2]"))
    result = compare_runs(a, edited)
    assert any(note.startswith("config hash") for note in result.notes) and result.metrics


def nas_run(path, noise, seed=0):
    """A NAS proxy run: one real-data proxy at 8 steps scoring 12 cells, its scores the truth plus noise."""
    from gtnbench.nas.table import load_table

    table = load_table()
    archs = [int(i) for i in table.indices[::1000][:12]]
    rng = np.random.default_rng(seed)
    records = []
    for arch in archs:
        score = table.value("cifar10_test_acc_hp200_mean", arch) + noise * rng.standard_normal()
        records.append(
            {
                "trial": f"real/arch={arch}/seed=0",
                "method": "real",
                "kind": "nb201-train",
                "seed": 0,
                "budget": {},
                "variant": {},
                "arch": arch,
                "suite": "tiny-run",
                "scale": "smoke",
                "config_hash": "h",
                "dataset": "mnist",
                "status": "ok",
                "reason": None,
                "metrics": {"score": score, "seconds": 1.0},
                "details": {"scores": {"8": score}, "seconds": {"8": 1.0}, "teacher": "real"},
            }
        )
    return make_run(path, records=records)


def test_nas_runs_compare_per_proxy_spearman(tmp_path):
    result = compare_runs(nas_run(tmp_path / "a", noise=0.0), nas_run(tmp_path / "b", noise=20.0))
    (proxy,) = result.proxies
    assert proxy.proxy == "real@8" and proxy.archs == 12 and proxy.spearman_a == pytest.approx(1.0)
    assert proxy.spearman_b < 0.9 and proxy.difference == pytest.approx(proxy.spearman_b - 1.0)
    assert proxy.interval[0] <= proxy.difference <= proxy.interval[1]


def test_compare_command_prints_the_table_and_exits_1_beyond_tolerance(tmp_path, capsys, monkeypatch):
    from gtnbench.cli import common

    monkeypatch.setattr(common.console, "width", 200)
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b", offset=0.05)
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "real-fewstep" in out and "+5.00" in out and "exceeds" in out
    assert main(["compare", str(a), str(a)]) == 0
    records = [json.loads(line) for line in (a / "records.jsonl").read_text().splitlines()]
    other = make_run(
        tmp_path / "other",
        suite_text=RUN_SUITE.replace('name = "tiny-run"', 'name = "other"'),
        records=[{**r, "suite": "other"} for r in records],
    )
    capsys.readouterr()
    assert main(["compare", str(a), str(other)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
