"""Output that survives a pipe and an 80-column terminal: no name split, no markup read from user data."""

import io
import json
import os
import re
import subprocess
import sys

import pytest
from rich.console import Console
from rich.table import Table

from gtnbench.analysis.records import latest_records, load_runs
from gtnbench.claims import judge_all
from gtnbench.cli import main
from gtnbench.output import plural, print_table
from gtnbench.perf.costs import describe_unit
from gtnbench.perf.plan import needed_keys, split_sizes, works
from gtnbench.suite.files import find_suite, load_suite, suite_paths
from gtnbench.suite.trials import expand
from tests.conftest import use_consoles
from tests.runs import RUN_SUITE, make_run

NAMES = (
    "mnist-teachers",
    "gtn-no-curriculum",
    "outer_iteration_seconds",
    "DCB-NAS-KMEANS",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
)


def wide_table() -> Table:
    table = Table(title="names")
    for column in ("suite", "method", "metric", "claim", "arch"):
        table.add_column(column)
    table.add_row(*NAMES)
    table.add_row("smoke", "real-fewstep", "test_acc", "C1", "a short arch")
    return table


def lines_of(console: Console) -> list[str]:
    return console.file.getvalue().splitlines()


def test_in_a_pipe_a_table_is_printed_at_its_natural_width():
    console = Console(file=io.StringIO(), width=80)
    print_table(console, wide_table())
    text = console.file.getvalue()
    assert all(any(name in line for line in text.splitlines()) for name in NAMES)
    assert text.splitlines()[0] == "names"  # the title on a line of its own
    row = next(line for line in text.splitlines() if "mnist-teachers" in line)
    assert all(name in row for name in NAMES)  # one row, one line: grep finds it


def test_on_an_80_column_terminal_a_table_that_cannot_fit_becomes_one_block_per_row():
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    print_table(console, wide_table())
    text = console.file.getvalue()
    assert "suite: mnist-teachers" in text and "  arch: " + NAMES[-1] in text
    assert all(len(line) <= 80 for line in text.splitlines() if NAMES[-1] not in line)


def test_on_a_terminal_cells_wrap_at_spaces_only():
    table = Table(title="t")
    table.add_column("method")
    table.add_column("description")
    table.add_row("gtn-no-curriculum", "the GTN meta-trained without a curriculum, " * 4)
    console = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
    print_table(console, table)
    lines = lines_of(console)
    assert any("gtn-no-curriculum" in line for line in lines) and all(len(line) <= 60 for line in lines)
    assert sum("meta-trained" in line for line in lines) == 4  # no word broken across lines
    assert any(line.startswith("┏") for line in lines)  # still a table: its words fit


def test_plurals():
    assert (plural(1, "seed"), plural(2, "seed"), plural(0, "trial"), plural(1_500, "row")) == (
        "1 seed",
        "2 seeds",
        "0 trials",
        "1,500 rows",
    )


@pytest.fixture
def piped(monkeypatch, capsys):
    """The command line's consoles as in `gtnbench ... | cat` at COLUMNS=80; returns a runner of commands."""
    monkeypatch.setenv("COLUMNS", "80")
    use_consoles(monkeypatch, Console(force_terminal=False), Console(stderr=True, force_terminal=False))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main(list(args))
        done = capsys.readouterr()
        return status, done.out, done.err

    return run


def whole(names, text: str) -> list[str]:
    """The names that do not appear whole on a line of `text`."""
    lines = text.splitlines()
    return [name for name in names if not any(name in line for line in lines)]


