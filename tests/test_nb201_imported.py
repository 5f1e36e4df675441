"""An imported NAS-Bench-201 table in use (`--nb201-table`, $GTNBENCH_NB201_TABLE) and compared with the shipped
one column by column (`gtnbench nb201 compare`)."""

import csv
import gzip
import io
import json
from importlib import resources
from pathlib import Path

import pytest
from rich.console import Console

from gtnbench.analysis.validate import validate_run
from gtnbench.cli import assets, main
from gtnbench.errors import DataError
from gtnbench.nas.spaces import get_space
from gtnbench.nas.table import HEADER, TABLE_ENV, load_shipped, load_table, read_table, write_table
from gtnbench.nas.table_diff import compare_tables
from gtnbench.run import runner
from gtnbench.suite.files import parse_suite
from tests.conftest import make_cifar10_jpeg

COLUMN = "cifar10_test_acc_hp12"


def tiny_rows(shift: float = 0.0, swap: bool = False) -> list[list[str]]:
    """Five rows of a table in the shipped format: column i of row r holds r + i (plus `shift` in the 12-epoch
    CIFAR-10 column, whose last two rows change places when `swap`)."""
    rows = []
    for r in range(5):
        values = [str(r + i) for i in range(len(HEADER) - 3)]
        rows.append([str(r), f"|arch~{r}|", str(r), *values])
    at = HEADER.index(COLUMN)
    for r, row in enumerate(rows):
        row[at] = str(float(row[at]) + shift * r)
    if swap:
        rows[3][at], rows[4][at] = rows[4][at], rows[3][at]
    return rows


def test_tables_compare_column_by_column(tmp_path):
    write_table(tmp_path / "a.csv.gz", tiny_rows())
    b_rows = tiny_rows(shift=0.5, swap=True)[1:]  # one row fewer
    b_rows[0][HEADER.index("cifar10_flops_M")] = ""  # a number only A holds
    write_table(tmp_path / "b.csv.gz", b_rows)
    result = compare_tables(read_table(tmp_path / "a.csv.gz"), read_table(tmp_path / "b.csv.gz"))
    assert (result.rows_a, result.rows_b, result.shared) == (5, 4, 4) and result.same_architectures
    by_name = {c.column: c for c in result.columns}
    assert by_name["cifar100_test_acc_hp12"].max_abs_difference == 0 and by_name["cifar100_test_acc_hp12"].spearman == 1
    hp12 = by_name[COLUMN]
    # A (rows 1-4): 1+k, 2+k, 3+k, 4+k; B: 1.5+k, 3+k, 6+k, 4.5+k (rows 3 and 4 swapped after the shift)
    assert hp12.rows == 4 and hp12.max_abs_difference == pytest.approx(3.0) and hp12.spearman == pytest.approx(0.8)
    flops = by_name["cifar10_flops_M"]
    assert (flops.rows, flops.only_a, flops.only_b) == (3, 1, 0)
    assert [c.column for c in result.exceeds(1.0)] == [COLUMN]


