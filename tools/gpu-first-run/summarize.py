"""The first GPU run at a glance: the three speed goals, the doctor's checks under IEEE and TF32, the
levers (CUDA graphs, TF32, a vmapped grid), the quick-scale plans, the suite run, and how busy the GPU
was in each phase.

    python3 tools/gpu-first-run/summarize.py OUT [RUNS]    -> OUT/summary.json and OUT/summary.md

Reads only what run.sh wrote; a file that is missing (a phase skipped, cut off or crashed) leaves its
figures null, never a guess.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Any

GOALS = {"learner_on_gtn_32_steps_ms": 20.0, "outer_iteration_T32_ms": 60.0, "nb201_cells_per_second": 4.0}


def load(folder: Path, name: str) -> dict[str, Any]:
    try:
        return json.loads((folder / name).read_text())
    except (OSError, ValueError):
        return {}


def bench(folder: Path, name: str) -> dict[str, dict[str, Any]]:
    """Bench rows by benchmark name, and by name:learner where a bench times several learners."""
    rows = load(folder, name).get("results", [])
    found = {row["benchmark"]: row for row in rows}
    found.update({f"{row['benchmark']}:{row['learner']}": row for row in rows if "learner" in row})
    return found


def ms(row: dict[str, Any] | None) -> float | None:
    return None if not row else round(1000 * row["seconds_median"], 2)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b in (None, 0) else round(a / b, 3)


def _at_goal_size(row: dict[str, Any]) -> bool:
    """The NAS-Bench-201 goal's setting: 128 steps, batch 128, C=16, N=5."""
    return (row.get("steps"), row.get("batch_size"), row.get("channels"), row.get("cells")) == (128, 128, 16, 5)


def goals(folder: Path) -> dict[str, Any]:
    gtn, nb201 = bench(folder, "bench_gtn.json"), bench(folder, "bench_nb201.json")
    lesson, outer = gtn.get("gtn-learner-on-gtn"), gtn.get("gtn-outer-iteration")
    one, together = nb201.get("nb201-one-at-a-time"), nb201.get("nb201-batched")
    measured = {
        "learner_on_gtn_32_steps_ms": ms(lesson) if lesson and lesson["inner_steps"] == 32 else None,
        "outer_iteration_T32_ms": ms(outer) if outer and outer["inner_steps"] == 32 else None,
        "nb201_cells_per_second": max(
            (r["archs_per_second"] for r in (one, together) if r and _at_goal_size(r)), default=None
        ),
    }
    out = {}
    for name, goal in GOALS.items():
        value = measured[name]
        met = None if value is None else (value >= goal if name.endswith("per_second") else value <= goal)
        out[name] = {"measured": value, "goal": goal, "met": met}
    out["nb201_cells_per_second"].update(
        one_at_a_time=one and one["archs_per_second"], vmapped_together=together and together["archs_per_second"]
    )
    for name, row in (("learner_on_gtn_32_steps_ms", lesson), ("outer_iteration_T32_ms", outer)):
        if row:
            out[name].update(
                launches_per_step=row.get("launches_per_step"),
                device_syncs=row.get("device_syncs"),
                peak_memory_mb=row.get("peak_memory_mb"),
            )
    reference = gtn.get("gtn-outer-iteration-reference-loop")
    out["outer_iteration_T32_ms"]["ratio_to_bare_loop"] = reference and reference.get("ratio_ours_to_reference")
    return out


def doctor(folder: Path, policy: str) -> dict[str, Any] | None:
    report = load(folder, f"doctor_{policy}.json")
    if not report:
        return None
    return {
        "passed": report["passed"],
        "checks": {c["name"]: {"passed": c["passed"], "measured": c["measured"]} for c in report["checks"]},
    }


def levers(folder: Path) -> dict[str, Any]:
    plain, graphs = bench(folder, "bench_learner.json"), bench(folder, "bench_learner_graphs.json")
    gtn, tf32 = bench(folder, "bench_gtn.json"), bench(folder, "bench_gtn_tf32.json")
    grid = bench(folder, "bench_grid.json")
    cuda_graphs = {
        key.split(":", 1)[1]: {
            "eager_ms": ms(row),
            "graphs_ms": ms(graphs.get(key)),
            "speed_up": ratio(ms(row), ms(graphs.get(key))),
        }
        for key, row in plain.items()
        if key.startswith("learner-train:")
    }
    tf32_speed = {
        name: {
            "ieee_ms": ms(gtn.get(name)),
            "tf32_ms": ms(tf32.get(name)),
            "speed_up": ratio(ms(gtn.get(name)), ms(tf32.get(name))),
        }
        for name in ("gtn-learner-on-gtn", "gtn-outer-iteration")
    }
    together = grid.get("grid-together")
    return {
        "cuda_graphs_plain_loop": cuda_graphs,
        "tf32_gtn": tf32_speed,
        "vmapped_grid": together
        and {
            "speed_up": together["ratio_together_to_one_after_another"],
            "same_choice": together.get("same_choice"),
            "max_val_acc_difference": together.get("max_val_acc_difference"),
        },
        "cifar10_outer_iteration_T128_s": (bench(folder, "bench_gtn_cifar.json").get("gtn-outer-iteration") or {}).get(
            "seconds_median"
        ),
    }


