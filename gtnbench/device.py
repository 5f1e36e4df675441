"""Device helpers shared by every layer."""

from __future__ import annotations

import torch


def synchronize(device: str) -> None:
    """Wait for queued device work: only around what a timing measures, never inside a training loop."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
