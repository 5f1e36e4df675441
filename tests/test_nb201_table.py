import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from gtnbench.errors import DataError, GtnbenchError
from gtnbench.nas import table as nb
from gtnbench.nas.table import COLUMNS, build_table, describe_column, load_table, read_table, write_table

DATA = Path(nb.__file__).parent / "data"
INDEX_1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture
def nb201_dir(real_root) -> Path:
    folder = real_root / "nasbench201"
    if not folder.is_dir():
        pytest.skip(f"{folder} absent")
    return folder


def test_shipped_table_matches_the_published_facts():
    t = load_table()
    assert len(t) == 15625
    assert np.array_equal(t.indices, np.arange(15625))
    assert len(np.unique(t.iso_class)) == 6466
    c10 = t.column("cifar10_test_acc_hp200_mean")
    assert round(float(c10.max()), 4) == 94.3733 and int(c10.argmax()) == 6111
    assert int((c10 == 10.0).sum()) == 341
    assert t.arch(1) == INDEX_1 and t.index_of(INDEX_1) == 1
    for name, best, index in (("cifar100", 73.5133, 9930), ("imagenet16", 47.3111, 857)):
        column = t.column(f"{name}_test_acc_hp200_mean")
        assert round(float(column.max()), 4) == best and int(column.argmax()) == index


def test_iso_class_is_the_smallest_member_of_each_class():
    t = load_table()
    assert np.all(t.iso_class <= t.indices)
    assert np.array_equal(t.iso_class[t.iso_class], t.iso_class)


def test_values_and_units_of_row_one():
    t = load_table()
    assert t.value("cifar10_test_acc_hp200_mean", 1) == pytest.approx(93.66)
    assert t.value("cifar10_test_acc_hp12", 1) == pytest.approx(88.22)
    assert t.value("cifar10_params_M", 1) == pytest.approx(0.802426)  # millions of parameters
    assert t.value("imagenet16_flops_M", 1) == pytest.approx(28.49548)
    assert not any(np.isnan(t.column(name)).any() for name in COLUMNS)


def test_twelve_epoch_column_is_a_different_schedule():
    t = load_table()
    rho = spearmanr(t.column("cifar10_test_acc_hp12"), t.column("cifar10_test_acc_hp200_mean")).statistic
    assert rho == pytest.approx(0.87, abs=0.01)


def test_every_column_names_its_dataset_schedule_and_seeds():
    assert nb.HEADER[:3] == ("index", "arch_str", "iso_class") and len(COLUMNS) == 15
    for name, info in COLUMNS.items():
        assert info.dataset in nb.DATASETS.values()
        if info.metric == "test accuracy":
            assert info.schedule in ("200 epochs", "12 epochs")
            assert info.seeds in ("mean over seeds", "one seed")
        else:
            assert info.metric in ("FLOPs", "parameters") and info.schedule is None
        assert info.dataset in describe_column(name)
    assert describe_column("cifar10_test_acc_hp200_mean") == (
        "cifar10 test accuracy, 200-epoch schedule, mean over seeds (NATS-Bench tss v1.0)"
    )
    assert describe_column("cifar100_test_acc_hp12") == (
        "cifar100 test accuracy, 12-epoch schedule, one seed "
        "(NATS-Bench tss v1.0; each architecture was trained once on this schedule)"
    )
    assert "one seed" in describe_column("imagenet16_test_acc_hp200_oneseed")
    assert "ImageNet16-120 parameters in millions" in describe_column("imagenet16_params_M")
    assert COLUMNS["cifar10_test_acc_hp12"].hp == "12"
    assert [n for n, info in COLUMNS.items() if not info.importable] == [
        "cifar10_test_acc_hp200_oneseed",
        "cifar100_test_acc_hp200_oneseed",
        "imagenet16_test_acc_hp200_oneseed",
    ]


def test_unknown_names_raise_clear_errors():
    t = load_table()
    with pytest.raises(GtnbenchError, match="unknown NAS-Bench-201 column 'cifar10_acc'.*cifar10_test_acc_hp200_mean"):
        t.column("cifar10_acc")
    with pytest.raises(GtnbenchError, match="cifar10_acc"):
        describe_column("cifar10_acc")
    with pytest.raises(GtnbenchError, match="not in the table"):
        t.index_of("|none~0|+|none~0|none~1|+|none~0|none~1|none~3|")
    with pytest.raises(GtnbenchError, match="index 15625"):
        t.arch(15625)


def test_table_is_cached_read_only_and_hashed():
    t = load_table()
    assert load_table() is t
    with pytest.raises(ValueError):
        t.column("cifar10_test_acc_hp200_mean")[0] = 0.0
    shipped = (DATA / nb.SHIPPED).read_bytes()
    assert t.sha256 == hashlib.sha256(shipped).hexdigest()
    assert t.sha256 in (DATA / "NOTICE.md").read_text()


def test_rebuilding_from_the_merged_csv_gives_identical_bytes(nb201_dir, tmp_path):
    out = tmp_path / "rebuilt.csv.gz"
    build_table(nb201_dir / "nb201_merged.csv", out)
    assert out.read_bytes() == (DATA / nb.SHIPPED).read_bytes()


def test_write_table_is_deterministic_and_read_back(tmp_path):
    row = ["7", INDEX_1, "1", *("" if "oneseed" in name else "1.500000" for name in COLUMNS)]
    assert write_table(tmp_path / "a.csv.gz", [row]) == 1
    write_table(tmp_path / "b.csv.gz", [row])
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()
    t = read_table(tmp_path / "a.csv.gz")
    assert len(t) == 1 and t.arch(7) == INDEX_1 and t.index_of(INDEX_1) == 7
    assert t.value("cifar10_flops_M", 7) == 1.5 and np.isnan(t.value("cifar10_test_acc_hp200_oneseed", 7))


def test_malformed_tables_raise_data_errors(tmp_path):
    (tmp_path / "plain.csv.gz").write_text("index,arch_str\n")
    with pytest.raises(DataError, match="plain.csv.gz: not a gzip"):
        read_table(tmp_path / "plain.csv.gz")
    (tmp_path / "header.csv.gz").write_bytes(gzip.compress(b"index,arch_str,extra\n1,a,2\n"))
    with pytest.raises(DataError, match="header.csv.gz: header.*'extra'"):
        read_table(tmp_path / "header.csv.gz")
    with pytest.raises(DataError, match="missing.csv.gz: cannot read"):
        read_table(tmp_path / "missing.csv.gz")
    (tmp_path / "merged.csv").write_text("index,arch_str\n0,a\n")
    with pytest.raises(DataError, match="merged.csv: missing columns unique_str"):
        build_table(tmp_path / "merged.csv", tmp_path / "out.csv.gz")
