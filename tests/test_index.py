import subprocess
from pathlib import Path

import pytest

from gtnbench.cli import main
from gtnbench.report.index import END, START, find_runs, render_index, replace_section, update_index
from tests.conftest import REPO
from tests.runs import make_run


def test_index_has_one_row_per_run_with_verdicts_and_report_links(tmp_path):
    results = tmp_path / "results"
    make_run(results / "cpu" / "b-run", started="2026-03-04T05:06:07+0000")
    make_run(results / "gpu" / "a-run", device_name="NVIDIA H200", code_version="0.2.0+gdef")
    (results / "gpu" / "a-run" / "report").mkdir()
    (results / "gpu" / "a-run" / "report" / "index.html").write_text("<html></html>")
    section = render_index(results)
    lines = [line for line in section.splitlines() if line.startswith("| [")]
    assert [line.split("]")[0] for line in lines] == ["| [cpu/b-run", "| [gpu/a-run"]
    assert "| 2026-03-04 |" in lines[0] and "| – |" in lines[0]
    assert "NVIDIA H200" in lines[1] and "`0.2.0+gdef`" in lines[1]
    assert "[index.html](gpu/a-run/report/index.html)" in lines[1]
    assert "| C1, C2: incomplete |" in lines[0]  # the tiny suite meta-trains `gtn`; C1-C2 judge `gtn-steploss`
    assert section.startswith(START) and section.endswith(END)


def test_only_the_marked_section_is_rewritten():
    text = f"# Results\n\nkept\n\n{START}\nold\n{END}\n\n## after\nkept too\n"
    expected = f"# Results\n\nkept\n\n{START}\nnew\n{END}\n\n## after\nkept too\n"
    assert replace_section(text, f"{START}\nnew\n{END}") == expected
    assert replace_section("# Results\n", "S") == "# Results\n\n## Index of runs\n\nS\n"


def test_index_command_regenerates_and_check_says_when_it_is_stale(tmp_path, capsys):
    results = tmp_path / "results"
    make_run(results / "cpu" / "one")
    (results / "README.md").write_text("# Published results\n\nhand-written text\n")
    assert main(["index", str(results), "--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert main(["index", str(results)]) == 0
    assert main(["index", str(results), "--check"]) == 0
    assert "hand-written text" in (results / "README.md").read_text()
    make_run(results / "cpu" / "two")
    assert main(["index", str(results), "--check"]) == 1


def tracked_files() -> set[Path] | None:
    """Files git tracks under results/, or None outside a git checkout."""
    try:
        listing = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z", "--", "results"], capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if listing.returncode != 0:
        return None
    return {REPO / name for name in listing.stdout.decode().split("\0") if name}


def test_the_committed_index_of_results_is_current():
    """results/README.md lists the committed runs as `gtnbench index results/` would write it now; only the
    committed files count, so a run or report of one's own not yet committed does not make it fail."""
    tracked = tracked_files()
    if tracked is None:
        pytest.skip("not a git checkout: which runs are committed is unknown")
    readme = REPO / "results" / "README.md"
    if readme not in tracked or START not in readme.read_text():
        pytest.skip("results/README.md has no generated index")
    runs = [p for p in find_runs(REPO / "results") if p / "manifest.json" in tracked]
    expected = render_index(REPO / "results", runs, exists=lambda path: path in tracked)
    text = readme.read_text()
    committed = text[text.index(START) : text.index(END) + len(END)]
    assert committed == expected, "results/README.md's index is stale: run `gtnbench index results/` and commit it"


def test_update_creates_a_readme_when_there_is_none(tmp_path):
    results = tmp_path / "results"
    make_run(results / "run")
    assert update_index(results) is False
    assert (results / "README.md").read_text().startswith("# Published results\n\n## Index of runs\n\n" + START)
    assert update_index(results, check=True) is True
