"""The NAS-Bench-201 / NATS-Bench tss ground truth that ships with gtnbench (data/NOTICE.md: provenance).

One row per cell (15,625, row i = official index i): its arch string, its isomorphism
class, test accuracies and costs. Every number lives in a named column and COLUMNS says
exactly what it measures (data set, schedule, seeds), so a result can name its ground truth.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import TypeVar

import numpy as np

from gtnbench.errors import DataError

T = TypeVar("T")

NUM_ARCHS = 15625
SHIPPED = "nb201_tss.csv.gz"
TABLE_ENV = "GTNBENCH_NB201_TABLE"  # an imported table to use instead of the shipped one
BENCHMARK = "NATS-Bench tss v1.0"
# Our short data set keys -> the official names (the API's `dataset` argument).
DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "ImageNet16-120"}
MEAN_OVER_SEEDS = "mean over seeds"
ONE_SEED = "one seed"


@dataclass(frozen=True)
class ColumnInfo:
    """What one column measures. Accuracies are in percent, costs in millions."""

    dataset: str  # official name: cifar10, cifar100 or ImageNet16-120
    metric: str  # "test accuracy", "FLOPs" or "parameters"
    schedule: str | None = None  # "200 epochs" or "12 epochs" (accuracies only)
    seeds: str | None = None  # MEAN_OVER_SEEDS or ONE_SEED (accuracies only)
    note: str = ""
    importable: bool = True  # the official API gives it back (nas.importer); False: which seed is unknown

    @property
    def hp(self) -> str | None:
        """The official API's `hp` argument for this schedule ('200' or '12')."""
        return self.schedule.split()[0] if self.schedule else None


def _columns() -> dict[str, ColumnInfo]:
    accuracy = {
        "hp200_mean": ("200 epochs", MEAN_OVER_SEEDS, "", True),
        "hp200_oneseed": ("200 epochs", ONE_SEED, "the seed was drawn at random per architecture and data set", False),
        "hp12": ("12 epochs", ONE_SEED, "each architecture was trained once on this schedule", True),
    }
    columns = {
        f"{key}_test_acc_{suffix}": ColumnInfo(name, "test accuracy", schedule, seeds, note, importable)
        for suffix, (schedule, seeds, note, importable) in accuracy.items()
        for key, name in DATASETS.items()
    }
    for key, name in DATASETS.items():
        columns[f"{key}_flops_M"] = ColumnInfo(name, "FLOPs")
        columns[f"{key}_params_M"] = ColumnInfo(name, "parameters")
    return columns


COLUMNS: dict[str, ColumnInfo] = _columns()
HEADER = ("index", "arch_str", "iso_class", *COLUMNS)


def describe_column(name: str) -> str:
    """One line naming exactly what a column holds, e.g. for a report's caption."""
    info = column_info(name)
    if info.metric == "test accuracy":
        note = f"; {info.note}" if info.note else ""
        return f"{info.dataset} test accuracy, {info.hp}-epoch schedule, {info.seeds} ({BENCHMARK}{note})"
    size = "16x16" if info.dataset == "ImageNet16-120" else "32x32"
    return (
        f"{info.dataset} {info.metric} in millions of the C=16, N=5 network at {size} input "
        f"(computed with xautodl 1.0.0; equal to {BENCHMARK} get_cost_info)"
    )


def column_info(name: str) -> ColumnInfo:
    if name not in COLUMNS:
        raise DataError(f"unknown NAS-Bench-201 column {name!r}; known: {', '.join(COLUMNS)}")
    return COLUMNS[name]


class GroundTruth:
    """A table in the shipped format: arrays aligned by row, read-only; lookups by official index."""

    def __init__(
        self,
        indices: np.ndarray,
        arch_strs: list[str],
        iso_class: np.ndarray,
        columns: dict[str, np.ndarray],
        sha256: str,
        source: str,
    ) -> None:
        self.indices = indices
        self.arch_strs = arch_strs
        self.iso_class = iso_class
        self.sha256 = sha256
        self.source = source
        self._columns = columns
        self._rows = {int(index): row for row, index in enumerate(indices)}
        self._by_arch = {arch: int(index) for arch, index in zip(arch_strs, indices)}
        for array in (indices, iso_class, *columns.values()):
            array.setflags(write=False)

    def __len__(self) -> int:
        return len(self.arch_strs)

    def column(self, name: str) -> np.ndarray:
        """The column's values in row order (NaN where the table has none)."""
        column_info(name)
        return self._columns[name]

    def row(self, index: int) -> int:
        """The row that holds architecture `index`."""
        if index not in self._rows:
            raise DataError(f"{self.source}: no row for architecture index {index}")
        return self._rows[index]

    def value(self, name: str, index: int) -> float:
        """Column `name` of architecture `index`."""
        return float(self.column(name)[self.row(index)])

    def index_of(self, arch_str: str) -> int:
        if arch_str not in self._by_arch:
            raise DataError(f"{self.source}: architecture {arch_str!r} is not in the table")
        return self._by_arch[arch_str]

    def arch(self, index: int) -> str:
        return self.arch_strs[self.row(index)]


def iso_classes(keys: Sequence[str]) -> np.ndarray:
    """For each position, the smallest position with the same key (the class's representative)."""
    first: dict[str, int] = {}
    return np.array([first.setdefault(key, position) for position, key in enumerate(keys)], dtype=np.int64)