def test_every_command_piped_at_80_columns_keeps_every_name_whole(piped, tmp_path, tiny_mnist, tiny_suite):
    status, out, _ = piped("list")
    suites = {name: load_suite(path).at() for name, path in suite_paths().items()}
    methods = {m for config in suites.values() for m in config.methods}
    assert status == 0 and whole([*suites, *methods], out) == []
    assert [line.split("│")[1].strip() for line in out.splitlines() if "mnist-teachers" in line] == ["mnist-teachers"]

    status, out, _ = piped("show", "smoke")
    assert status == 0 and whole(find_suite("smoke").at().methods, out) == []

    one_seed = RUN_SUITE.replace("seeds = [0, 1, 2]", "seeds = [0]")
    a, b = make_run(tmp_path / "a", one_seed), make_run(tmp_path / "b", one_seed, offset=0.05)
    records = [json.loads(line) for line in (a / "records.jsonl").read_text().splitlines()]
    metrics = {m for r in records for m in r["metrics"]}
    status, out, _ = piped("compare", str(a), str(b))
    assert status == 1 and whole(["real-fewstep", "gtn", *metrics], out) == []
    assert "one seed: no interval" in out and not re.search(r"\[([+-][\d.]+), \1\]", out)

    status, out, err = piped("check", str(a))
    judged = [v.judged for v in judge_all(latest_records(load_runs([a])), ["C1", "C2"])]
    assert judged and whole(judged, out) == []
    status, out, err = piped("report", str(a), "--out", str(tmp_path / "report"))
    assert status == 0 and out == (tmp_path / "report" / "summary.md").read_text()  # the Markdown as it is
    assert whole(["real-fewstep", "gtn", "![gtn/steps=8/seed=0]"], out) == []

    status, out, err = piped("validate", str(a))
    assert status == 0 and f"{a}: valid" in err
    results = tmp_path / "results"
    make_run(results / "cpu" / "one-run")
    piped("index", str(results))
    status, out, err = piped("index", str(results), "--check")
    assert status == 0 and whole([f"{results / 'README.md'}: the index is current"], err) == []

    status, out, _ = piped("nas", "show", "nb201", "6111")
    assert status == 0 and whole([NAMES[-1], "cifar10_test_acc_hp200_mean", "nb201_tss.csv.gz"], out) == []
    status, out, _ = piped("nas", "show", "macro", "22212202")
    assert status == 0 and whole(["22212202", "cifar10_test_acc_mean"], out) == []

    status, out, err = piped(
        "plan", str(tiny_suite), "--scale", "smoke", "--device", "cpu", "--data-root", str(tiny_mnist)
    )
    assert status == 0 and whole(["real-fewstep", "real-epochs"], out) == []
    assert (
        "measured a training step of the mnist-paper learner (widths 4-8-16, " in err and "batch 16 of 1x28x28" in err
    )
    assert "[" not in err

    status, out, _ = piped("data", "verify", "--data-root", str(tiny_mnist))
    assert (
        status == 1
        and whole(["MNIST/raw/train-images-idx3-ubyte", "cifar10-jpeg/cifar10_official_order_index.csv"], out) == []
    )


def test_a_run_directory_named_with_brackets_prints_as_it_is(piped, tmp_path):
    run = make_run(tmp_path / "[bold]run[/bold] [x]")
    status, out, err = piped("report", str(run), "--out", str(run / "report"), "--quiet")
    assert status == 0 and f"wrote {run / 'report' / 'summary.md'}" in err
    status, out, err = piped("check", str(run), "--against", str(run))
    assert f"within tolerance of {run}" in out


def test_plan_says_what_it_measured_in_words():
    keys = []
    for suite in ("smoke", "mnist-curriculum", "nb201-gtn", "macro-rankcorr"):
        config = find_suite(suite).at("smoke")
        keys += needed_keys(works(config, expand(config), split_sizes(config)[0]))
    learner = ("mnist-paper", (8, 16), True, False, None, None)
    keys += [
        ("embed", learner, (1, 28, 28)),
        ("select", "kmeans", learner, (1, 28, 28), 5000, 10),
        ("dm", learner, (1, 28, 28), 10, 256, ("crop",), "real"),
        ("dc", learner, (1, 28, 28), 10, 10, 50, 256, 256, (), "noise"),
    ]
    kinds = {key[0] for key in keys}
    assert {
        "plain",
        "eval",
        "outer",
        "gtn-plain",
        "cell",
        "cell-eval",
        "free",
        "generate",
        "embed",
        "select",
        "dm",
        "dc",
    } <= kinds
    for key in keys:
        what, unit = describe_unit(key)
        assert not re.search(r"\[|\]|None|True|False|\(\d+, \d+", what), what
        assert unit in ("step", "image", "inner step", "batch", "network", "class", "iteration")


def test_list_piped_through_grep_finds_a_suite(tmp_path):
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("FORCE_COLOR", None)
    listing = subprocess.run(
        [sys.executable, "-m", "gtnbench", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = [line.split("│")[1].strip() for line in listing.splitlines() if "mnist-teachers" in line]
    assert found == ["mnist-teachers"]
