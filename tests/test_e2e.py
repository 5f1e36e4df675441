"""End to end on the real data, as a new user runs it: the smoke scales of the bundled suites.

These run in CI (GTNBENCH_DATA=../shared/data) and skip without the data. Each suite runs once
(a module fixture) and every test below reads that one run; the tests of one suite share an
xdist group, so under `pytest -n 2` a suite runs on one worker while another suite runs on the other.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, real_data_root

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def data_root():
    root = real_data_root()
    if root is None:
        pytest.skip("real data absent: set GTNBENCH_DATA to a data root (e.g. ../shared/data)")
    return root


def gtnbench(*args, root, cwd=REPO):
    env = {**os.environ, "GTNBENCH_DATA": str(root), "COLUMNS": "240"}
    return subprocess.run([sys.executable, "-m", "gtnbench", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1200)  # fmt: skip


class SmokeRun:
    """One smoke-scale run of a bundled suite, with its report and check output."""

    def __init__(self, suite: str, folder: Path, root: Path) -> None:
        self.path, self.root = folder / suite, root
        done = gtnbench("run", suite, "--scale", "smoke", "--device", "cpu", "--out", str(self.path), root=root)
        assert done.returncode == 0, done.stderr[-3000:]
        self.report = gtnbench("report", str(self.path), root=root)
        assert self.report.returncode == 0, self.report.stderr[-3000:]
        self.check = gtnbench("check", str(self.path), root=root)

    @property
    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in (self.path / "records.jsonl").read_text().splitlines()]

    def proxies(self) -> dict[str, dict]:
        return {row["proxy"]: row for row in csv.DictReader(open(self.path / "report" / "nb201_proxies.csv"))}


def smoke_run(suite: str):
    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory, data_root) -> SmokeRun:
        return SmokeRun(suite, tmp_path_factory.mktemp(suite), data_root)

    return fixture


# -- smoke: the CI regression check ---------------------------------------------------------------
smoke = smoke_run("smoke")
SMOKE = pytest.mark.xdist_group("smoke")


@SMOKE
def test_smoke_matches_the_committed_reference(smoke):
    check = gtnbench("check", str(smoke.path), "--against", "results/reference/smoke", root=smoke.root)
    assert check.returncode == 0, check.stdout[-3000:]
    assert "regression check passed" in check.stdout


@SMOKE
def test_smoke_report_is_a_page_that_validates_and_exports(smoke, tmp_path):
    assert (smoke.path / "report" / "accuracy_vs_steps.png").is_file()
    assert "<!DOCTYPE html>" in (smoke.path / "report" / "index.html").read_text()[:200]
    assert gtnbench("validate", str(smoke.path), root=smoke.root).returncode == 0
    export = gtnbench("export", str(smoke.path), "--format", "csv", "--out", str(tmp_path / "t.csv"), root=smoke.root)
    assert export.returncode == 0 and "test_acc" in (tmp_path / "t.csv").read_text()
    compare = gtnbench("compare", str(smoke.path), "results/reference/smoke", root=smoke.root)
    assert compare.returncode in (0, 1) and "real-fewstep" in compare.stdout


@SMOKE
def test_smoke_records_the_official_batch_norm_protocol(smoke):
    assert set(smoke.manifest["bn_eval"].values()) == {"last-batch"}
    assert all(r["details"]["bn_eval"] == "last-batch" for r in smoke.records if r["status"] == "ok")


# -- mnist-fewstep: C1, C1b, C2 ------------------------------------------------------------------
fewstep = smoke_run("mnist-fewstep")
FEWSTEP = pytest.mark.xdist_group("mnist-fewstep")


@FEWSTEP
def test_mnist_fewstep_names_the_judged_gtn_and_its_baselines(fewstep):
    out = fewstep.check.stdout
    assert fewstep.check.returncode == 0, out[-3000:]
    for text in ("C1", "C1b", "C2", "not judged at this scale", "gtn (T=", "beside:", "gtn-steploss", "real-fewstep",
                 "untrained generator"):  # fmt: skip
        assert text in out, text
    assert "GTN meta-training" in fewstep.report.stdout


# -- nb201-rankcorr: the proxies and the tuned real-data yardstick ---------------------------------
rankcorr = smoke_run("nb201-rankcorr")
RANKCORR = pytest.mark.xdist_group("nb201-rankcorr")


@RANKCORR
def test_nb201_rankcorr_gives_the_correlation_table_and_plots(rankcorr):
    for name in ("nb201_proxies.csv", "nb201_scatter.png", "nb201_frontier.png", "nb201_search.png"):
        assert (rankcorr.path / "report" / name).is_file()
    rows = rankcorr.proxies()
    assert {"real@8", "real@32", "hp12", "free:params", "free:naswot", "free:synflow"} <= set(rows)
    # the 12-epoch column agrees with the 200-epoch ground truth (0.87 over all cells): alignment check
    assert float(rows["hp12"]["spearman"]) > 0.6
    manifest = rankcorr.manifest
    assert manifest["dataset"] == "cifar10-jpeg" and manifest["ground_truth"]["column"] == "cifar10_test_acc_hp200_mean"


@RANKCORR
def test_nb201_real_proxy_is_tuned_on_calibration_cells(rankcorr):
    [calibration] = [r for r in rankcorr.records if r["kind"] == "nb201-calibrate"]
    judged = {r["arch"] for r in rankcorr.records if r["method"] == "real" and r["kind"] == "nb201-train"}
    assert calibration["status"] == "ok" and not set(calibration["details"]["calibration_archs"]) & judged
    assert all(r["details"]["tuned"] for r in rankcorr.records if r["method"] == "real" and r["kind"] == "nb201-train")


# -- cifar10-fewstep: C5 on the JPEG copy ---------------------------------------------------------
cifar = smoke_run("cifar10-fewstep")


@pytest.mark.xdist_group("cifar10-fewstep")
def test_cifar10_fewstep_labels_the_jpeg_copy_and_judges_nothing(cifar):
    assert "C5" in cifar.check.stdout and "CIFAR-10 (JPEG copy)" in cifar.check.stdout
    assert "not judged at this scale" in cifar.check.stdout
    assert "CIFAR-10 (JPEG copy)" in (cifar.path / "report" / "summary.md").read_text()


# -- nb201-gtn: C6, C7, C8 ------------------------------------------------------------------------
nb201_gtn = smoke_run("nb201-gtn")


@pytest.mark.xdist_group("nb201-gtn")
def test_nb201_gtn_judges_the_named_proxy_beside_the_trivial_baselines(nb201_gtn):
    out = nb201_gtn.check.stdout
    for text in ("C6", "C7", "C8", "gtn@16", "free:flops", "hp12", "tuned real data, about the same cost"):
        assert text in out, text
    assert "gtn@8" in (nb201_gtn.path / "report" / "nb201_proxies.csv").read_text()
