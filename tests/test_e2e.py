"""End to end on the real data, as a new user runs it: the smoke scales of the bundled suites.

These run in CI (GTNBENCH_DATA=../shared/data) and skip without the data. Each suite runs once
(a session fixture, `gtnbench run` in its own process) and every test below reads that one run; the
tests of one suite form a class, and `pytest -n 2 --dist loadscope` (tox) sends a class to one worker,
so a suite runs once, on one worker, while another suite runs on the other. Four suites run: smoke
(the CI regression check against the committed reference), nb201-gtn (C6-C8 on the real table and the
JPEG copy), cifar10-teachers and nb201-teachers (every small-set teacher, on images and as NAS proxies).
The others are covered without a second run: nb201-rankcorr's proxies are a subset of nb201-gtn's;
mnist-fewstep's methods are the smoke suite's at other sizes; cifar10-fewstep's CIFAR-10 path (the JPEG
copy, its labels, a CIFAR GTN) is cifar10-teachers' and nb201-gtn's; mnist-teachers has cifar10-teachers'
methods and report on MNIST (its digit augmentation: test_plan); macro-rankcorr's space runs end to end
on the real NAS-Bench-Macro table in test_nas_spaces_suite (a tiny suite, run and report). Every bundled
suite file is checked by the unit tests (loading, expansion, bounds, plan), and every committed run's
report and check output by test_committed.
"""

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gtnbench.cli import main
from tests.conftest import REPO, real_data_root

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
REFERENCE = REPO / "results" / "reference" / "smoke"


@pytest.fixture(scope="session")
def data_root():
    root = real_data_root()
    if root is None:
        pytest.skip("real data absent: set GTNBENCH_DATA to a data root (e.g. ../shared/data)")
    return root