def test_the_compare_command_exits_1_on_other_architectures_or_beyond_the_tolerance(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(assets, "console", Console(width=80))
    write_table(tmp_path / "a.csv.gz", tiny_rows())
    write_table(tmp_path / "b.csv.gz", tiny_rows(shift=0.5))
    args = ["nb201", "compare", str(tmp_path / "b.csv.gz"), "--against", str(tmp_path / "a.csv.gz")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "5 architectures in both" in out and COLUMN in out and "2" in out
    assert main([*args, "--tolerance", "3"]) == 0 and main([*args, "--tolerance", "1"]) == 1
    renamed = tiny_rows()
    renamed[2][1] = "|another~2|"
    write_table(tmp_path / "c.csv.gz", renamed)
    assert main(["nb201", "compare", str(tmp_path / "c.csv.gz"), "--against", str(tmp_path / "a.csv.gz")]) == 1
    assert "arch strings differ on 1" in capsys.readouterr().out


def imported_table(path: Path, index: int = 6111, value: float = 12.5) -> Path:
    """The shipped table with architecture `index`'s 12-epoch CIFAR-10 accuracy replaced: an imported table."""
    data = (resources.files("gtnbench.nas") / "data" / "nb201_tss.csv.gz").read_bytes()
    rows = list(csv.reader(io.StringIO(gzip.decompress(data).decode())))
    rows[index + 1][HEADER.index(COLUMN)] = f"{value}"
    write_table(path, rows[1:])
    return path


@pytest.fixture
def in_use(monkeypatch):
    """Leaves the table choice of the process as it found it, whatever the commands set."""
    monkeypatch.setenv(TABLE_ENV, "")  # recorded, so that the variable is restored after the test
    monkeypatch.delenv(TABLE_ENV)
    yield monkeypatch


def test_nas_show_and_the_search_space_read_the_table_in_use(tmp_path, capsys, in_use):
    table = imported_table(tmp_path / "imported.csv.gz")
    assert main(["nas", "show", "nb201", "6111", "--nb201-table", str(table)]) == 0
    out = capsys.readouterr().out
    assert "12.5000" in out and str(table) in out and read_table(table).sha256 in out
    assert get_space("nb201").table().value(COLUMN, 6111) == 12.5  # the flag set the table of the process
    in_use.setenv(TABLE_ENV, str(tmp_path / "nowhere.csv.gz"))
    assert main(["nas", "show", "nb201", "6111"]) == 2
    in_use.delenv(TABLE_ENV)
    assert load_table() is load_shipped()


def test_a_partial_table_cannot_be_the_table_in_use(tmp_path, in_use):
    write_table(tmp_path / "partial.csv.gz", tiny_rows())
    in_use.setenv(TABLE_ENV, str(tmp_path / "partial.csv.gz"))
    with pytest.raises(DataError, match="5 architectures; a table in use needs all 15,625"):
        load_table()


NAS_SUITE = """
name = "tiny-imported"
dataset = "cifar10"
seeds = [0]

[learner]
name = "cifar10-paper"
widths = [2, 2, 2, 2, 2]

[nas]
architectures = { count = 5, seed = 1 }
search_seeds = 10
bootstrap = 100

[methods.hp12]
kind = "nb201-table"

[methods.free]
kind = "nb201-free"
proxies = ["params", "flops"]

[scales.smoke]
"""


def test_a_run_with_an_imported_table_names_it_and_check_uses_it(tmp_path, fixture_env, in_use, capsys):
    data = make_cifar10_jpeg(tmp_path / "data")
    table = imported_table(tmp_path / "imported.csv.gz")
    in_use.setenv(TABLE_ENV, str(table))
    suite = parse_suite(tmp_path / "tiny.toml", NAS_SUITE)
    summary = runner.run_suite(suite, "smoke", "cpu", data, tmp_path / "run", console=Console(quiet=True))
    manifest = json.loads((summary.path / "manifest.json").read_text())
    sha = read_table(table).sha256
    assert manifest["ground_truth"]["table"] == str(table) and manifest["ground_truth"]["table_sha256"] == sha
    records = [json.loads(line) for line in (summary.path / "records.jsonl").read_text().splitlines()]
    assert {r["details"].get("table_sha256") for r in records if r["kind"] == "nb201-table"} == {sha}
    assert [p for p in validate_run(summary.path) if "data_verified" not in p] == []

    in_use.delenv(TABLE_ENV)  # another process, without the table chosen
    assert any("pass --nb201-table" in p for p in validate_run(summary.path))
    capsys.readouterr()
    main(["check", str(summary.path)])
    err = capsys.readouterr().err
    assert f"using the NAS-Bench-201 table {summary.path} was made with: {table}" in err
    assert "ground_truth.table_sha256" not in err
    assert load_table().value(COLUMN, 6111) == 12.5  # the run's table is the one in use now
