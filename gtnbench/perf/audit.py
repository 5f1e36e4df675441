"""An op audit of hot loops, measurable on the CPU: how many aten ops a step dispatches (the CPU-side
proxy for CUDA kernel launches) and which of them would force a host synchronisation on CUDA.

`OpAudit` is a TorchDispatchMode: every aten op a region dispatches (forward, backward and double
backward, which the autograd engine runs on the calling thread on a CPU) passes through it. It counts
them, all and non-view (views launch no kernel), and records each op that waits for the device on
CUDA: `aten._local_scalar_dense` (behind `.item()`, `float()`, `int()`, `bool()` of a tensor), ops
whose output size depends on the data (`nonzero`, `masked_select`, `unique`, boolean indexing, ...)
and `.tolist()` / `.numpy()` / `.cpu()` (device-to-host copies, which a CPU tensor makes without
dispatching an op, so the audit watches those methods too).

On a CPU every tensor is a host tensor, so an event counts as a device sync unless it comes from a
site that works on host tensors by construction (`HOST_SITES`: Adam's step counters, which stay on the
CPU unless the optimiser is capturable; width sampling from a CPU generator). On CUDA an event counts
when its tensor is a CUDA tensor, which needs no list. `created_on` lists the ops whose output landed
on a given device, e.g. "meta" under `torch.set_default_device("meta")`: a tensor created without an
explicit device.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

# Ops that make the host wait for the device on CUDA (their result, or their output's size, is data).
SYNC_OPS = frozenset(
    {
        "aten._local_scalar_dense",
        "aten.nonzero",
        "aten.nonzero_numpy",
        "aten.argwhere",
        "aten.masked_select",
        "aten.unique",
        "aten._unique",
        "aten._unique2",
        "aten.unique_dim",
        "aten.unique_consecutive",
        "aten.unique_dim_consecutive",
        "aten.equal",
        "aten.is_nonzero",
        "aten.bincount",
        "aten.histc",
        "aten.repeat_interleave",
        "aten._assert_scalar",
        "aten.sym_constrain_range",
    }
)
HOST_METHODS = ("tolist", "numpy", "cpu")  # device-to-host copies a CPU tensor makes without an aten op

# (path suffix, function) of code that works on host tensors by construction, so that it never waits
# for the device on CUDA although the audit sees a `.item()` on the CPU.
HOST_SITES: tuple[tuple[str, str], ...] = (
    ("torch/optim/optimizer.py", "_get_value"),  # Adam's step counters: CPU tensors unless capturable
    ("gtnbench/models/learners.py", "sample_widths"),  # widths drawn from a CPU generator
    ("gtnbench/models/nb201.py", "random_cell"),  # a random cell drawn from a CPU generator
)
_SELF = Path(__file__).as_posix()
_PACKAGE = Path(__file__).parent.as_posix() + "/"
_TORCH = Path(torch.__file__).parent.as_posix() + "/"
_OPTIM = _TORCH + "optim/"


@dataclass(frozen=True)
class SyncEvent:
    """One op that reads device data on the host: what, where (innermost gtnbench or torch.optim frame), on what."""

    op: str
    site: str
    device: str
    host_by_construction: bool

    def __str__(self) -> str:
        return f"{self.op} on {self.device} at {self.site}" + (
            " (host tensor by construction)" if self.host_by_construction else ""
        )


def _site() -> tuple[str, bool]:
    """Where an event comes from: the innermost frame of gtnbench or torch.optim code, else of the caller
    (outside torch and this module); and whether that frame is a HOST_SITE."""
    chosen = fallback = None
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace("\\", "/")
        if path.startswith(_SELF):
            continue
        if path.startswith(_PACKAGE) or path.startswith(_OPTIM):
            chosen = frame
            break
        if fallback is None and not path.startswith(_TORCH):
            fallback = frame
    frame = chosen or fallback
    if frame is None:
        return "unknown", False
    path = frame.filename.replace("\\", "/")
    host = chosen is not None and any(path.endswith(suffix) and frame.name == name for suffix, name in HOST_SITES)
    short = path.split("/gtnbench/", 1)[-1] if path.startswith(_PACKAGE) else path.rsplit("/", 2)[-1]
    if path.startswith(_TORCH):
        short = "torch/" + path[len(_TORCH) :].lstrip("/")
    return f"{short}:{frame.lineno} {frame.name}", host


def _op_name(func: Any) -> str:
    return f"{func.namespace}.{func._opname}" if hasattr(func, "_opname") else str(func).rsplit(".", 1)[0]


def _bool_index(func_name: str, args: tuple) -> bool:
    """Boolean-mask indexing (x[mask], x[mask] = v): ATen turns the mask into indices with nonzero."""
    if func_name not in ("aten.index", "aten.index_put", "aten.index_put_", "aten._index_put_impl_"):
        return False
    indices = args[1] if len(args) > 1 else ()
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices or ())


@dataclass
class AuditCounts:
    ops: int = 0  # every aten op dispatched
    launches: int = 0  # non-view ops: a lower bound on CUDA kernel launches
    by_op: Counter = field(default_factory=Counter)
    syncs: list[SyncEvent] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # "op at site" for outputs on the watched device


class OpAudit(TorchDispatchMode):
    """Count ops and host syncs of everything dispatched inside `with OpAudit() as audit:`.

    `watch_device`: also record ops whose output lands on this device (e.g. "meta", the default device
    a test sets to catch tensors created without `device=`).
    """

    def __init__(self, watch_device: str | None = None) -> None:
        super().__init__()
        self.counts = AuditCounts()
        self.watch_device = watch_device
        self._patched: dict[str, Callable] = {}

    # -- what was seen ------------------------------------------------------------------------------
    @property
    def ops(self) -> int:
        return self.counts.ops

    @property
    def launches(self) -> int:
        return self.counts.launches

    def device_syncs(self) -> list[SyncEvent]:
        """The events that wait for the device on CUDA: on a CUDA tensor, or (CPU) not at a host site."""
        return [
            e
            for e in self.counts.syncs
            if e.device.startswith("cuda") or (e.device == "cpu" and not e.host_by_construction)
        ]

    def created(self) -> list[str]:
        return list(self.counts.created)

    # -- the mode ---------------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = _op_name(func)
        counts = self.counts
        counts.ops += 1
        if not func.is_view:
            counts.launches += 1
        counts.by_op[name] += 1
        if name in SYNC_OPS or _bool_index(name, args):
            self._record(name, args)
        out = func(*args, **kwargs)
        if self.watch_device is not None:
            outputs, _ = tree_flatten(out)
            if any(isinstance(t, torch.Tensor) and t.device.type == self.watch_device for t in outputs):
                inputs, _ = tree_flatten((args, kwargs))
                if not any(isinstance(t, torch.Tensor) and t.device.type == self.watch_device for t in inputs):
                    counts.created.append(f"{name} at {_site()[0]}")
        return out

    def _record(self, name: str, args: Any) -> None:
        tensors = [t for t in tree_flatten(args)[0] if isinstance(t, torch.Tensor)]
        device = str(tensors[0].device) if tensors else "cpu"
        site, host = _site()
        self.counts.syncs.append(SyncEvent(name, site, device, host))

    def __enter__(self) -> OpAudit:
        for method in HOST_METHODS:
            original = getattr(torch.Tensor, method)
            self._patched[method] = original

            def watched(tensor, *a, _original=original, _method=method, **k):
                self._record(f"Tensor.{_method}", (tensor,))
                return _original(tensor, *a, **k)

            setattr(torch.Tensor, method, watched)
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)
        finally:
            for method, original in self._patched.items():
                setattr(torch.Tensor, method, original)
            self._patched.clear()


@dataclass
class StepAudit:
    """What one audited region did, per step of it."""

    name: str
    steps: int
    ops: int
    launches: int
    syncs: list[SyncEvent]  # device syncs only (see OpAudit.device_syncs)
    host_reads: int  # host reads of host tensors by construction (no device sync)

    @property
    def launches_per_step(self) -> float:
        return self.launches / self.steps

    @property
    def syncs_per_step(self) -> float:
        return len(self.syncs) / self.steps

    def as_row(self) -> dict[str, Any]:
        return {
            "region": self.name,
            "steps": self.steps,
            "ops": self.ops,
            "launches": self.launches,
            "launches_per_step": self.launches_per_step,
            "device_syncs": len(self.syncs),
            "host_reads": self.host_reads,
            "sync_sites": sorted({str(e) for e in self.syncs}),
        }


def audit(name: str, fn: Callable[[], object], steps: int = 1) -> StepAudit:
    """Run fn once under an OpAudit; its ops and device syncs, to be divided by `steps`."""
    with OpAudit() as recorder:
        fn()
    syncs = recorder.device_syncs()
    host = len(recorder.counts.syncs) - len(syncs)
    return StepAudit(name, steps, recorder.ops, recorder.launches, syncs, host)
