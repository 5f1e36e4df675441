"""The NAS-Bench-Macro (CIFAR-10) ground truth that ships with gtnbench (data/NOTICE.md: provenance).

One row per architecture (6,561 = 3^8). Index order: the codes sorted, so index i is the
code whose eight digits are i written in base 3 ("00000000" = 0, "00000012" = 5,
"22222222" = 6560). Columns as in the benchmark's JSON: CIFAR-10 test accuracy of each of
its three training runs, their mean and standard deviation, parameters and FLOPs (here in
millions, the unit of the NAS-Bench-201 table). The same interface as nas.table.GroundTruth.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from functools import cache
from pathlib import Path

import numpy as np

from gtnbench.errors import DataError
from gtnbench.models.macro_codes import NUM_LAYERS, canonical_code, parse_code
from gtnbench.nas.table import (
    MEAN_OVER_SEEDS,
    ONE_SEED,
    ColumnInfo,
    GroundTruth,
    iso_classes,
    shipped_table,
    table_bytes,
)

NUM_ARCHS = 3**NUM_LAYERS
SHIPPED = "macro_cifar10.csv.gz"
BENCHMARK = "NAS-Bench-Macro"
SEEDS = 3
DATASET = "cifar10"
SCHEDULE = "50 epochs"

COLUMNS: dict[str, ColumnInfo] = {
    **{
        f"cifar10_test_acc_seed{s}": ColumnInfo(
            DATASET, "test accuracy", SCHEDULE, ONE_SEED, f"training run {s} of {SEEDS}", importable=False
        )
        for s in range(SEEDS)
    },
    "cifar10_test_acc_mean": ColumnInfo(
        DATASET, "test accuracy", SCHEDULE, MEAN_OVER_SEEDS, f"{SEEDS} training runs", importable=False
    ),
    "cifar10_test_acc_std": ColumnInfo(
        DATASET,
        "test accuracy standard deviation",
        SCHEDULE,
        None,
        f"population (ddof=0) over the {SEEDS} training runs",
        importable=False,
    ),
    "cifar10_params_M": ColumnInfo(DATASET, "parameters", importable=False),
    "cifar10_flops_M": ColumnInfo(DATASET, "FLOPs", importable=False),
}
HEADER = ("index", "code", *COLUMNS)
# Source JSON field of each column (test_acc is the list of the three runs).
_SOURCE = {
    "cifar10_test_acc_mean": "mean_acc",
    "cifar10_test_acc_std": "std",
    "cifar10_params_M": "params",
    "cifar10_flops_M": "flops",
}


def code_of(index: int) -> str:
    """The code at `index`: its eight digits are the index in base 3."""
    if not 0 <= index < NUM_ARCHS:
        raise DataError(f"NAS-Bench-Macro: architecture index {index} is outside 0..{NUM_ARCHS - 1}")
    return np.base_repr(index, 3).rjust(NUM_LAYERS, "0")


def index_of_code(code: str) -> int:
    """The index of a code (the inverse of code_of)."""
    try:
        parse_code(code)
    except ValueError as err:
        raise DataError(f"NAS-Bench-Macro: {err}") from err
    return int(code, 3)


def describe_column(name: str) -> str:
    """One line naming exactly what a column holds, e.g. for a report's caption."""
    info = column_info(name)
    if info.schedule:
        seeds = f", {info.seeds}" if info.seeds else ""
        return f"CIFAR-10 {info.metric}, {info.schedule}{seeds} ({BENCHMARK}; {info.note})"
    return f"CIFAR-10 {info.metric} in millions of the benchmark's network at 32x32 input ({BENCHMARK})"


def column_info(name: str) -> ColumnInfo:
    if name not in COLUMNS:
        raise DataError(f"unknown NAS-Bench-Macro column {name!r}; known: {', '.join(COLUMNS)}")
    return COLUMNS[name]


