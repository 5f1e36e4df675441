"""Device helpers shared by every layer: which device, at which precision, and waiting for it.

Precision is a process-wide policy (`set_precision`), set by every command before it computes:

- "ieee" (the default): IEEE float32 everywhere. Every TF32 switch is turned off explicitly: the
  legacy flags and each node of the `fp32_precision` API, because on torch builds before
  pytorch/pytorch#179445 the generic `torch.backends.fp32_precision` does not reach cuDNN
  convolutions, which then keep their own default of TF32.
- "tf32": TF32 for matmuls and cuDNN convolutions (Ampere and later), everything else float32.
- "bf16": IEEE float32 as above, plus bfloat16 autocast in the forward passes of plain training and
  evaluation (`plain_autocast`); differentiable training (meta-gradients) stays float32, and
  runs that meta-train a GTN refuse it (`check_precision_for`).

`precision_settings` reads every switch back, with NVIDIA_TF32_OVERRIDE (which overrides them all
at the driver level), cudnn.benchmark and the deterministic-algorithms mode: manifests, records
and bench files store that read-back, never a constant.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

from gtnbench.errors import GtnbenchError

PRECISIONS = ("ieee", "tf32", "bf16")
_state = {"precision": "ieee"}


def synchronize(device: str) -> None:
    """Wait for queued device work: only around what a timing measures, never inside a training loop."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _fp32_nodes() -> list[tuple[str, Any]]:
    """Every node of the fp32_precision API this torch has (torch >= 2.9), generic first."""
    backends = torch.backends
    candidates = [
        ("backends", backends),
        ("cuda.matmul", getattr(backends.cuda, "matmul", None)),
        ("cudnn", backends.cudnn),
        ("cudnn.conv", getattr(backends.cudnn, "conv", None)),
        ("cudnn.rnn", getattr(backends.cudnn, "rnn", None)),
        ("mkldnn", getattr(backends, "mkldnn", None)),
        ("mkldnn.matmul", getattr(getattr(backends, "mkldnn", None), "matmul", None)),
        ("mkldnn.conv", getattr(getattr(backends, "mkldnn", None), "conv", None)),
        ("mkldnn.rnn", getattr(getattr(backends, "mkldnn", None), "rnn", None)),
    ]
    return [(name, node) for name, node in candidates if node is not None and hasattr(node, "fp32_precision")]


def set_precision(precision: str = "ieee") -> dict[str, Any]:
    """Set every TF32 switch for `precision` (PRECISIONS), then read them all back (precision_settings)."""
    if precision not in PRECISIONS:
        raise GtnbenchError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32  # legacy flags first, then every node of the new API
    torch.backends.cudnn.allow_tf32 = tf32
    nodes = sorted(
        _fp32_nodes(), key=lambda item: not item[0].startswith("mkldnn")
    )  # a mkldnn write resets the generic
    for name, node in nodes:
        # oneDNN's reduced modes (CPU bf16/tf32 emulation) stay off; CUDA follows the policy
        node.fp32_precision = "tf32" if tf32 and not name.startswith("mkldnn") else "ieee"
    _state["precision"] = precision
    return precision_settings()


def current_precision() -> str:
    """The policy of this process ("ieee" until set_precision says otherwise)."""
    return _state["precision"]


def precision_settings() -> dict[str, Any]:
    """What the process computes with, read back from torch (and the environment) now."""
    settings: dict[str, Any] = {
        "policy": current_precision(),
        "autocast": "bfloat16 in plain forward passes" if current_precision() == "bf16" else "none",
    }
    for name, node in _fp32_nodes():
        settings[f"fp32_precision.{name}"] = node.fp32_precision
    for name, read in (
        ("allow_tf32.cuda.matmul", lambda: torch.backends.cuda.matmul.allow_tf32),
        ("allow_tf32.cudnn", lambda: torch.backends.cudnn.allow_tf32),
    ):
        try:
            settings[name] = bool(read())
        except RuntimeError as error:  # torch refuses to read a legacy flag after a mix of the two APIs
            settings[name] = f"unreadable: {str(error).splitlines()[0][:120]}"
    settings["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    settings["NVIDIA_TF32_OVERRIDE"] = os.environ.get("NVIDIA_TF32_OVERRIDE")
    settings["cudnn.benchmark"] = bool(torch.backends.cudnn.benchmark)
    settings["cudnn.deterministic"] = bool(torch.backends.cudnn.deterministic)
    settings["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
    return settings


def tf32_active(settings: dict[str, Any]) -> bool:
    """Whether a read-back (precision_settings) lets any CUDA matmul or convolution run in TF32."""
    if settings.get("NVIDIA_TF32_OVERRIDE") == "0":
        return False
    return any(
        value == "tf32" or value is True
        for key, value in settings.items()
        if key.startswith(("fp32_precision.cuda", "fp32_precision.cudnn", "allow_tf32"))
    )


def plain_autocast(device: torch.device | str, cache: bool = True) -> contextlib.AbstractContextManager:
    """bfloat16 autocast for a plain (non-differentiable) forward pass under the "bf16" policy, else nothing.
    `cache`: autocast's cast cache (off for CUDA-graph capture)."""
    if current_precision() != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, cache_enabled=cache)


@contextlib.contextmanager
def precision_policy(policy: str) -> Iterator[dict[str, Any]]:
    """Run a block under another policy (doctor's probes), then restore the previous one."""
    previous = current_precision()
    try:
        yield set_precision(policy)
    finally:
        set_precision(previous)


def check_device(device: str) -> str:
    """The device, normalised, if this process can compute on it; else a one-line GtnbenchError."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise GtnbenchError(
            f"--device {device!r}: not a torch device ({str(error).splitlines()[0]}); expected e.g. cpu, cuda, cuda:1"
        ) from None
    if parsed.type == "cpu":
        return "cpu"
    if parsed.type != "cuda":
        raise GtnbenchError(f"--device {device!r}: gtnbench runs on cpu or cuda devices")
    if not torch.cuda.is_available():
        build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "built without CUDA"
        raise GtnbenchError(
            f"--device {device!r}: no CUDA device is visible (torch {torch.__version__}, {build}; "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); use --device cpu"
        )
    count = torch.cuda.device_count()
    index = parsed.index if parsed.index is not None else 0
    if index >= count:
        raise GtnbenchError(f"--device {device!r}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    return str(parsed)


def check_precision_for(policy: str, meta_trains: bool, where: str) -> None:
    """bf16 autocast is for plain training (proxies, evaluation): refuse it where a GTN is meta-trained,
    since second-order meta-gradients are what reduced precision would bend first, unmeasured."""
    if policy == "bf16" and meta_trains:
        raise GtnbenchError(
            f"{where}: --precision bf16 is refused for GTN meta-training (second-order "
            "meta-gradients stay float32); use ieee or tf32, or name a trained GTN with "
            "`checkpoint = PATH`"
        )
