"""`gtnbench run --workers N`: local worker processes, one run directory, prerequisites in one worker."""

import multiprocessing
import os
import signal
from pathlib import Path

from rich.console import Console

from gtnbench.run import batch, runner
from gtnbench.run.workers import LocalWorkers, group_batches
from gtnbench.store import read_run
from gtnbench.suite.files import load_suite, parse_suite
from gtnbench.suite.trials import expand
from tests.test_nb201_suite import SUITE as NAS_SUITE
from tests.test_nb201_suite import TUNED
from tests.test_nb201_suite import cifar as cifar  # the fixture

QUIET = Console(quiet=True)


def groups_of(text):
    config = parse_suite(Path("s.toml"), text).at("smoke")
    batches = batch.plan_batches(config, expand(config))
    return [[batch[0].id for batch in group] for group in group_batches(config, batches)], batches


def test_a_gtn_and_the_proxies_it_teaches_share_a_worker_and_run_in_order():
    groups, batches = groups_of(NAS_SUITE)
    assert sorted(i for group in groups for i in group) == sorted(b[0].id for b in batches)  # each batch once
    with_gtn = next(group for group in groups if "gtn/steps=2/seed=0" in group)
    proxies = [b[0].id for b in batches if b[0].method == "gtn-proxy"]
    assert set(proxies) <= set(with_gtn) and with_gtn[0] == "gtn/steps=2/seed=0"
    assert groups[0] == with_gtn  # the largest group goes first
    assert all(len(group) == 1 for group in groups[1:])  # everything else is free to go anywhere


def test_a_calibration_and_the_cells_tuned_with_it_share_a_worker():
    groups, _ = groups_of(TUNED)
    with_calibration = next(group for group in groups if "real/calibrate=true/seed=0" in group)
    assert with_calibration[0] == "real/calibrate=true/seed=0"
    assert sum(i.startswith("real/") for i in with_calibration) == 1 + 6  # the calibration, then the six cells


def test_workers_give_the_records_of_one_process(cifar, tmp_path):  # noqa: F811
    path = tmp_path / "tiny-nas.toml"
    path.write_text(NAS_SUITE)
    suite = load_suite(path)
    alone = read_run(runner.run_suite(suite, "smoke", "cpu", cifar, tmp_path / "one", console=QUIET).path)
    summary = runner.run_suite(
        suite, "smoke", "cpu", cifar, tmp_path / "two", console=QUIET, executor=LocalWorkers(2, threads=1)
    )
    together = read_run(summary.path)
    assert summary.failed == 0 and together.manifest["executor"] == "workers"
    assert together.manifest["status"] == "completed"
    assert sorted(r["trial"] for r in together.records) == sorted(r["trial"] for r in alone.records)
    scores = {r["trial"]: r["details"].get("scores") for r in alone.records}
    assert {r["trial"]: r["details"].get("scores") for r in together.records} == scores


class _KillsItsFirstWorker(LocalWorkers):
    """Kills the worker process it hands the first batch to (as an out-of-memory kill would)."""

    def run(self, job, batches, started, admit=None):
        killed = []

        def kill_once(batch):
            started(batch)
            if not killed:
                killed.extend(c for c in multiprocessing.active_children() if c.name.startswith("gtnbench-worker"))
                for child in killed:
                    os.kill(child.pid, signal.SIGKILL)

        yield from super().run(job, batches, kill_once, admit)


def test_a_worker_that_dies_fails_its_trial_and_the_run_goes_on(tiny_suite, tiny_mnist, tmp_path):
    summary = runner.run_suite(
        load_suite(tiny_suite),
        "smoke",
        "cpu",
        tiny_mnist,
        tmp_path / "run",
        console=QUIET,
        executor=_KillsItsFirstWorker(1, threads=1),
    )
    records = read_run(summary.path).records
    assert (summary.ok, summary.failed) == (2, 1) and len(records) == 3
    dead = next(r for r in records if r["status"] == "failed")
    assert "worker process 0 died (exit code -9)" in dead["reason"]
