"""Every committed run's `check` output and report tables, regenerated from its records by this code, equal the
committed files byte for byte: a refactor changes no number a user sees, and a change that does fails here
until the committed runs are regenerated on purpose (tools/regenerate-results)."""

import contextlib
import io
from pathlib import Path

import pytest
from rich.console import Console

from gtnbench.analysis.records import load_runs
from gtnbench.cli import main
from gtnbench.report.summary import report_text
from tests.conftest import REPO, use_consoles

RUNS = sorted(path.parent.parent for path in (REPO / "results").glob("**/report/check.txt"))


def test_there_are_committed_runs_to_compare():
    assert len(RUNS) >= 10


@pytest.mark.parametrize("run", RUNS, ids=[str(r.relative_to(REPO / "results")) for r in RUNS])
def test_report_tables_are_the_committed_ones(run: Path):
    text = report_text(load_runs([run]), run / "report")
    for name, content in (("summary.md", text.markdown), ("summary.csv", text.csv), ("summary.tex", text.tex)):
        assert content.encode() == (run / "report" / name).read_bytes(), f"{run.name}/report/{name} differs"


@pytest.mark.parametrize("run", RUNS, ids=[str(r.relative_to(REPO / "results")) for r in RUNS])
def test_check_output_is_the_committed_one(run: Path, monkeypatch):
    """As `gtnbench check RUN > check.txt` printed it (stdout not a terminal: tables at their natural width)."""
    use_consoles(monkeypatch, Console(force_terminal=False), Console(stderr=True, force_terminal=False))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["check", str(run)])
    assert out.getvalue().encode() == (run / "report" / "check.txt").read_bytes()
