import pytest
from rich.console import Console

from gtnbench import methods, runner
from gtnbench.errors import StoreError
from gtnbench.store import read_run
from gtnbench.suite import expand, load_suite

QUIET = Console(quiet=True)


def run(suite_path, root, out, scale="smoke", resume=False):
    return runner.run_suite(load_suite(suite_path), scale, "cpu", root, out, resume, QUIET)


def test_a_suite_runs_into_records_that_name_their_context(tiny_suite, tiny_mnist, tmp_path):
    summary = run(tiny_suite, tiny_mnist, tmp_path / "run")
    contents = read_run(summary.path)
    assert summary.ok == 3 and summary.failed == 0
    assert contents.manifest["status"] == "completed" and contents.manifest["data_verified"] is False
    for record in contents.records:
        assert record["status"] == "ok"
        for field in ("suite", "config_hash", "seed", "code_version", "device", "versions", "dataset"):
            assert field in record
        assert 0.0 <= record["metrics"]["test_acc"] <= 1.0
    fewstep = contents.records[0]
    assert fewstep["details"]["chosen"]["lr"] in (0.05, 0.1) and len(fewstep["details"]["grid"]) == 2
    epochs = contents.records[-1]
    assert epochs["details"]["steps"] == 4  # ceil(100 / 32)
    assert [p["step"] for p in epochs["details"]["curve"]] == [1, 2, 4]


def test_same_seed_same_records(tiny_suite, tiny_mnist, tmp_path):
    a = read_run(run(tiny_suite, tiny_mnist, tmp_path / "a").path).records
    b = read_run(run(tiny_suite, tiny_mnist, tmp_path / "b").path).records
    assert [r["metrics"]["test_acc"] for r in a] == [r["metrics"]["test_acc"] for r in b]


def test_interrupt_then_resume_finishes_without_duplicates(tiny_suite, tiny_mnist, tmp_path, monkeypatch):
    real = methods.TRIAL_FUNCTIONS["real"]
    calls = []

    def interrupted_on_second(trial, method, context):
        calls.append(trial.id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(trial, method, context)

    monkeypatch.setitem(methods.TRIAL_FUNCTIONS, "real", interrupted_on_second)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_suite, tiny_mnist, tmp_path / "run")
    contents = read_run(tmp_path / "run")
    assert contents.manifest["status"] == "interrupted" and len(contents.records) == 1
    monkeypatch.setitem(methods.TRIAL_FUNCTIONS, "real", real)
    summary = run(tiny_suite, tiny_mnist, tmp_path / "run", resume=True)
    records = read_run(tmp_path / "run").records
    all_ids = [t.id for t in expand(load_suite(tiny_suite).at("smoke"))]
    assert sorted(r["trial"] for r in records) == sorted(all_ids)
    assert summary.done_before == 1 and read_run(tmp_path / "run").manifest["status"] == "completed"


def test_a_failing_trial_is_recorded_and_the_run_goes_on(tiny_suite, tiny_mnist, tmp_path, monkeypatch):
    real = methods.TRIAL_FUNCTIONS["real"]

    def broken_for_epochs(trial, method, context):
        if trial.method == "real-epochs":
            raise RuntimeError("simulated out of memory")
        return real(trial, method, context)

    monkeypatch.setitem(methods.TRIAL_FUNCTIONS, "real", broken_for_epochs)
    summary = run(tiny_suite, tiny_mnist, tmp_path / "run")
    records = read_run(summary.path).records
    assert summary.failed == 1 and summary.ok == 2
    failed = [r for r in records if r["status"] == "failed"]
    assert failed[0]["reason"] == "RuntimeError: simulated out of memory" and "Traceback" in failed[0]["traceback"]
    assert read_run(summary.path).manifest["status"] == "completed with failures"


def test_resume_refuses_a_changed_suite(tiny_suite, tiny_mnist, tmp_path):
    run(tiny_suite, tiny_mnist, tmp_path / "run")
    tiny_suite.write_text(tiny_suite.read_text().replace("steps = [2, 4]", "steps = [2, 8]"))
    with pytest.raises(StoreError, match="the suite changed"):
        run(tiny_suite, tiny_mnist, tmp_path / "run", resume=True)


def test_missing_data_fails_before_a_run_directory_is_made(tiny_suite, tmp_path, fixture_env):
    from gtnbench.errors import DataError

    with pytest.raises(DataError):
        run(tiny_suite, tmp_path / "empty", tmp_path / "run")
    assert not (tmp_path / "run").exists()
