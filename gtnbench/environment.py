"""What a record must say about where it was measured: code version, libraries, device."""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path
from typing import Any

import gtnbench
from gtnbench.codeversion import decide, read_stamp


@lru_cache(maxsize=1)
def code_version() -> str:
    """gtnbench's own `<version>+g<commit>[.dirty]`, from its checkout or its build's stamp, else
    `<version>+unknown` (gtnbench/codeversion.py)."""
    package = Path(gtnbench.__file__).resolve().parent
    return decide(gtnbench.__version__, package, read_stamp(package))


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
    threads = torch.get_num_threads()
    return f"CPU: {cpu_name()} ({threads} thread{'' if threads == 1 else 's'})"


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def environment(device: str) -> dict[str, Any]:
    """Where a measurement (a bench, a plan's costs, a doctor's checks, a study) ran, with the precision read back
    from torch when it is written."""
    import torch

    from gtnbench.device import precision_settings

    return {
        "device": device,
        "device_name": device_name(device),
        "code_version": code_version(),
        "versions": library_versions(),
        "threads": torch.get_num_threads(),
        "precision": precision_settings(),
    }
