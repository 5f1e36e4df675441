import copy

import pytest

from gtnbench import claims
from gtnbench.analysis.records import cells, latest_records
from gtnbench.analysis.regression import check_expectations, compare
from gtnbench.report.summary import write_report
from gtnbench.store import RunContents


@pytest.fixture(autouse=True)
def bundled_protocols_hash_to_h(monkeypatch):
    """The records below stand for runs of the bundled suites' paper protocols (config hash "h")."""
    monkeypatch.setattr(claims, "protocol_hash", lambda suite: "h")


def record(method, kind, steps, seed, acc, scale="paper", dataset="mnist", **details):
    return {
        "trial": f"{method}/steps={steps}/seed={seed}",
        "method": method,
        "kind": kind,
        "seed": seed,
        "budget": {"steps": steps},
        "suite": "s",
        "scale": scale,
        "config_hash": "h",
        "dataset": dataset,
        "status": "ok",
        "metrics": {"test_acc": acc, "val_acc": acc - 0.01, "train_seconds": 0.1},
        "details": {"steps": steps, **details},
        "device_name": "test device",
    }


def manifest(dataset="mnist"):
    return {
        "suite": "s",
        "config_hash": "h",
        "scale": "paper",
        "dataset": dataset,
        "device_name": "test device",
        "code_version": "0",
        "versions": {"torch": "x"},
        "status": "completed",
        "config": {"claims": ["C1", "C2"]},
    }


def run_of(records, dataset="mnist", path="run"):
    from pathlib import Path

    return RunContents(Path(path), manifest(dataset), records, b"")


def test_cells_aggregate_seeds_in_suite_order():
    records = [record("real", "real", 32, s, 0.9 + 0.01 * s) for s in range(3)] + [record("gtn", "gtn", 32, 0, 0.95)]
    table = cells(records)
    assert [(c.method, c.steps, c.seeds) for c in table] == [("real", 32, 3), ("gtn", 32, 1)]
    assert abs(table[0].mean("test_acc") - 0.91) < 1e-12 and abs(table[0].std("test_acc") - 0.01) < 1e-12


def test_later_records_supersede_earlier_ones():
    first, second = record("real", "real", 8, 0, 0.5), record("real", "real", 8, 0, 0.6)
    assert latest_records([run_of([first, second])]) == [second]


def test_report_writes_tables_and_plot_and_labels_the_jpeg_copy(tmp_path):
    records = [record("real", "real", k, s, 0.8 + 0.001 * k, dataset="cifar10-jpeg") for k in (8, 32) for s in (0, 1)]
    report = write_report([run_of(records, "cifar10-jpeg")], tmp_path)
    names = {f.name for f in report.files}
    assert names == {"summary.md", "summary.csv", "summary.tex", "accuracy_vs_steps.png", "index.html"}
    assert "CIFAR-10 (JPEG copy)" in (tmp_path / "summary.md").read_text()
    assert "CIFAR-10 (JPEG copy)" in (tmp_path / "summary.csv").read_text()
    assert "CIFAR-10 (JPEG copy)" in (tmp_path / "summary.tex").read_text()
    assert "80.80 ± 0.00" in report.markdown


def test_regression_check_passes_within_tolerance_and_names_violations():
    reference = [record("real", "real", 32, 0, 0.90), record("real", "real", 8, 0, 0.80)]
    close = copy.deepcopy(reference)
    close[0]["metrics"]["test_acc"] = 0.905
    assert compare([run_of(close)], [run_of(reference)], lambda method: {"test_acc": 0.01}).passed
    drifted = copy.deepcopy(reference)[:1]
    drifted[0]["metrics"]["test_acc"] = 0.85
    result = compare([run_of(drifted)], [run_of(reference)], lambda method: {"test_acc": 0.01})
    assert not result.passed
    problems = {(d.budget, d.problem.split(" ")[0]) for d in result.deviations}
    assert problems == {("steps=32", "differs"), ("steps=8", "missing")}