class MacroGroundTruth(GroundTruth):
    """NAS-Bench-Macro's table: GroundTruth's lookups with this benchmark's columns; arch strings are codes.

    iso_class is the smallest index with the same canonical code (models.macro_codes.canonical_code):
    3,969 classes of networks that differ only in where a stage's true identities sit.
    """

    def column(self, name: str) -> np.ndarray:
        column_info(name)
        return self._columns[name]

    def index_of(self, arch_str: str) -> int:
        index_of_code(arch_str)
        return super().index_of(arch_str)


def _millions(count: str) -> str:
    """An integer count as millions with six decimals, exactly ("890666" -> "0.890666")."""
    value = int(count)
    return f"{value // 10**6}.{value % 10**6:06d}"


def build_table(json_path: Path, out: Path) -> None:
    """The shipped table from the benchmark's nas-bench-macro_cifar10.json (numbers kept as the source's text;
    params and flops divided by 10^6 exactly). Same input, same bytes (gzip with mtime 0)."""
    try:
        records = json.loads(Path(json_path).read_text(), parse_float=str, parse_int=str)
    except OSError as err:
        raise DataError(f"{json_path}: cannot read ({err.strerror})") from err
    except ValueError as err:
        raise DataError(f"{json_path}: not JSON ({err})") from err
    if not isinstance(records, dict) or len(records) != NUM_ARCHS:
        raise DataError(f"{json_path}: expected an object of {NUM_ARCHS} architectures")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    for index in range(NUM_ARCHS):
        code = code_of(index)
        record = records.get(code)
        fields = ("test_acc", *_SOURCE.values())
        if not isinstance(record, dict) or any(f not in record for f in fields):
            raise DataError(f"{json_path}: architecture {code!r} is absent or lacks one of {', '.join(fields)}")
        runs = record["test_acc"]
        if not isinstance(runs, list) or len(runs) != SEEDS:
            raise DataError(f"{json_path}: {code}.test_acc should list {SEEDS} accuracies, got {runs!r}")
        try:
            costs = [_millions(record[_SOURCE[name]]) for name in ("cifar10_params_M", "cifar10_flops_M")]
        except ValueError as err:
            raise DataError(f"{json_path}: {code}: params and flops should be integers ({err})") from err
        writer.writerow([str(index), code, *runs, record["mean_acc"], record["std"], *costs])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(text.getvalue().encode("utf-8"), compresslevel=9, mtime=0))


def parse_table(data: bytes, source: str) -> MacroGroundTruth:
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"{source}: not a gzip-compressed UTF-8 CSV ({err})") from err
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, ()))
    if header != HEADER:
        raise DataError(f"{source}: header {list(header)} is not the NAS-Bench-Macro table's {list(HEADER)}")
    rows = list(reader)
    if not rows:
        raise DataError(f"{source}: the table has no rows")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(HEADER):
            raise DataError(f"{source}: line {line} has {len(row)} fields, expected {len(HEADER)}")
        if index_of_code(row[1]) != int(row[0]):
            raise DataError(f"{source}: line {line}: index {row[0]} is not that of code {row[1]}")
    fields = list(zip(*rows))
    try:
        columns = {name: np.array(values, dtype=np.float64) for name, values in zip(COLUMNS, fields[2:])}
    except ValueError as err:
        raise DataError(f"{source}: a value is not a number ({err})") from err
    indices = np.array(fields[0], dtype=np.int64)
    codes = list(fields[1])
    if len(set(codes)) != len(rows):
        raise DataError(f"{source}: a code appears twice")
    iso = indices[iso_classes([canonical_code(code) for code in codes])]
    return MacroGroundTruth(indices, codes, iso, columns, hashlib.sha256(data).hexdigest(), source)


def read_table(path: Path) -> MacroGroundTruth:
    """A table in the shipped format from any file."""
    return parse_table(table_bytes(path, "NAS-Bench-Macro"), str(path))


@cache
def load_table() -> MacroGroundTruth:
    """The shipped table (read once per process)."""
    return shipped_table(SHIPPED, parse_table, NUM_ARCHS)
