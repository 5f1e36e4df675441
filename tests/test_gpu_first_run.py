"""tools/gpu-first-run: the script parses, and its summary puts what the phases wrote beside the goals
(synthetic phase outputs; the script itself is rehearsed on a CPU, see its README)."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "gpu-first-run"


def summarize():
    spec = importlib.util.spec_from_file_location("summarize", TOOL / "summarize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", ["run.sh", "prepare.sh"])
def test_the_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(TOOL / script)], capture_output=True).returncode == 0


def bench_file(folder: Path, name: str, rows: list[dict]) -> None:
    (folder / name).write_text(
        json.dumps({"environment": {"device_name": "NVIDIA H200", "versions": {"torch": "2.11"}}, "results": rows})
    )


def test_the_summary_sets_measurements_beside_the_goals_and_leaves_the_unmeasured_null(tmp_path):
    bench_file(
        tmp_path,
        "bench_gtn.json",
        [
            {"benchmark": "gtn-learner-on-gtn", "inner_steps": 32, "seconds_median": 0.018, "launches_per_step": 119},
            {"benchmark": "gtn-outer-iteration", "inner_steps": 32, "seconds_median": 0.075},
        ],
    )
    goal_size = {"steps": 128, "batch_size": 128, "channels": 16, "cells": 5}
    bench_file(
        tmp_path,
        "bench_nb201.json",
        [
            {"benchmark": "nb201-one-at-a-time", "seconds_median": 2.0, "archs_per_second": 3.5, **goal_size},
            {"benchmark": "nb201-batched", "seconds_median": 1.0, "archs_per_second": 9.0, **goal_size, "steps": 32},
        ],
    )
    bench_file(
        tmp_path,
        "bench_grid.json",
        [
            {
                "benchmark": "grid-together",
                "learner": "mnist-paper",
                "seconds_median": 0.1,
                "ratio_together_to_one_after_another": 3.0,
            }
        ],
    )
    bench_file(
        tmp_path,
        "bench_learner.json",
        [{"benchmark": "learner-train", "learner": "mnist-paper", "seconds_median": 0.02}],
    )
    bench_file(
        tmp_path,
        "bench_learner_graphs.json",
        [{"benchmark": "learner-train", "learner": "mnist-paper", "seconds_median": 0.01}],
    )
    (tmp_path / "doctor_ieee.json").write_text(
        json.dumps(
            {
                "passed": True,
                "environment": {"device_name": "H200"},
                "checks": [{"name": "probe", "passed": True, "measured": "1e-7"}],
            }
        )
    )
    (tmp_path / "phases.jsonl").write_text(
        json.dumps({"phase": "bench-gtn", "rc": 0, "start": 10.0, "end": 12.0})
        + "\n"
        + json.dumps({"phase": "plan", "skipped": True})
        + "\n"
    )
    (tmp_path / "gpu_util.csv").write_text("9.5,0, 100\n10.5,40, 900\n11.5,60, 900\n12.5,5, 900\n")
    summary = summarize().main(tmp_path, None)
    goals = summary["goals"]
    assert goals["learner_on_gtn_32_steps_ms"] == {
        "measured": 18.0,
        "goal": 20.0,
        "met": True,
        "launches_per_step": 119,
        "device_syncs": None,
        "peak_memory_mb": None,
    }
    assert goals["outer_iteration_T32_ms"]["met"] is False
    assert goals["nb201_cells_per_second"]["measured"] == 3.5  # the batched row ran 32 steps, not the goal's 128
    assert summary["levers"]["cuda_graphs_plain_loop"]["mnist-paper"]["speed_up"] == 2.0
    assert summary["levers"]["vmapped_grid"]["speed_up"] == 3.0 and summary["doctor"]["tf32"] is None
    assert summary["gpu_busy_percent"] == {"bench-gtn": 50.0}
    assert (tmp_path / "summary.md").read_text().startswith("# First GPU run: H200")
