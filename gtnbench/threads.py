"""How many CPU threads torch uses in each process that trains: `--threads`, else $GTNBENCH_THREADS, else one.

One thread per process is the default because the suites are long chains of small kernels: on two
free cores a second intra-op thread saved a fifth of a smoke GTN outer iteration, while beside other
busy processes the threads of one process wait for each other at every kernel and the smoke run took
2.4 times as long (results/cpu/threads-smoke.json). More processes (`--workers N`), not more threads,
fill more cores. The other settings: `auto`, the free cores (usable CPUs minus the 1-minute load
average, rounded, at least 1, read once at the start) shared among the processes; `torch`, torch's
own choice (one per core, or OMP_NUM_THREADS).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from gtnbench.errors import GtnbenchError

THREADS_ENV = "GTNBENCH_THREADS"
DEFAULT_THREADS = 1
SETTINGS = ("auto", "torch")


def parse_threads(value: str, source: str) -> int | str:
    """A thread setting: a positive count, `auto` or `torch`; one clear line naming `source` otherwise."""
    text = value.strip().lower()
    if text in SETTINGS:
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise GtnbenchError(
        f"{source} {value!r}: expected a positive number of threads, 'auto' (the free cores) or "
        "'torch' (torch's own choice)"
    )


def free_cores(cpus: int, load: float) -> int:
    """The CPUs this process may use that the 1-minute load average leaves free, rounded, at least 1."""
    return max(1, min(cpus, round(cpus - load)))


def choose_threads(
    requested: str | None, environ: Mapping[str, str], cpus: int, load: float, processes: int = 1
) -> int | None:
    """Threads for each of `processes` training processes; None leaves torch's own choice.

    `requested` (the --threads flag) wins over $GTNBENCH_THREADS, which wins over the default (one)."""
    if requested is not None:
        setting = parse_threads(requested, "--threads")
    elif environ.get(THREADS_ENV, "").strip():
        setting = parse_threads(environ[THREADS_ENV], THREADS_ENV)
    else:
        setting = DEFAULT_THREADS
    if setting == "torch":
        return None
    if setting == "auto":
        return max(1, free_cores(cpus, load) // max(1, processes))
    return int(setting)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return 0.0


def set_threads(requested: str | None, processes: int = 1) -> int | None:
    """Choose the thread count for this machine now (choose_threads) and give it to torch in this
    process; returns it (None: torch's own choice) for worker processes to set too."""
    threads = choose_threads(requested, os.environ, usable_cpus(), load_average(), processes)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    return threads
