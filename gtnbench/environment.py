"""What a record must say about where it was measured: code version, libraries, device."""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from pathlib import Path

import gtnbench


@lru_cache(maxsize=1)
def code_version() -> str:
    """`<version>+g<commit>[.dirty]` in a git checkout of gtnbench, else the package version."""
    here = Path(gtnbench.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=10)  # fmt: skip
        if commit.returncode != 0:
            return gtnbench.__version__
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--", "."],
                               capture_output=True, text=True, timeout=10)  # fmt: skip
        suffix = ".dirty" if dirty.stdout.strip() else ""
        return f"{gtnbench.__version__}+g{commit.stdout.strip()}{suffix}"
    except (OSError, subprocess.SubprocessError):
        return gtnbench.__version__


def library_versions() -> dict[str, str]:
    import numpy
    import scipy
    import torch
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "cuda": torch.version.cuda or "none",
    }


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    """A human name for the device that runs the trials, e.g. 'NVIDIA H100 80GB HBM3' or the CPU model."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU: {cpu_name()} ({torch.get_num_threads()} threads)"


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
