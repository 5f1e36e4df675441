"""Device helpers shared by every layer."""

from __future__ import annotations

import torch


def synchronize(device: str) -> None:
    """Wait for queued device work: only around what a timing measures, never inside a training loop."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


FLOAT32 = "float32 (TF32 off for matmuls and cuDNN convolutions)"


def use_full_float32() -> str:
    """Compute in IEEE float32 on the GPU. PyTorch lets cuDNN convolutions use TF32 by default on
    Ampere and later; gtnbench's numbers must not depend on that, and second-order meta-gradients
    are where reduced precision would bite first. Returns the setting, for manifests and benches."""
    if hasattr(torch.backends, "fp32_precision"):  # torch >= 2.9
        torch.backends.fp32_precision = "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return FLOAT32
