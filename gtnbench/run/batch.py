"""One batch of trials run in this process: the unit of work every executor hands out (in-process, worker
processes, Ray tasks). It knows the job (what a worker needs to run trials of one run), the fields every
record carries, and how a trial's outcome or failure becomes a record; it imports no executor, and every
executor and the runner import it."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtnbench.data.datasets import load_dataset
from gtnbench.errors import StoreError, TrialFailed
from gtnbench.run.options import ExecutionOptions, precision_summary
from gtnbench.store import artifact_path
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.methods import NB201Train
from gtnbench.suite.trials import Trial

Record = dict[str, Any]
Admit = Callable[[list[Trial]], bool]  # may the next batch start? (a run's time budget)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to run trials of one run (picklable: it travels to Ray workers)."""

    config: SuiteConfig
    manifest: dict[str, Any]  # the fields every record copies (suite, config hash, versions, ...)
    device: str
    data_root: Path
    run_dir: Path
    environment: dict[str, str] = field(default_factory=dict)  # the driver's GTNBENCH_* variables
    options: ExecutionOptions = ExecutionOptions()  # precision, CUDA graphs, batched grids


def gtnbench_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("GTNBENCH_")}


def execute(job: Job, batch: list[Trial]) -> list[Record]:
    """Run a batch of trials in this process; every failure becomes a `failed` record.
    On a worker, the driver's GTNBENCH_* settings (data verification, cache) apply first."""
    os.environ.update(job.environment)
    return run_batch(job, batch)


def failed_records(job: Job, batch: list[Trial], reason: str) -> list[Record]:
    stamp = now()
    return [
        {
            **base_record(t, job.manifest),
            "status": "failed",
            "reason": reason,
            "metrics": {},
            "details": {},
            "seconds": 0.0,
            "started": stamp,
            "finished": stamp,
        }
        for t in batch
    ]


def base_record(trial: Trial, manifest: dict[str, Any]) -> Record:
    """The fields every record carries, whatever its outcome."""
    return {
        "trial": trial.id,
        **trial.identity(),
        "suite": manifest["suite"],
        "scale": manifest["scale"],
        "config_hash": manifest["config_hash"],
        "dataset": manifest["dataset"],
        "code_version": manifest["code_version"],
        "device": manifest["device"],
        "device_name": manifest["device_name"],
        "versions": manifest["versions"],
        "precision": precision_summary(manifest.get("precision")),
    }


def run_batch(job: Job, batch: list[Trial]) -> list[Record]:
    """Run trials in this process (the executors' unit of work); failures become `failed` records."""
    from gtnbench.methods import BATCH_FUNCTIONS, TRIAL_FUNCTIONS, TrialContext

    config = job.config
    precision = precision_summary(job.options.apply())  # this process's read-back, in every record
    dataset = load_dataset(config.dataset, job.data_root, job.device, config.split_seed).scored_on(config.scored_images)
    records, start, stamp = [base_record(t, job.manifest) for t in batch], time.perf_counter(), now()
    for record in records:
        record["precision"] = precision

    def context(trial: Trial) -> TrialContext:
        def artifacts() -> Path:
            folder = artifact_path(job.run_dir, trial.id)
            folder.mkdir(parents=True, exist_ok=True)
            return folder

        return TrialContext(config, dataset, job.device, job.run_dir, artifacts)

    try:
        method = config.methods[batch[0].method]
        if len(batch) > 1:
            results = BATCH_FUNCTIONS[batch[0].kind](batch, method, context(batch[0]))
        else:
            results = [TRIAL_FUNCTIONS[batch[0].kind](batch[0], method, context(batch[0]))]
        for record, result in zip(records, results, strict=True):
            record.update(status="ok", reason=None, metrics=result.metrics, details=result.details)
    except TrialFailed as failure:
        for record in records:
            record.update(status="failed", reason=str(failure), metrics={}, details={})
    except (KeyboardInterrupt, StoreError):
        raise
    except Exception as error:  # a bug or a resource failure: keep going with the other trials
        for record in records:
            record.update(
                status="failed",
                reason=f"{type(error).__name__}: {error}",
                metrics={},
                details={},
                traceback=traceback.format_exc(),
            )
    seconds = (time.perf_counter() - start) / len(batch)
    for record in records:
        record.update(seconds=seconds, started=stamp, finished=now())
    return records


def plan_batches(config: SuiteConfig, trials: list[Trial]) -> list[list[Trial]]:
    """One batch per trial, except NAS-Bench-201 cells of a train-based proxy with `batch_archs > 1`,
    which train together (same method and seed, consecutive in the suite's order)."""
    batches: list[list[Trial]] = []
    for trial in trials:
        method = config.methods[trial.method]
        size = method.batch_archs if isinstance(method, NB201Train) and trial.kind == method.kind else 1
        last = batches[-1] if batches else None
        if (
            size > 1
            and last
            and last[0].method == trial.method
            and last[0].kind == trial.kind
            and last[0].seed == trial.seed
            and len(last) < size
        ):
            last.append(trial)
        else:
            batches.append([trial])
    return batches
