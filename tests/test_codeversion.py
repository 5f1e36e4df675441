"""gtnbench's own code version, wherever it runs from: its checkout's commit, never a surrounding repository's;
a built package's stamp; else unknown. `validate` warns about a version no commit holds."""

import shutil
import subprocess
from pathlib import Path

import pytest

from gtnbench.analysis.validate import validate_run, warnings_of
from gtnbench.cli import main
from gtnbench.codeversion import decide, provenance_problem, read_stamp, stamp_text
from gtnbench.store import read_run
from tests.runs import make_run

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), "-c", "user.email=t@t", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def project(root: Path) -> Path:
    """A project root as gtnbench's checkout has it: pyproject.toml beside the package folder."""
    (root / "gtnbench").mkdir(parents=True)
    (root / "gtnbench" / "__init__.py").write_text('__version__ = "0.1.0"\n')
    (root / "pyproject.toml").write_text('[project]\nname = "gtnbench"\n')
    return root / "gtnbench"


def commit_all(folder: Path) -> str:
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "x")
    return git(folder, "rev-parse", "--short=12", "HEAD")


def test_a_checkout_gives_its_commit_and_says_when_its_code_changed(tmp_path):
    package = project(tmp_path / "checkout")
    commit = commit_all(tmp_path / "checkout")
    assert decide("0.1.0", package, None) == f"0.1.0+g{commit}"
    (tmp_path / "checkout" / "notes.txt").write_text("untracked files are not code\n")
    assert decide("0.1.0", package, "0.1.0+gstamped") == f"0.1.0+g{commit}"  # the checkout wins over a stale stamp
    (package / "__init__.py").write_text('__version__ = "0.1.0"  # edited\n')
    assert decide("0.1.0", package, None) == f"0.1.0+g{commit}.dirty"


def test_a_surrounding_repository_is_never_taken_for_gtnbench(tmp_path):
    outer = tmp_path / "another-project"
    package = project(outer / ".venv" / "lib" / "site-packages")  # a wheel installed in a venv inside it
    (package.parent / "pyproject.toml").unlink()
    commit_all(outer)
    assert decide("0.1.0", package, None) == "0.1.0+unknown"
    assert decide("0.1.0", package, "0.1.0+gabcdef012345") == "0.1.0+gabcdef012345"
    # even a copy of the project root inside another repository is not a checkout of gtnbench
    nested = project(outer / "vendor" / "gtnbench-copy")
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "vendored")
    assert decide("0.1.0", nested, None) == "0.1.0+unknown"


def test_the_stamp_a_build_writes_is_read_back(tmp_path):
    (tmp_path / "_stamp.py").write_text(stamp_text("0.1.0+g0123456789ab"))
    assert read_stamp(tmp_path) == "0.1.0+g0123456789ab"
    assert read_stamp(tmp_path / "absent") is None


def test_the_build_hook_stamps_the_checkout_it_builds_and_keeps_an_archives_stamp(tmp_path):
    pytest.importorskip("setuptools")
    from gtnbench import _build

    package = project(tmp_path / "checkout")
    commit = commit_all(tmp_path / "checkout")
    assert _build.built_version("0.1.0", package) == f"0.1.0+g{commit}"
    release = tmp_path / "release"  # an unpacked source archive: no git, the archive's stamp
    (release / "gtnbench").mkdir(parents=True)
    (release / "gtnbench" / "_stamp.py").write_text(stamp_text("0.1.0+gfeedfacecafe"))
    assert _build.built_version("0.1.0", release / "gtnbench") == "0.1.0+gfeedfacecafe"
    assert _build.built_version("0.1.0", tmp_path / "bare") == "0.1.0+unknown"
    _build.write_stamp(tmp_path / "wheel", "0.1.0")  # what this checkout's build would stamp
    assert read_stamp(tmp_path / "wheel" / "gtnbench") == _build.built_version("0.1.0")


def test_validate_warns_about_a_dirty_or_unknown_code_version(tmp_path, capsys):
    assert provenance_problem("0.1.0+g0123456789ab") is None
    assert "uncommitted changes" in provenance_problem("0.1.0+g0123456789ab.dirty")
    assert "unknown" in provenance_problem("0.1.0+unknown") and "unknown" in provenance_problem("0.1.0")
    run = make_run(tmp_path / "run", code_version="0.1.0+gabc.dirty")
    assert validate_run(run) == []  # a warning, not a problem
    (warning,) = warnings_of(read_run(run))
    assert warning.startswith(f"{run / 'manifest.json'}: code_version: 0.1.0+gabc.dirty: made from a tree")
    assert main(["validate", str(run)]) == 0
    assert f"warning: {warning}" in capsys.readouterr().out
    assert main(["validate", "--strict", str(run)]) == 1
    assert main(["validate", "--strict", str(make_run(tmp_path / "clean"))]) == 0
