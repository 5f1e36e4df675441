"""How a run computes, beyond what its suite says: precision, CUDA graphs, batched tuning grids.

These are properties of the process that runs trials, not of the benchmark: the suite's
configuration (and its hash) stays the same, while the manifest records the options and every
record the precision it ran at. CUDA graphs and batched grids change speed and, within float
rounding, nothing else (tests/test_fast_paths.py); precision is what it says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gtnbench.device import PRECISIONS, check_precision_for, set_precision, tf32_active
from gtnbench.errors import GtnbenchError
from gtnbench.graphs import enable_cuda_graphs
from gtnbench.methods.real import batch_grids
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.methods import GTNMethod


@dataclass(frozen=True)
class ExecutionOptions:
    precision: str = "ieee"  # device.PRECISIONS
    cuda_graphs: bool = False  # replay plain training steps from CUDA graphs (graphs.py)
    batched_grids: bool = False  # train a tuned grid's configurations together (methods/real.py)

    def check(self, config: SuiteConfig, device: str) -> None:
        """Refuse what cannot run as asked: an unknown precision, bf16 for a suite that meta-trains a
        GTN, CUDA graphs off a CUDA device."""
        if self.precision not in PRECISIONS:
            raise GtnbenchError(f"--precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        meta_trains = [
            name for name, method in config.methods.items() if isinstance(method, GTNMethod) and not method.checkpoint
        ]
        check_precision_for(
            self.precision, bool(meta_trains), f"suite {config.name} (methods {', '.join(meta_trains)})"
        )
        if self.cuda_graphs and not device.startswith("cuda"):
            raise GtnbenchError(f"--cuda-graphs needs a CUDA device, not {device}")

    def apply(self) -> dict[str, Any]:
        """Set this process up; returns the precision read back from torch (device.precision_settings)."""
        settings = set_precision(self.precision)
        enable_cuda_graphs(self.cuda_graphs)
        batch_grids(self.batched_grids)
        return settings

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def precision_summary(settings: dict[str, Any] | str | None) -> dict[str, Any] | str | None:
    """What a record says about its precision: the policy, whether any CUDA matmul or convolution could
    use TF32 by the read-back, and the autocast (a manifest of an older gtnbench: its value as it is)."""
    if not isinstance(settings, dict):
        return settings
    return {"policy": settings.get("policy"), "tf32": tf32_active(settings), "autocast": settings.get("autocast")}
