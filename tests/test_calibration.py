"""Every claim's verdict rule, calibrated: with the truth exactly on its threshold, simulated runs read
"reproduced" at most 2.5 % of the time (plus Monte-Carlo error). One test covers the whole registry, so a
claim added with a simulation is calibrated by it; a claim without one fails here."""

import json
import math

import pytest

from gtnbench.claims import CLAIMS, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Settings
from gtnbench.claims.calibration import PROMISED, calibrate_claim

# Small NAS runs keep the whole calibration under 30 s on one core; `gtnbench check --calibration` runs the
# suites' sizes (1,000 cells, the suites' resamples) for the README's table.
NAS_SIZE = {"cells": 100, "settings": Settings(resamples=100, search_seeds=10), "reps": 60}
ACCURACY_REPS = 300


def _sizes(claim):
    if claim.suite.startswith("nb201"):
        return NAS_SIZE["reps"], NAS_SIZE["settings"], NAS_SIZE["cells"]
    return ACCURACY_REPS, None, None


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_truth_on_the_threshold_rarely_reads_reproduced(claim_id):
    claim = CLAIMS[claim_id]
    assert claim.simulation is not None, f"{claim_id} has no simulation: the calibration cannot measure its rule"
    reps, settings, cells = _sizes(claim)
    for row in calibrate_claim(claim, reps, settings=settings, cells=cells, paper=False):
        judged = sum(row.counts.get(v, 0) for v in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE))
        assert judged >= 0.95 * row.reps, f"{claim_id}: the simulated runs are mostly not judged: {row.counts}"
        allowed = PROMISED + 3 * math.sqrt(PROMISED * (1 - PROMISED) / row.reps)
        assert row.reproduced <= allowed, f"{claim_id} {row.where}: {row.reproduced:.3f} > {allowed:.3f} {row.counts}"


def test_power_at_the_paper_value_of_the_claims_whose_seed_counts_were_raised():
    """The bundled paper scales carry the seeds that let a faithful reproduction read "reproduced"."""
    for claim_id, at_least in (("C1", 0.8), ("C3", 0.8), ("C4", 0.8)):
        [*_, paper] = calibrate_claim(CLAIMS[claim_id], 200)
        assert paper.where == "paper's value" and paper.reproduced >= at_least, (claim_id, paper.counts)


def test_calibration_command_writes_json_and_markdown_and_refuses_other_files(tmp_path, capsys, monkeypatch):
    from gtnbench import environment
    from gtnbench.cli.main import main

    versions = iter(["0.1.0+gstart", "0.1.0+gcommitted-while-it-ran"] + ["0.1.0+glater"] * 9)
    monkeypatch.setattr(environment, "code_version", lambda: next(versions))
    out = [str(tmp_path / "c.json"), str(tmp_path / "c.md")]
    assert main(["check", "--calibration", "--claims", "C1b", "--reps", "20", "--out", *out]) == 0
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["command"].startswith("gtnbench") and [r["claim"] for r in written["rows"]] == ["C1b", "C1b"]
    assert sum(written["rows"][0]["counts"].values()) == 20
    assert "| C1b | " in (tmp_path / "c.md").read_text()
    assert written["code_version"] == "0.1.0+gstart" and "(0.1.0+gstart)" in (tmp_path / "c.md").read_text()
    assert main(["check", "--calibration", "--out", str(tmp_path / "c.txt")]) == 2
    assert "c.txt" in capsys.readouterr().err and not (tmp_path / "c.txt").exists()
