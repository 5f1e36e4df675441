"""End to end on the real data, as a new user runs them: the smoke scales of the small-set teacher suites.

These run in CI (GTNBENCH_DATA=../shared/data) and skip without the data. They take minutes.
"""

import csv

import pytest

from tests.conftest import REPO
from tests.test_e2e import data_root, gtnbench, run_suite  # noqa: F401 (data_root is a fixture)

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_mnist_teachers_smoke_reports_the_sets_side_by_side_with_their_anchors(tmp_path, data_root):  # noqa: F811
    run = run_suite("mnist-teachers", tmp_path, data_root)
    check = gtnbench("check", str(run), cwd=REPO, root=data_root)
    assert check.returncode == 0, check.stdout[-3000:]
    for claim in ("DC-MNIST-1", "DC-MNIST-10", "DC-MNIST-50"):
        assert claim in check.stdout
    assert "not judged at this scale" in check.stdout
    report = gtnbench("report", str(run), cwd=REPO, root=data_root)
    assert report.returncode == 0, report.stderr[-3000:]
    summary = (run / "report" / "summary.md").read_text()
    assert "## Small-set teachers: mnist-teachers (smoke) on MNIST" in summary
    for method in ("subset-10", "herding-t", "kmeans-50", "dm-10", "dc-1", "gtn-set"):
        assert f"| {method} |" in summary and f"{method}__steps=16__seed=0/set.png" in summary
    assert "| real-fewstep | real | real data, tuned |" in summary


def test_cifar10_teachers_smoke_labels_the_jpeg_copy(tmp_path, data_root):  # noqa: F811
    run = run_suite("cifar10-teachers", tmp_path, data_root)
    check = gtnbench("check", str(run), cwd=REPO, root=data_root)
    assert "DM-CIFAR10-10" in check.stdout and "CIFAR-10 (JPEG copy)" in check.stdout
    report = gtnbench("report", str(run), cwd=REPO, root=data_root)
    assert report.returncode == 0 and "CIFAR-10 (JPEG copy)" in (run / "report" / "summary.md").read_text()


def test_nb201_teachers_smoke_ranks_cells_by_each_set(tmp_path, data_root):  # noqa: F811
    run = run_suite("nb201-teachers", tmp_path, data_root)
    check = gtnbench("check", str(run), cwd=REPO, root=data_root)
    for claim in ("DCB-NAS-DC", "DCB-NAS-DSA", "DCB-NAS-DM", "DCB-NAS-RANDOM", "DCB-NAS-KMEANS"):
        assert claim in check.stdout
    report = gtnbench("report", str(run), cwd=REPO, root=data_root)
    assert report.returncode == 0, report.stderr[-3000:]
    rows = {row["proxy"] for row in csv.DictReader(open(run / "report" / "nb201_proxies.csv"))}
    assert {"subset-proxy@16", "kmeans-proxy@16", "dc-proxy@16", "dsa-proxy@16", "dm-proxy@16", "gtn@8",
            "real@16", "hp12", "free:naswot"} <= rows  # fmt: skip