def gtnbench_process(*args, root, cwd=REPO):
    """The command as a user types it: a new process, the console script's module."""
    env = {**os.environ, "GTNBENCH_DATA": str(root), "COLUMNS": "240"}
    return subprocess.run(
        [sys.executable, "-m", "gtnbench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200
    )


def gtnbench(*args, root):
    """A command that reads run directories (report, check, validate, export, compare), through the same
    `main` in this process: a new process for each would import torch again, seconds of CI each."""
    out, err = io.StringIO(), io.StringIO()
    previous = os.environ.get("GTNBENCH_DATA")
    os.environ["GTNBENCH_DATA"] = str(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        if previous is None:
            del os.environ["GTNBENCH_DATA"]
        else:
            os.environ["GTNBENCH_DATA"] = previous
    return subprocess.CompletedProcess(["gtnbench", *args], code, out.getvalue(), err.getvalue())


class SmokeRun:
    """One smoke-scale run of a bundled suite, with its report and check output."""

    def __init__(self, suite: str, folder: Path, root: Path) -> None:
        self.path, self.root = folder / suite, root
        done = gtnbench_process("run", suite, "--scale", "smoke", "--device", "cpu", "--out", str(self.path), root=root)
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

    def proxies(self, table: str = "nb201_proxies.csv") -> dict[str, dict]:
        with open(self.path / "report" / table) as rows:
            return {row["proxy"]: row for row in csv.DictReader(rows)}


def smoke_run(suite: str):
    @pytest.fixture(scope="session")
    def fixture(tmp_path_factory, data_root) -> SmokeRun:
        return SmokeRun(suite, tmp_path_factory.mktemp(suite), data_root)

    return fixture


# -- smoke: the CI regression check ---------------------------------------------------------------
smoke = smoke_run("smoke")


class TestSmoke:
    def test_smoke_matches_the_committed_reference(self, smoke):
        check = gtnbench("check", str(smoke.path), "--against", str(REFERENCE), root=smoke.root)
        assert check.returncode == 0, check.stdout[-3000:]
        assert "regression check passed" in check.stdout

    def test_smoke_report_is_a_page_that_validates_and_exports(self, smoke, tmp_path):
        assert (smoke.path / "report" / "accuracy_vs_steps.png").is_file()
        assert "<!DOCTYPE html>" in (smoke.path / "report" / "index.html").read_text()[:200]
        assert gtnbench("validate", str(smoke.path), root=smoke.root).returncode == 0
        table = tmp_path / "t.csv"
        export = gtnbench("export", str(smoke.path), "--format", "csv", "--out", str(table), root=smoke.root)
        assert export.returncode == 0 and "test_acc" in table.read_text()
        compare = gtnbench("compare", str(smoke.path), str(REFERENCE), root=smoke.root)
        assert compare.returncode in (0, 1) and "real-fewstep" in compare.stdout

    def test_smoke_records_the_official_batch_norm_protocol(self, smoke):
        assert set(smoke.manifest["bn_eval"].values()) == {"last-batch"}
        assert all(r["details"]["bn_eval"] == "last-batch" for r in smoke.records if r["status"] == "ok")

    def test_smoke_shows_c1_c2_for_the_judged_gtn_beside_the_tuned_learner(self, smoke):
        out = smoke.check.stdout
        assert smoke.check.returncode == 0, out[-3000:]
        for text in (
            "C1",
            "C2",
            "not judged at this scale",
            "gtn-steploss (T=16)",
            "beside:",
            "real-fewstep (tuned real data, 16 steps x 128)",
            "untrained generator",
        ):
            assert text in out, text
        assert "GTN meta-training" in smoke.report.stdout


# -- nb201-gtn: C6, C7, C8 ------------------------------------------------------------------------
nb201_gtn = smoke_run("nb201-gtn")


class TestNb201Gtn:
    """Also what nb201-rankcorr's run would show: its proxies are a subset of nb201-gtn's."""

    def test_nb201_gtn_judges_the_named_proxy_beside_the_trivial_baselines(self, nb201_gtn):
        out = nb201_gtn.check.stdout
        for text in ("C6", "C7", "C8", "gtn@16", "free:flops", "hp12", "beside: real@", "CIFAR-10 (JPEG copy)"):
            assert text in out, text
        assert "gtn@8" in (nb201_gtn.path / "report" / "nb201_proxies.csv").read_text()
        assert "gtn-lastbatch@8" in nb201_gtn.proxies()  # the batch-norm ablation of the official search

    def test_nb201_proxies_give_the_correlation_table_and_plots(self, nb201_gtn):
        for name in ("nb201_proxies.csv", "nb201_scatter.png", "nb201_frontier.png", "nb201_search.png"):
            assert (nb201_gtn.path / "report" / name).is_file()
        rows = nb201_gtn.proxies()
        assert {"real@8", "real@16", "hp12", "free:params", "free:naswot", "free:synflow"} <= set(rows)
        # the 12-epoch column agrees with the 200-epoch ground truth (0.87 over all cells): alignment check
        assert float(rows["hp12"]["spearman"]) > 0.6
        manifest = nb201_gtn.manifest
        assert manifest["dataset"] == "cifar10-jpeg"
        assert manifest["ground_truth"]["column"] == "cifar10_test_acc_hp200_mean"

    def test_nb201_real_proxy_is_tuned_on_calibration_cells(self, nb201_gtn):
        [calibration] = [r for r in nb201_gtn.records if r["kind"] == "nb201-calibrate"]
        judged = {r["arch"] for r in nb201_gtn.records if r["method"] == "real" and r["kind"] == "nb201-train"}
        assert calibration["status"] == "ok" and not set(calibration["details"]["calibration_archs"]) & judged
        trained = [r for r in nb201_gtn.records if r["method"] == "real" and r["kind"] == "nb201-train"]
        assert trained and all(r["details"]["tuned"] for r in trained)


# -- the small-set teachers: GTN among subsets, coresets, DM and DC -------------------------------------
# One accuracy-teachers suite runs: cifar10-teachers. mnist-teachers has the same methods, protocols and
# report on MNIST; its own pieces (the reference's crop-scale-rotate augmentation for digits, no flips) are
# checked by the unit tests (test_plan, test_anchors) and its committed run by test_committed.
cifar_teachers = smoke_run("cifar10-teachers")
nb201_teachers = smoke_run("nb201-teachers")


class TestCifarTeachers:
    def test_cifar10_teachers_report_the_sets_side_by_side_with_their_anchors(self, cifar_teachers):
        check = cifar_teachers.check
        assert check.returncode == 0, check.stdout[-3000:]
        for text in ("DC-CIFAR10-1", "DM-CIFAR10-10", "DM-CIFAR10-50", "not judged at this scale"):
            assert text in check.stdout, text
        summary = (cifar_teachers.path / "report" / "summary.md").read_text()
        assert "## Small-set teachers: cifar10-teachers (smoke) on CIFAR-10 (JPEG copy)" in summary
        for method in ("subset-10", "herding-t", "kmeans-50", "dm-10", "dc-1", "gtn-set"):
            assert f"| {method} |" in summary and f"{method}__steps=8__seed=0/set.png" in summary
        assert "| real-fewstep | real | real data, tuned |" in summary

    def test_cifar10_teachers_label_the_jpeg_copy(self, cifar_teachers):
        assert "CIFAR-10 (JPEG copy)" in cifar_teachers.check.stdout
        for name in ("summary.md", "summary.csv", "summary.tex"):
            assert "CIFAR-10 (JPEG copy)" in (cifar_teachers.path / "report" / name).read_text(), name

    def test_cifar10_teachers_score_every_set_under_the_reference_recipe_with_its_cost(self, cifar_teachers):
        records = {r["trial"]: r for r in cifar_teachers.records if r["status"] == "ok"}
        dc = records["dc-10/reference_epochs=2/seed=0"]["details"]
        assert dc["augment"] == "none" and dc["reference_learner"]["name"] == "convnet"  # DC's CIFAR-10 recipe
        dm = records["dm-10/reference_epochs=2/seed=0"]["details"]
        assert dm["augment"] == "dsa" and "flip" in dm["dsa"]  # the set's own transforms (natural images: flips)
        made = records["dm-10/steps=8/seed=0"]
        assert made["details"]["made"]["learner"]["name"] == "convnet" and made["metrics"]["make_flops"] > 0
        assert made["details"]["set"]["labels"] == "hard" and made["details"]["cost"]["device"] == "cpu"
        summary = (cifar_teachers.path / "report" / "summary.md").read_text()
        assert "(b) reference" in summary and (cifar_teachers.path / "report" / "teachers_cost_accuracy.png").is_file()


class TestNb201Teachers:
    def test_nb201_teachers_rank_cells_by_each_set(self, nb201_teachers):
        for claim in ("DCB-NAS-DC", "DCB-NAS-DSA", "DCB-NAS-DM", "DCB-NAS-RANDOM", "DCB-NAS-KMEANS"):
            assert claim in nb201_teachers.check.stdout, claim
        assert {
            "subset-proxy@16",
            "kmeans-proxy@16",
            "dc-proxy@16",
            "dsa-proxy@16",
            "dm-proxy@16",
            "gtn@8",
            "real@16",
            "hp12",
            "free:naswot",
        } <= set(nb201_teachers.proxies())
