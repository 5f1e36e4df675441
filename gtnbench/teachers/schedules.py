"""Per-step learning-rate schedules for teachers that do not learn their own."""

from __future__ import annotations

import math

import torch

SCHEDULES = ("constant", "linear", "cosine", "onecycle")
ONECYCLE_WARMUP = 0.2


def learning_rates(kind: str, peak: float, steps: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Learning rate of each of `steps` steps, peaking at `peak`.

    constant: `peak` throughout; linear / cosine: decay from `peak` to 0;
    onecycle: linear warm-up over the first 20 % of steps, then linear decay to 0.
    """
    # Made on `device` (never the default one), in float64 then rounded: no host-to-device copy per lesson,
    # which from pageable memory would wait for the device.
    t = torch.arange(steps, dtype=torch.float64, device=device)
    if kind == "constant":
        lrs = torch.full((steps,), peak, dtype=torch.float64, device=device)
    elif kind == "linear":
        lrs = peak * (1 - t / steps)
    elif kind == "cosine":
        lrs = peak * 0.5 * (1 + torch.cos(math.pi * t / steps))
    elif kind == "onecycle":
        warm = max(1, round(ONECYCLE_WARMUP * steps))
        lrs = torch.where(t < warm, peak * (t + 1) / warm, peak * (steps - t) / max(1, steps - warm))
    else:
        raise ValueError(f"unknown schedule {kind!r}; known: {', '.join(SCHEDULES)}")
    return lrs.to(torch.float32)
