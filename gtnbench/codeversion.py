"""gtnbench's own code version: `<version>+g<commit>` (`.dirty` when the tracked code had changes), or
`<version>+unknown`.

Where it comes from, in order:
1. gtnbench's own checkout (an editable install, or the checkout on PYTHONPATH): git, but only when the
   top level of the git work tree is the folder that holds this gtnbench package and its pyproject.toml,
   never a repository that merely surrounds it (a virtual environment inside another project);
2. the stamp the build wrote (gtnbench/_stamp.py, by gtnbench/_build.py): the commit the wheel or the
   source archive was built from;
3. otherwise unknown.

Only the standard library: the build hook loads this file by its path, before gtnbench is installed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

STAMP = "_stamp.py"  # in the package folder of a built gtnbench: CODE_VERSION = "..."
DIRTY = ".dirty"
UNKNOWN = "unknown"
TRACKED = ("gtnbench", "suites", "pyproject.toml")  # uncommitted changes to these make a tree dirty


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def checkout_version(version: str, root: Path) -> str | None:
    """`version+g<commit>[.dirty]` when `root` is itself the top level of a git work tree, else None."""
    root = Path(root).resolve()
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root:
        return None
    commit = _git(root, "rev-parse", "--short=12", "HEAD")
    if not commit:
        return None
    changes = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *TRACKED)
    return f"{version}+g{commit}{DIRTY if changes is None or changes else ''}"


def decide(version: str, package_dir: Path, stamp: str | None) -> str:
    """The code version of the gtnbench package in `package_dir` (see the module docstring)."""
    root = Path(package_dir).resolve().parent
    if (root / "pyproject.toml").is_file():
        found = checkout_version(version, root)
        if found is not None:
            return found
    return stamp or f"{version}+{UNKNOWN}"


def read_stamp(package_dir: Path) -> str | None:
    """The CODE_VERSION a build wrote into the package, if any."""
    path = Path(package_dir) / STAMP
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "CODE_VERSION":
            return value.strip().strip("\"'") or None
    return None


def stamp_text(code_version: str) -> str:
    return (
        f'"""Written by gtnbench\'s build (gtnbench/_build.py): the code this package was built from."""\n\n'
        f'CODE_VERSION = "{code_version}"\n'
    )


def provenance_problem(code_version: str) -> str | None:
    """Why a recorded code version cannot be checked out (None: it can)."""
    if code_version.endswith(DIRTY):
        return "made from a tree with uncommitted changes: the commit does not hold the code that ran"
    if "+g" not in code_version:
        return "no commit recorded: the code that ran is unknown"
    return None
