"""The Ray executor on a local 2-CPU cluster: same records as in-process; dead workers are retried."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from gtnbench.run.runner import run_suite
from gtnbench.store import read_run
from gtnbench.suite.files import load_suite

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")
from gtnbench.run.executors import RayExecutor, RayOptions  # noqa: E402

QUIET = Console(quiet=True)

GTN_SUITE = """
name = "ray-gtn"
dataset = "mnist"
seeds = [0]

[learner]
name = "mnist-paper"
widths = [4, 8, 16]

[methods.gtn]
kind = "gtn"
inner_steps = 4
batch_size = 10
outer_iterations = 60
meta_batch_size = 16
validate_every = 5
checkpoint_every = 5
eval_learners = 1
generator = { noise_dim = 8, hidden = 16, channels = [8, 4] }

[scales.smoke]
"""


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_gives_the_same_records_as_in_process(cluster, tiny_suite, tiny_mnist, tmp_path):
    suite = load_suite(tiny_suite)
    local = run_suite(suite, "quick", "cpu", tiny_mnist, tmp_path / "local", console=QUIET)
    remote = run_suite(
        suite, "quick", "cpu", tiny_mnist, tmp_path / "ray", console=QUIET, executor=RayExecutor(RayOptions())
    )
    a = {r["trial"]: r["metrics"] for r in read_run(local.path).records}
    b = {r["trial"]: r["metrics"] for r in read_run(remote.path).records}
    strip = lambda m: {k: v for k, v in m.items() if not k.endswith("seconds")}  # noqa: E731
    assert {k: strip(v) for k, v in a.items()} == {k: strip(v) for k, v in b.items()}
    assert read_run(remote.path).manifest["executor"] == "ray"


def _kill_worker_once_a_checkpoint_exists(run_dir: Path, killed: list[int]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if list(run_dir.glob("artifacts/*/gtn.pt")):
            for process in psutil.process_iter(["cmdline"]):
                if any("ray::execute" in part for part in process.info["cmdline"] or []):
                    process.kill()
                    killed.append(process.pid)
                    return
        time.sleep(0.05)


@pytest.mark.parametrize("retries", [2, 0])
def test_a_worker_killed_mid_trial_is_retried_then_recorded_as_failed(cluster, tiny_mnist, tmp_path, retries):
    path = tmp_path / "gtn.toml"
    path.write_text(GTN_SUITE)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_worker_once_a_checkpoint_exists, args=(tmp_path / "run", killed))
    killer.start()
    summary = run_suite(
        load_suite(path),
        "smoke",
        "cpu",
        tiny_mnist,
        tmp_path / "run",
        console=QUIET,
        executor=RayExecutor(RayOptions(max_retries=retries)),
    )
    killer.join()
    [record] = read_run(summary.path).records
    assert killed, "the worker finished before it could be killed"
    if retries:
        assert record["status"] == "ok" and record["details"]["resumed_at"]  # resumed from its checkpoint
        straight = run_suite(
            load_suite(path),
            "smoke",
            "cpu",
            tiny_mnist,
            tmp_path / "straight",
            console=QUIET,
            executor=RayExecutor(RayOptions()),
        )  # same workers, same threads
        [expected] = read_run(straight.path).records
        assert record["details"]["meta_losses"] == expected["details"]["meta_losses"]  # bit for bit on a CPU
    else:
        assert record["status"] == "failed" and "worker failed after 0 retries" in record["reason"]
