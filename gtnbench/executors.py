"""Executors: where trials run. In-process (the default) or on a Ray cluster.

Either way the driver is the single writer of the run directory: executors only hand back
records, in whatever order trials finish. A unit of work is a *batch* of trials (one trial,
or several NAS-Bench-201 cells trained together); it becomes one record per trial.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from gtnbench.errors import GtnbenchError
from gtnbench.suite import SuiteConfig, Trial

Record = dict[str, Any]


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to run trials of one run (picklable: it travels to Ray workers)."""

    config: SuiteConfig
    manifest: dict[str, Any]  # the fields every record copies (suite, config hash, versions, ...)
    device: str
    data_root: Path
    run_dir: Path
    environment: dict[str, str] = field(default_factory=dict)  # the driver's GTNBENCH_* variables


def gtnbench_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("GTNBENCH_")}


def execute(job: Job, batch: list[Trial]) -> list[Record]:
    """Run a batch of trials in this process; every failure becomes a `failed` record.
    On a worker, the driver's GTNBENCH_* settings (data verification, cache) apply first."""
    from gtnbench.runner import run_batch

    os.environ.update(job.environment)
    return run_batch(job, batch)


class Executor(ABC):
    name: str

    @abstractmethod
    def run(self, job: Job, batches: list[list[Trial]], started: Callable[[list[Trial]], None]) -> Iterator[list[Record]]:
        """Run the batches; yield each batch's records as it finishes. `started` is told when a batch begins."""


class InProcess(Executor):
    name = "in-process"

    def run(self, job, batches, started):
        for batch in batches:
            started(batch)
            yield execute(job, batch)


def failed_records(job: Job, batch: list[Trial], reason: str) -> list[Record]:
    from gtnbench.runner import base_record, now

    stamp = now()
    return [{**base_record(t, job.manifest), "status": "failed", "reason": reason, "metrics": {}, "details": {},
             "seconds": 0.0, "started": stamp, "finished": stamp} for t in batch]  # fmt: skip


@dataclass
class RayOptions:
    address: str | None = None  # None: start a local cluster; "auto": join the running one
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0  # fractions pack several small trainings on one GPU
    max_retries: int = 2  # re-runs of a batch whose worker process died
    max_in_flight: int | None = None  # default: as many batches as the cluster has CPU slots


class RayExecutor(Executor):
    """Batches as Ray tasks. A task whose worker dies is retried `max_retries` times by Ray, then
    recorded as failed with the reason; GTN trials resume from their last checkpoint when retried.
    Batches that need another batch's artifact (a suite's in-run GTN) are submitted after it."""

    name = "ray"

    def __init__(self, options: RayOptions) -> None:
        try:
            import ray
        except ImportError:
            raise GtnbenchError('the Ray executor needs Ray: pip install "gtnbench[ray]"') from None
        self.ray, self.options = ray, options

    def run(self, job, batches, started):
        ray, options = self.ray, self.options
        if not ray.is_initialized():  # workers import gtnbench from where the driver does
            path = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")]))
            ray.init(address=options.address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": path}})
        task = ray.remote(execute).options(num_cpus=options.cpus_per_trial, num_gpus=options.gpus_per_trial,
                                           max_retries=options.max_retries, retry_exceptions=False)  # fmt: skip
        capacity = options.max_in_flight or max(1, int(ray.cluster_resources().get("CPU", 1) // options.cpus_per_trial))
        waiting = list(batches)
        needs = dependencies(job.config, batches)
        done_ids: set[str] = set()
        in_flight: dict[Any, list[Trial]] = {}
        while waiting or in_flight:
            ready = [b for b in waiting if needs.get(_key(b), set()) <= done_ids]
            for batch in ready[: max(0, capacity - len(in_flight))]:
                waiting.remove(batch)
                in_flight[task.remote(job, batch)] = batch
                started(batch)
            if not in_flight:  # what is left waits for trials that will never finish here
                for batch in waiting:
                    yield failed_records(job, batch, "its GTN trial did not run in this run")
                return
            finished, _ = ray.wait(list(in_flight), num_returns=1)
            batch = in_flight.pop(finished[0])
            try:
                records = ray.get(finished[0])
            except Exception as error:  # the worker died more often than retries allow
                records = failed_records(job, batch, f"worker failed after {options.max_retries} retries: "
                                                     f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")  # fmt: skip
            done_ids.update(r["trial"] for r in records if r["status"] == "ok")
            yield records


def _key(batch: list[Trial]) -> str:
    return batch[0].id


def dependencies(config: SuiteConfig, batches: list[list[Trial]]) -> dict[str, set[str]]:
    """Batch (by its first trial's id) -> ids of the trials whose artifacts it needs."""
    from gtnbench.suite import NB201Train, expand

    trials = expand(config)
    pending = {t.id for batch in batches for t in batch}  # trials done in an earlier session need no waiting
    needs = {}
    for batch in batches:
        method = config.methods[batch[0].method]
        if isinstance(method, NB201Train) and method.gtn:
            needs[_key(batch)] = {t.id for t in trials if t.method == method.gtn and t.seed == batch[0].seed} & pending
    return needs

