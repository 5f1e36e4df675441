"""Commands that run suites: list, show, run, plan, merge."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

from gtnbench.cli.common import (
    Subparsers,
    console,
    err_console,
    nb201_table_flag,
    precision_flag,
)
from gtnbench.errors import GtnbenchError
from gtnbench.output import escape, plural, print_line, print_markup, print_table


def add_list(sub: Subparsers) -> None:
    p = sub.add_parser("list", help="list the suites and their scales")
    p.add_argument("paths", nargs="*", help="extra suite files or folders to include")
    p.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from gtnbench.suite.files import load_suite, suite_paths

    table = Table(title="gtnbench suites")
    for column in ("suite", "scales (default *)", "dataset", "methods", "claims", "description"):
        table.add_column(column)
    problems = []
    for name, path in sorted(suite_paths([Path(p) for p in args.paths]).items()):
        try:
            suite = load_suite(path)
        except GtnbenchError as error:
            problems.append(str(error))
            continue
        config = suite.at()
        scales = " ".join(f"{s}*" if s == suite.default_scale else s for s in suite.scales)
        table.add_row(
            Text(name),
            scales,
            config.dataset,
            Text(", ".join(config.methods)),
            " ".join(config.claims),
            Text(config.description),
        )
    print_table(console, table)
    for problem in problems:
        print_markup(err_console, f"[red]invalid suite[/] {escape(problem)}")
    return 1 if problems else 0


def add_show(sub: Subparsers) -> None:
    p = sub.add_parser("show", help="print a suite's resolved configuration and its trials")
    p.add_argument("suite", help="suite name (see `gtnbench list`) or path to a .toml file")
    p.add_argument("--scale", choices=("smoke", "quick", "paper"), help="default: the suite's default scale")
    p.set_defaults(func=cmd_show)


def cmd_show(args: argparse.Namespace) -> int:
    from gtnbench.suite.files import find_suite
    from gtnbench.suite.trials import expand

    config = find_suite(args.suite).at(args.scale)
    trials = expand(config)
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    print(f"# config hash {config.config_hash()}, {plural(len(trials), 'trial')}:")
    for trial in trials:
        print(f"#   {trial.id}")
    return 0


def add_run(sub: Subparsers) -> None:
    p = sub.add_parser(
        "run",
        help="run a suite into a run directory",
        description="Run every trial of a suite at one scale. Records are appended to "
        "<out>/records.jsonl as trials finish; an interrupted run continues with --resume.",
    )
    p.add_argument("suite", help="suite name (see `gtnbench list`) or path to a .toml file")
    p.add_argument(
        "--scale",
        choices=("smoke", "quick", "paper"),
        help="smoke: CPU, minutes (CI); quick: one GPU (`gtnbench plan SUITE --scale quick` says how "
        "long); paper: the paper's settings. Default: the suite's default scale",
    )
    p.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else ~/.cache/gtnbench/data)")
    p.add_argument("--out", help="run directory (default: runs/<suite>-<scale>-<date>-<time>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (default: the latest run of this suite and scale), skipping finished trials",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: run the trials whose latest record is `failed` again (after a fix or an "
        "out-of-memory kill); the new record supersedes the failed one, which stays in the file",
    )
    p.add_argument(
        "--threads",
        metavar="N|auto|torch",
        help="torch CPU threads in each process that trains: N; auto, the free cores (usable CPUs minus "
        "the 1-minute load average, shared among --workers); torch, torch's own choice (one per core, or "
        "OMP_NUM_THREADS). Default: $GTNBENCH_THREADS, else 1, which stays fast on a busy machine where "
        "more threads wait for each other; the run's first line and its manifest's device name say the "
        "count",
    )
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N (every N-th trial from the I-th) into its "
        "own run directory; join shards with `gtnbench merge` (for SLURM job arrays and the like)",
    )
    p.add_argument(
        "--executor",
        choices=("in-process", "ray"),
        default="in-process",
        help='where trials run: this process (default) or a Ray cluster (pip install "gtnbench[ray]")',
    )
    p.add_argument("--address", help="Ray: cluster address, 'auto' to join a running one (default: start a local one)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="Ray: CPUs each trial reserves (default 1)")
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        help="Ray: GPUs each trial reserves; fractions share a GPU between small trainings (default: 1 "
        "on CUDA, 0 on the CPU; 0 on CUDA is refused, as Ray would hide the GPU from every trial)",
    )
    p.add_argument("--max-retries", type=int, default=2, help="Ray: re-runs of a trial whose worker died (default 2)")
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write each finished trial's curves as TensorBoard "
        'event files under DIR/<trial> (pip install "gtnbench[tensorboard]")',
    )
    precision_flag(p)
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run trials in N local worker processes (one CUDA context each; the way to fill one GPU with "
        "small trainings); trials that share an in-run artifact run in one worker",
    )
    p.add_argument(
        "--budget",
        metavar="TIME",
        help="stop cleanly between trials when the next one would not fit in "
        "TIME (e.g. 10m, 1.5h; estimated from a short calibration, or --costs) or TIME is spent: the run "
        "is `interrupted`, --resume continues it",
    )
    p.add_argument(
        "--costs", metavar="FILE", help="--budget: per-step costs measured before (gtnbench plan --save-costs)"
    )
    p.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="replay plain training steps from CUDA graphs (CUDA only; off by default until measured on a GPU)",
    )
    p.add_argument(
        "--batched-grids",
        action="store_true",
        help="train the configurations of a tuned real-data grid together (vmap; same results to float "
        "rounding; train_seconds becomes each configuration's share)",
    )
    nb201_table_flag(p)
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.device import check_device
    from gtnbench.environment import default_device
    from gtnbench.run.options import ExecutionOptions
    from gtnbench.run.runner import run_suite
    from gtnbench.suite.files import find_suite
    from gtnbench.threads import set_threads

    suite = find_suite(args.suite)
    device = check_device(args.device or default_device())
    threads = set_threads(args.threads, args.workers or 1)
    out = Path(args.out) if args.out else None
    options = ExecutionOptions(args.precision, args.cuda_graphs, args.batched_grids)
    executor = None
    if args.executor == "ray" and args.workers:
        raise GtnbenchError("--workers runs local worker processes, --executor ray a Ray cluster: choose one")
    if args.executor == "ray":
        from gtnbench.run.executors import RayExecutor, RayOptions, ray_gpu_share

        executor = RayExecutor(
            RayOptions(args.address, args.cpus_per_trial, ray_gpu_share(device, args.gpus_per_trial), args.max_retries)
        )
    elif args.workers:
        from gtnbench.run.workers import LocalWorkers

        executor = LocalWorkers(args.workers, threads)
    if args.retry_failed and not args.resume:
        raise GtnbenchError("--retry-failed continues a run: add --resume (and --out DIR if you gave one)")
    data_root = resolve_data_root(args.data_root)
    options.check(suite.at(args.scale), device)  # before a budget's calibration
    budget = _budget(args, suite, device, data_root, options) if args.budget else None
    on_record = None
    if args.tensorboard:
        from gtnbench.report.tensorboard import tensorboard_logger

        on_record = tensorboard_logger(Path(args.tensorboard))
    try:
        summary = run_suite(
            suite,
            args.scale,
            device,
            data_root,
            out,
            args.resume,
            err_console,
            executor,
            _shard(args.shard),
            args.retry_failed,
            on_record,
            options,
            budget,
        )
    except KeyboardInterrupt:
        print_markup(
            err_console,
            "[yellow]interrupted[/]: every finished trial is saved; continue with the same "
            "command plus --resume (and --out DIR if you gave one)",
        )
        return 130
    print_line(
        err_console, f"{summary.ok} ok, {summary.failed} failed, {summary.done_before} done before -> {summary.path}"
    )
    if summary.stopped:
        print_markup(
            err_console,
            f"[yellow]stopped at the budget[/]: {escape(summary.stopped)}; every finished trial "
            "is saved, continue with --resume (and --out DIR if you gave one)",
        )
    print(summary.path)
    return 1 if summary.failed else 0


def _budget(args: argparse.Namespace, suite, device: str, data_root: Path, options):
    """A run's time budget, started now: the clock covers the calibration of the plan's costs too."""
    from gtnbench.perf.costs import calibrate, load_costs
    from gtnbench.perf.plan import budget_estimator, needed_keys, split_sizes
    from gtnbench.perf.plan import works as plan_works
    from gtnbench.run.budget import Budget, parse_duration
    from gtnbench.suite.trials import expand

    budget = Budget(parse_duration(args.budget))
    config = suite.at(args.scale)
    options.apply()
    sizes, _ = split_sizes(config, data_root, device)
    known = load_costs(Path(args.costs)) if args.costs else None
    keys = needed_keys(plan_works(config, expand(config), sizes))
    print_line(
        err_console,
        f"--budget {args.budget}: estimating trials from "
        + (f"{args.costs} and " if known else "")
        + "a short calibration on this device",
    )
    costs = calibrate(keys, device, known, log=lambda line: print_line(err_console, f"  {line}"))
    budget.estimate = budget_estimator(config, costs, sizes)
    return budget


def _shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise GtnbenchError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise GtnbenchError(f"--shard {text!r}: I must be in 0..N-1")
    return index, count


def add_plan(sub: Subparsers) -> None:
    p = sub.add_parser(
        "plan",
        help="estimate how long a suite takes on a device, per method and in all",
        description="Counts each trial's work (training steps, outer iterations, evaluated images, "
        "cell steps) and prices it with per-unit costs measured on --device at the suite's sizes: "
        "a short calibration (with the torch threads a run gets: $GTNBENCH_THREADS, else 1), or --costs from "
        "an earlier one (so a GPU's costs can plan anywhere).",
    )
    p.add_argument("suite", help="suite name (see `gtnbench list`) or path to a .toml file")
    p.add_argument("--scale", choices=("smoke", "quick", "paper"), help="default: the suite's default scale")
    p.add_argument("--device", help="torch device to calibrate on (default: cuda if available)")
    p.add_argument("--data-root", help="data folder, for the split sizes (default: $GTNBENCH_DATA, else the cache)")
    p.add_argument("--costs", metavar="FILE", help="per-unit costs measured before (skips what they hold)")
    p.add_argument("--save-costs", metavar="FILE", help="write the costs used (to plan on another machine)")
    p.add_argument("--out", metavar="FILE", help="also write the plan as JSON (per method, with the device)")
    p.add_argument(
        "--against",
        metavar="RUN",
        help="a finished run of this suite and scale: show the seconds its trials took beside the estimate",
    )
    p.add_argument("--workers", type=int, default=1, help="also show the time on N workers, at best (default 1)")
    precision_flag(p)
    nb201_table_flag(p)
    p.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.device import check_device, set_precision
    from gtnbench.environment import default_device
    from gtnbench.perf.costs import calibrate, load_costs, save_costs
    from gtnbench.perf.plan import LEFT_OUT, make_plan, needed_keys, plan_json, rows, split_sizes, works
    from gtnbench.run.budget import format_seconds
    from gtnbench.suite.files import find_suite
    from gtnbench.suite.trials import expand
    from gtnbench.threads import set_threads

    config = find_suite(args.suite).at(args.scale)
    device = check_device(args.device or default_device())
    set_precision(args.precision)
    set_threads(None)  # calibrate with the thread count a run gets
    trials = expand(config)
    sizes, sizes_from = split_sizes(config, resolve_data_root(args.data_root), device)
    known = load_costs(Path(args.costs)) if args.costs else None
    recorded, recorded_on = _recorded(Path(args.against), config) if args.against else (None, None)
    keep = (lambda measured: save_costs(measured, Path(args.save_costs))) if args.save_costs else (lambda _: None)
    costs = calibrate(
        needed_keys(works(config, trials, sizes)),
        device,
        known,
        log=lambda line: print_line(err_console, f"  {line}"),
        measured=keep,
    )
    plan = make_plan(config, trials, sizes, sizes_from, costs)
    if args.save_costs:
        save_costs(costs, Path(args.save_costs))
        print_line(err_console, f"wrote {args.save_costs}")
    table = Table(title=escape(f"plan: {config.name} at scale {config.scale} on {costs.device_name} ({sizes_from})"))
    for column in ("method", "trials", "per trial", "in all", *(("recorded",) if recorded else ()), "not estimated"):
        table.add_column(column)
    for method, count, per_trial, total, note in rows(plan):
        took = (format_seconds(recorded[method]) if method in recorded else "–",) if recorded else ()
        table.add_row(Text(method), str(count), per_trial, total, *took, Text(note))
    took = (f"[bold]{format_seconds(sum(recorded.values()))}[/]",) if recorded else ()
    table.add_row("[bold]all[/]", str(len(trials)), "", f"[bold]{format_seconds(plan.seconds)}[/]", *took, "")
    print_table(console, table)
    if recorded:
        print_line(
            console,
            f"estimate / recorded: {plan.seconds / max(sum(recorded.values()), 1e-9):.2f} (the "
            f"finished trials of {args.against}, on {recorded_on})",
        )
    if args.workers > 1:
        print_line(
            console,
            f"on {args.workers} workers: at best {format_seconds(plan.seconds / args.workers)} (if "
            "the device has room for them all)",
        )
    print_line(console, f"left out: {LEFT_OUT}; training-step costs are measured after a warm-up call", style="dim")
    if args.out:
        from gtnbench.store import save_json

        against = (
            {"recorded": {"run": args.against, "device_name": recorded_on, "seconds": recorded}} if recorded else {}
        )
        save_json(
            Path(args.out),
            {
                **plan_json(plan),
                "suite": config.name,
                "scale": config.scale,
                "command": sys.argv,
                "left_out": LEFT_OUT,
                **against,
            },
        )
        print_line(err_console, f"wrote {args.out}")
    return 0


def _recorded(run: Path, config) -> tuple[dict[str, float], str]:
    """Seconds per method that `run` (a run of the planned suite and scale) recorded, and its device."""
    from gtnbench.perf.plan import recorded_seconds
    from gtnbench.store import read_run

    contents = read_run(run)
    made = (contents.manifest.get("suite"), contents.manifest.get("scale"))
    if made != (config.name, config.scale):
        raise GtnbenchError(
            f"--against {run}: a run of {made[0]} at scale {made[1]}, not of {config.name} at scale {config.scale}"
        )
    where = contents.manifest.get("device_name", "?")
    if contents.manifest.get("status") != "completed":
        where += f"; the run is {contents.manifest.get('status', 'unfinished')}: its unfinished trials count 0"
    return recorded_seconds(contents.records), where


def add_merge(sub: Subparsers) -> None:
    p = sub.add_parser("merge", help="join shard run directories into one run")
    p.add_argument("runs", nargs="+", help="run directories of one suite configuration (e.g. the shards)")
    p.add_argument("--out", required=True, help="the merged run directory (must not exist)")
    p.set_defaults(func=cmd_merge)


def cmd_merge(args: argparse.Namespace) -> int:
    from gtnbench.run.merge import merge_runs

    summary = merge_runs([Path(p) for p in args.runs], Path(args.out))
    print_line(
        err_console,
        f"merged {plural(len(args.runs), 'run')} into {summary.path}: "
        f"{plural(summary.records, 'record')} of {plural(summary.trials_expected, 'trial')}, "
        f"{plural(summary.duplicates_dropped, 'exact duplicate')} dropped",
    )
    print(summary.path)
    return 0
