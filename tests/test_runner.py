import os
import signal
import time

import pytest
from rich.console import Console

from gtnbench import methods
from gtnbench.cli import main
from gtnbench.errors import StoreError
from gtnbench.run import batch, runner
from gtnbench.store import read_run
from gtnbench.suite.files import load_suite
from gtnbench.suite.trials import expand

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


def test_an_interrupted_command_says_so_in_one_line_and_keeps_what_it_wrote(
    tiny_suite, tiny_mnist, tmp_path, monkeypatch, capsys
):
    def interrupted(trial, method, context):
        raise KeyboardInterrupt  # what Ctrl-C or `timeout -s INT` raises

    monkeypatch.setitem(methods.TRIAL_FUNCTIONS, "real", interrupted)
    code = main(
        [
            "run",
            str(tiny_suite),
            "--scale",
            "smoke",
            "--device",
            "cpu",
            "--data-root",
            str(tiny_mnist),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err and "--resume" in err and "Traceback" not in err
    assert read_run(tmp_path / "run").manifest["status"] == "interrupted"

    def terminated(device, policy):
        os.kill(os.getpid(), signal.SIGTERM)  # a batch system's time limit
        time.sleep(5)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr("gtnbench.perf.doctor.run_checks", terminated)
    assert main(["doctor", "--device", "cpu"]) == 130  # any command: one line, no traceback
    assert capsys.readouterr().err.strip() == "gtnbench doctor: interrupted"
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is main()'s only while it runs


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

    # --resume alone keeps the failure; with --retry-failed the trial runs again and its new
    # record supersedes the failed one (which stays in the file)
    assert run(tiny_suite, tiny_mnist, summary.path, resume=True).done_before == 3
    monkeypatch.setitem(methods.TRIAL_FUNCTIONS, "real", real)
    retried = runner.run_suite(
        load_suite(tiny_suite), "smoke", "cpu", tiny_mnist, summary.path, True, QUIET, retry_failed=True
    )
    contents = read_run(summary.path)
    assert (retried.ok, retried.done_before) == (1, 2) and contents.manifest["status"] == "completed"
    assert [r["status"] for r in contents.records if r["method"] == "real-epochs"] == ["failed", "ok"]


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


def test_shards_merge_into_the_whole_run(tiny_suite, tiny_mnist, tmp_path):
    from gtnbench.run.merge import merge_runs

    suite = load_suite(tiny_suite)
    whole = runner.run_suite(suite, "quick", "cpu", tiny_mnist, tmp_path / "whole", console=QUIET)
    shards = [
        runner.run_suite(suite, "quick", "cpu", tiny_mnist, tmp_path / f"shard{i}", console=QUIET, shard=(i, 2))
        for i in range(2)
    ]
    sizes = [len(read_run(s.path).records) for s in shards]
    assert sizes == [3, 3] and read_run(shards[1].path).manifest["shard"] == "1/2"
    merged = merge_runs([s.path for s in shards] + [shards[0].path], tmp_path / "merged")  # shard 0 twice: duplicates
    assert merged.duplicates_dropped == 3 and merged.records == 6
    contents = read_run(merged.path)
    assert contents.manifest["status"] == "completed" and len(contents.manifest["merged_from"]) == 3
    metrics = lambda run: {r["trial"]: r["metrics"]["test_acc"] for r in read_run(run).records}  # noqa: E731
    assert metrics(merged.path) == metrics(whole.path)


def test_merge_refuses_other_configurations_and_conflicting_records(tiny_suite, tiny_mnist, tmp_path):
    import json

    from gtnbench.run.merge import merge_runs

    suite = load_suite(tiny_suite)
    smoke = runner.run_suite(suite, "smoke", "cpu", tiny_mnist, tmp_path / "smoke", console=QUIET)
    quick = runner.run_suite(suite, "quick", "cpu", tiny_mnist, tmp_path / "quick", console=QUIET, shard=(0, 2))
    with pytest.raises(StoreError, match="only runs of one suite configuration merge"):
        merge_runs([smoke.path, quick.path], tmp_path / "m1")
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text((smoke.path / "manifest.json").read_text())
    lines = (smoke.path / "records.jsonl").read_text().splitlines()
    changed = json.loads(lines[0])
    changed["metrics"]["test_acc"] = 0.0
    (other / "records.jsonl").write_text(json.dumps(changed) + "\n")
    with pytest.raises(StoreError, match="has different records"):
        merge_runs([smoke.path, other], tmp_path / "m2")
    assert not (tmp_path / "m2").exists()


def test_batches_group_cells_of_one_method_and_seed():
    from pathlib import Path

    from gtnbench.suite.files import parse_suite

    text = """
name = "b"
dataset = "cifar10"
seeds = [0, 1]
[learner]
name = "cifar10-paper"
[nb201]
architectures = { count = 5 }
[methods.real]
kind = "nb201-train"
steps = [4]
batch_archs = 2
[methods.free]
kind = "nb201-free"
[scales.smoke]
"""
    config = parse_suite(Path("b.toml"), text).at()
    batches = batch.plan_batches(config, expand(config))
    sizes = [(b[0].method, len(b)) for b in batches]
    assert [n for m, n in sizes if m == "real"] == [2, 2, 1, 2, 2, 1]  # 5 cells per seed, in pairs
    assert all(n == 1 for m, n in sizes if m == "free")
    assert all(len({t.seed for t in b}) == 1 and len({t.method for t in b}) == 1 for b in batches)
