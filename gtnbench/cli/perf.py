"""Commands that measure a device: doctor (a self-test), bench (timings, never in tests)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.table import Table
from rich.text import Text

from gtnbench.cli.common import (
    Subparsers,
    console,
    err_console,
    precision_flag,
)
from gtnbench.errors import GtnbenchError
from gtnbench.output import escape, plural, print_line, print_table


def add_doctor(sub: Subparsers) -> None:
    p = sub.add_parser(
        "doctor",
        help="check a device before trusting it with hours of training (under a minute)",
        description="Precision probe (float32 convolution and matmul against float64), the "
        "meta-gradient on the device against the CPU in float64 on a tiny learner, plain training "
        "against float64, the sync audit of the hot loops, and one learner step's throughput. "
        "Prints a table; exits 1 when a check fails.",
    )
    p.add_argument("--device", help="torch device (default: cuda if available)")
    p.add_argument("--out", metavar="FILE", help="also write the checks, with the environment, as JSON")
    precision_flag(p)
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from gtnbench.device import check_device
    from gtnbench.environment import default_device
    from gtnbench.perf.doctor import run_checks

    device = check_device(args.device or default_device())
    table = Table(title=escape(f"gtnbench doctor on {device} (precision {args.precision})"))
    for column in ("check", "result", "measured", "expected"):
        table.add_column(column)
    checks = []
    for check in run_checks(device, args.precision):
        checks.append(check)
        table.add_row(
            Text(check.name),
            "[green]ok[/]" if check.passed else "[red]FAILED[/]",
            Text(check.measured),
            Text(check.expected),
        )
    print_table(console, table)
    failed = sum(not check.passed for check in checks)
    print_line(
        console,
        "all checks passed" if not failed else f"{plural(failed, 'check')} failed",
        style=None if not failed else "red",
    )
    if args.out:
        from dataclasses import asdict

        from gtnbench.environment import environment
        from gtnbench.store import save_json

        save_json(
            Path(args.out),
            {
                "environment": environment(device),
                "command": sys.argv,
                "date": time.strftime("%Y-%m-%d"),
                "precision_policy": args.precision,
                "passed": not failed,
                "checks": [asdict(c) for c in checks],
            },
        )
        print_line(err_console, f"wrote {args.out}")
    return 1 if failed else 0


def add_bench(sub: Subparsers) -> None:
    p = sub.add_parser(
        "bench",
        help="time the inner loop on this device: learners, GTN, NAS proxies, executors",
        description="Each timing comes with the launches (non-view aten ops) per inner step and "
        "the device syncs of its untimed warm-up call. "
        "learner: time to train each paper learner for --steps steps (batch 128). "
        "gtn: paper-size generator and learner: training a learner on a GTN, one outer "
        "meta-training iteration, and the same iteration as a bare reference loop (the ratio "
        "is the overhead of the shared loop). nb201: train-based proxy throughput, one cell at a "
        "time and --archs cells at once (vmapped super-network). executors: a suite's smoke scale "
        "in-process and on local Ray clusters of 1, 2, 4 CPUs. grid: a tuned real-data grid trained one "
        "configuration after another and all together (--batched-grids). ops: op counts per inner "
        "step of every hot loop, no timing. loops: every hot loop timed (tiny widths, or "
        "--paper-widths). distill: one DM and one DC synthesis iteration at the "
        "papers' sizes (10 images per class, 256 real per class) with the --dataset learner and "
        "the reference ConvNet. "
        "Timings belong here, never in tests.",
    )
    p.add_argument(
        "target",
        nargs="?",
        default="learner",
        choices=("learner", "gtn", "nb201", "executors", "ops", "grid", "loops", "distill"),
    )
    p.add_argument("--device", help="torch device (default: cuda if available)")
    precision_flag(p)
    p.add_argument(
        "--paper-widths",
        action="store_true",
        help="ops, loops, grid: the paper's learner widths (ops counts depend only on structure; default: "
        "tiny for ops, quarter widths for grid)",
    )
    p.add_argument(
        "--cuda-graphs", action="store_true", help="replay plain training steps from CUDA graphs (CUDA only)"
    )
    p.add_argument("--configurations", type=int, default=8, help="grid: configurations of the tuned grid (default 8)")
    p.add_argument(
        "--widths",
        type=int,
        nargs="+",
        help="grid, learner: the learner's widths (grid default: a quarter of the paper's; learner: the paper's)",
    )
    p.add_argument("--steps", type=int, default=32, help="inner steps (default 32)")
    p.add_argument(
        "--dataset", choices=("mnist", "cifar10"), default="mnist", help="gtn, distill: image size and learner"
    )
    p.add_argument("--block-size", type=int, default=0, help="gtn: gradient checkpointing block (0: off)")
    p.add_argument("--archs", type=int, default=8, help="nb201: architectures trained (default 8)")
    p.add_argument("--channels", type=int, default=16, help="nb201: C of the cell network (default 16)")
    p.add_argument("--cells", type=int, default=5, help="nb201: N of the cell network (default 5)")
    p.add_argument("--suite", default="smoke", help="executors: the suite run at its smoke scale (default smoke)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="executors: Ray cluster sizes (CPUs)")
    p.add_argument("--data-root", help="executors: data folder (default: $GTNBENCH_DATA, else the cache)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (default 5)")
    p.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the untimed warm-up call (for CPU measurements that take minutes)",
    )
    p.add_argument(
        "--no-batched",
        dest="batched",
        action="store_false",
        help="nb201: time only the one-at-a-time loop (the vmapped super-network needs ~7.5 GB per C16N5 cell)",
    )
    p.add_argument("--out", help="also write the results as JSON to this file (e.g. results/bench/<device>.json)")
    p.set_defaults(func=cmd_bench)


DERIVED = (
    ("steps_per_second", "{:.1f} steps/s"),
    ("archs_per_second", "{:.3f} archs/s"),
    ("trials_per_second", "{:.2f} trials/s"),
    ("ratio_ours_to_reference", "ours/reference {:.2f}"),
    ("ratio_batched_to_one_at_a_time", "batched speed-up {:.2f}"),
    ("ratio_to_in_process", "time vs in-process {:.2f}"),
    ("ratio_together_to_one_after_another", "together speed-up {:.2f}"),
    ("peak_memory_mb", "peak {:.0f} MiB"),
    ("launches_per_step", "{:.0f} ops/step"),
    ("device_syncs", "{} device syncs"),
)


def cmd_bench(args: argparse.Namespace) -> int:
    from gtnbench.device import check_device, set_precision
    from gtnbench.environment import default_device, environment
    from gtnbench.perf.bench import (
        bench_executors,
        bench_grid,
        bench_gtn,
        bench_learners,
        bench_loops,
        bench_nb201,
        bench_ops,
    )

    device = check_device(args.device or default_device())
    set_precision(args.precision)
    if args.cuda_graphs:
        from gtnbench.graphs import enable_cuda_graphs

        if not device.startswith("cuda"):
            raise GtnbenchError(f"--cuda-graphs needs a CUDA device, not {device}")
        enable_cuda_graphs(True)
    if args.target == "ops":
        measurements = bench_ops(device, args.steps, args.paper_widths)
    elif args.target == "loops":
        measurements = bench_loops(device, args.steps, args.paper_widths, args.repeats, args.warmup)
    elif args.target == "grid":
        learner = "cifar10-paper" if args.dataset == "cifar10" else "mnist-paper"
        quarter = (16, 32, 64) if learner == "mnist-paper" else (16, 32, 32, 64, 64)
        widths = None if args.paper_widths else tuple(args.widths) if args.widths else quarter
        measurements = bench_grid(
            device,
            learner,
            args.steps,
            configurations=args.configurations,
            repeats=args.repeats,
            warmup=args.warmup,
            widths=widths,
        )
    elif args.target == "learner":
        measurements = bench_learners(
            device,
            steps=args.steps,
            repeats=args.repeats,
            warmup=args.warmup,
            widths=tuple(args.widths) if args.widths else None,
        )
    elif args.target == "gtn":
        measurements = bench_gtn(
            device, args.dataset, args.steps, block_size=args.block_size, repeats=args.repeats, warmup=args.warmup
        )
    elif args.target == "distill":
        from gtnbench.perf.distill import bench_distill

        learner = "cifar10-paper" if args.dataset == "cifar10" else "mnist-paper"
        shape = (3, 32, 32) if args.dataset == "cifar10" else (1, 28, 28)
        measurements = bench_distill(
            device, (learner, "convnet"), repeats=args.repeats, warmup=args.warmup, image_shape=shape
        )
    elif args.target == "nb201":
        measurements = bench_nb201(
            device,
            args.archs,
            args.steps,
            channels=args.channels,
            cells=args.cells,
            repeats=args.repeats,
            warmup=args.warmup,
            batched=args.batched,
        )
    else:
        from gtnbench.data.paths import resolve_data_root

        measurements = bench_executors(
            args.suite, "smoke", resolve_data_root(args.data_root), tuple(args.workers), device
        )
    env = {**environment(device), "cuda_graphs": args.cuda_graphs}
    out = Path(args.out) if args.out else None
    rows: list[dict] = []

    def write(complete: bool) -> None:
        if out is not None:
            from gtnbench.store import save_json

            save_json(
                out,
                {
                    "environment": env,
                    "command": sys.argv,
                    "date": time.strftime("%Y-%m-%d"),
                    "complete": complete,
                    "results": rows,
                },
            )

    warmup = "a warm-up call and " if args.warmup else ""
    print_line(
        err_console,
        f"gtnbench bench {args.target} on {env['device_name']}: each measurement is {warmup}"
        f"{plural(args.repeats, 'timed call')}",
    )
    for row in measurements:
        rows.append(row)
        print_line(
            err_console, f"  {row['benchmark']} ({_bench_setting(row)}): {_bench_ms(row)} ms {_bench_derived(row)}"
        )
        write(complete=False)
    write(complete=True)
    torch_version = env["versions"]["torch"]
    table = Table(title=escape(f"gtnbench bench {args.target} on {env['device_name']} (torch {torch_version})"))
    for column in ("benchmark", "setting", "median (ms)", "derived"):
        table.add_column(column)
    for row in rows:
        table.add_row(Text(row["benchmark"]), Text(_bench_setting(row)), _bench_ms(row), Text(_bench_derived(row)))
    print_table(console, table)
    if out is not None:
        print_line(err_console, f"wrote {out}")
    return 0


def _bench_setting(row: dict) -> str:
    return ", ".join(
        f"{k}={row[k]}"
        for k in (
            "learner",
            "dataset",
            "suite",
            "archs",
            "configurations",
            "steps",
            "inner_steps",
            "batch_size",
            "block_size",
            "channels",
            "cells",
        )
        if k in row
    )


def _bench_ms(row: dict) -> str:
    return f"{row['seconds_median'] * 1000:.1f}" if "seconds_median" in row else "–"  # op counts time nothing


def _bench_derived(row: dict) -> str:
    return ", ".join(text.format(row[key]) for key, text in DERIVED if key in row)
