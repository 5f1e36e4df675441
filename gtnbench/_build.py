"""The setuptools build's hook (pyproject.toml, [tool.setuptools.cmdclass]); gtnbench never imports it.

It stamps gtnbench's code version (gtnbench/codeversion.py) into what it builds: `build_py` writes
gtnbench/_stamp.py into the wheel, `sdist` into the source archive (so that a wheel built from the
archive, where there is no git, keeps the archive's commit). The version is that of the checkout being
built when its git top level is the project root, else the stamp already in the source (an unpacked
archive), else unknown. An editable install writes no stamp: gtnbench reads its own checkout at run time.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

PACKAGE = Path(__file__).resolve().parent


def _codeversion():
    """gtnbench/codeversion.py, loaded from this source tree by its path (gtnbench is not installed yet)."""
    spec = importlib.util.spec_from_file_location("_gtnbench_codeversion", PACKAGE / "codeversion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def built_version(version: str, package_dir: Path = PACKAGE) -> str:
    """The code version a build of the source in `package_dir` stamps."""
    codeversion = _codeversion()
    return codeversion.decide(version, package_dir, codeversion.read_stamp(package_dir))


def write_stamp(folder: Path, version: str) -> None:
    """gtnbench/_stamp.py under a build or release folder (replaced, never written through a hard link)."""
    codeversion = _codeversion()
    path = Path(folder) / "gtnbench" / codeversion.STAMP
    stamp = codeversion.stamp_text(built_version(version))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.write_text(stamp)


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            write_stamp(Path(self.build_lib), self.distribution.get_version())


class Sdist(sdist):
    def make_release_tree(self, base_dir, files) -> None:
        super().make_release_tree(base_dir, files)
        write_stamp(Path(base_dir), self.distribution.get_version())
