"""Time `gtnbench run smoke --device cpu` at three thread settings, on a quiet machine and under a
synthetic background load, and write what was measured to one JSON file (results/cpu/threads-smoke.json).

Settings: one torch thread per process; torch's own default (what a fresh process picks with
OMP_NUM_THREADS unset); a count from the free cores (CPUs this process may use minus the 1-minute
load average, rounded, at least 1). Loads: `quiet` (no load of ours; other users' light jobs may
run: every run records the load average it met) and `busy-N` (N busy-loop processes started before
and killed after). Every setting is passed as an explicit `--threads N`, so the commands stay valid
whatever gtnbench's default is.

Run it under the shared lock, with the data:
    GTNBENCH_DATA=/work/shared/data flock /tmp/gtnbench-heavy.lock python tools/threads-smoke/measure.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def free_core_threads() -> int:
    cores = len(os.sched_getaffinity(0))
    return max(1, min(cores, round(cores - load1())))


def torch_default_threads() -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


class LoadSampler:
    """Samples /proc/loadavg every few seconds while a run goes on."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(load1())

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_smoke(label: str, threads: int, out_root: Path, timeout: float) -> dict:
    out = out_root / label
    command = ["gtnbench", "run", "smoke", "--device", "cpu", "--threads", str(threads), "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start_load = load1()
    start = time.perf_counter()
    with LoadSampler() as sampler, open(out_root / f"{label}.log", "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            rc = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()  # SIGTERM: gtnbench stops cleanly, keeping the finished trials
            rc = process.wait()
            rc = f"stopped after {timeout:.0f} s (exit {rc})"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = {
        "label": label,
        "threads": threads,
        "command": " ".join(command),
        "exit": rc,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "load1_start": start_load,
        "load1_mean": round(sum(sampler.samples) / max(1, len(sampler.samples)), 2),
        "load1_max": max(sampler.samples, default=start_load),
        "trials": {},
    }
    records = out / "records.jsonl"
    if records.exists():
        for line in records.read_text().splitlines():
            record = json.loads(line)
            if record.get("status") != "ok":
                continue
            metrics = record["metrics"]
            row["trials"][record["trial"]] = {
                "seconds": round(record["seconds"], 2),
                "test_acc": round(metrics["test_acc"], 5),
                **(
                    {"outer_iteration_seconds": round(metrics["outer_iteration_seconds"], 3)}
                    if "outer_iteration_seconds" in metrics
                    else {}
                ),
            }
    checkpoint = out / "artifacts" / "gtn__steps=16__seed=0" / "gtn.pt"
    if rc != 0 and not any(trial.startswith("gtn/") for trial in row["trials"]):  # stopped during meta-training
        row["gtn_stopped_at"] = {
            "seconds_after_the_other_trials": round(
                wall - sum(trial["seconds"] for trial in row["trials"].values()), 1
            ),
            "last_checkpoint": None,
        }
        if checkpoint.exists():
            import torch

            state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state"]
            row["gtn_stopped_at"].update(
                last_checkpoint=state["iteration"],
                outer_iteration_seconds=round(state["seconds"] / state["iteration"], 3),
            )
    manifest = out / "manifest.json"
    if manifest.exists():
        row.update({key: json.loads(manifest.read_text())[key] for key in ("device_name", "code_version", "versions")})
    print(json.dumps(row), flush=True)
    return row


def busy_loops(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/cpu/threads-smoke.json")
    parser.add_argument("--runs", default="/tmp/threads-smoke", help="where the run directories go")
    parser.add_argument(
        "--loads",
        type=int,
        nargs="+",
        default=[0, 2],
        help="one series per entry: that many busy-loop processes (0: the quiet series)",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        default=["free-cores", "torch-default", "one"],
        choices=("free-cores", "torch-default", "one"),
        help="the thread settings of each series",
    )
    parser.add_argument("--append", action="store_true", help="add the series to --out's")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds the busy loops run before the first run")
    parser.add_argument("--budget", type=float, default=1500.0, help="wall seconds for the whole series")
    parser.add_argument("--timeout", type=float, default=600.0, help="at most this long for one run")
    args = parser.parse_args()
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    torch_threads = torch_default_threads()
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)),
            "torch_default_threads": torch_threads,
        },
        "script": "tools/threads-smoke/measure.py",
        "commands": [],
        "series": [],
    }
    if args.append and Path(args.out).exists():
        result = json.loads(Path(args.out).read_text())
    result["commands"].append({"command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

    def left() -> float:
        return args.budget - (time.perf_counter() - began)

    def series(load: str, order: list[str]) -> None:
        for setting in order:
            if left() < 60:
                result["series"].append({"load": load, "setting": setting, "skipped": "series budget spent"})
                continue
            threads = {"one": 1, "torch-default": torch_threads, "free-cores": free_core_threads()}[setting]
            row = run_smoke(f"{load}-{setting}", threads, runs, min(args.timeout, left()))
            result["series"].append({"load": load, "setting": setting, **row})
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")

    for busy in args.loads:
        if busy == 0:
            series("quiet", args.settings)
            continue
        if left() < args.settle + 60:
            result["series"] += [
                {"load": f"busy-{busy}", "setting": setting, "skipped": "series budget spent"}
                for setting in args.settings
            ]
            continue
        loops = busy_loops(busy)
        try:
            time.sleep(args.settle)
            series(f"busy-{busy}", args.settings)
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
    result["commands"][-1]["wall_seconds"] = round(time.perf_counter() - began, 1)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