def write_table(out: Path, rows: Iterable[Sequence[str]]) -> int:
    """Write rows (fields as text, in HEADER order) as gzip with mtime 0: same rows, same bytes. Returns the count."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for row in rows:
        if len(row) != len(HEADER):
            raise ValueError(f"row {count} has {len(row)} fields, expected {len(HEADER)}")
        writer.writerow(row)
        count += 1
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(text.getvalue().encode("utf-8"), compresslevel=9, mtime=0))
    return count


def build_table(merged_csv: Path, out: Path) -> None:
    """The shipped table from the data folder's nb201_merged.csv: its numbers kept as text, plus iso_class.

    iso_class is the smallest index with the same `unique_str`, the official isomorphism
    key (NATS-Bench's get_unique_str).
    """
    source = {name: name.replace("_params_M", "_params_MB") for name in COLUMNS}
    try:
        with open(merged_csv, newline="") as handle:
            reader = csv.DictReader(handle)
            records = list(reader)
            fields = reader.fieldnames or []
    except OSError as err:
        raise DataError(f"{merged_csv}: cannot read ({err.strerror})") from err
    missing = [name for name in ("index", "arch_str", "unique_str", *source.values()) if name not in fields]
    if missing:
        raise DataError(f"{merged_csv}: missing columns {', '.join(missing)}")
    if len(records) != NUM_ARCHS:
        raise DataError(f"{merged_csv}: {len(records)} rows, expected {NUM_ARCHS}")
    for position, record in enumerate(records):
        if record["index"] != str(position):
            raise DataError(f"{merged_csv}: line {position + 2} has index {record['index']!r}, expected {position}")
    iso = iso_classes([record["unique_str"] for record in records])
    rows = ([r["index"], r["arch_str"], str(c), *(r[source[name]] for name in COLUMNS)] for r, c in zip(records, iso))
    write_table(out, rows)


def table_bytes(path: Path, benchmark: str) -> bytes:
    """A table file's bytes, or one line naming the file and why it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read the {benchmark} table ({err.strerror})") from err


def shipped_table(file: str, parse: Callable[[bytes, str], T], rows: int) -> T:
    """A table shipped in gtnbench/nas/data, parsed and checked for its number of rows."""
    name = f"gtnbench/nas/data/{file}"
    try:
        data = (resources.files("gtnbench.nas") / "data" / file).read_bytes()
    except OSError as err:
        raise DataError(f"{name}: cannot read the shipped table ({err}); reinstall gtnbench") from err
    table = parse(data, name)
    if len(table) != rows:
        raise DataError(f"{name}: {len(table)} rows, expected {rows}; reinstall gtnbench")
    return table


def read_table(path: Path) -> GroundTruth:
    """A table in the shipped format from any file (e.g. one written by nas.importer)."""
    return parse_table(table_bytes(path, "NAS-Bench-201"), str(path))


@cache
def load_shipped() -> GroundTruth:
    """The shipped table (read once per process)."""
    return shipped_table(SHIPPED, parse_table, NUM_ARCHS)


def table_path() -> Path | None:
    """The imported table $GTNBENCH_NB201_TABLE names (absolute), or None: the shipped one is in use."""
    value = os.environ.get(TABLE_ENV)
    return Path(value).expanduser().resolve() if value else None


def load_table() -> GroundTruth:
    """The NAS-Bench-201 table in use: the file $GTNBENCH_NB201_TABLE names (`--nb201-table`: a table
    `gtnbench nb201 import` wrote), else the shipped one. Runs, `nas show`, `check` and `report` all read
    it; a manifest names its file and sha256."""
    path = table_path()
    return load_shipped() if path is None else _imported(path)


@lru_cache(maxsize=4)
def _imported(path: Path) -> GroundTruth:
    table = read_table(path)
    if len(table) != NUM_ARCHS or set(table.indices.tolist()) != set(range(NUM_ARCHS)):
        raise DataError(
            f"{path} (${TABLE_ENV}): {len(table):,} architectures; a table in use needs all "
            f"{NUM_ARCHS:,} (import it without --indices)"
        )
    return table


def parse_table(data: bytes, source: str) -> GroundTruth:
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"{source}: not a gzip-compressed UTF-8 CSV ({err})") from err
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, ()))
    if header != HEADER:
        extra, absent = set(header) - set(HEADER), set(HEADER) - set(header)
        raise DataError(
            f"{source}: header is not the NAS-Bench-201 table's (unexpected: {sorted(extra)}, "
            f"missing: {sorted(absent)}, or another order)"
        )
    rows = list(reader)
    if not rows:
        raise DataError(f"{source}: the table has no rows")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(HEADER):
            raise DataError(f"{source}: line {line} has {len(row)} fields, expected {len(HEADER)}")
    fields = list(zip(*rows))
    try:
        indices = np.array(fields[0], dtype=np.int64)
        iso = np.array(fields[2], dtype=np.int64)
        columns = {
            name: np.array([v or "nan" for v in values], dtype=np.float64) for name, values in zip(COLUMNS, fields[3:])
        }
    except ValueError as err:
        raise DataError(f"{source}: a value is not a number ({err})") from err
    arch_strs = list(fields[1])
    if len(set(indices.tolist())) != len(rows) or len(set(arch_strs)) != len(rows):
        raise DataError(f"{source}: an index or arch string appears twice")
    return GroundTruth(indices, arch_strs, iso, columns, hashlib.sha256(data).hexdigest(), source)
