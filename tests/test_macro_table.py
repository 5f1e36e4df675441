import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from gtnbench.errors import DataError, GtnbenchError
from gtnbench.nas import macro_table as mt
from gtnbench.nas.macro_table import (
    COLUMNS,
    build_table,
    code_of,
    describe_column,
    index_of_code,
    load_table,
    read_table,
)

DATA = Path(mt.__file__).parent / "data"
SOURCE_SHA256 = "686dee8363cc21cca8c1f321ad5749454f2d9b9ca5972682e137e539bc522297"


@pytest.fixture
def macro_json(real_root) -> Path:
    path = real_root / "nasbench-macro" / "nas-bench-macro_cifar10.json"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    return path


def test_shipped_table_matches_the_published_facts():
    t = load_table()
    assert len(t) == 6561 and np.array_equal(t.indices, np.arange(6561))
    mean = t.column("cifar10_test_acc_mean")
    assert round(float(mean.max()), 2) == 93.13 and t.arch(int(mean.argmax())) == "22212202"
    assert round(float(mean.mean()), 2) == 90.25 and round(float(mean.min()), 2) == 45.36
    assert t.value("cifar10_params_M", 0) == pytest.approx(0.387882) and t.value("cifar10_flops_M", 0) == 7.71328
    assert not any(np.isnan(t.column(name)).any() for name in COLUMNS)


def test_index_order_is_the_code_in_base_three():
    t = load_table()
    assert t.arch_strs == sorted(t.arch_strs)
    assert [code_of(i) for i in (0, 5, 6560)] == ["00000000", "00000012", "22222222"]
    assert all(index_of_code(code_of(i)) == i == t.index_of(t.arch(i)) for i in range(0, 6561, 97))


def test_mean_and_std_are_those_of_the_three_runs():
    t = load_table()
    runs = np.stack([t.column(f"cifar10_test_acc_seed{s}") for s in range(3)])
    assert np.allclose(runs.mean(axis=0), t.column("cifar10_test_acc_mean"))
    assert np.allclose(runs.std(axis=0), t.column("cifar10_test_acc_std"))  # population std (ddof=0)


def test_rows_of_one_class_are_copies_of_one_training():
    """The benchmark trained 3,969 canonical codes and copied their records to the equivalent ones."""
    t = load_table()
    assert len(np.unique(t.iso_class)) == 3969
    assert np.all(t.iso_class <= t.indices) and np.array_equal(t.iso_class[t.iso_class], t.iso_class)
    assert t.iso_class[t.index_of("00000010")] == t.index_of("00000001")
    for name in COLUMNS:
        column = t.column(name)
        assert np.array_equal(column, column[t.iso_class]), name


def test_every_column_is_described():
    assert mt.HEADER[:2] == ("index", "code") and len(COLUMNS) == 7
    for name in COLUMNS:
        assert "NAS-Bench-Macro" in describe_column(name) and "CIFAR-10" in describe_column(name)
    assert describe_column("cifar10_test_acc_mean") == (
        "CIFAR-10 test accuracy, 50 epochs, mean over seeds (NAS-Bench-Macro; 3 training runs)"
    )
    assert "run 1 of 3" in describe_column("cifar10_test_acc_seed1")
    assert "FLOPs in millions" in describe_column("cifar10_flops_M")


def test_unknown_names_raise_clear_errors():
    t = load_table()
    with pytest.raises(GtnbenchError, match="unknown NAS-Bench-Macro column 'cifar10_test_acc_hp200_mean'"):
        t.column("cifar10_test_acc_hp200_mean")
    with pytest.raises(GtnbenchError, match="'0201210': expected 8 digits"):
        t.index_of("0201210")
    with pytest.raises(GtnbenchError, match="index 6561"):
        t.arch(6561)
    with pytest.raises(GtnbenchError, match="outside 0..6560"):
        code_of(-1)


def test_table_is_cached_read_only_and_hashed():
    t = load_table()
    assert load_table() is t
    with pytest.raises(ValueError):
        t.column("cifar10_test_acc_mean")[0] = 0.0
    shipped = (DATA / mt.SHIPPED).read_bytes()
    notice = (DATA / "NOTICE.md").read_text()
    assert t.sha256 == hashlib.sha256(shipped).hexdigest() and t.sha256 in notice and SOURCE_SHA256 in notice
    assert "Apache License" in notice and "Copyright 2021 Xiu Su" in notice
    assert "NAS-Bench-201" in notice  # the other table's notice is kept


def test_rebuilding_from_the_json_gives_identical_bytes_and_values(macro_json, tmp_path):
    assert hashlib.sha256(macro_json.read_bytes()).hexdigest() == SOURCE_SHA256
    out = tmp_path / "rebuilt.csv.gz"
    build_table(macro_json, out)
    assert out.read_bytes() == (DATA / mt.SHIPPED).read_bytes()
    t, source = load_table(), json.loads(macro_json.read_text())
    for code, record in source.items():
        i = t.index_of(code)
        assert [t.value(f"cifar10_test_acc_seed{s}", i) for s in range(3)] == record["test_acc"]
        assert t.value("cifar10_test_acc_mean", i) == record["mean_acc"]
        assert t.value("cifar10_test_acc_std", i) == record["std"]
        assert round(t.value("cifar10_params_M", i) * 1e6) == record["params"]
        assert round(t.value("cifar10_flops_M", i) * 1e6) == record["flops"]


def test_malformed_sources_and_tables_raise_data_errors(tmp_path):
    (tmp_path / "few.json").write_text(json.dumps({"00000000": {}}))
    with pytest.raises(DataError, match="few.json: expected an object of 6561"):
        build_table(tmp_path / "few.json", tmp_path / "out.csv.gz")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="bad.json: not JSON"):
        build_table(tmp_path / "bad.json", tmp_path / "out.csv.gz")
    record = {"test_acc": [1.0, 2.0, 3.0], "mean_acc": 2.0, "std": 0.8, "params": 1, "flops": 2}
    records = {code_of(i): record for i in range(6561)}
    (tmp_path / "lacks.json").write_text(json.dumps({**records, "00000000": {"test_acc": [1.0]}}))
    with pytest.raises(DataError, match="lacks.json: architecture '00000000' is absent or lacks"):
        build_table(tmp_path / "lacks.json", tmp_path / "out.csv.gz")
    (tmp_path / "float.json").write_text(json.dumps({**records, "00000001": {**record, "params": 1.5}}))
    with pytest.raises(DataError, match="float.json: 00000001: params and flops should be integers"):
        build_table(tmp_path / "float.json", tmp_path / "out.csv.gz")
    (tmp_path / "ok.json").write_text(json.dumps(records))
    build_table(tmp_path / "ok.json", tmp_path / "ok.csv.gz")
    assert read_table(tmp_path / "ok.csv.gz").value("cifar10_params_M", 6560) == 1e-6
    (tmp_path / "header.csv.gz").write_bytes(gzip.compress(b"index,code\n0,00000000\n"))
    with pytest.raises(DataError, match="header.csv.gz: header"):
        read_table(tmp_path / "header.csv.gz")
    header = ",".join(mt.HEADER).encode()
    (tmp_path / "order.csv.gz").write_bytes(gzip.compress(header + b"\n1,00000000" + b",1" * 7 + b"\n"))
    with pytest.raises(DataError, match="order.csv.gz: line 2: index 1 is not that of code 00000000"):
        read_table(tmp_path / "order.csv.gz")
    with pytest.raises(DataError, match="missing.csv.gz: cannot read"):
        read_table(tmp_path / "missing.csv.gz")
