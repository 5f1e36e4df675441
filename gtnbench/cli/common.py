"""What every command shares: the consoles, the run directories a command reads (default: the latest run),
the problems validation finds, and flags several commands take."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from gtnbench.errors import GtnbenchError, StoreError
from gtnbench.output import escape, print_line, print_markup

# A parser's subcommands, to which each command module adds its own (`add_<command>(sub)`).
Subparsers = argparse._SubParsersAction

console = Console()
err_console = Console(stderr=True)


def runs_or_latest(paths: list[str]) -> list[Path]:
    from gtnbench.store import DEFAULT_RUNS_DIR, latest_run

    if paths:
        return [Path(p) for p in paths]
    latest = latest_run(DEFAULT_RUNS_DIR)
    if latest is None:
        raise StoreError(f"no run given and none found under {DEFAULT_RUNS_DIR}/; run `gtnbench run SUITE` first")
    print_line(err_console, f"using the latest run: {latest}")
    return [latest]


def table_of_runs(paths: list[Path]) -> None:
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


def print_problems(paths: list[Path]) -> int:
    """Validate the runs first: one line per problem on stderr (what follows still runs); the count."""
    from gtnbench.analysis.validate import validate_runs

    return validate_runs(
        paths,
        lambda line: print_markup(err_console, f"[yellow]problem[/] {escape(line)}"),
        lambda line: print_markup(err_console, f"[yellow]warning[/] {escape(line)}"),
    )


def nb201_table_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nb201-table",
        metavar="FILE",
        help="a NAS-Bench-201 table from `gtnbench nb201 import` to use instead of the shipped one "
        "(default: $GTNBENCH_NB201_TABLE, else the shipped table; check, report and compare use the "
        "one a run was made with when its file is there); manifests name its file and "
        "sha256",
    )


def use_nb201_table(args: argparse.Namespace) -> None:
    """--nb201-table: the table every NAS-Bench-201 lookup of this process and its workers reads (checked now)."""
    from gtnbench.nas.table import TABLE_ENV, load_table

    if getattr(args, "nb201_table", None):
        os.environ[TABLE_ENV] = str(Path(args.nb201_table).expanduser().resolve())
        load_table()


def precision_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--precision",
        choices=("ieee", "tf32", "bf16"),
        default="ieee",
        help="float32 arithmetic: ieee (default; every TF32 switch off, read back into the records), "
        "tf32 (matmuls and cuDNN convolutions), bf16 (autocast in plain forward passes; refused "
        "for GTN meta-training)",
    )
