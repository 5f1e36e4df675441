import json
import sys

import pytest

from gtnbench.errors import GtnbenchError
from gtnbench.report.tensorboard import tensorboard_logger, write_record
from tests.runs import make_run


def records_of(run):
    return [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]


def scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_meta_training_and_training_curves_are_written_per_trial(tmp_path):
    pytest.importorskip("tensorboard")
    records = records_of(make_run(tmp_path / "run"))
    log = tensorboard_logger(tmp_path / "tb")
    for record in records:
        log(record)
    gtn = next(r for r in records if r["trial"] == "gtn/steps=8/seed=1")
    found = scalars(tmp_path / "tb" / "gtn" / "steps=8" / "seed=1")
    assert [step for step, _ in found["meta/val_acc"]] == [0, 5, 10] and "meta/test_acc" not in found
    assert found["meta/val_acc"][-1][1] == pytest.approx(gtn["details"]["validation"][-1]["val_acc"])
    assert [v for _, v in found["meta/loss"]] == pytest.approx(gtn["details"]["meta_losses"])
    assert [step for step, _ in found["train/test_acc"]] == [1, 2, 4, 8]
    assert found["final/test_acc"] == [(0, pytest.approx(gtn["metrics"]["test_acc"]))]
    real = scalars(tmp_path / "tb" / "real-fewstep" / "steps=4" / "seed=0")
    assert set(real) == {"final/test_acc", "final/val_acc", "final/train_seconds"}


def test_failed_trials_write_nothing(tmp_path):
    pytest.importorskip("tensorboard")
    record = {**records_of(make_run(tmp_path / "run"))[0], "status": "failed", "metrics": {}, "details": {}}
    assert write_record(record, tmp_path / "tb") is None and not (tmp_path / "tb").exists()


def test_missing_tensorboard_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # makes the import fail
    with pytest.raises(GtnbenchError, match=r'pip install "gtnbench\[tensorboard\]"'):
        tensorboard_logger(tmp_path / "tb")
    assert not (tmp_path / "tb").exists()


def test_run_with_tensorboard_writes_event_files(tiny_suite, tiny_mnist, tmp_path):
    pytest.importorskip("tensorboard")
    from gtnbench.cli import main

    out, log = tmp_path / "run", tmp_path / "tb"
    assert (
        main(
            [
                "run",
                str(tiny_suite),
                "--scale",
                "smoke",
                "--device",
                "cpu",
                "--data-root",
                str(tiny_mnist),
                "--out",
                str(out),
                "--tensorboard",
                str(log),
            ]
        )
        == 0
    )
    written = sorted(p.parent.relative_to(log).as_posix() for p in log.rglob("events.out.tfevents.*"))
    assert written == sorted(r["trial"] for r in records_of(out))