def test_failed_trials_fail_the_regression_check():
    reference = [record("real", "real", 32, 0, 0.90)]
    failed = copy.deepcopy(reference) + [dict(record("real", "real", 32, 1, 0.0), status="failed")]
    assert not compare([run_of(failed)], [run_of(reference)], lambda method: {"test_acc": 0.01}).passed


def gtn(acc, seed=0, scale="paper"):
    return record("gtn", "gtn", 32, seed, acc, scale=scale, inner_steps=32, curriculum="full")


def test_per_method_tolerances_override_the_defaults():
    from gtnbench.suite.config import Tolerances

    tolerances = Tolerances.model_validate({"test_acc": 0.01, "methods": {"gtn": {"test_acc": 0.05}}})
    reference = [record("real", "real", 32, 0, 0.90), gtn(0.90)]
    drifted = copy.deepcopy(reference)
    drifted[1]["metrics"]["test_acc"] = 0.87
    assert compare([run_of(drifted)], [run_of(reference)], tolerances.for_method).passed
    drifted[0]["metrics"]["test_acc"] = 0.87
    assert not compare([run_of(drifted)], [run_of(reference)], tolerances.for_method).passed


def test_expectations_bound_every_record_and_fail_without_records():
    records = [
        dict(gtn(0.8), metrics={"gain_over_untrained": 0.3}),
        dict(gtn(0.8, 1), metrics={"gain_over_untrained": 0.1}),
    ]
    [result] = check_expectations(records, [{"method": "gtn", "metric": "gain_over_untrained", "min": 0.2}])
    assert not result.passed and result.values == [0.3, 0.1]
    [result] = check_expectations(records[:1], [{"method": "gtn", "metric": "gain_over_untrained", "min": 0.2}])
    assert result.passed
    [result] = check_expectations([], [{"method": "gtn", "metric": "gain_over_untrained", "max": 1.0}])
    assert not result.passed


def test_a_reference_of_another_configuration_fails_the_check():
    reference = run_of([record("real", "real", 32, 0, 0.90)])
    reference.manifest["config_hash"] = "other"
    result = compare([run_of([record("real", "real", 32, 0, 0.90)])], [reference], lambda method: {"test_acc": 0.01})
    assert not result.passed and "regenerate" in result.config_mismatch


def test_n6_report_and_check_agree_on_adversarial_nas_records(tmp_path):
    """REVIEW N6: the report printed a "(claim C6)" speed-up and a "(claim C8)" budget grid from superseded code
    beside `check`'s figures, and showed a NaN real-data curve as "never reached". Now every figure under a
    claim's name comes from the claims code, for both, and a NaN curve is incomplete in both."""
    import math
    from pathlib import Path

    from gtnbench.claims import verdicts_of
    from tests.test_claims import nas_run

    records = nas_run(gtn_noise=0.8, n_seeds=2)
    nan_curve = [
        dict(r, details={**r["details"], "scores": {k: math.nan for k in r["details"]["scores"]}})
        if r["method"] == "real"
        else r
        for r in records
    ]
    config = {
        "claims": ["C6", "C7", "C8"],
        "nas": {"space": "nb201", "ground_truth": "cifar10_test_acc_hp200_mean", "bootstrap": 200, "search_seeds": 10},
    }
    for case, data in (("normal", records), ("nan", nan_curve)):
        run = RunContents(Path(case), {**manifest("cifar10"), "config": config}, data, b"")
        report = write_report([run], tmp_path / case)
        checked = verdicts_of(latest_records([run]), [config])
        claims_section = report.markdown.split("## Claims")[1]
        for v in checked:
            assert f"| {v.claim.id} | {v.judged} |" in claims_section and f"**{v.verdict}**" in claims_section
        assert "(claim C6)" not in report.markdown and "(claim C8)" not in report.markdown
        if case == "nan":
            assert {v.claim.id: v.verdict for v in checked}["C6"] == "incomplete"
            speedups = report.markdown.split("Speed-up against real-data proxies")[1].split("###")[0]
            rows = [line for line in speedups.splitlines() if line.startswith("| gtn")]
            assert rows and all("| incomplete |" in row and "∞" not in row for row in rows)
