"""TensorBoard event files of each finished trial (`gtnbench run ... --tensorboard DIR`; optional extra).

One TensorBoard run per trial, named by its trial id (`DIR/gtn/steps=32/seed=0/`), written
when the trial's record is on disk, from the record alone:

- meta/val_acc: fresh learners trained on the GTN, against outer iteration;
- meta/loss: the meta-training loss, against outer iteration (from 1);
- train/val_acc, train/test_acc: accuracy within one training run, against inner step;
- final/<metric>: the record's metrics (accuracies as fractions, seconds), at step 0.

Needs `pip install "gtnbench[tensorboard]"`; nothing is imported until it is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gtnbench.errors import GtnbenchError

Record = dict[str, Any]
INSTALL = 'pip install "gtnbench[tensorboard]"'


def summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise GtnbenchError(f"--tensorboard needs the tensorboard package ({error}): {INSTALL}") from None
    return SummaryWriter


def write_record(record: Record, log_dir: Path, writer_class=None) -> Path | None:
    """Write one record's curves and metrics; the trial's folder, or None for a failed trial."""
    if record.get("status") != "ok":
        return None
    folder = Path(log_dir) / record["trial"]
    details = record.get("details") or {}
    writer = (writer_class or summary_writer_class())(log_dir=str(folder))
    try:
        for point in details.get("validation") or []:
            for metric in ("val_acc", "test_acc"):
                if metric in point:
                    writer.add_scalar(f"meta/{metric}", point[metric], point["iteration"])
        for iteration, loss in enumerate(details.get("meta_losses") or [], start=1):
            writer.add_scalar("meta/loss", loss, iteration)
        for point in details.get("curve") or []:
            for metric in ("val_acc", "test_acc"):
                if metric in point:
                    writer.add_scalar(f"train/{metric}", point[metric], point["step"])
        for metric, value in (record.get("metrics") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                writer.add_scalar(f"final/{metric}", value, 0)
    finally:
        writer.close()
    return folder


def tensorboard_logger(log_dir: Path) -> Callable[[Record], None]:
    """A runner callback that writes each finished record; fails at once when tensorboard is missing."""
    writer_class = summary_writer_class()
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    return lambda record: write_record(record, Path(log_dir), writer_class)
