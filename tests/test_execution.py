"""What a run records about how it computed, and what it refuses to run."""

import json

import pytest
from rich.console import Console

from gtnbench.cli import main
from gtnbench.device import set_precision
from gtnbench.errors import GtnbenchError, StoreError
from gtnbench.run import runner
from gtnbench.run.executors import ray_gpu_share
from gtnbench.run.options import ExecutionOptions
from gtnbench.store import read_run
from gtnbench.suite.files import load_suite, parse_suite
from tests.test_plan import GTN_SUITE

QUIET = Console(quiet=True)


@pytest.fixture(autouse=True)
def ieee_afterwards():
    yield
    set_precision("ieee")


def test_manifests_and_records_carry_the_precision_read_back(tiny_suite, tiny_mnist, tmp_path):
    summary = runner.run_suite(
        load_suite(tiny_suite),
        "smoke",
        "cpu",
        tiny_mnist,
        tmp_path / "run",
        console=QUIET,
        options=ExecutionOptions("tf32"),
    )
    contents = read_run(summary.path)
    precision = contents.manifest["precision"]
    assert precision["policy"] == "tf32" and precision["fp32_precision.cudnn.conv"] == "tf32"
    assert "NVIDIA_TF32_OVERRIDE" in precision and "cudnn.benchmark" in precision
    assert contents.manifest["execution"] == {"precision": "tf32", "cuda_graphs": False, "batched_grids": False}
    for record in contents.records:
        assert record["precision"] == {"policy": "tf32", "tf32": True, "autocast": "none"}
    with pytest.raises(StoreError, match="was started with --precision tf32"):
        runner.run_suite(
            load_suite(tiny_suite), "smoke", "cpu", tiny_mnist, tmp_path / "run", resume=True, console=QUIET
        )


def test_a_batched_grid_run_says_so_and_agrees_with_one_after_another(tiny_suite, tiny_mnist, tmp_path):
    suite = load_suite(tiny_suite)
    alone = read_run(runner.run_suite(suite, "smoke", "cpu", tiny_mnist, tmp_path / "a", console=QUIET).path)
    together = read_run(
        runner.run_suite(
            suite,
            "smoke",
            "cpu",
            tiny_mnist,
            tmp_path / "b",
            console=QUIET,
            options=ExecutionOptions(batched_grids=True),
        ).path
    )
    for a, b in zip(alone.records, together.records, strict=True):
        assert a["details"]["chosen"] == b["details"]["chosen"]
        assert abs(a["metrics"]["test_acc"] - b["metrics"]["test_acc"]) < 1e-6
    assert together.records[0]["details"]["trained_together"] == 2  # the grid of two learning rates
    assert "trained_together" not in alone.records[0]["details"]


def test_bf16_is_refused_where_a_gtn_is_meta_trained_and_graphs_off_cuda(tmp_path):
    config = parse_suite(tmp_path / "g.toml", GTN_SUITE).at("smoke")
    with pytest.raises(GtnbenchError, match="bf16 is refused for GTN meta-training"):
        ExecutionOptions("bf16").check(config, "cpu")
    with pytest.raises(GtnbenchError, match="--cuda-graphs needs a CUDA device"):
        ExecutionOptions(cuda_graphs=True).check(config, "cpu")
    ExecutionOptions("tf32").check(config, "cpu")


def test_ray_on_cuda_gets_a_gpu_share_and_refuses_none():
    assert ray_gpu_share("cuda", None) == 1.0 and ray_gpu_share("cpu", None) == 0.0
    assert ray_gpu_share("cuda:1", 0.25) == 0.25
    with pytest.raises(GtnbenchError, match="every trial would fail"):
        ray_gpu_share("cuda", 0.0)


def test_the_command_line_refuses_what_cannot_run_in_one_line(tmp_path, tiny_mnist, capsys):
    suite = tmp_path / "g.toml"
    suite.write_text(GTN_SUITE)
    common = ["run", str(suite), "--scale", "smoke", "--device", "cpu", "--data-root", str(tiny_mnist)]
    for extra, message in (
        (["--precision", "bf16"], "bf16 is refused"),
        (["--cuda-graphs"], "needs a CUDA device"),
        (["--workers", "2", "--executor", "ray"], "choose one"),
        (["--budget", "soon"], "expected a duration"),
    ):
        assert main(common + extra + ["--out", str(tmp_path / "never")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_bench_prints_ops_per_step_and_records_the_precision(tmp_path, capsys):
    out = tmp_path / "ops.json"
    assert main(["bench", "ops", "--device", "cpu", "--steps", "2", "--out", str(out)]) == 0
    assert "ops/step" in capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert payload["environment"]["precision"]["policy"] == "ieee"
    rows = {row["benchmark"]: row for row in payload["results"]}
    assert rows["ops-plain-learner"]["launches_per_step"] > 50
    assert all(row["device_syncs"] == 0 for row in rows.values())
