import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gtnbench.errors import DataError, GtnbenchError
from gtnbench.nas.importer import import_official, unique_str
from gtnbench.nas.table import COLUMNS, iso_classes, load_table, read_table

FIXTURE = "nats_fake_torch_dir/NATS-tss-v1_0-3ffb9-simple"
RECORDED = [0, 11, 284]  # the only archs with full records in the official test fixture


@pytest.fixture
def nats_dir(real_root) -> Path:
    folder = real_root / "nasbench201" / FIXTURE
    if not folder.is_dir():
        pytest.skip(f"{folder} absent")
    return folder


def assert_matches_shipped(path: Path, indices: list[int]) -> None:
    imported, shipped = read_table(path), load_table()
    assert imported.indices.tolist() == indices
    for index in indices:
        assert imported.arch(index) == shipped.arch(index)
        assert imported.iso_class[imported.row(index)] == shipped.iso_class[index]
        for name, info in COLUMNS.items():
            got, want = imported.value(name, index), shipped.value(name, index)
            if not info.importable:  # *_hp200_oneseed: the seed the shipped column drew is not recorded
                assert name.endswith("_oneseed") and math.isnan(got)
            else:
                assert got == pytest.approx(want, abs=1e-4 if info.metric == "test accuracy" else 1e-6), name


def test_unique_str_gives_the_shipped_isomorphism_classes():
    table = load_table()
    assert np.array_equal(iso_classes([unique_str(arch) for arch in table.arch_strs]), table.iso_class)
    assert unique_str(table.arch(284)) == "#+#+(0)@nor_conv_1x1"
    assert unique_str(table.arch(1)) == (
        "((0)@nor_conv_3x3)@avg_pool_3x3+(0)@nor_conv_3x3+((0)@nor_conv_3x3)@nor_conv_3x3+0"
    )


def test_unique_str_agrees_with_the_official_api(nats_dir):
    nats_bench = pytest.importorskip("nats_bench")
    api = nats_bench.create(str(nats_dir), "tss", fast_mode=True, verbose=False)
    assert all(unique_str(api.arch(i)) == api.get_unique_str(i) for i in range(0, len(api), 7))


def test_import_from_the_official_nats_archive_reproduces_the_shipped_rows(nats_dir, tmp_path):
    pytest.importorskip("nats_bench")
    out = tmp_path / "imported.csv.gz"
    assert import_official(nats_dir, out, [284, 0, 11]) == 3
    assert_matches_shipped(out, RECORDED)


def test_import_from_a_nas_bench_201_pth_reproduces_the_shipped_rows(nats_dir, tmp_path):
    """A .pth in NAS-Bench-201's layout ({'less': hp 12, 'full': hp 200} per arch), made of the official records."""
    pytest.importorskip("nas_201_api")
    pickle_load = pytest.importorskip("nats_bench.api_utils").pickle_load

    meta = pickle_load(str(nats_dir / "meta.pickle.pbz2"))
    records = {i: pickle_load(str(nats_dir / f"{i:06d}.pickle.pbz2")) for i in RECORDED}
    infos = {i: {"less": record["12"], "full": record["200"]} for i, record in records.items()}
    torch.save(
        {"meta_archs": meta["meta_archs"], "arch2infos": infos, "evaluated_indexes": RECORDED},
        tmp_path / "NAS-Bench-201-fake.pth",
    )
    out = tmp_path / "imported.csv.gz"
    assert import_official(tmp_path / "NAS-Bench-201-fake.pth", out, [11]) == 1
    assert_matches_shipped(out, [11])


def test_an_architecture_without_a_record_is_named(nats_dir, tmp_path):
    pytest.importorskip("nats_bench")
    with pytest.raises(DataError, match="no usable record for architecture 5"):
        import_official(nats_dir, tmp_path / "out.csv.gz", [0, 5])


def test_bad_arguments_raise_data_errors(tmp_path):
    with pytest.raises(DataError, match="nowhere: not found"):
        import_official(tmp_path / "nowhere", tmp_path / "out.csv.gz")
    with pytest.raises(DataError, match="indices: expected distinct integers in 0..15624"):
        import_official(tmp_path, tmp_path / "out.csv.gz", [15625])
    with pytest.raises(DataError, match=r"repeated: \[1\]"):
        import_official(tmp_path, tmp_path / "out.csv.gz", [1, 1])


@pytest.mark.parametrize(("module", "name"), [("nats_bench", "archive"), ("nas_201_api", "file.pth")])
def test_missing_api_packages_say_how_to_install_them(monkeypatch, tmp_path, module, name):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    source = tmp_path / name
    if name == "archive":
        source.mkdir()
    else:
        source.write_bytes(b"")
    with pytest.raises(GtnbenchError, match=f'needs the {module} package: pip install "gtnbench\\[nb201\\]"'):
        import_official(source, tmp_path / "out.csv.gz")
