"""Commands that read run directories: report, check (and the calibration of its rules), export, compare,
validate, index."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from rich.table import Table
from rich.text import Text

from gtnbench.cli.common import (
    Subparsers,
    console,
    err_console,
    nb201_table_flag,
    print_problems,
    runs_or_latest,
    table_of_runs,
)
from gtnbench.errors import GtnbenchError
from gtnbench.output import escape, plural, print_line, print_markup, print_table


def add_report(sub: Subparsers) -> None:
    p = sub.add_parser("report", help="write Markdown/CSV/LaTeX tables and PNG plots of runs")
    p.add_argument("runs", nargs="*", help="run directories (default: the latest under runs/)")
    p.add_argument("--out", help="output folder (default: <first run>/report)")
    p.add_argument("--quiet", action="store_true", help="do not print the Markdown summary")
    nb201_table_flag(p)
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from gtnbench.analysis.records import load_runs
    from gtnbench.report.summary import write_report

    paths = runs_or_latest(args.runs)
    table_of_runs(paths)
    print_problems(paths)
    runs = load_runs(paths)
    out = Path(args.out) if args.out else paths[0] / "report"
    report = write_report(runs, out)
    if not args.quiet:
        sys.stdout.write(report.markdown)  # Markdown as it is: a pager or a Markdown viewer renders it
        sys.stdout.flush()
    for file in report.files:
        print_line(err_console, f"wrote {file}")
    return 0


def add_check(sub: Subparsers) -> None:
    p = sub.add_parser(
        "check",
        help="verdicts on the paper's claims; regression check against a reference",
        description="Print, for each claim the runs' suites test, the measured value, the claimed "
        "one and a verdict. With --against REF, also compare every metric with the reference run "
        "within the suite's tolerances and exit 1 on any violation or failed trial.",
    )
    p.add_argument("runs", nargs="*", help="run directories (default: the latest under runs/)")
    p.add_argument("--against", metavar="REF", help="reference run directory, e.g. results/reference/smoke")
    p.add_argument(
        "--strict",
        action="store_true",
        help="also exit 1 when a claim is judged not reproduced or the runs fail validation",
    )
    p.add_argument(
        "--relax",
        type=float,
        metavar="R",
        help="threshold sensitivity: also judge every claim with its threshold moved by R (e.g. 0.05) of "
        "its unit in either direction, and mark the verdicts that flip",
    )
    p.add_argument(
        "--calibration",
        action="store_true",
        help="instead of judging runs, measure each claim's verdict rule on simulated runs: how often it "
        "says 'reproduced' when the truth sits exactly on the threshold (at most 2.5 %% promised) and at "
        "the paper's value (power), at each bundled suite's paper-scale seed count",
    )
    p.add_argument("--claims", nargs="+", metavar="ID", help="with --calibration: only these claims (default: all)")
    p.add_argument(
        "--reps",
        type=int,
        default=400,
        metavar="N",
        help="with --calibration: simulated runs per row (default 400; NAS claims take seconds each)",
    )
    p.add_argument("--seeds", type=int, metavar="N", help="with --calibration: seeds per run (default: the suite's)")
    p.add_argument(
        "--cells",
        type=int,
        metavar="N",
        help="with --calibration: cells per simulated NAS run (default: the suite's, e.g. 1,000)",
    )
    p.add_argument(
        "--out",
        nargs="+",
        metavar="FILE",
        help="with --calibration: also write the rows, as JSON (.json) or as a Markdown table (.md)",
    )
    nb201_table_flag(p)
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    if args.calibration:
        return cmd_calibration(args)
    from gtnbench.analysis.records import latest_records, load_runs
    from gtnbench.analysis.regression import check_expectations, compare
    from gtnbench.claims import NOT_REPRODUCED, verdicts_of
    from gtnbench.claims.render import legend_lines, verdict_table
    from gtnbench.suite.config import Tolerances

    paths = runs_or_latest(args.runs)
    table_of_runs(paths)
    problems = print_problems(paths)
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
            print_markup(
                console,
                f"[green]regression check passed[/]: {plural(result.compared, 'metric')} within "
                f"tolerance of {escape(args.against)}",
            )
        else:
            table = Table(title=f"regression check against {escape(args.against)}: violations")
            for column in ("method", "budget", "metric", "measured", "reference", "tolerance", "problem"):
                table.add_column(column)
            for d in result.deviations:
                measured = "–" if d.measured is None else f"{d.measured:.4f}"
                table.add_row(
                    Text(d.method),
                    Text(d.budget),
                    Text(d.metric),
                    measured,
                    f"{d.reference:.4f}",
                    f"{d.tolerance:.4f}",
                    d.problem,
                )
            if result.deviations:
                print_table(console, table)
            if result.failed_trials:
                print_line(console, f"{plural(result.failed_trials, 'failed trial')} in the run", style="red")
            if result.config_mismatch:
                print_line(console, result.config_mismatch, style="red")
            if not result.compared and not result.config_mismatch:
                print_markup(
                    console, f"[red]nothing to compare[/]: {escape(args.against)} holds no metric with a tolerance"
                )
            status = 1
    return status


def cmd_calibration(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from gtnbench.claims import CLAIMS
    from gtnbench.claims.calibration import calibrate, rows_of
    from gtnbench.claims.render import calibration_table
    from gtnbench.environment import code_version

    wrong = [p for p in args.out or [] if Path(p).suffix not in (".json", ".md")]
    if wrong:
        raise GtnbenchError(f"--out: {wrong[0]!r} is neither .json nor .md")
    unknown = [c for c in args.claims or [] if c not in CLAIMS]
    if unknown:
        raise GtnbenchError(f"--claims: unknown claim {unknown[0]!r}; known: {', '.join(CLAIMS)}")
    if args.reps < 1:
        raise GtnbenchError(f"--reps: at least one simulated run, got {args.reps}")
    chosen = [CLAIMS[c] for c in args.claims] if args.claims else list(CLAIMS.values())
    version = code_version()  # of the code that runs: a commit made while it runs is not it
    columns = (
        TextColumn("calibrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("simulated runs"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("calibrating", total=args.reps * sum(rows_of(c) for c in chosen))
        rows = calibrate(chosen, args.reps, args.seeds, cells=args.cells, on_run=lambda: progress.advance(task))
    print_table(console, calibration_table(rows))
    for path in map(Path, args.out or []):
        write_calibration(path, rows, version)
        print_line(err_console, f"wrote {path}")
    return 0


def write_calibration(path: Path, rows: list, version: str) -> None:
    """Calibration rows as JSON (with the command and the code version that measured them) or as Markdown."""
    from gtnbench.claims.render import calibration_markdown
    from gtnbench.store import save_json

    command = " ".join(["gtnbench", *sys.argv[1:]])
    if path.suffix == ".md":
        path.write_text(f"Measured by `{command}` ({version}).\n\n{calibration_markdown(rows)}")
        return
    save_json(
        path,
        {
            "command": command,
            "code_version": version,
            "rows": [{**asdict(r), "reproduced": r.reproduced, "error": r.error} for r in rows],
        },
    )


def add_export(sub: Subparsers) -> None:
    p = sub.add_parser(
        "export",
        help="write runs' records as one long table (CSV or Parquet) for pandas and others",
        description="One row per trial and metric with the suite, scale, method, seed, budget, "
        "device, code version and config hash as columns (gtnbench.load_results in Python). "
        "--curves: the within-trial curves instead (gtnbench.load_curves).",
    )
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", required=True, help="the file to write (.csv or .parquet)")
    p.add_argument(
        "--format",
        choices=("csv", "parquet"),
        help='default: from --out\'s suffix, else csv; parquet needs pip install "gtnbench[parquet]"',
    )
    p.add_argument("--curves", action="store_true", help="export the training and meta-training curves")
    nb201_table_flag(p)
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from gtnbench.analysis.frames import load_curves, load_results, write_table

    out = Path(args.out)
    fmt = args.format or ("parquet" if out.suffix == ".parquet" else "csv")
    frame = (load_curves if args.curves else load_results)(*args.runs)
    write_table(frame, out, fmt)
    print_line(err_console, f"wrote {plural(len(frame), 'row')} of {plural(len(args.runs), 'run')} to {out}")
    return 0


def add_compare(sub: Subparsers) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two runs of one suite: per method and metric, B - A with an interval",
        description="For two runs of the same suite at the same scale (on other devices, code "
        "versions or precisions; a changed configuration is allowed and said): both means over "
        "seeds, B - A with a 95 % t interval over seeds (paired when both hold the same seeds, "
        "else Welch), and whether it exceeds the suite's tolerance. NAS runs: per-proxy Spearman, "
        "with a paired bootstrap over architectures. "
        "Exit 1 when a difference exceeds its tolerance, 2 when the runs cannot be compared.",
    )
    p.add_argument("run_a", metavar="RUN_A", help="the run compared with (its suite's tolerances count)")
    p.add_argument("run_b", metavar="RUN_B", help="the other run")
    p.add_argument(
        "--resamples",
        type=int,
        default=2000,
        help="bootstrap resamples of the NAS proxies' architectures (default 2000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of that bootstrap (default 0)")
    nb201_table_flag(p)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from gtnbench.analysis.comparison import compare_runs, format_value

    table_of_runs([Path(args.run_a), Path(args.run_b)])
    result = compare_runs(Path(args.run_a), Path(args.run_b), args.resamples, args.seed)
    for side, run in (("A", result.a), ("B", result.b)):
        manifest = run.manifest
        print_line(console, f"{side}: {run.path} ({manifest.get('device_name')}, {manifest.get('code_version')})")
    for note in result.notes:
        print_line(console, f"differs: {note}", style="yellow")
    if result.metrics:
        table = Table(
            title="B - A per method, budget and metric (accuracies in %; 95 % t interval over seeds, "
            "paired by seed unless marked, else Welch)"
        )
        for column in ("method", "budget", "metric", "A", "B", "B - A [95 % CI]", "tolerance"):
            table.add_column(column)
        for m in result.metrics:
            judged = "[red]exceeds[/]" if m.exceeds else "[green]within[/]"
            verdict = "–" if m.tolerance is None else f"{judged} {format_value(m.metric, m.tolerance)}"
            table.add_row(
                Text(m.method),
                Text(m.budget),
                Text(m.metric),
                format_value(m.metric, m.mean_a),
                format_value(m.metric, m.mean_b),
                _difference_text(m, format_value),
                verdict,
            )
        print_table(console, table)
    if result.proxies:
        table = Table(title="NAS proxies: Spearman with the ground truth (95 % paired bootstrap over architectures)")
        for column in ("proxy", "cells", "A", "B", "B - A [95 % CI]"):
            table.add_column(column)
        for p in result.proxies:
            low, high = p.interval
            interval = "no interval" if low != low or high != high else f"[{low:+.3f}, {high:+.3f}]"
            table.add_row(
                Text(p.proxy),
                str(p.archs),
                f"{p.spearman_a:.3f}",
                f"{p.spearman_b:.3f}",
                f"{p.difference:+.3f} {interval}",
            )
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


def add_validate(sub: Subparsers) -> None:
    p = sub.add_parser(
        "validate",
        help="check run directories before trusting them; exit 1 on any problem",
        description="Manifest and record schema, the config hash against the suite's, every trial "
        "present, statuses, provenance (code and library versions, device, precision), data "
        "verified. One line per problem (exit 1), then one per warning: a code version made from a "
        "dirty tree or without a commit (exit 0 unless --strict).",
    )
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument(
        "--strict",
        action="store_true",
        help="also exit 1 on warnings: a code version that no commit holds (.dirty) or that is unknown "
        "(for runs to be published)",
    )
    nb201_table_flag(p)
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from gtnbench.analysis.validate import run_warnings, validate_run

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


def add_index(sub: Subparsers) -> None:
    p = sub.add_parser("index", help="regenerate the index of published runs in RESULTS/README.md")
    p.add_argument("results", nargs="?", default="results", help="the results folder (default: results)")
    p.add_argument("--check", action="store_true", help="only check that the index is current; exit 1 if stale")
    nb201_table_flag(p)
    p.set_defaults(func=cmd_index)


def cmd_index(args: argparse.Namespace) -> int:
    from gtnbench.report.index import README, update_index

    readme = Path(args.results) / README
    current = update_index(Path(args.results), check=args.check)
    if args.check and not current:
        print_line(
            err_console, f"{readme}: the index of runs is stale; regenerate it with `gtnbench index {args.results}`"
        )
        return 1
    print_line(err_console, f"{readme}: the index is current" if current else f"wrote the index of runs into {readme}")
    return 0