def plans(folder: Path) -> dict[str, Any]:
    found = {}
    for path in sorted(folder.glob("plan_*.json")):
        plan = load(folder, path.name)
        found[plan.get("suite", path.stem[5:])] = {
            "scale": plan.get("scale"),
            "minutes": round(plan["seconds"] / 60, 1),
            "complete": plan.get("complete"),
        }
    return found


def suite_runs(runs: Path | None) -> dict[str, Any]:
    found = {}
    for manifest in sorted(runs.glob("*/manifest.json")) if runs else []:
        info = json.loads(manifest.read_text())
        written = manifest.parent / "records.jsonl"
        records = written.read_text().splitlines() if written.exists() else []
        check = manifest.parent / "check.txt"
        verdicts = check.read_text().split("\nreproduced:")[0].splitlines() if check.exists() else None
        found[manifest.parent.name] = {
            "status": info.get("status"),
            "records": len(records),
            "stopped": info.get("stopped"),
            "check": verdicts,
        }
    return found


def gpu_busy(folder: Path) -> dict[str, float]:
    """Mean nvidia-smi utilisation (the share of time a kernel ran) over each phase's samples."""
    samples = []
    try:
        with open(folder / "gpu_util.csv") as handle:
            for row in csv.reader(handle):
                if len(row) >= 2 and row[1].strip().replace(".", "").isdigit():
                    samples.append((float(row[0]), float(row[1])))
    except OSError:
        return {}
    busy = {}
    for line in (folder / "phases.jsonl").read_text().splitlines() if (folder / "phases.jsonl").exists() else []:
        phase = json.loads(line)
        inside = [u for t, u in samples if "start" in phase and phase["start"] <= t <= phase["end"]]
        if inside:
            busy[phase["phase"]] = round(statistics.fmean(inside), 1)
    return busy


def markdown(summary: dict[str, Any]) -> str:
    env = summary["environment"]
    lines = [
        f"# First GPU run: {env.get('device_name')}",
        "",
        f"torch {env.get('torch')}, CUDA {env.get('cuda')}; precision read back: {env.get('precision')}",
        "",
        "| goal | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for name, goal in summary["goals"].items():
        lines.append(f"| {name} | {goal['measured']} | {goal['goal']} | {goal['met']} |")
    for policy in ("ieee", "tf32"):
        report = summary["doctor"].get(policy)
        if report:
            lines += ["", f"doctor ({policy}): {'passed' if report['passed'] else 'FAILED'}"]
            lines += [
                f"- {name}: {'ok' if c['passed'] else 'FAILED'}, {c['measured']}"
                for name, c in report["checks"].items()
            ]
    lines += ["", "plans (minutes): " + ", ".join(f"{s} {p['minutes']}" for s, p in summary["plans"].items())]
    lines += ["", f"CUDA tests: {summary['cuda_tests']}", "", f"GPU busy (%): {summary['gpu_busy_percent']}"]
    return "\n".join(lines) + "\n"


def main(folder: Path, runs: Path | None) -> dict[str, Any]:
    source = load(folder, "doctor_ieee.json") or load(folder, "bench_gtn.json")
    env = source.get("environment", {})
    tests_file = folder / "pytest_cuda.txt"
    tests = tests_file.read_text().strip().splitlines()[-1:] if tests_file.exists() else None
    summary = {
        "environment": {
            "device_name": env.get("device_name"),
            "torch": env.get("versions", {}).get("torch"),
            "cuda": env.get("versions", {}).get("cuda"),
            "code_version": env.get("code_version"),
            "precision": env.get("precision"),
        },
        "goals": goals(folder),
        "doctor": {p: doctor(folder, p) for p in ("ieee", "tf32")},
        "levers": levers(folder),
        "plans": plans(folder),
        "suite_runs": suite_runs(runs),
        "cuda_tests": tests,
        "gpu_busy_percent": gpu_busy(folder),
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (folder / "summary.md").write_text(markdown(summary))
    return summary


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(markdown(result))
